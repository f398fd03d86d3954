"""Open-loop trajectory optimization with a sampling-based controller.

Upstream hydrax's ``hydrax.open_loop``: ``trajectory_optimization`` runs
the controller's ``optimize`` from one fixed initial state for a number of
iterations and returns the best rollout's states; ``playback`` shows them in
MuJoCo's viewer, or, without a display, says so and returns.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from hydrax.alg_base import SamplingBasedController
from hydrax.utils import has_display


def trajectory_optimization(
    ctrl: SamplingBasedController,
    initial_state: mjx.Data,
    iterations: int,
    verbose: bool = True,
) -> mjx.Data:
    """Optimize a control sequence open loop from ``initial_state``.

    Args:
        ctrl: The controller (task, horizon, dynamics, algorithm).
        initial_state: The start state (time 0 for a fresh plan).
        iterations: Calls of ``ctrl.optimize``, each from the same state.
        verbose: Print the best and mean cost of every iteration.

    Returns:
        The best last-iteration rollout's states, fields of shape (T, ...):
        ``states.qpos[t]`` is the configuration after control step t.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    params = ctrl.init_params()
    optimize = jax.jit(ctrl.optimize)
    start = time.perf_counter()
    for i in range(iterations):
        params, rollouts = optimize(initial_state, params)
        costs = jnp.sum(rollouts.costs, axis=1)
        if verbose:
            best, mean, std = (
                float(f(costs)) for f in (jnp.min, jnp.mean, jnp.std)
            )
            print(
                f"  Iteration {i + 1}/{iterations} | Cost: {best:.3f}, "
                f"Avg: {mean:.3f}, Std: {std:.3f}, "
                f"Time: {time.perf_counter() - start:.1f} s"
            )
    best = int(jnp.argmin(costs))
    states, _ = jax.jit(ctrl.eval_rollouts)(
        ctrl.task.model,
        initial_state,
        rollouts.controls[best, None],
        rollouts.knots[best, None],
    )
    return jax.tree.map(lambda x: x[0], states)


def playback(
    trajectory: mjx.Data, ctrl: SamplingBasedController, loops: int = 0
) -> None:
    """Replay an optimized trajectory in the viewer (no physics).

    Args:
        trajectory: States as ``trajectory_optimization`` returns them.
        ctrl: The controller that produced them (its task's model is shown).
        loops: Times to play it; 0 loops until the viewer is closed.
    """
    if not has_display():
        print("No display: skipping the playback")
        return
    import mujoco
    import mujoco.viewer

    mj_model = ctrl.task.mj_model
    mj_data = mujoco.MjData(mj_model)
    qpos = np.asarray(trajectory.qpos)
    played = 0
    with mujoco.viewer.launch_passive(mj_model, mj_data) as viewer:
        while viewer.is_running() and (loops == 0 or played < loops):
            for q in qpos:
                if not viewer.is_running():
                    break
                tic = time.perf_counter()
                mj_data.qpos[:] = q
                mujoco.mj_forward(mj_model, mj_data)
                viewer.sync()
                time.sleep(max(ctrl.dt - (time.perf_counter() - tic), 0.0))
            played += 1
