"""A headless closed loop: a MuJoCo C plant driven by a sampling-based MPC.

The trials built on it (balance, swing-up) are in `hydrax.simulation.trials`;
`hydrax.simulation.closed_loop` re-exports both.

The plant is ``mujoco.mj_step`` on ``task.mj_model`` at ``task.dt``. Every
``round(1 / (replan_hz * dt))`` plant steps the controller replans from the
measured state (``controller.optimize(state, params, history)``); in between
the plant gets ``controller.get_action(params, t)``, clipped to the limits.
Everything is indexed by simulated time, so an episode's outcome never
depends on how fast the machine is.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx
from tqdm import tqdm

from hydrax.alg_base import SamplingBasedController
from hydrax.logs import startup_history
from hydrax.logs.writer import write_trajectory_csv
from hydrax.task_base import Task


class HistoryBuffer:
    """The measured (qpos, qvel, ctrl) rows before the current state.

    A learned model conditions on the ``history_length - 1`` rows measured
    before the current state. Until that many rows have been measured, the
    missing ones are the *first measured state* with zero control, the same
    padding training sees at the start of each file, never zeros for the
    state.
    """

    def __init__(self, num_rows: int, nq: int, nv: int, nu: int) -> None:
        """Set up an empty buffer.

        Args:
            num_rows: Rows kept (``history_length - 1``; 0 keeps none).
            nq: Position dimension.
            nv: Velocity dimension.
            nu: Control dimension.
        """
        if num_rows < 0:
            raise ValueError(f"num_rows must be >= 0, got {num_rows}")
        self.num_rows = num_rows
        self.nq, self.nv, self.nu = nq, nv, nu
        self._rows = np.zeros((num_rows, nq + nv + nu), dtype=np.float64)
        self._started = False

    def reset(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Fill every row with the first measured state and zero control."""
        qpos, qvel = np.asarray(qpos), np.asarray(qvel)
        if qpos.shape != (self.nq,) or qvel.shape != (self.nv,):
            raise ValueError(
                f"expected qpos ({self.nq},) and qvel ({self.nv},), got "
                f"{qpos.shape} and {qvel.shape}"
            )
        self._rows[:] = startup_history(
            np.concatenate([qpos, qvel]), self.num_rows, self.nu
        )
        self._started = True

    def push(
        self, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray
    ) -> None:
        """Append one measured row (state before a step, control applied).

        The first push into a fresh buffer also pads it with that state.
        """
        if not self._started:
            self.reset(qpos, qvel)
        if self.num_rows == 0:
            return
        self._rows[:-1] = self._rows[1:]
        self._rows[-1] = np.concatenate([qpos, qvel, ctrl])

    def array(self) -> np.ndarray | None:
        """The rows, oldest first, (num_rows, nq + nv + nu) float32.

        None when the buffer keeps no rows (dynamics without history).
        """
        if self.num_rows == 0:
            return None
        if not self._started:
            raise ValueError("HistoryBuffer.array() before any state")
        return self._rows.astype(np.float32)


@dataclass
class Episode:
    """One closed-loop episode on the MuJoCo plant.

    Row k is the state before plant step k and the control applied in it.

    Attributes:
        dt: The plant timestep.
        times: Simulated time of each row, (T,).
        qpos: Positions, (T, nq).
        qvel: Velocities, (T, nv).
        ctrl: Applied (clipped) controls, (T, nu).
        site_xpos: Site positions of each row's state, (T, nsite, 3).
        final_qpos: Position after the last step, (nq,).
        final_qvel: Velocity after the last step, (nv,).
        final_site_xpos: Site positions after the last step, (nsite, 3).
        running_cost: The task's running cost of each row, (T,), or None.
        replan_seconds: Wall time of each replanning (the compile excluded).
        stopped_early: Whether a stop condition ended the episode.
    """

    dt: float
    times: np.ndarray
    qpos: np.ndarray
    qvel: np.ndarray
    ctrl: np.ndarray
    site_xpos: np.ndarray
    final_qpos: np.ndarray
    final_qvel: np.ndarray
    final_site_xpos: np.ndarray
    running_cost: np.ndarray | None = None
    replan_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stopped_early: bool = False

    @property
    def duration(self) -> float:
        """Simulated seconds covered by the rows."""
        return len(self.times) * self.dt

    def success(self, task: Task, last_seconds: float | None = None) -> bool:
        """Whether every state of the episode's tail is a success state.

        Args:
            task: The task whose ``success`` judges one state.
            last_seconds: Judge only rows within this many simulated seconds
                of the end, plus the final state; None judges every row.

        Returns:
            False for an episode cut short by a stop condition.
        """
        if self.stopped_early:
            return False
        start = 0
        if last_seconds is not None:
            first_time = self.times[0] if len(self.times) else 0.0
            end = first_time + self.duration
            eps = 1e-6 * self.dt
            start = int(np.searchsorted(self.times, end - last_seconds - eps))
        ok = all(
            task.success(self.qpos[k], self.site_xpos[k])
            for k in range(start, len(self.times))
        )
        return ok and task.success(self.final_qpos, self.final_site_xpos)


