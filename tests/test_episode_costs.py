"""The running cost of logged rows: the task's own, one compile, no leak."""

import gc
import weakref

import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from hydrax.simulation.episode_costs import running_costs
from hydrax.tasks import get_task


def _rows(task, n, rng):
    m = task.mj_model
    return (
        rng.normal(size=(n, m.nq)),
        rng.normal(size=(n, m.nv)),
        rng.normal(size=(n, m.nu)),
    )


def test_running_costs_are_the_tasks_row_by_row_at_any_length():
    """Episodes of any length (trials stop early) are costed exactly, by
    one compiled function."""
    task = get_task("double_cart_pole")
    rng = np.random.default_rng(0)
    data = mjx.make_data(task.model)
    for n in (1, 255, 257, 600):
        qpos, qvel, ctrl = _rows(task, n, rng)
        costs = running_costs(task, qpos, qvel, ctrl)
        assert costs.shape == (n,)
        for k in {0, n // 2, n - 1}:
            state = data.replace(
                qpos=jnp.asarray(qpos[k], jnp.float32),
                qvel=jnp.asarray(qvel[k], jnp.float32),
                ctrl=jnp.asarray(ctrl[k], jnp.float32),
            )
            want = task.running_cost(
                mjx.kinematics(task.model, state), state.ctrl
            )
            np.testing.assert_allclose(costs[k], want, rtol=1e-5)
    assert task._hydrax_running_costs._cache_size() == 1
    assert running_costs(task, *_rows(task, 0, rng)).shape == (0,)


def test_a_costed_task_can_be_freed():
    """The compiled cost lives on its task, not in a table that keeps every
    task of an aggregation's rounds alive."""
    task = get_task("pendulum")
    running_costs(task, *_rows(task, 3, np.random.default_rng(0)))
    ref = weakref.ref(task)
    del task
    gc.collect()
    assert ref() is None
