"""Asynchronous simulation: the plant in its own process, in real time.

Upstream hydrax's ``hydrax.simulation.asynchronous``: the simulator steps
the MuJoCo plant in real time while the controller replans as fast as it
can, so a slow replanning shows as latency, as it would on a robot. The two
share the plant's state and the latest plan through shared memory.

Here the controller runs in the calling process and only the simulator is
spawned, so any controller works (a learned model behind
``custom_dynamics`` included; nothing of it is pickled). The controller
publishes its plan's actions at the plant's step times from the state it
planned from, and the simulator applies the row for its current time: the
plan's own spline, not a held action. A learned model gets the measured
history it conditions on, kept by the simulator at every plant step.
Without a display the simulator runs headless for ``duration`` simulated
seconds (``HYDRAX_HEADLESS_DURATION``, 10 by default), still in real time.
The shared arrays live in ``hydrax.simulation.shared_memory``.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np

from hydrax.simulation.plant_process import (
    STATE_FIELDS,
    run_simulator,
    simulator_process,
)
from hydrax.simulation.shared_memory import (
    SharedMemoryMujocoData,
    SharedMemoryNumpyArray,
)

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Event

    import jax

    from hydrax.alg_base import SamplingBasedController
    from hydrax.simulation.deterministic import InteractiveRun


def run_controller(
    ctrl: SamplingBasedController,
    shm_data: SharedMemoryMujocoData,
    ready: Event,
    finished: Event,
    initial_knots: jax.Array | None = None,
    verbose: bool = True,
    simulator: BaseProcess | None = None,
) -> list[float]:
    """Replan from the shared state until ``finished`` is set.

    The first plan is compiled and published before ``ready`` is set, so
    the simulator never starts without one. With ``simulator`` (its
    process) it also stops when that process is gone.

    Returns:
        The wall time of each replanning after the first.
    """
    import jax
    import jax.numpy as jnp

    from hydrax.simulation.deterministic import placed_state
    from hydrax.simulation.episode_costs import action_lookup

    say = print if verbose else (lambda *a, **k: None)
    task = ctrl.task
    needed = task.dynamics.history_length - 1
    if needed and shm_data.history.shape[0] != needed:
        raise ValueError(
            f"the planner's learned model conditions on {needed} measured "
            f"rows before the current state, and the shared state holds "
            f"{shm_data.history.shape[0]}: share it as SharedMemoryMujocoData"
            f"(mj_data, ctx, history_rows={needed})"
        )
    device = jax.devices()[0]
    template = jax.device_put(task.make_data(), device)
    has_history = shm_data.history.shape[0] > 0
    steps = jnp.arange(shm_data.plan.shape[0]) * shm_data.dt
    actions = action_lookup(ctrl)

    def measured() -> tuple[Any, Any, float]:
        with shm_data.held(simulator):  # state and history of one instant
            t = float(shm_data.time[0])
            fields = {"qpos": shm_data.qpos[:], "qvel": shm_data.qvel[:]}
            fields["time"] = t
            if hasattr(shm_data, "mocap_pos"):
                fields["mocap_pos"] = shm_data.mocap_pos[...]
                fields["mocap_quat"] = shm_data.mocap_quat[...]
            history = shm_data.history[...] if has_history else None
        state = placed_state(template, device, fields)
        if history is not None:
            history = jax.device_put(history.astype(np.float32), device)
        return state, history, t

    def replan(params: Any) -> Any:  # noqa: ANN401
        state, history, t = measured()
        params, _ = ctrl.optimize(state, params, history)
        us = np.asarray(actions(params, state.time + steps), np.float64)
        with shm_data.held(simulator):
            shm_data.plan[...] = us
            shm_data.ctrl[:] = us[0]
            shm_data.plan_start[0] = t
        return params

    say(
        f"Planning with {ctrl.ctrl_steps} steps over a {ctrl.plan_horizon} "
        f"second horizon with {ctrl.num_knots} knots"
    )
    say("Jitting controller...")
    start = time.perf_counter()
    params = replan(ctrl.init_params(initial_knots=initial_knots))
    say(f"Time to jit: {time.perf_counter() - start:.3f} seconds")
    ready.set()
    plan_seconds: list[float] = []
    live = verbose and sys.stdout.isatty()
    while not finished.is_set() and (simulator is None or simulator.is_alive()):
        tic = time.perf_counter()
        params = replan(params)
        plan_seconds.append(time.perf_counter() - tic)
        if live:
            print(
                f"Controller running at {1 / plan_seconds[-1]:.2f} Hz", end="\r"
            )
    if live:
        print()
    if plan_seconds:
        say(
            f"Controller ran at {1 / np.mean(plan_seconds):.2f} Hz on average "
            f"({len(plan_seconds)} replannings)"
        )
    return plan_seconds


def run_interactive(
    controller: SamplingBasedController,
    mj_model: mujoco.MjModel,
    mj_data: mujoco.MjData,
    initial_knots: jax.Array | None = None,
    headless: bool | None = None,
    duration: float | None = None,
    verbose: bool = True,
) -> InteractiveRun:
    """Run the plant in real time in its own process under the controller.

    As ``hydrax.simulation.deterministic.run_interactive``, but the plant
    does not wait for the controller: each plant step applies the latest
    plan's action for the current time.

    Args:
        controller: The controller (its task holds the planner's model);
            it runs in this process.
        mj_model: The plant's model (its timestep may differ from the
            planner's, except for a learned model with history).
        mj_data: The plant's initial state; it ends at the final state.
        initial_knots: The first plan's knots, (num_knots, nu).
        headless: No viewer; None chooses headless without a display.
        duration: Simulated seconds; None runs until the viewer is closed,
            or headless ``HEADLESS_DURATION`` (``HYDRAX_HEADLESS_DURATION``).
        verbose: Print the timing lines upstream prints.

    Returns:
        The simulated trajectory and the replanning times.
    """
    from hydrax.simulation import deterministic as det

    say = print if verbose else (lambda *a, **k: None)
    if duration is not None and not 0 < duration < math.inf:
        raise ValueError(f"duration must be > 0 and finite, got {duration}")
    dt = float(mj_model.opt.timestep)
    history_rows = controller.task.dynamics.history_length - 1
    if history_rows and abs(dt - controller.dt) > 1e-9 * controller.dt:
        raise ValueError(
            f"the plant's timestep {dt:g} s differs from the planner's "
            f"{controller.dt:g} s: a learned model's history is measured at "
            "every plant step, so they must match"
        )
    headless, duration = det.headless_run(
        headless, duration, say, ", in real time"
    )
    if duration is not None and duration < dt:
        raise ValueError(
            f"duration must be at least one plant step ({dt:g} s), got "
            f"{duration:g}"
        )
    ctx = mp.get_context("spawn")  # a fork would copy JAX's threads
    plan_rows = math.ceil(controller.plan_horizon / dt) + 1
    shm = SharedMemoryMujocoData(mj_data, ctx, dt, history_rows, plan_rows)
    ready, finished = ctx.Event(), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    with tempfile.TemporaryDirectory() as folder:
        # The child reads the plant from a file: a start-up message larger
        # than a pipe holds would block this process for good if the child
        # died before reading it (e.g. a script without a __main__ guard).
        model_file = str(Path(folder) / "plant.mjb")
        mujoco.mj_saveModel(mj_model, model_file, None)
        state = {k: np.array(getattr(mj_data, k)) for k in STATE_FIELDS}
        sim = ctx.Process(
            target=simulator_process,
            args=(model_file, state, shm, ready, finished, duration, send),
            kwargs={"headless": bool(headless)},
            daemon=True,
        )
        sim.start()
        send.close()  # the child's copy is the only one: recv sees its end
        start = time.perf_counter()
        try:
            plan_seconds = run_controller(
                controller, shm, ready, finished, initial_knots, verbose, sim
            )
            rows, final = _received(receive, sim)
        finally:
            finished.set()  # also stops a simulator waiting for a plan
            _stop(sim, receive)
    for name in STATE_FIELDS:
        setattr(mj_data, name, getattr(final, name))
    mujoco.mj_forward(mj_model, mj_data)
    wall = time.perf_counter() - start
    say(f"Simulated {len(rows) * dt:.2f} s in {wall:.2f} s of wall time")
    return det.InteractiveRun.from_rows(rows, plan_seconds, mj_model)


def _received(receive: Any, sim: BaseProcess) -> tuple:  # noqa: ANN401
    """The simulator's rows and final state, or why there are none."""
    try:
        return receive.recv()
    except EOFError:
        sim.join()
        if sim.exitcode is not None and sim.exitcode < 0:
            why = f"killed by signal {-sim.exitcode}"
        else:
            why = (
                f"exit code {sim.exitcode}; see its error above, if any: a "
                "script that calls run_interactive needs an `if __name__ == "
                '"__main__":` guard, as the spawned process imports it'
            )
        raise RuntimeError(
            f"the simulator process ended without sending its trajectory "
            f"({why})"
        ) from None


def _stop(sim: BaseProcess, receive: Any) -> None:  # noqa: ANN401
    """Let the simulator end (reading what it still sends), else end it."""
    deadline = time.perf_counter() + 10
    while sim.is_alive() and time.perf_counter() < deadline:
        try:
            if receive.poll(0.1):
                receive.recv()  # a send blocked on a full pipe finishes
        except (EOFError, OSError):
            sim.join(0.1)
    if sim.is_alive():
        sim.terminate()
    sim.join()


__all__ = [
    "SharedMemoryMujocoData",
    "SharedMemoryNumpyArray",
    "run_controller",
    "run_interactive",
    "run_simulator",
]