_COST_FNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
    if task not in _COST_FNS:
        template = mjx.make_data(task.model)

        def cost(q: jax.Array, v: jax.Array, u: jax.Array) -> jax.Array:
            state = template.replace(qpos=q, qvel=v, ctrl=u)
            return task.running_cost(mjx.kinematics(task.model, state), u)

        _COST_FNS[task] = jax.jit(jax.vmap(cost))
    f32 = [jnp.asarray(a, dtype=jnp.float32) for a in (qpos, qvel, ctrl)]
    return np.asarray(_COST_FNS[task](*f32), dtype=np.float64)


def _replan_every(replan_hz: float, dt: float) -> int:
    """Plant steps between replannings."""
    if replan_hz <= 0:
        raise ValueError(f"replan_hz must be > 0, got {replan_hz}")
    return max(1, int(round(1.0 / (replan_hz * dt))))


def _checked_inputs(
    task: Task,
    qpos0: np.ndarray,
    qvel0: np.ndarray,
    duration: float,
    ctrl_noise: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """The closed loop's inputs as float64 arrays, and its step count.

    Raises:
        ValueError: A shape that does not match the task, or duration <= 0.
    """
    qpos0 = np.asarray(qpos0, dtype=np.float64)
    qvel0 = np.asarray(qvel0, dtype=np.float64)
    if qpos0.shape != (task.nq,) or qvel0.shape != (task.nv,):
        raise ValueError(
            f"qpos0 must have shape ({task.nq},) and qvel0 ({task.nv},), "
            f"got {qpos0.shape} and {qvel0.shape}"
        )
    if duration <= 0:
        raise ValueError(f"duration must be > 0, got {duration}")
    num_steps = int(round(duration / task.dt))
    if ctrl_noise is not None:
        ctrl_noise = np.asarray(ctrl_noise, dtype=np.float64)
        if ctrl_noise.shape != (num_steps, task.nu):
            raise ValueError(
                f"ctrl_noise must have shape ({num_steps}, {task.nu}), "
                f"got {ctrl_noise.shape}"
            )
    return qpos0, qvel0, ctrl_noise, num_steps


def run_closed_loop(
    task: Task,
    controller: SamplingBasedController,
    qpos0: np.ndarray,
    qvel0: np.ndarray,
    duration: float,
    *,
    replan_hz: float = 50.0,
    log_path: str | Path | None = None,
    progress: bool = False,
    seed: int = 0,
    stop_condition: Callable[[mujoco.MjData], bool] | None = None,
    compute_cost: bool = True,
    ctrl_noise: np.ndarray | None = None,
    viewer: bool = False,
) -> Episode:
    """Run the MPC against the MuJoCo plant for ``duration`` seconds.

    Args:
        task: The task (its ``mj_model`` is the plant).
        controller: The controller (plans with ``task.dynamics``).
        qpos0: The initial positions, (nq,).
        qvel0: The initial velocities, (nv,).
        duration: Simulated seconds; ``round(duration / dt)`` plant steps.
        replan_hz: Replannings per simulated second.
        log_path: Write the episode's CSV log here, if given.
        progress: Show a progress bar over the plant steps.
        seed: The seed of the controller's initial parameters.
        stop_condition: Called on the plant data after every step; True ends
            the episode early (``Episode.stopped_early``).
        compute_cost: Evaluate the running cost of every row (MJX, batched).
        ctrl_noise: Added to the planned control before clipping at each
            step, (round(duration / dt), nu); for data collection.
        viewer: Show the plant in MuJoCo's passive viewer (needs a display).

    Returns:
        The episode.
    """
    mj_model = task.mj_model
    dt = task.dt
    qpos0, qvel0, ctrl_noise, num_steps = _checked_inputs(
        task, qpos0, qvel0, duration, ctrl_noise
    )
    every = _replan_every(replan_hz, dt)
    u_min = np.asarray(task.u_min, dtype=np.float64)
    u_max = np.asarray(task.u_max, dtype=np.float64)

    data = mujoco.MjData(mj_model)
    data.qpos[:] = qpos0
    data.qvel[:] = qvel0
    data.time = 0.0
    mujoco.mj_forward(mj_model, data)

    # The measured state is built on a template committed to the
    # controller's device, so optimize() need not put ~100 arrays each time.
    device = jax.devices()[0]
    template = jax.device_put(mjx.make_data(task.model), device)
    history_rows = task.dynamics.history_length - 1
    history = HistoryBuffer(history_rows, task.nq, task.nv, task.nu)
    history.reset(qpos0, qvel0)
    # One call evaluates the plan at all plant steps until the next replan.
    actions = jax.jit(
        jax.vmap(controller.get_action, in_axes=(None, 0)),
    )

    def measured_state() -> mjx.Data:
        measured = (data.qpos, data.qvel, np.float32(data.time), data.ctrl)
        qpos, qvel, t, u = jax.device_put(
            [np.asarray(x, np.float32) for x in measured], device
        )
        return template.replace(qpos=qpos, qvel=qvel, time=t, ctrl=u)

    params = controller.init_params(seed=seed)
    # Warm-up: compile optimize and the action lookup; results discarded.
    warm, _ = controller.optimize(measured_state(), params, history.array())
    jax.block_until_ready(actions(warm, jnp.zeros(every, jnp.float32)))

    times = np.zeros(num_steps)
    qpos = np.zeros((num_steps, task.nq))
    qvel = np.zeros((num_steps, task.nv))
    ctrl = np.zeros((num_steps, task.nu))
    site_xpos = np.zeros((num_steps, mj_model.nsite, 3))
    replan_seconds: list[float] = []
    planned = np.zeros((every, task.nu))
    stopped = False
    handle = _open_viewer(mj_model, data) if viewer else None

    steps = range(num_steps)
    for k in tqdm(steps, disable=not progress, desc="closed loop"):
        if k % every == 0:
            start = time.perf_counter()
            params, _ = controller.optimize(
                measured_state(), params, history.array()
            )
            tq = data.time + dt * np.arange(every)
            planned = np.asarray(
                actions(params, jnp.asarray(tq, dtype=jnp.float32)),
                dtype=np.float64,
            )
            replan_seconds.append(time.perf_counter() - start)
        u = planned[k % every]
        if ctrl_noise is not None:
            u = u + ctrl_noise[k]
        u = np.clip(u, u_min, u_max)
        times[k] = data.time
        qpos[k] = data.qpos
        qvel[k] = data.qvel
        ctrl[k] = u
        history.push(data.qpos, data.qvel, u)
        data.ctrl[:] = u
        mujoco.mj_step(mj_model, data)
        # mj_step computed the kinematics of the state before the step.
        site_xpos[k] = data.site_xpos
        if handle is not None:
            handle.sync()
        if stop_condition is not None and stop_condition(data):
            stopped = True
            num_steps = k + 1
            break
    if handle is not None:
        handle.close()

    mujoco.mj_forward(mj_model, data)
    rows = slice(0, num_steps)
    episode = Episode(
        dt=dt,
        times=times[rows],
        qpos=qpos[rows],
        qvel=qvel[rows],
        ctrl=ctrl[rows],
        site_xpos=site_xpos[rows],
        final_qpos=data.qpos.copy(),
        final_qvel=data.qvel.copy(),
        final_site_xpos=data.site_xpos.copy(),
        replan_seconds=np.asarray(replan_seconds),
        stopped_early=stopped,
    )
    if compute_cost:
        episode.running_cost = running_costs(
            task, episode.qpos, episode.qvel, episode.ctrl
        )
    if log_path is not None:
        write_trajectory_csv(
            log_path, episode.times, episode.qpos, episode.qvel, episode.ctrl
        )
    return episode


def _open_viewer(
    mj_model: mujoco.MjModel, data: mujoco.MjData
) -> object | None:
    """MuJoCo's passive viewer, or None (with a message) without a display."""
    import os

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        print("no display (DISPLAY is not set): running without the viewer")
        return None
    import mujoco.viewer

    return mujoco.viewer.launch_passive(mj_model, data)
