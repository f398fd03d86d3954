"""Sampling-based MPC: sample control splines, roll them out, update."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import interpax
import jax
import jax.numpy as jnp
from flax import struct
from mujoco import mjx

from hydrax.task_base import Task

SplineType = Literal["zero", "linear", "cubic"]


@struct.dataclass
class SamplingParams:
    """The parameters of a sampling-based controller.

    Attributes:
        tk: The knot times, (num_knots,).
        mean: The mean control knots, (num_knots, nu).
        rng: The random key for the next sampling.
    """

    tk: jax.Array
    mean: jax.Array
    rng: jax.Array


@struct.dataclass
class Trajectory:
    """The rollouts of one sampling round.

    Attributes:
        controls: The control sequences, (num_samples, T, nu).
        knots: The control knots, (num_samples, num_knots, nu).
        costs: Per-step costs, the terminal one last, (num_samples, T + 1).
    """

    controls: jax.Array
    knots: jax.Array
    costs: jax.Array


def interpolate(
    tq: jax.Array, tk: jax.Array, knots: jax.Array, kind: SplineType
) -> jax.Array:
    """Evaluate a control spline at query times (clamped to the knots' span).

    Args:
        tq: The query times, (T,).
        tk: The knot times, increasing, (num_knots,).
        knots: The knot values, (num_knots, nu).
        kind: ``zero`` (hold the last knot), ``linear`` or ``cubic``.

    Returns:
        The controls at ``tq``, (T, nu).
    """
    tq = jnp.clip(tq, tk[0], tk[-1])
    if kind == "zero":
        idx = jnp.searchsorted(tk, tq, side="right") - 1
        return knots[jnp.clip(idx, 0, tk.shape[0] - 1)]
    if kind == "linear":
        return jax.vmap(jnp.interp, in_axes=(None, None, 1), out_axes=1)(
            tq, tk, knots
        )
    if kind == "cubic":
        return interpax.interp1d(tq, tk, knots, method="cubic")
    raise ValueError(f"unknown spline type {kind!r}")


def _committed_to(tree: object, device: jax.Device) -> bool:
    """Whether every leaf is a jax.Array committed to ``device`` alone."""
    for leaf in jax.tree.leaves(tree):
        if not (
            isinstance(leaf, jax.Array)
            and leaf.committed
            and leaf.devices() == {device}
        ):
            return False
    return True


class SamplingBasedController(ABC):
    """The base of sampling-based controllers.

    Each replanning shifts the previous plan to start now, then runs
    ``iterations`` rounds of: sample knots, roll every sample out through the
    task's dynamics seam (``task.dynamics``), update the parameters.
    """

    def __init__(
        self,
        task: Task,
        num_samples: int,
        plan_horizon: float = 1.0,
        spline_type: SplineType = "zero",
        num_knots: int = 4,
        iterations: int = 1,
    ) -> None:
        """Set up the controller.

        Args:
            task: The task: model, costs and dynamics.
            num_samples: Control sequences rolled out per round.
            plan_horizon: The planning horizon in seconds.
            spline_type: How knots become controls: zero, linear or cubic.
            num_knots: Knots spread evenly over the horizon.
            iterations: Sampling rounds per replanning.
        """
        if num_samples < 2:
            raise ValueError(f"num_samples must be >= 2, got {num_samples}")
        if plan_horizon <= task.dt:
            raise ValueError(
                f"plan_horizon must exceed the timestep {task.dt}, "
                f"got {plan_horizon}"
            )
        if num_knots < 2:
            raise ValueError(f"num_knots must be >= 2, got {num_knots}")
        if spline_type not in ("zero", "linear", "cubic"):
            raise ValueError(
                "spline_type must be zero, linear or cubic, "
                f"got {spline_type!r}"
            )
        if spline_type == "cubic" and num_knots < 4:
            raise ValueError("a cubic spline needs num_knots >= 4")
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        self.task = task
        self.num_samples = num_samples
        self.plan_horizon = plan_horizon
        self.spline_type = spline_type
        self.num_knots = num_knots
        self.iterations = iterations
        self.ctrl_steps = int(round(plan_horizon / task.dt))
        self._optimize = jax.jit(self._optimize_impl)
        self._device = jax.devices()[0]

    # --- what an algorithm defines ------------------------------------------

    def init_params(
        self, initial_knots: jax.Array | None = None, seed: int = 0
    ) -> SamplingParams:
        """The initial parameters (zero controls unless knots are given)."""
        tk, mean, rng = self._base_params(initial_knots, seed)
        return SamplingParams(tk=tk, mean=mean, rng=rng)

    @abstractmethod
    def sample_knots(
        self, params: SamplingParams
    ) -> tuple[jax.Array, SamplingParams]:
        """Sample control knots, (num_samples, num_knots, nu)."""

    @abstractmethod
    def update_params(
        self, params: SamplingParams, rollouts: Trajectory
    ) -> SamplingParams:
        """Update the parameters from the scored rollouts."""

    # --- shared machinery ---------------------------------------------------

    def _base_params(
        self, initial_knots: jax.Array | None, seed: int
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Knot times, mean knots and a key for ``init_params``."""
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
        return tk, mean, jax.random.key(seed)

    def _sample_around_mean(
        self, params: SamplingParams, std: jax.Array | float
    ) -> tuple[jax.Array, SamplingParams]:
        """The mean plus ``num_samples - 1`` Gaussian perturbations of it.

        Keeping the mean among the samples means a round never makes the
        plan worse under the model it rolls out with.
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
        params: SamplingParams,
        history: jax.Array | None = None,
    ) -> tuple[SamplingParams, Trajectory]:
        """Improve the plan from the current state (jitted).

        Args:
            state: The current state; ``state.time`` is the plan's start.
            params: The previous parameters (shifted to start at now).
            history: The measured (qpos, qvel, ctrl) rows before the current
                state, (task.dynamics.history_length - 1, nq + nv + nu),
                for dynamics that condition on a history.

        Returns:
            The updated parameters and the last round's rollouts.
        """
        # Commit everything to one device: jit keys its cache on whether an
        # argument is committed, and outputs are, so fresh inputs would
        # otherwise compile a second time at the second replanning. An
        # mjx.Data has ~100 arrays, and putting them all costs more than the
        # rest of a learned-model replanning; the closed loop hands over a
        # state already committed, which passes through untouched.
        args = [
            x
            if _committed_to(x, self._device)
            else jax.device_put(x, self._device)
            for x in (state, params, history)
        ]
        return self._optimize(*args)

    def _optimize_impl(
        self,
        state: mjx.Data,
        params: SamplingParams,
        history: jax.Array | None,
    ) -> tuple[SamplingParams, Trajectory]:
        model = self.task.model
        state = mjx.kinematics(model, state)
        tk = state.time + jnp.linspace(0.0, self.plan_horizon, self.num_knots)
        mean = interpolate(tk, params.tk, params.mean, self.spline_type)
        params = params.replace(tk=tk, mean=mean)
        carry = self.task.dynamics.init_carry(model, state, history)

        def round_(params: SamplingParams, _: None) -> tuple:
            knots, params = self.sample_knots(params)
            knots = self._clip(knots)
            rollouts = self.eval_rollouts(state, carry, knots, params.tk)
            return self.update_params(params, rollouts), rollouts

        params, rollouts = jax.lax.scan(
            round_, params, None, length=self.iterations
        )
        return params, jax.tree.map(lambda x: x[-1], rollouts)

    def eval_rollouts(
        self,
        state: mjx.Data,
        carry: object,
        knots: jax.Array,
        tk: jax.Array,
    ) -> Trajectory:
        """Roll out every sample through the task's dynamics and score it.

        Args:
            state: The start state.
            carry: The dynamics' initial carry.
            knots: The control knots, (num_samples, num_knots, nu).
            tk: The knot times, (num_knots,).

        Returns:
            The rollouts with per-step costs (running costs times dt).
        """
        task = self.task
        tq = state.time + task.dt * jnp.arange(self.ctrl_steps)
        controls = jax.vmap(interpolate, in_axes=(None, None, 0, None))(
            tq, tk, knots, self.spline_type
        )
        controls = self._clip(controls)  # (num_samples, T, nu)

        def rollout(us: jax.Array) -> jax.Array:
            def step(xc: tuple, u: jax.Array) -> tuple:
                x, c = xc
                cost = task.dt * task.running_cost(x, u)
                x, c = task.dynamics.step(task.model, x, c, u)
                return (x, c), cost

            (x_final, _), costs = jax.lax.scan(step, (state, carry), us)
            return jnp.append(costs, task.terminal_cost(x_final))

        costs = jax.vmap(rollout)(controls)
        return Trajectory(controls=controls, knots=knots, costs=costs)

    def get_action(self, params: SamplingParams, t: float) -> jax.Array:
        """The planned control at time ``t``, clipped to the limits."""
        u = interpolate(
            jnp.atleast_1d(t), params.tk, params.mean, self.spline_type
        )[0]
        return self._clip(u)
