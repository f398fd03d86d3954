"""Tuned default controllers for the built-in tasks.

``default_controller("double_cart_pole")`` gives the configuration measured
to pass the balance trial on the MuJoCo plant (see DEFAULT_CONFIGS and
``benchmarks/bench_foundation.py``); ``trial="swingup"`` adds what that
trial needs (TRIAL_CONFIGS); keyword overrides change any argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from hydrax.alg_base import SamplingBasedController
from hydrax.algs import CEM, MPPI, PredictiveSampling
from hydrax.simulation.trials import TRIALS
from hydrax.task_base import Task
from hydrax.tasks import get_task

ALGORITHMS: dict[str, type[SamplingBasedController]] = {
    "predictive_sampling": PredictiveSampling,
    "mppi": MPPI,
    "cem": CEM,
}
"""The sampling-based controllers by name."""

_CONTACT: dict[str, Any] = {
    "algorithm": "predictive_sampling",
    "num_samples": 128,
    "noise_level": 0.3,
    "plan_horizon": 0.5,
    "spline_type": "zero",
    "num_knots": 4,
    "iterations": 1,
}
"""The contact tasks' planner: one round of 128 zero-order splines, 0.5 s."""

DEFAULT_CONFIGS: dict[str, dict[str, Any]] = {
    "double_cart_pole": {
        "algorithm": "predictive_sampling",
        "num_samples": 128,
        "noise_level": 0.2,
        "plan_horizon": 0.8,
        "spline_type": "linear",
        "num_knots": 8,
        "iterations": 2,
    },
    "cart_pole": {
        "algorithm": "predictive_sampling",
        "num_samples": 128,
        "noise_level": 0.3,
        "plan_horizon": 1.0,
        "spline_type": "linear",
        "num_knots": 6,
        "iterations": 1,
    },
    "pendulum": {
        "algorithm": "predictive_sampling",
        "num_samples": 128,
        "noise_level": 0.5,
        "plan_horizon": 1.0,
        "spline_type": "linear",
        "num_knots": 6,
        "iterations": 1,
    },
    # Tuned apart, equal today (copies: changing one leaves the other).
    "hopper": dict(_CONTACT),
    "quadruped": dict(_CONTACT),
}
"""The default algorithm and arguments of each built-in task (the hopper's
and the quadruped's measured at 25 Hz replanning: README, "Built-in contact
tasks")."""

TRIAL_CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "double_cart_pole": {"swingup": {"num_samples": 256}},
}
"""Changes to DEFAULT_CONFIGS for one trial. The double cart pole's
swing-up samples 256 sequences: MJX swung it up 9/10 (seeds 0-9) against
7/10 at 128 (README, "What to expect")."""


def default_controller(
    task_or_name: Task | str, trial: str | None = None, **overrides: Any
) -> SamplingBasedController:
    """A configured controller for a built-in task.

    Args:
        task_or_name: A built-in task, or its name (the task is then built
            with its defaults, e.g. MJX physics).
        trial: ``balance``, ``swingup`` or None: the trial the controller
            runs; it adds that trial's entries of TRIAL_CONFIGS.
        **overrides: Replace any configuration entry, e.g.
            ``num_samples=256`` or ``algorithm="mppi"`` (with the arguments
            that algorithm needs).

    Returns:
        The controller, planning with ``task.dynamics``.
    """
    if isinstance(task_or_name, str):
        from hydrax.tasks import get_task

        task = get_task(task_or_name)
    else:
        task = task_or_name
    name = task.model_file.stem if task.model_file is not None else None
    if name not in DEFAULT_CONFIGS:
        raise ValueError(
            f"no default controller for {type(task).__name__} "
            f"(model {name!r}); built-in: {', '.join(DEFAULT_CONFIGS)}"
        )
    if trial is not None and trial not in TRIALS:
        raise ValueError(
            f"unknown trial {trial!r}; choose from {', '.join(TRIALS)}"
        )
    config = dict(DEFAULT_CONFIGS[name])
    config.update(TRIAL_CONFIGS.get(name, {}).get(trial, {}))
    if "algorithm" in overrides and (
        overrides["algorithm"] != config["algorithm"]
    ):
        # A different algorithm keeps only the shared arguments.
        shared = (
            "num_samples",
            "plan_horizon",
            "spline_type",
            "num_knots",
            "iterations",
        )
        config = {k: v for k, v in config.items() if k in shared}
    config.update(overrides)
    algorithm = config.pop("algorithm")
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; choose from "
            f"{', '.join(ALGORITHMS)}"
        )
    try:
        return ALGORITHMS[algorithm](task, **config)
    except TypeError as err:
        raise ValueError(f"bad arguments for {algorithm}: {err}") from err


