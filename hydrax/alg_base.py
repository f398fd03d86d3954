"""Sampling-based MPC: sample control splines, roll them out, update.

The API is upstream hydrax's (``SamplingBasedController``, ``SamplingParams``,
``Trajectory``, ``optimize(state, params)`` pure and jittable by the caller),
with one addition: every rollout steps through the task's dynamics seam
(``task.dynamics``: MJX physics, or a learned model), and a learned model's
measured history travels in ``SamplingParams.history``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import jax
import jax.numpy as jnp
from mujoco import mjx

from hydrax.controller_types import (
    SamplingParams,
    Trajectory,
    check_controller_arguments,
)
from hydrax.risk import AverageCost, RiskStrategy, diverged_as_worst
from hydrax.spline import InterpFunc, SplineType, get_interp_func, interpolate
from hydrax.task_base import Task
from hydrax.utils import check_mjx_state, committed, is_traced

__all__ = [
    "InterpFunc",
    "SamplingBasedController",
    "SamplingParams",
    "SplineType",
    "Trajectory",
    "get_interp_func",
    "interpolate",
]


class SamplingBasedController(ABC):
    """The base of sampling-based controllers.

    Each replanning shifts the previous plan to start now, then runs
    ``iterations`` rounds of: sample knots, roll every sample out through
    the task's dynamics seam in every randomized domain, combine the
    domains' costs with the risk strategy, update the parameters.
    A subclass sets ``self.num_samples`` and defines ``sample_knots`` and
    ``update_params`` (and ``init_params`` when it adds parameters).
    """

    def __init__(
        self,
        task: Task,
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
            task: The task: model, costs and dynamics.
            num_randomizations: Randomized domains every sample is rolled
                out in (``task.domain_randomize_model/data``); 1 is none.
            risk_strategy: How the domains' (and an ensemble's members')
                costs combine, step by step; the average by
                default (see ``hydrax.risk``).
            seed: The seed of the randomized models.
            plan_horizon: The planning horizon in seconds.
            spline_type: How knots become controls: zero, linear or cubic.
            num_knots: Knots spread evenly over the horizon.
            iterations: Sampling rounds per replanning.
        """
        check_controller_arguments(
            task.dt,
            num_randomizations,
            plan_horizon,
            spline_type,
            num_knots,
            iterations,
        )
        self.interp_func = get_interp_func(spline_type)
        self.task = task
        self.dt = task.dt
        self.plan_horizon = plan_horizon
        self.spline_type = spline_type
        self.num_knots = num_knots
        self.iterations = iterations
        self.ctrl_steps = int(round(plan_horizon / task.dt))
        self.num_randomizations = int(num_randomizations)
        self.risk_strategy = risk_strategy or AverageCost()
        self.model, self.randomized_axes = self._randomize_models(seed)
        self._optimize = jax.jit(self._optimize_impl)
        self._device = jax.devices()[0]

    def __getstate__(self) -> dict:
        """Pickled (for another process) without its compiled function."""
        state = dict(vars(self))
        del state["_optimize"], state["_device"]
        return state

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        self._optimize = jax.jit(self._optimize_impl)
        self._device = jax.devices()[0]

    def _randomize_models(self, seed: int) -> tuple[mjx.Model, Any]:
        """The planner's model(s) and the vmap axes of randomized fields."""
        if self.num_randomizations == 1:
            return self.task.model, None
        domains = jax.random.fold_in(jax.random.key(seed), 1)  # not noise's
        keys = jax.random.split(domains, self.num_randomizations)
        fields = jax.vmap(self.task.domain_randomize_model)(keys)
        model = self.task.model.tree_replace(fields)
        axes = jax.tree.map(lambda _: None, self.task.model)
        return model, axes.tree_replace(dict.fromkeys(fields, 0))

    def _check_num_samples(self, num_samples: int) -> int:
        if num_samples < 2:
            raise ValueError(f"num_samples must be >= 2, got {num_samples}")
        return int(num_samples)

    # --- what an algorithm defines ------------------------------------------

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> SamplingParams:
        """The initial parameters (zero controls unless knots are given).

        Args:
            initial_knots: The initial mean knots, (num_knots, nu).
            seed: The seed of the sampling key.

        Returns:
            The parameters, knot times starting at 0, committed and strongly
            typed as optimize's outputs, so jax.jit(optimize) compiles once.
        """
        tk = jnp.linspace(0.0, self.plan_horizon, self.num_knots)
        if initial_knots is None:
            mean = jnp.zeros((self.num_knots, self.task.nu))
        else:
            mean = jnp.asarray(initial_knots, dtype=float)
            if mean.shape != (self.num_knots, self.task.nu):
                raise ValueError(
                    f"initial_knots must have shape "
                    f"({self.num_knots}, {self.task.nu}), got {mean.shape}"
                )
        params = SamplingParams(tk=tk, mean=mean, rng=jax.random.key(seed))
        return committed(self._device, params)[0]

    @abstractmethod
    def sample_knots(self, params: Any) -> tuple[jax.Array, Any]:
        """Sample control knots, (num_samples, num_knots, nu)."""

    @abstractmethod
    def update_params(self, params: Any, rollouts: Trajectory) -> Any:
        """Update the parameters from the scored rollouts."""

    # --- shared machinery ---------------------------------------------------

    def _sample_around_mean(
        self, params: SamplingParams, std: jax.Array | float
    ) -> tuple[jax.Array, SamplingParams]:
        """The mean plus ``num_samples - 1`` Gaussian perturbations of it.

        Keeping the mean among the samples means a round never makes the
        plan worse under the model it rolls out with (predictive sampling).
        """
        rng, key = jax.random.split(params.rng)
        noise = jax.random.normal(
            key, (self.num_samples - 1, *params.mean.shape)
        )
        knots = jnp.concatenate([params.mean[None], params.mean + std * noise])
        return knots, params.replace(rng=rng)

    def _clip(self, u: jax.Array) -> jax.Array:
        return jnp.clip(u, self.task.u_min, self.task.u_max)

    def optimize(
        self,
        state: mjx.Data,
        params: Any,
        history: jax.Array | None = None,
    ) -> tuple[Any, Trajectory]:
        """Improve the plan from the current state.

        Pure: ``jax.jit(controller.optimize)`` works. Called with concrete
        arrays it runs the controller's own cached jit.

        Args:
            state: The current state; ``state.time`` is the plan's start.
            params: The previous parameters (shifted to start at now).
            history: The measured rows before the current state for a
                learned model; when given it replaces ``params.history``
                for this call (the returned parameters keep the history
                they came with).

        Returns:
            The updated parameters and the last round's rollouts.
        """
        given = params
        if history is not None:
            params = params.replace(history=history)
        if is_traced((state, params)):
            out, rollouts = self._optimize_impl(state, params)
        else:
            check_mjx_state(state, "optimize")
            state, params = committed(self._device, state, params)
            out, rollouts = self._optimize(state, params)
        return out.replace(history=given.history), rollouts

    def _optimize_impl(
        self, state: mjx.Data, params: Any
    ) -> tuple[Any, Trajectory]:
        tk = state.time + jnp.linspace(0.0, self.plan_horizon, self.num_knots)
        mean = interpolate(tk, params.tk, params.mean, self.spline_type)
        params = params.replace(tk=tk, mean=mean)

        def round_(params: Any, _: None) -> tuple[Any, Trajectory]:
            knots, params = self.sample_knots(params)
            knots = self._clip(knots)
            rng = None
            if self.num_randomizations > 1:
                key, rng = jax.random.split(params.rng)
                params = params.replace(rng=key)
            rollouts = self.rollout_with_randomizations(
                state, tk, knots, rng, params.history
            )
            rollouts = rollouts.replace(costs=diverged_as_worst(rollouts.costs))
            return self.update_params(params, rollouts), rollouts

        params, rollouts = jax.lax.scan(
            round_, params, None, length=self.iterations
        )
        return params, jax.tree.map(lambda x: x[-1], rollouts)

    def rollout_with_randomizations(
        self,
        state: mjx.Data,
        tk: jax.Array,
        knots: jax.Array,
        rng: jax.Array | None,
        history: jax.Array | None = None,
    ) -> Trajectory:
        """Roll every sample out in every domain; combine by risk strategy.

        A dynamics with several particles (an ensemble's ``"members"``)
        rolls every sample out once per particle in every domain; the risk
        strategy combines all of a sample's domains and particles at once.

        Args:
            state: The current state.
            tk: The knot times, (num_knots,).
            knots: The control knots, (num_samples, num_knots, nu).
            rng: The key of the start states' randomization (unused with
                one domain).
            history: The measured rows for a learned model, or None.

        Returns:
            The rollouts; costs combined over domains and particles, trace
            sites of the first domain's first particle.
        """
        tq = state.time + self.dt * jnp.arange(self.ctrl_steps)
        controls = self._clip(self.interp_func(tq, tk, knots))
        dynamics = self.task.dynamics
        particles = int(dynamics.num_particles)

        def one_domain(model: mjx.Model, x: mjx.Data) -> Trajectory:
            x = mjx.kinematics(model, x)
            carry = dynamics.init_carry(model, x, history)

            def scored(c: Any) -> Trajectory:
                _, rollouts = self._rollouts(
                    model, x, controls, knots, c, False
                )
                return rollouts

            if particles == 1:
                return scored(carry)

            def one_particle(p: jax.Array) -> Trajectory:
                return scored(dynamics.particle_carry(carry, p))

            # Every particle's costs, (P, N, T + 1), and particle 0's sites.
            rollouts = jax.vmap(
                one_particle, out_axes=Trajectory(None, None, 0, 0)
            )(jnp.arange(particles, dtype=jnp.int32))
            return rollouts.replace(trace_sites=rollouts.trace_sites[0])

        def combined(costs: jax.Array) -> jax.Array:
            """Domains' and particles' costs, (n, [P,] N, T+1), as one."""
            if particles > 1:
                costs = costs.reshape(-1, *costs.shape[-2:])
            return self.risk_strategy.combine_costs(diverged_as_worst(costs))

        if self.num_randomizations == 1:
            rollouts = one_domain(self.model, state)
            if particles == 1:
                return rollouts
            return rollouts.replace(costs=combined(rollouts.costs))
        n = self.num_randomizations
        states = jax.tree.map(
            lambda a: jnp.broadcast_to(a, (n, *a.shape)), state
        )
        fields = jax.vmap(self.task.domain_randomize_data)(
            states, jax.random.split(rng, n)
        )
        states = states.tree_replace(fields)
        rollouts = jax.vmap(one_domain, in_axes=(self.randomized_axes, 0))(
            self.model, states
        )
        return Trajectory(
            controls=controls,
            knots=knots,
            costs=combined(rollouts.costs),
            trace_sites=rollouts.trace_sites[0],
        )

    def eval_rollouts(
        self,
        model: mjx.Model,
        state: mjx.Data,
        controls: jax.Array,
        knots: jax.Array,
        carry: Any = None,
    ) -> tuple[mjx.Data, Trajectory]:
        """Roll control sequences out through the task's dynamics; score them.

        Upstream's signature. The running cost of step t is evaluated on the
        state after it, dt · (ℓ(xₜ₊₁, uₜ) + p), with the kinematics of xₜ₊₁
        and p the penalty of ``dynamics.step_with_penalty`` (zero but for an
        ensemble's disagreement); the terminal cost on x_T.

        Args:
            model: The MJX model (``controller.model`` or ``task.model``).
            state: The start state (its kinematics give trace_sites[:, 0]).
            controls: The control sequences, (num_samples, T, nu).
            knots: Their knots, (num_samples, num_knots, nu).
            carry: The dynamics' initial carry; by default
                ``task.dynamics.init_carry(model, state, None)``. Sample i
                starts from ``task.dynamics.sample_carry(carry, i)``; one
                particle rolls out (an ensemble's ``"members"``: member 0,
                or the one of ``particle_carry(carry, p)`` when given).

        Returns:
            The states after every step, stacked (num_samples, T, ...), and
            the rollouts.
        """
        if carry is None:
            carry = self.task.dynamics.init_carry(model, state, None)
        return self._rollouts(
            model, state, self._clip(controls), knots, carry, True
        )

    def _rollouts(
        self,
        model: mjx.Model,
        state: mjx.Data,
        controls: jax.Array,
        knots: jax.Array,
        carry: Any,
        keep_states: bool,
    ) -> tuple[mjx.Data | None, Trajectory]:
        task = self.task

        def rollout(us: jax.Array, index: jax.Array) -> tuple:
            def step(xc: tuple, u: jax.Array) -> tuple:
                x, c, penalty = task.dynamics.step_with_penalty(model, *xc, u)
                cost = self.dt * (task.running_cost(x, u) + penalty)
                out = (
                    x if keep_states else None,
                    cost,
                    task.get_trace_sites(x),
                )
                return (x, c), out

            start = task.dynamics.sample_carry(carry, index)
            (x_final, _), (xs, costs, sites) = jax.lax.scan(
                step, (state, start), us
            )
            costs = jnp.append(costs, task.terminal_cost(x_final))
            sites = jnp.concatenate([task.get_trace_sites(state)[None], sites])
            return xs, costs, sites

        indices = jnp.arange(controls.shape[0], dtype=jnp.int32)
        states, costs, sites = jax.vmap(rollout)(controls, indices)
        return states, Trajectory(
            controls=controls, knots=knots, costs=costs, trace_sites=sites
        )

    def get_action(self, params: SamplingParams, t: jax.Array) -> jax.Array:
        """The planned control at time ``t``, clipped to the limits."""
        u = interpolate(
            jnp.atleast_1d(t), params.tk, params.mean, self.spline_type
        )[0]
        return self._clip(u)
