"""The cross-entropy method (CEM)."""

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
from hydrax.task_base import Task


@struct.dataclass
class CEMParams(SamplingParams):
    """CEM's parameters: a diagonal Gaussian over the knots.

    Attributes:
        std: The per-knot standard deviation, (num_knots, nu).
    """

    std: jax.Array


class CEM(SamplingBasedController):
    """Fit a diagonal Gaussian to the lowest-cost (elite) samples."""

    def __init__(
        self,
        task: Task,
        num_samples: int,
        num_elites: int,
        sigma_start: float,
        sigma_min: float,
        plan_horizon: float = 1.0,
        spline_type: SplineType = "zero",
        num_knots: int = 4,
        iterations: int = 1,
    ) -> None:
        """Set up the controller.

        Args:
            task: The task.
            num_samples: Control sequences per round (the mean included).
            num_elites: Samples the Gaussian is refit to.
            sigma_start: The standard deviation of a fresh plan.
            sigma_min: The floor of the standard deviation.
            plan_horizon: The planning horizon in seconds.
            spline_type: zero, linear or cubic.
            num_knots: Knots over the horizon.
            iterations: Sampling rounds per replanning.
        """
        if not 1 <= num_elites <= num_samples:
            raise ValueError(
                f"num_elites must be in [1, num_samples], got {num_elites}"
            )
        if sigma_min <= 0 or sigma_start < sigma_min:
            raise ValueError(
                "need 0 < sigma_min <= sigma_start, got "
                f"sigma_min={sigma_min}, sigma_start={sigma_start}"
            )
        super().__init__(
            task, num_samples, plan_horizon, spline_type, num_knots, iterations
        )
        self.num_elites = num_elites
        self.sigma_start = sigma_start
        self.sigma_min = sigma_min

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> CEMParams:
        """The initial parameters (zero controls unless knots are given)."""
        tk, mean, rng = self._base_params(initial_knots, seed)
        std = jnp.full_like(mean, self.sigma_start)
        return CEMParams(tk=tk, mean=mean, rng=rng, std=std)

    def sample_knots(self, params: CEMParams) -> tuple[jax.Array, CEMParams]:
        """The mean plus ``num_samples - 1`` draws from the Gaussian."""
        return self._sample_around_mean(params, params.std)

    def update_params(
        self, params: CEMParams, rollouts: Trajectory
    ) -> CEMParams:
        """Refit mean and std to the elites; std floored at sigma_min."""
        costs = jnp.sum(rollouts.costs, axis=1)
        elites = rollouts.knots[jnp.argsort(costs)[: self.num_elites]]
        std = jnp.maximum(jnp.std(elites, axis=0), self.sigma_min)
        return params.replace(mean=jnp.mean(elites, axis=0), std=std)
