"""Predictive sampling: keep the best of Gaussian perturbations of the plan."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hydrax.alg_base import (
    SamplingBasedController,
    SamplingParams,
    SplineType,
    Trajectory,
)
from hydrax.task_base import Task


class PredictiveSampling(SamplingBasedController):
    """Sample around the mean plan; the lowest-cost sample becomes the plan.

    The current mean is always one of the samples, so a round never makes the
    plan worse under the model it rolls out with.
    """

    def __init__(
        self,
        task: Task,
        num_samples: int,
        noise_level: float,
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
            plan_horizon: The planning horizon in seconds.
            spline_type: zero, linear or cubic.
            num_knots: Knots over the horizon.
            iterations: Sampling rounds per replanning.
        """
        if noise_level <= 0:
            raise ValueError(f"noise_level must be > 0, got {noise_level}")
        super().__init__(
            task, num_samples, plan_horizon, spline_type, num_knots, iterations
        )
        self.noise_level = noise_level

    def sample_knots(
        self, params: SamplingParams
    ) -> tuple[jax.Array, SamplingParams]:
        """The mean plus ``num_samples - 1`` Gaussian perturbations of it."""
        return self._sample_around_mean(params, self.noise_level)

    def update_params(
        self, params: SamplingParams, rollouts: Trajectory
    ) -> SamplingParams:
        """The lowest-cost knots become the mean."""
        best = jnp.argmin(jnp.sum(rollouts.costs, axis=1))
        return params.replace(mean=rollouts.knots[best])
