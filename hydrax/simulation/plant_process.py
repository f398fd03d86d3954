"""The plant's process of the asynchronous simulation.

``run_simulator`` (upstream hydrax's name and arguments) steps the MuJoCo
plant in real time under the latest plan the controller published in the
shared state (``hydrax.simulation.shared_memory``), keeps the measured
history a learned model conditions on, and stops when ``finished`` is set,
its duration is over, the viewer closes or the process that started it is
gone. ``hydrax.simulation.asynchronous`` starts it and re-exports it.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np

from hydrax.simulation.shared_memory import SharedMemoryMujocoData
from hydrax.utils import control_limits, has_display, headless_duration

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Event


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
        try:
            results.send((rows, mj_data))
        except OSError:  # BrokenPipeError: the caller is gone
            pass


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


STATE_FIELDS = (
    "time",
    "qpos",
    "qvel",
    "act",
    "ctrl",
    "mocap_pos",
    "mocap_quat",
)
"""The ``MjData`` fields the simulator starts from and hands back."""


def simulator_process(
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
