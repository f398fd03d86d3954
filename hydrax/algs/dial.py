"""Diffusion-inspired annealing for legged MPC (DIAL-MPC)."""

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
from hydrax.algs.mppi import softmax_average
from hydrax.risk import RiskStrategy
from hydrax.task_base import Task
from hydrax.utils import committed


@struct.dataclass
class DIALParams(SamplingParams):
    """DIAL's parameters.

    Attributes:
        opt_iteration: The sampling round within the current replanning,
            0 … iterations − 1 (int32 scalar).
    """

    opt_iteration: jax.Array


class DIAL(SamplingBasedController):
    """MPPI with a noise annealed over rounds and along the horizon.

    https://arxiv.org/abs/2409.15610. The noise of knot h in round i of N is

        σ[i, h] = σ₀ · exp(−i / (β₁ N) − (K − 1 − h) / (β₂ K)),

    so it shrinks over a replanning's rounds and grows towards the end of
    the horizon, where the previous plan knows least. The current mean is
    sample 0 of every round.
    """

    def __init__(
        self,
        task: Task,
        num_samples: int,
        noise_level: float,
        beta_opt_iter: float,
        beta_horizon: float,
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
            noise_level: σ₀, the noise of the first round's last knot.
            beta_opt_iter: β₁ > 0; larger anneals less over rounds.
            beta_horizon: β₂ > 0; larger varies less along the horizon.
            temperature: The softmax temperature λ (cost units).
            num_randomizations: Randomized domains per sample.
            risk_strategy: How the domains' and particles' costs combine
                (average).
            seed: The seed of the randomized models.
            plan_horizon: The planning horizon in seconds.
            spline_type: zero, linear or cubic.
            num_knots: Knots over the horizon.
            iterations: Sampling rounds per replanning (N).
        """
        for name, value in (
            ("noise_level", noise_level),
            ("beta_opt_iter", beta_opt_iter),
            ("beta_horizon", beta_horizon),
            ("temperature", temperature),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
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
        self.beta_opt_iter = beta_opt_iter
        self.beta_horizon = beta_horizon
        self.temperature = temperature

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> DIALParams:
        """The initial parameters, at round 0."""
        p = super().init_params(initial_knots, seed)
        return committed(
            self._device,
            DIALParams(
                tk=p.tk,
                mean=p.mean,
                rng=p.rng,
                opt_iteration=jnp.zeros((), jnp.int32),
            ),
        )[0]

    def noise_schedule(self, opt_iteration: jax.Array) -> jax.Array:
        """σ[i, h] for round ``opt_iteration``, (num_knots,)."""
        h = jnp.arange(self.num_knots)
        return self.noise_level * jnp.exp(
            -opt_iteration / (self.beta_opt_iter * self.iterations)
            - (self.num_knots - 1 - h) / (self.beta_horizon * self.num_knots)
        )

    def sample_knots(self, params: DIALParams) -> tuple[jax.Array, DIALParams]:
        """Annealed perturbations of the mean; the round counter advances."""
        std = self.noise_schedule(params.opt_iteration)[:, None]
        knots, params = self._sample_around_mean(params, std)
        nxt = (params.opt_iteration + 1) % self.iterations
        return knots, params.replace(opt_iteration=nxt.astype(jnp.int32))

    def update_params(
        self, params: DIALParams, rollouts: Trajectory
    ) -> DIALParams:
        """The cost-weighted average of the sampled knots (as MPPI)."""
        costs = jnp.sum(rollouts.costs, axis=1)
        mean = softmax_average(rollouts.knots, costs, self.temperature)
        return params.replace(mean=mean)
