"""Any distribution-based evosax optimizer (CMA-ES, ...) as a controller.

Needs the optional ``evosax`` package (``pip install hydrax[evosax]``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from evosax.algorithms.distribution_based.base import (
    DistributionBasedAlgorithm,
)
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
class EvosaxParams(SamplingParams):
    """The parameters of an evosax controller.

    Attributes:
        opt_state: The evosax optimizer's state (mean, covariance, ...).
    """

    opt_state: Any


class Evosax(SamplingBasedController):
    """Sample and update with an evosax strategy; it minimizes the cost.

    The decision vector is the knots flattened, num_knots · nu numbers; the
    plan is the strategy's mean. See https://github.com/RobertTLange/evosax.
    """

    def __init__(
        self,
        task: Task,
        optimizer: type[DistributionBasedAlgorithm],
        num_samples: int,
        es_params: Any = None,
        num_randomizations: int = 1,
        risk_strategy: RiskStrategy | None = None,
        seed: int = 0,
        plan_horizon: float = 1.0,
        spline_type: SplineType = "zero",
        num_knots: int = 4,
        iterations: int = 1,
        **kwargs: Any,
    ) -> None:
        """Set up the controller.

        Args:
            task: The task.
            optimizer: An evosax distribution-based algorithm class, e.g.
                ``evosax.algorithms.CMA_ES``.
            num_samples: The population size.
            es_params: The strategy's parameters (its defaults if None).
            num_randomizations: Randomized domains per sample.
            risk_strategy: How the domains' and particles' costs combine
                (average).
            seed: The seed of the randomized models.
            plan_horizon: The planning horizon in seconds.
            spline_type: zero, linear or cubic.
            num_knots: Knots over the horizon.
            iterations: Sampling rounds per replanning.
            **kwargs: Passed to the optimizer's constructor.
        """
        if not (
            isinstance(optimizer, type)
            and issubclass(optimizer, DistributionBasedAlgorithm)
        ):
            raise ValueError(
                "optimizer must be an evosax distribution-based algorithm "
                f"class (e.g. evosax.algorithms.CMA_ES), got {optimizer!r}"
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
        self._optimizer, self._optimizer_kwargs = optimizer, kwargs
        self.strategy = self._make_strategy()
        if hasattr(self.strategy, "num_populations"):  # SV_CMA_ES, ...
            raise ValueError(
                f"optimizer {optimizer.__name__} keeps several populations "
                "(a mean each); the plan is one mean: use a single-population"
                " strategy (e.g. CMA_ES)"
            )
        self.es_params = (
            self.strategy.default_params if es_params is None else es_params
        )

    def _make_strategy(self) -> DistributionBasedAlgorithm:
        return self._optimizer(
            population_size=self.num_samples,
            solution=jnp.zeros(self.num_knots * self.task.nu),
            **self._optimizer_kwargs,
        )

    def __getstate__(self) -> dict:
        """Pickle without the strategy (it holds local functions)."""
        state = super().__getstate__()
        del state["strategy"]
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.strategy = self._make_strategy()

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> EvosaxParams:
        """The initial parameters: the strategy centred on the knots."""
        p = super().init_params(initial_knots, seed)
        rng, key = jax.random.split(p.rng)
        opt_state = self.strategy.init(key, p.mean.reshape(-1), self.es_params)
        return committed(
            self._device,
            EvosaxParams(tk=p.tk, mean=p.mean, rng=rng, opt_state=opt_state),
        )[0]

    def sample_knots(
        self, params: EvosaxParams
    ) -> tuple[jax.Array, EvosaxParams]:
        """Ask the strategy for a population, as knots.

        The strategy is centred on ``params.mean`` first: the plan shifted
        to start now (its own mean is the last replanning's, unshifted).
        """
        rng, key = jax.random.split(params.rng)
        centred = params.opt_state.replace(mean=params.mean.reshape(-1))
        x, opt_state = self.strategy.ask(key, centred, self.es_params)
        knots = x.reshape(self.num_samples, self.num_knots, self.task.nu)
        return knots, params.replace(opt_state=opt_state, rng=rng)

    def update_params(
        self, params: EvosaxParams, rollouts: Trajectory
    ) -> EvosaxParams:
        """Tell the strategy the costs; its mean becomes the plan.

        The state's best member is this round's, not the best ever: the
        cost landscape moves with every replanning.
        """
        costs = jnp.sum(rollouts.costs, axis=1)
        x = rollouts.knots.reshape(self.num_samples, -1)
        rng, key = jax.random.split(params.rng)
        # Strategies that use the fitness values (not only their ranks)
        # turn an infinite one into a NaN mean: a diverged sample gets the
        # worst finite cost plus a margin instead.
        finite = jnp.isfinite(costs)
        worst = jnp.max(jnp.where(finite, costs, -jnp.inf))
        fitness = jnp.where(finite, costs, worst + 1.0 + jnp.abs(worst))
        opt_state, _ = self.strategy.tell(
            key, x, fitness, params.opt_state, self.es_params
        )
        best = jnp.argmin(costs)
        opt_state = opt_state.replace(
            best_solution=x[best], best_fitness=costs[best]
        )
        # Every sample diverged: the plan and the strategy are kept.
        opt_state = jax.tree.map(
            lambda new, old: jnp.where(finite.any(), new, old),
            opt_state,
            params.opt_state,
        )
        mean = opt_state.mean.reshape(self.num_knots, self.task.nu)
        return params.replace(mean=mean, opt_state=opt_state, rng=rng)
