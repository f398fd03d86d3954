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

from hydrax.simulation.shared_memory import (
    SharedMemoryMujocoData,
    SharedMemoryNumpyArray,
)
from hydrax.utils import control_limits, has_display, headless_duration

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


def run_simulator(
    mj_model: mujoco.MjModel,
    mj_data: mujoco.MjData,
    shm_data: SharedMemoryMujocoData,
    ready: Event,
    finished: Event,
    duration: float | None = None,
    results: Any = None,  # noqa: ANN401
    headless: bool | None = None,
) -> None:
    """Step the plant in real time under the published plan.

    Waits for ``ready``; runs in the viewer (unless ``headless``) until it
    is closed or ``duration`` simulated seconds have passed; then sets
    ``finished``. ``headless=None`` runs headless without a display, for
    ``duration`` or ``HYDRAX_HEADLESS_DURATION`` seconds. ``results`` (a
    pipe's sending end) receives the rows (time, qpos, qvel, ctrl) of each
    step and the final ``MjData``. It also stops when the process that
    started it is gone.
    """
    rows: list[tuple] = []
    try:
        if headless is None:
            headless = not has_display()
            if headless and duration is None:
                duration = headless_duration()
        rows = _simulate(
            mj_model, mj_data, shm_data, ready, finished, duration, headless
        )
    except KeyboardInterrupt:  # Ctrl-C reaches both processes: stop quietly
        return
    finally:
        finished.set()
    if results is not None:
        results.send((rows, mj_data))


def _simulate(
    m: mujoco.MjModel,
    d: mujoco.MjData,
    shm: SharedMemoryMujocoData,
    ready: Event,
    finished: Event,
    duration: float | None,
    headless: bool,
) -> list[tuple]:
    # The process that started this one (None when called directly): once
    # it is gone (killed, even holding the lock) nobody reads the results.
    parent = mp.parent_process()
    caller = "the process that started the simulator"
    while not ready.wait(0.1):  # the controller compiles its first plan
        if finished.is_set() or not _alive(parent):  # failed, or stopped
            return []
    viewer = None
    if not headless and not finished.is_set():
        from mujoco import viewer as mujoco_viewer

        viewer = mujoco_viewer.launch_passive(m, d)
    history = None
    if shm.history.shape[0] > 0:
        from hydrax.simulation.history import HistoryBuffer

        history = HistoryBuffer(shm.history.shape[0], m.nq, m.nv, m.nu)
        history.reset(d.qpos, d.qvel)
    dt = float(m.opt.timestep)
    total = None if duration is None else round(duration / dt)
    lo, hi = control_limits(m)
    rows: list[tuple] = []
    start = time.perf_counter()
    try:
        while not finished.is_set() and (total is None or len(rows) < total):
            if viewer is not None and not viewer.is_running():
                break
            if not _alive(parent):
                break
            with shm.held(parent, caller):  # the plan's action for now
                plan, t0 = shm.plan.view(), float(shm.plan_start[0])
                if math.isnan(t0):  # no plan published: upstream's ctrl
                    u = np.clip(shm.ctrl.view(), lo, hi)
                else:
                    k = round((d.time - t0) / shm.dt)
                    u = np.clip(plan[min(max(k, 0), len(plan) - 1)], lo, hi)
            rows.append((d.time, d.qpos.copy(), d.qvel.copy(), u))
            if history is not None:
                history.push(d.qpos, d.qvel, u)
            d.ctrl[:] = u
            mujoco.mj_step(m, d)
            with shm.held(parent, caller):
                shm.time[0], shm.qpos[:], shm.qvel[:] = d.time, d.qpos, d.qvel
                if hasattr(shm, "mocap_pos"):
                    shm.mocap_pos[...] = d.mocap_pos
                    shm.mocap_quat[...] = d.mocap_quat
                if history is not None:
                    shm.history[...] = history.array()
            if viewer is not None:
                viewer.sync()
            # Real time: the next step is due len(rows) steps after start;
            # more than 10 steps behind, the schedule restarts from now.
            ahead = start + len(rows) * dt - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            elif ahead < -10 * dt:
                start -= ahead
    finally:
        if viewer is not None:
            viewer.close()
    return rows


def _alive(process: BaseProcess | None) -> bool:
    return process is None or process.is_alive()


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
    if headless is None and not has_display():
        headless = True
        say("No display: running headless (no viewer), in real time")
    if headless and duration is None:
        duration = headless_duration()
        say(f"Simulating {duration:g} s (HYDRAX_HEADLESS_DURATION changes it)")
    dt = float(mj_model.opt.timestep)
    history_rows = controller.task.dynamics.history_length - 1
    if history_rows and abs(dt - controller.dt) > 1e-9 * controller.dt:
        raise ValueError(
            f"the plant's timestep {dt:g} s differs from the planner's "
            f"{controller.dt:g} s: a learned model's history is measured at "
            "every plant step, so they must match"
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
        state = {k: np.array(getattr(mj_data, k)) for k in _STATE}
        sim = ctx.Process(
            target=_simulator_process,
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
    for name in _STATE:
        setattr(mj_data, name, getattr(final, name))
    mujoco.mj_forward(mj_model, mj_data)
    wall = time.perf_counter() - start
    say(f"Simulated {len(rows) * dt:.2f} s in {wall:.2f} s of wall time")
    return det.InteractiveRun.from_rows(rows, plan_seconds, mj_model)


_STATE = ("time", "qpos", "qvel", "act", "ctrl", "mocap_pos", "mocap_quat")
"""The ``MjData`` fields the simulator starts from and hands back."""


def _simulator_process(
    model_file: str,
    state: dict,
    *args: Any,
    **kwargs: Any,  # noqa: ANN401
) -> None:
    """``run_simulator`` on the plant saved in ``model_file``."""
    m = mujoco.MjModel.from_binary_path(model_file)
    d = mujoco.MjData(m)
    for name, value in state.items():
        setattr(d, name, value)
    mujoco.mj_forward(m, d)
    run_simulator(m, d, *args, **kwargs)


def _received(receive: Any, sim: BaseProcess) -> tuple:  # noqa: ANN401
    """The simulator's rows and final state, or why there are none."""
    try:
        return receive.recv()
    except EOFError:
        sim.join()
        raise RuntimeError(
            f"the simulator process ended (exit code {sim.exitcode}) without "
            "sending its trajectory: see its error above, if any (a script "
            'that calls run_interactive needs an `if __name__ == "__main__":` '
            "guard, as the spawned process imports it) or a Ctrl-C it alone "
            "received"
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
