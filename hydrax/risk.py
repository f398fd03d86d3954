"""Risk strategies: how costs over domain randomizations become one cost.

A controller with ``num_randomizations > 1`` rolls every sample out in each
randomized model (and from each randomized start state) and hands the
stacked costs, (num_randomizations, num_samples, T + 1), to its strategy,
which reduces the first axis, step by step. A dynamics with several
particles (an ensemble's ``"members"``) adds its rollouts to that axis:
(num_randomizations · num_particles, num_samples, T + 1). Every strategy is
a pure function of the costs, so it runs inside the controller's jitted
``optimize``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import jax
import jax.numpy as jnp


class RiskStrategy(ABC):
    """Reduce costs over domains and particles (axis 0) to one."""

    @abstractmethod
    def combine_costs(self, costs: jax.Array) -> jax.Array:
        """Combine the costs of all randomizations.

        Args:
            costs: The costs, (num_randomizations, ...).

        Returns:
            The combined costs, shape ``costs.shape[1:]``.
        """


def diverged_as_worst(costs: jax.Array) -> jax.Array:
    """The costs with every NaN or infinite entry (a diverged rollout) +inf.

    No planner then takes a diverged sample for the best, and MPPI's
    softmax never averages a NaN into the plan.
    """
    return jnp.where(jnp.isfinite(costs), costs, jnp.inf)


def _check_level(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return float(value)


class AverageCost(RiskStrategy):
    """The expectation over randomizations: risk-neutral (the default)."""

    def combine_costs(self, costs: jax.Array) -> jax.Array:
        """The mean over randomizations."""
        return jnp.mean(costs, axis=0)


class WorstCase(RiskStrategy):
    """The highest cost over randomizations: fully risk-averse."""

    def combine_costs(self, costs: jax.Array) -> jax.Array:
        """The maximum over randomizations."""
        return jnp.max(costs, axis=0)


class BestCase(RiskStrategy):
    """The lowest cost over randomizations: fully risk-seeking."""

    def combine_costs(self, costs: jax.Array) -> jax.Array:
        """The minimum over randomizations."""
        return jnp.min(costs, axis=0)


class ExponentialWeightedAverage(RiskStrategy):
    """A softmax-weighted average, wᵢ ∝ exp(γ cᵢ).

    γ > 0 leans towards the worst case (risk-averse), γ < 0 towards the best
    case (risk-seeking), γ = 0 is the plain average.
    """

    def __init__(self, gamma: float) -> None:
        """Set the risk parameter.

        Args:
            gamma: The risk parameter γ (any real number).
        """
        self.gamma = float(gamma)

    def combine_costs(self, costs: jax.Array) -> jax.Array:
        """Σᵢ wᵢ cᵢ with wᵢ = softmax(γ c)ᵢ over randomizations."""
        # Exponents relative to the cost that weighs most are <= 0, so a
        # huge finite cost cannot overflow them; an infinite cost is the
        # whole answer unless γ < 0 weighs it out.
        inf = jnp.isinf(costs)
        finite = jnp.where(inf, jnp.nan, costs)
        ref = jnp.nanmax(finite, 0) if self.gamma > 0 else jnp.nanmin(finite, 0)
        ref = jnp.where(jnp.isnan(ref), 0.0, ref)  # every cost infinite
        z = jnp.where(inf, -jnp.inf, self.gamma * (costs - ref))
        weights = jax.nn.softmax(z, axis=0)
        total = jnp.sum(jnp.where(weights > 0, weights * costs, 0.0), axis=0)
        worst = inf.all(axis=0) | (inf.any(axis=0) & (self.gamma >= 0))
        return jnp.where(worst, jnp.inf, total)


class ValueAtRisk(RiskStrategy):
    """The (1 − α) quantile of the cost over randomizations.

    α = 0 is the worst case, α = 0.5 the median, α = 1 the best case.
    Quantiles interpolate linearly between the sorted costs.
    """

    def __init__(self, alpha: float) -> None:
        """Set the tail probability.

        Args:
            alpha: The tail probability α in [0, 1].
        """
        self.alpha = _check_level("alpha", alpha)

    def combine_costs(self, costs: jax.Array) -> jax.Array:
        """The (1 − α) quantile over randomizations."""
        # quantile's interpolation weighs an infinite neighbour by 0: NaN.
        return diverged_as_worst(jnp.quantile(costs, 1.0 - self.alpha, axis=0))


class ConditionalValueAtRisk(RiskStrategy):
    """The mean of the costs at or above the (1 − α) quantile.

    α = 0 is the worst case, α = 1 the plain average. Always at least the
    value at risk of the same α.
    """

    def __init__(self, alpha: float) -> None:
        """Set the tail probability.

        Args:
            alpha: The tail probability α in [0, 1].
        """
        self.alpha = _check_level("alpha", alpha)

    def combine_costs(self, costs: jax.Array) -> jax.Array:
        """The mean over randomizations of the costs in the upper tail."""
        q = jnp.quantile(costs, 1.0 - self.alpha, axis=0)
        threshold = diverged_as_worst(q)  # not NaN beside an infinite cost
        return jnp.mean(costs, axis=0, where=costs >= threshold)


__all__ = [
    "AverageCost",
    "BestCase",
    "ConditionalValueAtRisk",
    "ExponentialWeightedAverage",
    "RiskStrategy",
    "ValueAtRisk",
    "WorstCase",
]