def learned_task(
    task_name: str,
    checkpoint: str | Path,
    strategy: str = "mean",
    disagreement_weight: float = 0.0,
    matmul_dtype: str = "float32",
    **task_kwargs: object,
) -> Task:
    """A built-in task whose planner rolls out a learned model.

    The plant stays the task's MuJoCo model; ``task.dynamics`` is the
    checkpoint's network (checked against the task's model on loading).

    Args:
        task_name: A built-in task.
        checkpoint: The learned model's checkpoint (``best_model.pkl``).
        strategy: How an ensemble's checkpoint rolls out: ``"mean"`` (the
            members' mean), ``"ts"`` (each sample follows one member) or
            ``"members"`` (each sample is rolled out by every member);
            ignored for a single model.
        disagreement_weight: With ``"mean"``, the members' disagreement's
            weight in the running cost (a positive one is refused for a
            single model or another strategy, which would ignore it).
        matmul_dtype: The recurrent products' operands, ``"float32"`` or
            ``"bfloat16"`` (float32 sums; see ``NeuralNetworkDynamics``).
        **task_kwargs: The task's own arguments (``target_distance=0``).

    Returns:
        The task with ``custom_dynamics`` set.
    """
    # Imported here: the default controllers need no network code.
    from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics

    physics = get_task(task_name, **task_kwargs)
    learned = NeuralNetworkDynamics.load_params(
        model=physics.model,
        path=checkpoint,
        strategy=strategy,
        disagreement_weight=disagreement_weight,
        matmul_dtype=matmul_dtype,
    )
    return get_task(task_name, custom_dynamics=learned, **task_kwargs)


@dataclass(frozen=True)
class LearnedPlanning:
    """How a learned-model controller plans, as one value to pass around.

    Attributes:
        strategy: How an ensemble rolls out (``learned_task``).
        disagreement_weight: With ``"mean"``, the members' disagreement's
            weight in the running cost.
        matmul_dtype: The recurrent products' operands.
        overrides: The default controller's settings to replace
            (``num_samples=1024``; see ``default_controller``).
    """

    strategy: str = "mean"
    disagreement_weight: float = 0.0
    matmul_dtype: str = "float32"
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """A read-only copy of the overrides (the caller's dict may change)."""
        frozen = MappingProxyType(dict(self.overrides))
        object.__setattr__(self, "overrides", frozen)

    def record(self) -> dict:
        """How the learned model rolls out, as a run's JSON records it."""
        return {
            "strategy": self.strategy,
            "disagreement_weight": self.disagreement_weight,
            "matmul_dtype": self.matmul_dtype,
        }


def planner_settings(controller: object) -> dict:
    """A controller's class and the settings that decide its plans."""
    names = ("num_samples", "plan_horizon", "num_knots", "iterations")
    out = {"controller": type(controller).__name__}
    return out | {  # plain numbers for JSON (a caller may set NumPy ones)
        k: np.asarray(getattr(controller, k)).item()
        for k in names
        if hasattr(controller, k)
    }


def learned_controller(
    task_name: str,
    checkpoint: Path,
    trial: str | None = None,
    planning: LearnedPlanning | None = None,
    **task_kwargs: object,
) -> tuple[Task, SamplingBasedController]:
    """A built-in task planning on a learned model, and its controller.

    ``planning`` says how (default: an ensemble's members' mean, the
    trial's default controller); ``task_kwargs`` are the task's own
    arguments (``target_distance=0``).
    """
    planning = planning or LearnedPlanning()
    task = learned_task(
        task_name,
        checkpoint,
        planning.strategy,
        planning.disagreement_weight,
        planning.matmul_dtype,
        **task_kwargs,
    )
    return task, default_controller(task, trial, **planning.overrides)
