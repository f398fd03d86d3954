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
from hydrax.atomic import raise_kept_sigint
from hydrax.logs.writer import write_trajectory_csv
from hydrax.simulation.episode_costs import action_lookup, running_costs
from hydrax.simulation.history import HistoryBuffer
from hydrax.task_base import Task
from hydrax.utils import has_display

__all__ = ["Episode", "HistoryBuffer", "run_closed_loop", "running_costs"]


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


class _Planner:
    """The controller's side of the loop: measured state in, controls out.

    The measured state is built on a template committed to the controller's
    device, so ``optimize`` need not put ~100 arrays each time; one call of
    the jitted, vmapped ``get_action`` evaluates the plan at every plant
    step until the next replanning.
    """

    def __init__(
        self,
        task: Task,
        controller: SamplingBasedController,
        every: int,
        history: HistoryBuffer,
        seed: int,
    ) -> None:
        self.controller = controller
        self.every = every
        self.dt = task.dt
        self.history = history
        self.device = jax.devices()[0]
        self.template = jax.device_put(mjx.make_data(task.model), self.device)
        self.actions = action_lookup(controller)
        self.params = controller.init_params(seed=seed)

    def measured_state(self, data: mujoco.MjData) -> mjx.Data:
        """The plant's state as MJX data on the controller's device."""
        measured = (data.qpos, data.qvel, np.float32(data.time), data.ctrl)
        qpos, qvel, t, u = jax.device_put(
            [np.asarray(x, np.float32) for x in measured], self.device
        )
        return self.template.replace(qpos=qpos, qvel=qvel, time=t, ctrl=u)

    def warm_up(self, data: mujoco.MjData) -> None:
        """Compile optimize and the action lookup; the results are dropped."""
        warm, _ = self.controller.optimize(
            self.measured_state(data), self.params, self.history.array()
        )
        jax.block_until_ready(
            self.actions(warm, jnp.zeros(self.every, jnp.float32))
        )

    def replan(self, data: mujoco.MjData) -> np.ndarray:
        """Replan from the plant's state; the controls until the next one."""
        self.params, _ = self.controller.optimize(
            self.measured_state(data), self.params, self.history.array()
        )
        tq = data.time + self.dt * np.arange(self.every)
        return np.asarray(
            self.actions(self.params, jnp.asarray(tq, dtype=jnp.float32)),
            dtype=np.float64,
        )


class _Recorder:
    """The rows of an episode as it runs."""

    def __init__(self, task: Task, num_steps: int) -> None:
        self.dt = task.dt
        self.times = np.zeros(num_steps)
        self.qpos = np.zeros((num_steps, task.nq))
        self.qvel = np.zeros((num_steps, task.nv))
        self.ctrl = np.zeros((num_steps, task.nu))
        self.site_xpos = np.zeros((num_steps, task.mj_model.nsite, 3))
        self.replan_seconds: list[float] = []

    def record(self, k: int, data: mujoco.MjData, u: np.ndarray) -> None:
        """Row k: the state before plant step k and the control applied."""
        self.times[k] = data.time
        self.qpos[k] = data.qpos
        self.qvel[k] = data.qvel
        self.ctrl[k] = u

    def episode(
        self, data: mujoco.MjData, num_steps: int, stopped: bool
    ) -> Episode:
        """The first ``num_steps`` rows and the plant's final state."""
        rows = slice(0, num_steps)
        return Episode(
            dt=self.dt,
            times=self.times[rows],
            qpos=self.qpos[rows],
            qvel=self.qvel[rows],
            ctrl=self.ctrl[rows],
            site_xpos=self.site_xpos[rows],
            final_qpos=data.qpos.copy(),
            final_qvel=data.qvel.copy(),
            final_site_xpos=data.site_xpos.copy(),
            replan_seconds=np.asarray(self.replan_seconds),
            stopped_early=stopped,
        )


def _plant_data(
    mj_model: mujoco.MjModel, qpos0: np.ndarray, qvel0: np.ndarray
) -> mujoco.MjData:
    """The plant at the initial state, time 0, kinematics computed."""
    data = mujoco.MjData(mj_model)
    data.qpos[:] = qpos0
    data.qvel[:] = qvel0
    data.time = 0.0
    mujoco.mj_forward(mj_model, data)
    return data


def _finish_episode(
    task: Task,
    episode: Episode,
    *,
    compute_cost: bool,
    log_path: str | Path | None,
) -> Episode:
    """Add the running costs and write the log, as asked."""
    if compute_cost:
        episode.running_cost = running_costs(
            task, episode.qpos, episode.qvel, episode.ctrl
        )
    if log_path is not None:
        write_trajectory_csv(
            log_path, episode.times, episode.qpos, episode.qvel, episode.ctrl
        )
    return episode


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
    # Long for its documented arguments; the step loop is the body.
    mj_model = task.mj_model
    qpos0, qvel0, ctrl_noise, num_steps = _checked_inputs(
        task, qpos0, qvel0, duration, ctrl_noise
    )
    every = _replan_every(replan_hz, task.dt)
    u_min = np.asarray(task.u_min, dtype=np.float64)
    u_max = np.asarray(task.u_max, dtype=np.float64)
    data = _plant_data(mj_model, qpos0, qvel0)
    history_rows = task.dynamics.history_length - 1
    history = HistoryBuffer(history_rows, task.nq, task.nv, task.nu)
    history.reset(qpos0, qvel0)
    planner = _Planner(task, controller, every, history, seed)
    planner.warm_up(data)

    rec = _Recorder(task, num_steps)
    planned = np.zeros((every, task.nu))
    stopped = False
    handle = _open_viewer(mj_model, data) if viewer else None
    steps = tqdm(
        range(num_steps), disable=not progress, desc="plant steps", leave=False
    )
    for k in steps:
        if k % every == 0:
            start = time.perf_counter()
            planned = planner.replan(data)
            rec.replan_seconds.append(time.perf_counter() - start)
            raise_kept_sigint()  # a Ctrl-C that Python swallowed
        u = planned[k % every]
        if ctrl_noise is not None:
            u = u + ctrl_noise[k]
        u = np.clip(u, u_min, u_max)
        rec.record(k, data, u)
        history.push(data.qpos, data.qvel, u)
        data.ctrl[:] = u
        mujoco.mj_step(mj_model, data)
        # mj_step computed the kinematics of the state before the step.
        rec.site_xpos[k] = data.site_xpos
        if handle is not None:
            handle.sync()
        if stop_condition is not None and stop_condition(data):
            stopped = True
            num_steps = k + 1
            break
    if handle is not None:
        handle.close()

    mujoco.mj_forward(mj_model, data)
    return _finish_episode(
        task,
        rec.episode(data, num_steps, stopped),
        compute_cost=compute_cost,
        log_path=log_path,
    )


def _open_viewer(
    mj_model: mujoco.MjModel, data: mujoco.MjData
) -> object | None:
    """MuJoCo's passive viewer, or None (with a message) without a display."""
    if not has_display():
        print("no display (DISPLAY is not set): running without the viewer")
        return None
    import mujoco.viewer

    return mujoco.viewer.launch_passive(mj_model, data)
