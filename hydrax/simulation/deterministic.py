"""Deterministic simulation: the plant and the controller in one thread.

``run_interactive`` is upstream hydrax's: replan at ``frequency`` Hz from
the MuJoCo plant's state, apply the plan between replannings, show it in
MuJoCo's viewer. Here it also runs headless (``headless=True``, or by
itself where there is no display) for ``duration`` simulated seconds, as
fast as the machine allows, optionally recording a GIF offscreen; it
returns what it simulated. A learned model gets the measured history it
conditions on at every replanning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from hydrax import ROOT
from hydrax.alg_base import SamplingBasedController
from hydrax.simulation.episode_costs import action_lookup
from hydrax.simulation.history import HistoryBuffer
from hydrax.simulation.video import GifRecorder
from hydrax.utils import (  # noqa: F401 (upstream-style names kept here)
    HEADLESS_DURATION,
    has_display,
    headless_duration,
)


@dataclass
class InteractiveRun:
    """What ``run_interactive`` simulated, one row per plant step.

    Attributes:
        times: Simulated time before each step, (N,).
        qpos: Positions before each step, (N, nq).
        qvel: Velocities before each step, (N, nv).
        ctrl: The controls applied, (N, nu).
        plan_seconds: Wall time of each replanning.
        video_path: The GIF written, if any.
    """

    times: np.ndarray
    qpos: np.ndarray
    qvel: np.ndarray
    ctrl: np.ndarray
    plan_seconds: list[float] = field(default_factory=list)
    video_path: Path | None = None

    def __repr__(self) -> str:
        """Its size and the mean plan time, not every value."""
        plans = len(self.plan_seconds)
        mean = 1e3 * float(np.mean(self.plan_seconds)) if plans else 0.0
        return (
            f"InteractiveRun({len(self.times)} steps, {plans} replannings of "
            f"{mean:.1f} ms, video_path={self.video_path})"
        )

    @classmethod
    def from_rows(
        cls, rows: list[tuple], plan_seconds: list[float], m: mujoco.MjModel
    ) -> InteractiveRun:
        """Stack (time, qpos, qvel, ctrl) rows; empty arrays for none."""
        return cls(
            times=np.array([r[0] for r in rows]),
            qpos=np.array([r[1] for r in rows]).reshape(-1, m.nq),
            qvel=np.array([r[2] for r in rows]).reshape(-1, m.nv),
            ctrl=np.array([r[3] for r in rows]).reshape(-1, m.nu),
            plan_seconds=plan_seconds,
        )


def run_interactive(
    controller: SamplingBasedController,
    mj_model: mujoco.MjModel,
    mj_data: mujoco.MjData,
    frequency: float,
    initial_knots: jax.Array | None = None,
    fixed_camera_id: int | None = None,
    show_traces: bool = True,
    max_traces: int = 5,
    trace_width: float = 5.0,
    trace_color: Sequence[float] = (1.0, 1.0, 1.0, 0.1),
    reference: np.ndarray | None = None,
    reference_fps: float = 30.0,
    record_video: bool = False,
    headless: bool | None = None,
    duration: float | None = None,
    video_path: str | Path | None = None,
    video_fps: float = 30.0,
    verbose: bool = True,
) -> InteractiveRun:
    """Run the plant under the controller, in the viewer or headless.

    The plant steps ``mj_model`` (which may differ from the planner's
    model) from ``mj_data``; every ``int(1 / (frequency · dt))`` steps the
    controller replans (``controller.optimize``, jitted and cached by the
    controller).

    Args:
        controller: The controller (its task holds the planner's model).
        mj_model: The plant's model.
        mj_data: The plant's initial state; it is advanced in place.
        frequency: The requested replanning rate in Hz.
        initial_knots: The first plan's knots, (num_knots, nu).
        fixed_camera_id: A camera of the model for the viewer and video.
        show_traces: Draw the rollouts' trace sites in the viewer.
        max_traces: Rollouts drawn.
        trace_width: Trace line width in pixels.
        trace_color: Trace RGBA.
        reference: A qpos trajectory (M, nq) shown as a ghost (viewer).
        reference_fps: Its frame rate.
        record_video: Record a GIF (offscreen; works headless with EGL).
        headless: No viewer; None chooses headless when there is no
            display.
        duration: Simulated seconds to run; None runs until the viewer is
            closed, or headless ``HEADLESS_DURATION`` (10 s; the
            environment variable ``HYDRAX_HEADLESS_DURATION`` changes it).
        video_path: The GIF's path (default ``ROOT/recordings/<time>.gif``).
        video_fps: Frames per simulated second of the video.
        verbose: Print the timing lines upstream prints.

    Returns:
        The simulated trajectory, the replanning times and the video path.
    """
    # One loop serves the viewer and headless runs (as upstream's does),
    # hence the length; the viewer's extras live in _Traces and _Ghost.
    _check_arguments(frequency, duration, reference, mj_model.nq)
    say = print if verbose else (lambda *a, **k: None)
    headless, duration = headless_run(headless, duration, say)
    task = controller.task
    dt = float(mj_model.opt.timestep)
    every = max(int(1.0 / (frequency * dt)), 1)
    say(
        f"Planning with {controller.ctrl_steps} steps over a "
        f"{controller.plan_horizon} second horizon with "
        f"{controller.num_knots} knots; replanning at "
        f"{1.0 / (every * dt):g} Hz, simulating at {1.0 / dt:g} Hz"
    )

    history = HistoryBuffer(
        task.dynamics.history_length - 1, task.nq, task.nv, task.nu
    )
    history.reset(mj_data.qpos, mj_data.qvel)
    measured = _state_reader(task, mj_data)
    if fixed_camera_id is not None and not 0 <= fixed_camera_id < mj_model.ncam:
        # Upstream's examples name camera 0, which its own models have.
        print(
            f"fixed_camera_id={fixed_camera_id}: the model has "
            f"{mj_model.ncam} camera(s); using the free camera"
        )
        fixed_camera_id = None
    # Before compiling, so a missing OpenGL fails fast.
    recorder = GifRecorder(mj_model, fps=video_fps) if record_video else None
    # controller.optimize is jitted by the controller and cached on it, so
    # a second run with the same controller does not compile again.
    optimize = controller.optimize
    actions = action_lookup(controller)
    params = controller.init_params(initial_knots=initial_knots)
    start = time.perf_counter()
    warm, rollouts = optimize(measured(), params, history.array())
    jax.block_until_ready(actions(warm, jnp.zeros(every)))
    say(f"Time to jit: {time.perf_counter() - start:.3f} seconds")

    steps_total = None if duration is None else int(round(duration / dt))
    rows: list[tuple] = []
    plan_seconds: list[float] = []
    u_min, u_max = np.asarray(task.u_min), np.asarray(task.u_max)
    viewer = None if headless else _launch_viewer(mj_model, mj_data)
    traces = _Traces(viewer, task, controller, rollouts, max_traces)
    ghost = _Ghost(viewer, mj_model, reference, reference_fps)
    if viewer is not None and fixed_camera_id is not None:
        viewer.cam.fixedcamid = fixed_camera_id
        viewer.cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
    camera = -1 if fixed_camera_id is None else fixed_camera_id
    mujoco.mj_forward(mj_model, mj_data)  # the first frame's bodies placed
    try:
        while steps_total is None or len(rows) < steps_total:
            if viewer is not None and not viewer.is_running():
                break
            tic = time.perf_counter()
            params, rollouts = optimize(measured(), params, history.array())
            tq = mj_data.time + dt * np.arange(every)
            us = np.asarray(actions(params, jnp.asarray(tq)), np.float64)
            plan_seconds.append(time.perf_counter() - tic)
            traces.update(
                rollouts if show_traces else None, trace_width, trace_color
            )
            ghost.update(mj_data.time)
            for u in np.clip(us, u_min, u_max):
                if steps_total is not None and len(rows) >= steps_total:
                    break
                rows.append(
                    (mj_data.time, mj_data.qpos.copy(), mj_data.qvel.copy(), u)
                )
                history.push(mj_data.qpos, mj_data.qvel, u)
                if recorder is not None:  # the state before the step
                    cam = viewer.cam if viewer is not None else camera
                    recorder.maybe_capture(mj_data, cam)
                mj_data.ctrl[:] = u
                mujoco.mj_step(mj_model, mj_data)
                if viewer is not None:
                    viewer.sync()
            if viewer is not None:  # roughly real time
                time.sleep(max(every * dt - (time.perf_counter() - tic), 0))
        say(
            f"Simulated {len(rows) * dt:.2f} s; mean plan time "
            f"{np.mean(plan_seconds):.4f} s"
        )
    finally:
        if viewer is not None:
            viewer.close()
    out = InteractiveRun.from_rows(rows, plan_seconds, mj_model)
    if recorder is not None:
        path = video_path or (
            ROOT / "recordings" / time.strftime("%Y%m%d_%H%M%S.gif")
        )
        out.video_path = recorder.save(path)
        recorder.close()
        say(f"Video written to {out.video_path}")
    return out


def _check_arguments(
    frequency: float,
    duration: float | None,
    reference: np.ndarray | None,
    nq: int,
) -> None:
    """ValueErrors naming the parameter of ``run_interactive``."""
    if frequency <= 0:
        raise ValueError(f"frequency must be > 0, got {frequency}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be > 0, got {duration}")
    if reference is not None and (
        np.ndim(reference) != 2 or np.shape(reference)[1] != nq
    ):
        raise ValueError(
            f"reference must have shape (M, {nq}), got {np.shape(reference)}"
        )


def headless_run(
    headless: bool | None,
    duration: float | None,
    say: Callable[[str], None],
    how: str = "",
) -> tuple[bool, float | None]:
    """``headless`` and ``duration`` of a run, said when chosen here.

    Headless without a display (``headless=None``); a headless run without
    a duration lasts ``HYDRAX_HEADLESS_DURATION`` seconds. ``how`` ends
    the headless line (", in real time").
    """
    if headless is None and not has_display():
        headless = True
        say(f"No display: running headless (no viewer){how}")
    if headless and duration is None:
        duration = headless_duration()
        say(
            f"Simulating {duration:g} s (pass duration=, or set "
            "HYDRAX_HEADLESS_DURATION, to change it)"
        )
    return bool(headless), duration


def _state_reader(
    task: object, mj_data: mujoco.MjData
) -> Callable[[], mjx.Data]:
    """A function giving the plant's current state as an ``mjx.Data``.

    The state is built on a template committed to the device, so the
    jitted ``optimize`` sees the same argument signature at every call.
    """
    device = jax.devices()[0]
    template = jax.device_put(task.make_data(), device)

    def measured() -> mjx.Data:
        fields = ("qpos", "qvel", "mocap_pos", "mocap_quat", "ctrl", "time")
        values = {k: getattr(mj_data, k) for k in fields}
        return placed_state(template, device, values)

    return measured


def placed_state(template: mjx.Data, device: object, values: dict) -> mjx.Data:
    """``template`` with ``values`` as float32 arrays committed to ``device``.

    Every call gives the jitted ``optimize`` the same argument signature.
    """
    put = {k: np.asarray(v, np.float32) for k, v in values.items()}
    return template.replace(**jax.device_put(put, device))


def _launch_viewer(mj_model: mujoco.MjModel, mj_data: mujoco.MjData) -> object:
    import mujoco.viewer

    return mujoco.viewer.launch_passive(mj_model, mj_data)


class _Traces:
    """The rollouts' trace-site lines in the viewer's user scene."""

    def __init__(
        self,
        viewer: object | None,
        task: object,
        controller: SamplingBasedController,
        rollouts: object,
        max_traces: int,
    ) -> None:
        self.viewer = viewer
        self.num_sites = int(task.trace_site_ids.shape[0])
        self.num_traces = min(rollouts.controls.shape[0], max_traces)
        self.steps = controller.ctrl_steps
        self.first = 0 if viewer is None else viewer.user_scn.ngeom

    def update(
        self, rollouts: object | None, width: float, color: Sequence[float]
    ) -> None:
        if self.viewer is None:
            return
        scn = self.viewer.user_scn
        scn.ngeom = self.first  # drops last replanning's lines and ghost
        if rollouts is None or self.num_sites == 0:
            return
        sites = np.asarray(rollouts.trace_sites[: self.num_traces])
        needed = self.num_sites * self.num_traces * self.steps
        if self.first + needed > scn.maxgeom:
            return  # the scene cannot hold that many lines
        i = self.first
        for k in range(self.num_sites):
            for n in range(self.num_traces):
                for j in range(self.steps):
                    geom = scn.geoms[i]
                    mujoco.mjv_initGeom(
                        geom,
                        mujoco.mjtGeom.mjGEOM_LINE,
                        np.zeros(3),
                        np.zeros(3),
                        np.eye(3).flatten(),
                        np.asarray(color, np.float32),
                    )
                    mujoco.mjv_connector(
                        geom,
                        mujoco.mjtGeom.mjGEOM_LINE,
                        width,
                        sites[n, j, k],
                        sites[n, j + 1, k],
                    )
                    i += 1
        scn.ngeom = i


class _Ghost:
    """A reference trajectory drawn transparently in the viewer."""

    def __init__(
        self,
        viewer: object | None,
        mj_model: mujoco.MjModel,
        reference: np.ndarray | None,
        fps: float,
    ) -> None:
        self.viewer = None if reference is None else viewer
        if self.viewer is None:
            return
        self.model, self.reference, self.fps = mj_model, reference, fps
        self.data = mujoco.MjData(mj_model)
        self.opt = mujoco.MjvOption()
        self.opt.flags[mujoco.mjtVisFlag.mjVIS_TRANSPARENT] = True
        self.pert = mujoco.MjvPerturb()
        self.mask = mujoco.mjtCatBit.mjCAT_DYNAMIC

    def update(self, t: float) -> None:
        if self.viewer is None:
            return
        i = min(int(t * self.fps), self.reference.shape[0] - 1)
        self.data.qpos[:] = self.reference[i]
        mujoco.mj_forward(self.model, self.data)
        mujoco.mjv_addGeoms(
            self.model,
            self.data,
            self.opt,
            self.pert,
            self.mask,
            self.viewer.user_scn,
        )
