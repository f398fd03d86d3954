"""Predictive sampling: keep the best of Gaussian perturbations of the plan."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from hydrax.alg_base import (
    SamplingBasedController,
    SamplingParams,
    SplineType,
    Trajectory,
)
from hydrax.risk import RiskStrategy
from hydrax.task_base import Task
from hydrax.utils import committed


@struct.dataclass
class PSParams(SamplingParams):
    """Predictive sampling's parameters (those of every controller)."""


class PredictiveSampling(SamplingBasedController):
    """Sample around the mean plan; the lowest-cost sample becomes the plan.

    https://arxiv.org/abs/2212.00541. The current mean is always sample 0,
    so a round never makes the plan worse under the model it rolls out with.
    """

    def __init__(
        self,
        task: Task,
        num_samples: int,
        noise_level: float,
        num_randomizations: int = 1,
        risk_strategy: RiskStrategy | None = None,
        seed: int = 0,
        plan_horizon: float = 1.0,
        spline_type: SplineType = "zero",
        num_knots: int = 4,
        iterations: int = 1,
    ) -> None:
        """Set up the controller.

        Args:
            task: The task.
            num_samples: Control sequences per round (the mean included).
            noise_level: Standard deviation of the knot perturbations.
            num_randomizations: Randomized domains per sample.
            risk_strategy: How the domains' and particles' costs combine
                (average).
            seed: The seed of the randomized models.
            plan_horizon: The planning horizon in seconds.
            spline_type: zero, linear or cubic.
            num_knots: Knots over the horizon.
            iterations: Sampling rounds per replanning.
        """
        if noise_level <= 0:
            raise ValueError(f"noise_level must be > 0, got {noise_level}")
        super().__init__(
            task,
            num_randomizations=num_randomizations,
            risk_strategy=risk_strategy,
            seed=seed,
            plan_horizon=plan_horizon,
            spline_type=spline_type,
            num_knots=num_knots,
            iterations=iterations,
        )
        self.num_samples = self._check_num_samples(num_samples)
        self.noise_level = noise_level

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> PSParams:
        """The initial parameters (zero controls unless knots are given)."""
        p = super().init_params(initial_knots, seed)
        return committed(
            self._device, PSParams(tk=p.tk, mean=p.mean, rng=p.rng)
        )[0]

    def sample_knots(self, params: PSParams) -> tuple[jax.Array, PSParams]:
        """The mean plus ``num_samples - 1`` Gaussian perturbations of it."""
        return self._sample_around_mean(params, self.noise_level)

    def update_params(self, params: PSParams, rollouts: Trajectory) -> PSParams:
        """The lowest-cost knots become the mean."""
        best = jnp.argmin(jnp.sum(rollouts.costs, axis=1))
        return params.replace(mean=rollouts.knots[best])
