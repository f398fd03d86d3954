"""Model-predictive path integral control (MPPI)."""

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


class MPPI(SamplingBasedController):
    """The plan becomes the softmax(−cost / temperature) average of samples."""

    def __init__(
        self,
        task: Task,
        num_samples: int,
        noise_level: float,
        temperature: float,
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
            temperature: The softmax temperature λ (cost units).
            plan_horizon: The planning horizon in seconds.
            spline_type: zero, linear or cubic.
            num_knots: Knots over the horizon.
            iterations: Sampling rounds per replanning.
        """
        if noise_level <= 0:
            raise ValueError(f"noise_level must be > 0, got {noise_level}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        super().__init__(
            task, num_samples, plan_horizon, spline_type, num_knots, iterations
        )
        self.noise_level = noise_level
        self.temperature = temperature

    def sample_knots(
        self, params: SamplingParams
    ) -> tuple[jax.Array, SamplingParams]:
        """The mean plus ``num_samples - 1`` Gaussian perturbations of it."""
        return self._sample_around_mean(params, self.noise_level)

    def update_params(
        self, params: SamplingParams, rollouts: Trajectory
    ) -> SamplingParams:
        """The cost-weighted average of the sampled knots."""
        costs = jnp.sum(rollouts.costs, axis=1)
        weights = jax.nn.softmax(-(costs - costs.min()) / self.temperature)
        mean = jnp.einsum("n,nkd->kd", weights, rollouts.knots)
        return params.replace(mean=mean)
