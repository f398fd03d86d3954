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
"""

from __future__ import annotations

import math
import multiprocessing as mp
import sys
import time
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Event

    import jax

    from hydrax.alg_base import SamplingBasedController
    from hydrax.simulation.deterministic import InteractiveRun


class SharedMemoryNumpyArray:
    """A numpy array of fixed shape and dtype shared between processes.

    Pass it to a process as an argument when the process starts (shared
    memory travels by inheritance). Reads return copies; reads and writes
    hold the lock, which several arrays may share.
    """

    def __init__(
        self,
        arr: np.ndarray,
        ctx: BaseContext,
        lock: Any = None,  # noqa: ANN401
    ) -> None:
        """Copy ``arr`` into new shared memory.

        Args:
            arr: The initial values; they fix the shape and dtype.
            ctx: The multiprocessing context of the processes that share it.
            lock: A lock (of ``ctx``) to share with other arrays; None
                makes one.
        """
        arr = np.asarray(arr)
        self.shape, self.dtype = arr.shape, arr.dtype
        self.lock = ctx.RLock() if lock is None else lock
        self._raw = ctx.RawArray("b", max(arr.nbytes, 1))
        self.view()[...] = arr

    def view(self) -> np.ndarray:
        """The shared memory itself (no copy, no lock: hold ``lock``)."""
        flat = np.frombuffer(self._raw, self.dtype, math.prod(self.shape))
        return flat.reshape(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:  # noqa: ANN401
        """A copy of the selected values."""
        with self.lock:
            return np.copy(self.view()[key])

    def __setitem__(self, key: Any, value: Any) -> None:  # noqa: ANN401
        """Write the selected values."""
        with self.lock:
            self.view()[key] = value

    def __str__(self) -> str:  # noqa: D105
        return str(self[...])


class SharedMemoryMujocoData:
    """The plant's state and the controller's plan, in shared memory.

    ``qpos``, ``qvel``, ``ctrl`` (the plan's first action), ``mocap_pos``
    and ``mocap_quat`` (models with mocap bodies) are upstream's; here also
    ``time`` (the plant's), ``history`` (the measured rows a learned model
    conditions on), ``plan`` (the actions at the plant's step times from
    ``plan_start``) and ``dt`` (the plant's timestep). All arrays share one
    lock, so a state and its history are read together.
    """

    def __init__(
        self,
        mj_data: mujoco.MjData,
        ctx: BaseContext,
        dt: float = 0.01,
        history_rows: int = 0,
        plan_rows: int = 1,
    ) -> None:
        """Share ``mj_data``'s state; no plan yet.

        Args:
            mj_data: The plant's initial state.
            ctx: The multiprocessing context.
            dt: The plant's timestep.
            history_rows: Measured rows kept for a learned model.
            plan_rows: Plant steps of each published plan.
        """
        self.lock = ctx.RLock()
        self.dt = float(dt)

        def share(values: Any) -> SharedMemoryNumpyArray:  # noqa: ANN401
            return SharedMemoryNumpyArray(
                np.array(values, np.float64), ctx, self.lock
            )

        nu = len(mj_data.ctrl)
        self.time = share([mj_data.time])
        self.qpos, self.qvel = share(mj_data.qpos), share(mj_data.qvel)
        self.ctrl = share(np.zeros(nu))
        if len(mj_data.mocap_pos) > 0:
            self.mocap_pos = share(mj_data.mocap_pos)
            self.mocap_quat = share(mj_data.mocap_quat)
        state = np.concatenate([mj_data.qpos, mj_data.qvel, np.zeros(nu)])
        self.history = share(np.tile(state, (history_rows, 1)))
        self.plan = share(np.zeros((max(plan_rows, 1), nu)))
        self.plan_start = share([math.nan])  # NaN: nothing published yet


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

    from hydrax.simulation.episode_costs import action_lookup

    say = print if verbose else (lambda *a, **k: None)
    task = ctrl.task
    device = jax.devices()[0]
    template = jax.device_put(task.make_data(), device)
    has_history = shm_data.history.shape[0] > 0
    steps = jnp.arange(shm_data.plan.shape[0]) * shm_data.dt
    actions = action_lookup(ctrl)

    def measured() -> tuple[Any, Any, float]:
        with shm_data.lock:  # the state and its history from one instant
            t = float(shm_data.time[0])
            fields = {"qpos": shm_data.qpos[:], "qvel": shm_data.qvel[:]}
            fields["time"] = shm_data.time[0]
            if hasattr(shm_data, "mocap_pos"):
                fields["mocap_pos"] = shm_data.mocap_pos[...]
                fields["mocap_quat"] = shm_data.mocap_quat[...]
            history = shm_data.history[...] if has_history else None
        put = jax.device_put(
            {k: np.asarray(v, np.float32) for k, v in fields.items()}, device
        )
        state = template.replace(**put)
        if history is not None:
            history = jax.device_put(history.astype(np.float32), device)
        return state, history, t

    def replan(params: Any) -> Any:  # noqa: ANN401
        state, history, t = measured()
        params, _ = ctrl.optimize(state, params, history)
        us = np.asarray(actions(params, state.time + steps), np.float64)
        with shm_data.lock:
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
) -> None:
    """Step the plant in real time under the published plan.

    Waits for ``ready``; runs in the viewer until it is closed, or headless
    for ``duration`` simulated seconds when one is given; then sets
    ``finished``. ``results`` (a pipe's sending end) receives the rows
    (times, qpos, qvel, ctrl) before each step.
    """
    rows: list[tuple] = []
    try:
        rows = _simulate(mj_model, mj_data, shm_data, ready, finished, duration)
    except KeyboardInterrupt:  # Ctrl-C reaches both processes: stop quietly
        pass
    finally:
        finished.set()
    if results is not None:
        results.send(rows)


def _simulate(
    m: mujoco.MjModel,
    d: mujoco.MjData,
    shm: SharedMemoryMujocoData,
    ready: Event,
    finished: Event,
    duration: float | None,
) -> list[tuple]:
    ready.wait()
    viewer = None
    if duration is None:
        from mujoco import viewer as mujoco_viewer

        viewer = mujoco_viewer.launch_passive(m, d)
    history = None
    if shm.history.shape[0] > 0:
        from hydrax.simulation.history import HistoryBuffer

        history = HistoryBuffer(shm.history.shape[0], m.nq, m.nv, m.nu)
        history.reset(d.qpos, d.qvel)
    total = None if duration is None else round(duration / shm.dt)
    lo, hi = _control_limits(m)
    rows: list[tuple] = []
    start = time.perf_counter()
    try:
        while not finished.is_set() and (total is None or len(rows) < total):
            if viewer is not None and not viewer.is_running():
                break
            with shm.lock:  # the action the latest plan has for now
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
            with shm.lock:
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
            ahead = start + len(rows) * shm.dt - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            elif ahead < -10 * shm.dt:
                start -= ahead
    finally:
        if viewer is not None:
            viewer.close()
    return rows


def _control_limits(m: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    """The actuators' control ranges (infinite where unlimited)."""
    limited = m.actuator_ctrllimited.astype(bool)[:, None]
    limits = np.where(limited, m.actuator_ctrlrange, [-np.inf, np.inf])
    return limits[:, 0], limits[:, 1]


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
    if headless is None and not det.has_display():
        headless = True
        say("No display: running headless (no viewer), in real time")
    if headless and duration is None:
        duration = det.headless_duration()
        say(f"Simulating {duration:g} s (HYDRAX_HEADLESS_DURATION changes it)")
    dt = float(mj_model.opt.timestep)
    history_rows = controller.task.dynamics.history_length - 1
    if history_rows and abs(dt - controller.dt) > 1e-9 * controller.dt:
        raise ValueError(
            f"the plant's timestep {dt:g} s differs from the planner's "
            f"{controller.dt:g} s: a learned model's history is measured at "
            "every plant step, so they must match"
        )
    ctx = mp.get_context("spawn")  # a fork would copy JAX's threads
    plan_rows = math.ceil(controller.plan_horizon / dt) + 1
    shm = SharedMemoryMujocoData(mj_data, ctx, dt, history_rows, plan_rows)
    ready, finished = ctx.Event(), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    sim = ctx.Process(
        target=run_simulator,
        args=(mj_model, mj_data, shm, ready, finished, duration, send),
        daemon=True,
    )
    sim.start()
    try:
        plan_seconds = run_controller(
            controller, shm, ready, finished, initial_knots, verbose, sim
        )
        while not receive.poll(0.1):
            if not sim.is_alive():
                raise RuntimeError(
                    f"the simulator process stopped (exit code {sim.exitcode})"
                    " before sending its trajectory; its error is above"
                )
        rows = receive.recv()
    finally:
        finished.set()
        sim.join(timeout=10)
    if rows:
        mj_data.qpos[:], mj_data.qvel[:] = shm.qpos[:], shm.qvel[:]
        mj_data.time = float(shm.time[0])
        mujoco.mj_forward(mj_model, mj_data)
    say(f"Simulated {len(rows) * dt:.2f} s in real time")
    return det.InteractiveRun.from_rows(rows, plan_seconds, mj_model)
