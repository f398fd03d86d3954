"""Small shared utilities."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def command_name(module: str) -> str:
    """How the user started a command, for its usage line.

    ``hydrax-train`` when run as that console script, else
    ``python -m <module>``.
    """
    script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return script if script.startswith("hydrax-") else f"python -m {module}"


def interrupted_exit() -> int:
    """Exit status 130 after Ctrl-C, the interpreter's teardown skipped.

    Ctrl-C that lands while XLA compiles can leave its state half built,
    and the interpreter's teardown then crashes on it (a segmentation
    fault, exit status 139, after the command's own message). A command
    run as such (``hydrax-...`` or ``python -m hydrax....``) therefore
    leaves at once, its output flushed; every file it wrote is complete
    (written atomically). Called in-process (tests, notebooks), it returns
    130.
    """
    main = getattr(sys.modules.get("__main__"), "__spec__", None)
    as_command = Path(sys.argv[0] if sys.argv else "").name.startswith(
        "hydrax-"
    ) or getattr(main, "name", "").startswith("hydrax.")
    if as_command:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return 130


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show every option's default, unless its help already says it.

    Required options, flags (default False) and options whose default is
    None (the help says what happens then) have none to show. Every command
    line of the package and of ``benchmarks/`` formats its help with it.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if (
            action.required
            or action.default is None
            or action.default is False
            or "(default" in (action.help or "")
        ):
            return action.help
        return super()._get_help_string(action)


HEADLESS_DURATION = 10.0
"""Simulated seconds of a headless run when no duration is given (the
environment variable ``HYDRAX_HEADLESS_DURATION`` overrides it)."""


def has_display() -> bool:
    """Whether a window can be opened (X11 or Wayland display set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def headless_duration() -> float:
    """``HYDRAX_HEADLESS_DURATION`` if set (seconds), else the default."""
    text = os.environ.get("HYDRAX_HEADLESS_DURATION")
    if text is None:
        return HEADLESS_DURATION
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ValueError(
            f"HYDRAX_HEADLESS_DURATION must be a finite number of seconds "
            f"> 0, got {text!r}"
        )
    return value


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


def control_limits(mj_model: object) -> tuple[np.ndarray, np.ndarray]:
    """The actuators' control bounds (lower, upper).

    Infinite where an actuator is not ``ctrllimited``.
    """
    limited = np.asarray(mj_model.actuator_ctrllimited, bool)
    lo, hi = np.asarray(mj_model.actuator_ctrlrange).T
    return np.where(limited, lo, -np.inf), np.where(limited, hi, np.inf)


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 seed``, ``3 seeds`` (``many``: the plural, where not noun + s)."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


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


def is_traced(tree: object) -> bool:
    """Whether any leaf is a tracer (the caller is jitting or vmapping)."""
    import jax

    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def check_mjx_state(state: object, caller: str) -> None:
    """A TypeError with the fix when ``state`` is not an ``mjx.Data``.

    A ``mujoco.MjData`` (the CPU simulator's state) is the usual slip; JAX
    would fail on it with "Error interpreting argument".
    """
    from mujoco import mjx

    if isinstance(state, mjx.Data):
        return
    module, name = type(state).__module__, type(state).__qualname__
    if module.startswith("mujoco."):  # mujoco._structs.MjData
        kind = f"mujoco.{name}"
        fix = (
            "convert it with mjx.put_data(mj_model, mj_data), or start "
            "from task.make_data()"
        )
    else:
        kind, fix = f"{module}.{name}", "start from task.make_data()"
    raise TypeError(f"{caller} takes an mjx.Data state, got a {kind}: {fix}")


def committed(device: object, *trees: object) -> tuple:
    """The trees with every leaf a strongly typed jax.Array on ``device``.

    jit keys its cache on whether an argument is committed and on whether
    it is weakly typed (what a Python scalar becomes), and a controller's
    jitted replanning returns committed, strongly typed parameters from
    such inputs; fresh or weak inputs would otherwise compile again at the
    second call (a controller's second replanning). Weak arrays and Python
    scalars are made strong. An ``mjx.Data`` has ~100 arrays and putting
    them costs more than a learned replanning, so a tree already committed
    there, with no weak leaf, passes through untouched; so does a traced
    tree (the caller is jitting or vmapping).

    Args:
        device: The ``jax.Device``.
        *trees: Pytrees of arrays.

    Returns:
        The trees, in order.
    """
    import jax
    import numpy as np

    tracer, array, here = jax.core.Tracer, jax.Array, {device}

    def keep(tree: object) -> bool:
        """Traced, or every leaf already a strong array on ``device``."""
        ready = True
        for leaf in jax.tree.leaves(tree):
            if isinstance(leaf, tracer):
                return True
            ready = ready and (
                isinstance(leaf, array)
                and leaf.committed
                and not getattr(leaf, "weak_type", False)
                and leaf.devices() == here
            )
        return ready

    def strong(leaf: object) -> object:
        if isinstance(leaf, bool | int | float | complex):
            return np.asarray(leaf)
        if getattr(leaf, "weak_type", False):
            return jax.numpy.asarray(leaf, leaf.dtype)
        return leaf

    return tuple(
        t if keep(t) else jax.device_put(jax.tree.map(strong, t), device)
        for t in trees
    )


_BEFORE = r"(?<![\w'\"/\\.-])"
"""Not inside a word, a quoted key, a path or a dotted name."""
_AFTER = r"(?![\w/\\-])(?!\.\w)"


def in_flags(
    message: str,
    parser: argparse.ArgumentParser,
    aliases: dict[str, str] | None = None,
) -> str:
    """An error from the Python API, its parameters named by their flags.

    ``num_epochs must be ...`` becomes ``--epochs must be ...`` and
    ``angle_indices=[1, 2]`` ``--angle-indices 1,2`` (and ``resume=True``
    of a switch ``--resume``): what a command's user types. A name with an
    underscore is replaced wherever it stands
    as a word (not in a path, a dotted name or quotes); a plain word such
    as ``duration`` only as the subject of ``must be`` (elsewhere it may be
    prose). ``aliases`` maps API names the parser does not know (``out_dir``)
    to their flags.
    """
    flags = dict(aliases or {})
    switches = set()
    for action in parser._actions:
        long = [s for s in action.option_strings if s.startswith("--")]
        if long:
            flags.setdefault(action.dest, long[0])
            if isinstance(action, argparse._StoreTrueAction):
                switches.add(action.dest)
    for name, flag in flags.items():
        word = _BEFORE + re.escape(name)
        if name in switches:
            message = re.sub(word + r"=True\b", flag, message)
        message = re.sub(
            word + r"=(\[[^\[\]]*\]|\([^()]*\))?",
            lambda m, flag=flag: (
                f"{flag} " + (m[1] or "").strip("[]()").replace(" ", "")
            ),
            message,
        )
        tail = _AFTER if "_" in name else r"(?= must be\b)"
        message = re.sub(word + tail, flag, message)
    return message


def command_error(
    parser: argparse.ArgumentParser,
    error: BaseException | str,
    aliases: dict[str, str] | None = None,
) -> int:
    """Print a command's error as argparse prints its own; exit status 2.

    One line, ``PROG: error: MESSAGE``, the API's parameters named by their
    flags (:func:`in_flags`).
    """
    message = in_flags(str(error), parser, aliases)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def command_warnings(parser: argparse.ArgumentParser) -> Iterator[None]:
    """Show a command's warnings as ``PROG: warning: MESSAGE``.

    One line each, the API's parameters named by their flags
    (:func:`in_flags`), for the `UserWarning` family (what the package
    itself warns about); other warnings print as Python prints them.
    """
    show = warnings.showwarning

    def shown(
        message: Warning | str,
        category: type[Warning],
        *args: Any,  # noqa: ANN401
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        if issubclass(category, UserWarning):
            text = in_flags(" ".join(str(message).split()), parser)
            print(f"{parser.prog}: warning: {text}", file=sys.stderr)
        else:
            show(message, category, *args, **kwargs)

    warnings.showwarning = shown
    try:
        yield
    finally:
        warnings.showwarning = show
