"""Small shared utilities."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def enable_compilation_cache(path: str | Path | None = None) -> Path:
    """Keep compiled XLA programs on disk so later runs skip compiling.

    Controllers and training steps take seconds to compile on a CPU; with the
    cache a second run of the same configuration loads them instead. The
    directory is ``$HYDRAX_JAX_CACHE`` or ``~/.cache/hydrax/jax`` unless
    given.

    Args:
        path: The cache directory.

    Returns:
        The directory used.
    """
    import jax

    default = Path.home() / ".cache" / "hydrax" / "jax"
    path = Path(path or os.environ.get("HYDRAX_JAX_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Angles (or angle differences) wrapped into (-π, π].

    The one wrapping rule of the package: angle errors in evaluation and the
    LQR's hinge errors both use it. The interval is half-open at -π so that
    an error of exactly π (a pole pointing the opposite way) reads +π
    whichever side it came from, and stays π after wrapping again.

    Args:
        x: Angles in radians, any shape.

    Returns:
        The wrapped angles, same shape and float dtype as ``x``.
    """
    return -(np.remainder(-np.asarray(x) + np.pi, 2 * np.pi) - np.pi)
