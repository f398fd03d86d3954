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
from hydrax.risk import RiskStrategy
from hydrax.task_base import Task
from hydrax.utils import committed


@struct.dataclass
class CEMParams(SamplingParams):
    """CEM's parameters: a diagonal Gaussian over the knots.

    Attributes:
        cov: The per-knot standard deviation, (num_knots, nu) (upstream's
            name; ``std`` reads the same array).
    """

    cov: jax.Array

    @property
    def std(self) -> jax.Array:
        """The per-knot standard deviation (the same array as ``cov``)."""
        return self.cov


class CEM(SamplingBasedController):
    """Fit a diagonal Gaussian to the lowest-cost (elite) samples.

    Sample 0 is the current mean; a fraction ``explore_fraction`` of the
    samples, last, is always drawn at ``sigma_start`` so the search keeps
    exploring after the Gaussian has narrowed; the rest use the fitted std.
    """

    def __init__(
        self,
        task: Task,
        num_samples: int,
        num_elites: int,
        sigma_start: float,
        sigma_min: float,
        num_randomizations: int = 1,
        explore_fraction: float = 0.0,
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
            num_elites: Samples the Gaussian is refit to.
            sigma_start: The standard deviation of a fresh plan and of the
                exploration samples.
            sigma_min: The floor of the standard deviation.
            num_randomizations: Randomized domains per sample.
            explore_fraction: The fraction of samples drawn at
                ``sigma_start`` (at most ``num_samples - 1`` of them).
            risk_strategy: How the domains' and particles' costs combine
                (average).
            seed: The seed of the randomized models.
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
        if not 0.0 <= explore_fraction <= 1.0:
            raise ValueError(
                f"explore_fraction must be in [0, 1], got {explore_fraction}"
            )
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
        self.num_elites = num_elites
        self.sigma_start = sigma_start
        self.sigma_min = sigma_min
        self.explore_fraction = explore_fraction
        self.num_explore = min(
            int(explore_fraction * num_samples), num_samples - 1
        )

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> CEMParams:
        """The initial parameters (zero controls unless knots are given)."""
        p = super().init_params(initial_knots, seed)
        cov = jnp.full_like(p.mean, self.sigma_start)
        return committed(
            self._device, CEMParams(tk=p.tk, mean=p.mean, rng=p.rng, cov=cov)
        )[0]

    def sample_knots(self, params: CEMParams) -> tuple[jax.Array, CEMParams]:
        """The mean, draws at the fitted std, then exploration draws."""
        main = self.num_samples - self.num_explore  # the mean included
        std = jnp.concatenate(
            [
                jnp.broadcast_to(params.cov, (main - 1, *params.cov.shape)),
                jnp.full(
                    (self.num_explore, *params.cov.shape), self.sigma_start
                ),
            ]
        )
        return self._sample_around_mean(params, std)

    def update_params(
        self, params: CEMParams, rollouts: Trajectory
    ) -> CEMParams:
        """Refit mean and std to the elites; std floored at sigma_min.

        Elites that diverged (infinite cost) count for nothing; with none
        finite the plan is kept.
        """
        costs = jnp.sum(rollouts.costs, axis=1)
        best = jnp.argsort(costs)[: self.num_elites]
        elites, ok = rollouts.knots[best], jnp.isfinite(costs[best])
        w = (ok / jnp.maximum(ok.sum(), 1))[:, None, None]
        mean = jnp.sum(w * elites, axis=0)
        std = jnp.sqrt(jnp.sum(w * jnp.square(elites - mean), axis=0))
        cov = jnp.maximum(std, self.sigma_min)
        keep = ~ok.any()
        return params.replace(
            mean=jnp.where(keep, params.mean, mean),
            cov=jnp.where(keep, params.cov, cov),
        )
