"""The running cost of logged rows; jitted functions kept on their owner."""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from mujoco import mjx

from hydrax.task_base import Task

COST_CHUNK = 256
"""Rows per call of the running cost: every episode length, one compile."""


def cached_on(
    owner: object, name: str, build: Callable[[], Callable]
) -> Callable:
    """The function ``build()`` made once and kept on ``owner``.

    A jitted function keeps its compiled code for as long as it lives; kept
    on the object it closes over, it lives as long as that object (kept in
    a module-level table it would keep the object alive).
    """
    fn = getattr(owner, "__dict__", {}).get(name)
    if fn is None:
        fn = build()
        try:
            setattr(owner, name, fn)
        except AttributeError:  # an object without attributes of its own
            pass
    return fn


def running_costs(
    task: Task, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray
) -> np.ndarray:
    """The task's running cost of each logged row, evaluated with MJX.

    Args:
        task: The task.
        qpos: Positions, (T, nq).
        qvel: Velocities, (T, nv).
        ctrl: Controls, (T, nu).

    Returns:
        The running costs (without the dt factor), (T,).
    """

    def build() -> Callable:
        template = mjx.make_data(task.model)

        def cost(q: jax.Array, v: jax.Array, u: jax.Array) -> jax.Array:
            state = template.replace(qpos=q, qvel=v, ctrl=u)
            return task.running_cost(mjx.kinematics(task.model, state), u)

        return jax.jit(jax.vmap(cost))

    fn = cached_on(task, "_hydrax_running_costs", build)
    rows = [np.asarray(a, np.float32) for a in (qpos, qvel, ctrl)]
    n = len(rows[0])
    pad = -n % COST_CHUNK  # the last chunk repeats the first row
    rows = [np.concatenate([a, np.repeat(a[:1], pad, axis=0)]) for a in rows]
    costs = [
        np.asarray(fn(*(a[i : i + COST_CHUNK] for a in rows)), np.float64)
        for i in range(0, n, COST_CHUNK)
    ]
    return np.concatenate(costs)[:n] if costs else np.zeros(0)


def action_lookup(controller: object) -> Callable:
    """``get_action`` at many times, jitted once per controller."""
    return cached_on(
        controller,
        "_hydrax_action_lookup",
        lambda: jax.jit(jax.vmap(controller.get_action, in_axes=(None, 0))),
    )
