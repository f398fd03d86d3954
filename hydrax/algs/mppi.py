"""Model-predictive path integral control (MPPI)."""

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
class MPPIParams(SamplingParams):
    """MPPI's parameters (those of every controller)."""


def softmax_average(
    knots: jax.Array, costs: jax.Array, temperature: float
) -> jax.Array:
    """Σᵢ wᵢ knotsᵢ with w = softmax(−cost / temperature).

    Args:
        knots: The sampled knots, (num_samples, num_knots, nu).
        costs: Their total costs, (num_samples,).
        temperature: λ, in cost units.

    Returns:
        The weighted mean knots, (num_knots, nu).
    """
    best = costs.min()
    weights = jax.nn.softmax(-(costs - best) / temperature)
    # Every cost infinite (all diverged): keep the first sample, the mean.
    weights = jnp.where(
        jnp.isfinite(best), weights, jnp.arange(len(costs)) == 0
    )
    return jnp.einsum("n,nkd->kd", weights, knots)


class MPPI(SamplingBasedController):
    """The plan becomes the softmax(−cost / temperature) average of samples.

    "MPPI-generic" (https://arxiv.org/abs/2409.07563). The current mean is
    sample 0 of every round.
    """

    def __init__(
        self,
        task: Task,
        num_samples: int,
        noise_level: float,
        temperature: float,
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
            temperature: The softmax temperature λ (cost units).
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
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
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
        self.temperature = temperature

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> MPPIParams:
        """The initial parameters (zero controls unless knots are given)."""
        p = super().init_params(initial_knots, seed)
        return committed(
            self._device, MPPIParams(tk=p.tk, mean=p.mean, rng=p.rng)
        )[0]

    def sample_knots(self, params: MPPIParams) -> tuple[jax.Array, MPPIParams]:
        """The mean plus ``num_samples - 1`` Gaussian perturbations of it."""
        return self._sample_around_mean(params, self.noise_level)

    def update_params(
        self, params: MPPIParams, rollouts: Trajectory
    ) -> MPPIParams:
        """The cost-weighted average of the sampled knots."""
        costs = jnp.sum(rollouts.costs, axis=1)
        mean = softmax_average(rollouts.knots, costs, self.temperature)
        return params.replace(mean=mean)
