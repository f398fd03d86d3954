"""hydrax: sampling-based MPC in JAX/MJX, with learned dynamics models.

The package carries what planning with a learned model needs: MuJoCo tasks
(`hydrax.tasks`), an LQR on the MuJoCo model (`hydrax.control`),
sampling-based controllers (`hydrax.algs`), the dynamics seam
through which every rollout passes (`hydrax.dynamics`), a headless closed loop
and data collection (`hydrax.simulation`), and the training and evaluation of
GRU dynamics models (`hydrax.dynamics_model_training`).
"""

import contextlib
import io
import os
from pathlib import Path

# Without a display MuJoCo's default OpenGL backend (GLFW) cannot render;
# EGL renders offscreen (videos) and must be chosen before mujoco loads.
if (
    "MUJOCO_GL" not in os.environ
    and not os.environ.get("DISPLAY")
    and not os.environ.get("WAYLAND_DISPLAY")
):
    os.environ["MUJOCO_GL"] = "egl"

# MJX's optional Warp backend prints "Failed to import warp" when the extra is
# not installed; hydrax uses the JAX backend, so keep that line off the
# console of every command.
with contextlib.redirect_stdout(io.StringIO()):
    from mujoco import mjx  # noqa: F401


class _PackageRoot(str):
    """A directory path that is both a ``str`` and path-like.

    Upstream hydrax code writes ``ROOT + "/models/..."`` (a string); this
    project's code writes ``ROOT / "models"`` (a ``pathlib.Path``). Both
    work: ``/`` and any ``Path`` attribute (``.parent``, ``.exists()``)
    go through ``pathlib.Path``; everything else is the string's.
    """

    __slots__ = ()

    def __truediv__(self, other: str | os.PathLike) -> Path:
        return Path(self) / other

    def __fspath__(self) -> str:
        return str(self)

    def __getattr__(self, name: str) -> object:
        return getattr(Path(self), name)


ROOT = _PackageRoot(Path(__file__).resolve().parent)
"""The package directory; models, data and checkpoints live under it."""

__version__ = "0.1.0"

if os.environ.get("HYDRAX_JAX_CACHE"):
    # Opt-in persistent compilation cache for every process (tests spawn
    # subprocesses; command-line tools enable it themselves).
    from hydrax.utils import enable_compilation_cache

    enable_compilation_cache(os.environ["HYDRAX_JAX_CACHE"])
