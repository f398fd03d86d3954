"""Closed-loop trials on the MuJoCo plant: balance and swing-up.

A trial starts from ``task.sample_initial_state(rng, kind)``, runs the
closed loop (`hydrax.simulation.loop.run_closed_loop`) and judges the
episode with ``task.success`` (the state is "upright"):

- ``balance``: start near the goal; 5 s; success = upright in every state.
- ``swingup``: start hanging at rest; 10 s; success = upright in every state
  of the last 2 s.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from hydrax.alg_base import SamplingBasedController
from hydrax.simulation.loop import Episode, run_closed_loop
from hydrax.task_base import Task


@dataclass
class TrialResult:
    """The outcome of a trial.

    Attributes:
        success: Whether the trial's success condition held.
        episode: The episode it was judged on.
        seed: The seed of the initial state and the controller.
    """

    success: bool
    episode: Episode
    seed: int


def _not_upright(task: Task) -> Callable[[mujoco.MjData], bool]:
    """A stop condition: the plant state after a step is not a success."""
    return lambda data: not task.success(data.qpos, data.site_xpos)


TRIALS = {"balance": (5.0, None), "swingup": (10.0, 2.0)}
"""Each trial's duration and judged tail (None: the whole episode); the
README's "Trials" section defines them."""


def check_trial(task: Task, kind: str) -> None:
    """Refuse an unknown trial, or one the task's success cannot pass.

    A balance trial needs success in every state, the first included; a
    task whose success needs a distance travelled (``target_distance`` >
    0: the hopper and the quadruped by default) fails it at its first step.
    """
    if kind not in TRIALS:
        raise ValueError(f"unknown trial {kind!r}; choose from {list(TRIALS)}")
    far = getattr(task, "target_distance", 0.0)
    if kind == "balance" and far > 0:
        raise ValueError(
            f"{type(task).__name__}'s balance trial cannot pass: it needs "
            f"success in every state, and success needs {far:g} m travelled "
            "(target_distance); use the swingup trial (judged on its last "
            "2 s), or target_distance=0, where success means 'did not "
            "fall'"
        )


def task_arguments(
    task_name: str,
    target_distance: float | None = None,
    target_velocity: float | None = None,
) -> dict[str, float]:
    """A built-in task's own arguments that the trial commands set.

    ``target_distance`` (None: the task's default) is the hopper's and the
    quadruped's metres to travel; 0 makes success "did not fall", which a
    balance trial needs. ``target_velocity`` (None: the task's default) is
    the forward speed their cost asks for; 0 asks them to stand.

    Raises:
        ValueError: the task takes no such argument, or a distance that is
            negative or a value that is not finite.
    """
    import inspect
    import math

    from hydrax.tasks import task_class

    given = {
        "target_distance": target_distance,
        "target_velocity": target_velocity,
    }
    out = {k: float(v) for k, v in given.items() if v is not None}
    takes = inspect.signature(task_class(task_name)).parameters if out else {}
    for name, value in out.items():
        if name not in takes:
            what = name.replace("_", " ")
            raise ValueError(f"{name}: {task_name} has no {what}")
        least = 0.0 if name == "target_distance" else -math.inf
        if not (least <= value and math.isfinite(value)):
            at_least = " >= 0" if least == 0.0 else ""
            raise ValueError(
                f"{name} must be a finite number{at_least}, got {value!r}"
            )
    return out


def add_trial_flags(p: argparse.ArgumentParser) -> None:
    """The flags of trial commands: the trial and the task's targets.

    ``--trial``, ``--target-distance`` and ``--target-velocity``.
    """
    p.add_argument(
        "--trial",
        choices=sorted(TRIALS),
        default="balance",
        help="where episodes start and how success is judged (README.md, "
        "section Trials)",
    )
    p.add_argument(
        "--target-distance",
        type=float,
        default=None,
        help="the hopper's and the quadruped's metres to travel for success "
        "(none given: the task's 1 m; 0: success means 'did not fall', "
        "which a balance trial needs)",
    )
    p.add_argument(
        "--target-velocity",
        type=float,
        default=None,
        help="the forward speed (m/s) the hopper's and the quadruped's cost "
        "asks for (none given: the task's; 0: stand, as the standing trials "
        "of the README's Built-in contact tasks)",
    )


def run_trial(
    kind: str,
    task: Task,
    controller: SamplingBasedController,
    seed: int,
    *,
    duration: float | None = None,
    last_seconds: float | None = None,
    replan_hz: float = 50.0,
    log_path: str | Path | None = None,
    progress: bool = False,
) -> TrialResult:
    """Run one trial of a kind: ``balance`` or ``swingup``.

    The initial state is ``task.sample_initial_state(rng, kind)`` with
    ``rng = np.random.default_rng(seed)``; the controller's key is seeded
    with ``seed`` too. A balance trial stops at the first state that is not
    upright (it has failed then; the remaining time could not change that).

    Args:
        kind: ``balance`` (start near upright; success = upright during the
            whole episode) or ``swingup`` (start hanging; success = upright
            during the last ``last_seconds``).
        task: The task (must define ``success``).
        controller: The controller.
        seed: The trial's seed.
        duration: Simulated seconds (default: 5 s balance, 10 s swing-up).
        last_seconds: The judged tail of a swing-up (default 2 s).
        replan_hz: Replannings per simulated second.
        log_path: Write the episode's CSV log here, if given.
        progress: Show a progress bar over the plant steps (it goes once
            the episode ends).

    Returns:
        The result.
    """
    check_trial(task, kind)
    default_duration, default_tail = TRIALS[kind]
    duration = default_duration if duration is None else duration
    tail = default_tail if last_seconds is None else last_seconds
    if tail is not None and not 0 < tail <= duration:
        raise ValueError(
            f"need 0 < last_seconds <= duration, got {tail} and {duration}"
        )
    rng = np.random.default_rng(seed)
    qpos0, qvel0 = task.sample_initial_state(rng, kind)
    episode = run_closed_loop(
        task,
        controller,
        qpos0,
        qvel0,
        duration,
        replan_hz=replan_hz,
        log_path=log_path,
        seed=seed,
        stop_condition=_not_upright(task) if kind == "balance" else None,
        compute_cost=False,
        progress=progress,
    )
    return TrialResult(episode.success(task, tail), episode, seed)


def balance_trial(
    task: Task,
    controller: SamplingBasedController,
    seed: int,
    *,
    duration: float = 5.0,
    replan_hz: float = 50.0,
    log_path: str | Path | None = None,
) -> TrialResult:
    """Start near the goal; success = upright during the whole episode.

    ``run_trial("balance", ...)``; see there.
    """
    return run_trial(
        "balance",
        task,
        controller,
        seed,
        duration=duration,
        replan_hz=replan_hz,
        log_path=log_path,
    )


def swingup_trial(
    task: Task,
    controller: SamplingBasedController,
    seed: int,
    *,
    duration: float = 10.0,
    last_seconds: float = 2.0,
    replan_hz: float = 50.0,
    log_path: str | Path | None = None,
) -> TrialResult:
    """Start hanging; success = upright during the last ``last_seconds``.

    ``run_trial("swingup", ...)``; see there.
    """
    return run_trial(
        "swingup",
        task,
        controller,
        seed,
        duration=duration,
        last_seconds=last_seconds,
        replan_hz=replan_hz,
        log_path=log_path,
    )
