"""The episode runners of collection, on the MuJoCo C plant.

`run_batch` steps LQR, energy and random episodes in lockstep, one
``MjData`` each (``mj_step``: every integrator MuJoCo offers);
`run_mpc_episode` runs one episode of a sampling-based controller in the
closed loop. Both end an episode at a rail's limit when asked, and drop an
episode MuJoCo reports unstable (`hydrax.simulation.plant_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from hydrax.control.lqr import LQRController
from hydrax.control.swingup import EnergySwingup
from hydrax.simulation.model_source import ModelSource
from hydrax.simulation.plant_checks import (
    LimitCheck,
    instability_reported_here,
    unstable_warning,
)
from hydrax.utils import control_limits


@dataclass
class Rollouts:
    """A batch of logged episodes (row arrays padded to the longest)."""

    qpos: np.ndarray  # (B, T, nq)
    qvel: np.ndarray  # (B, T, nv)
    ctrl: np.ndarray  # (B, T, nu)
    lengths: np.ndarray  # (B,); 0 for an unstable episode
    unstable: dict[int, str] = field(default_factory=dict)
    """Batch index → MuJoCo's warning and when, for dropped episodes."""


def run_batch(
    mj_model: mujoco.MjModel,
    *,
    starts: list[tuple[np.ndarray, np.ndarray]],
    noise: np.ndarray,
    lqr_mask: np.ndarray,
    lqr: LQRController | None,
    steps: int,
    stop_at_limit: bool,
    energy_mask: np.ndarray | None = None,
    energy: EnergySwingup | None = None,
) -> Rollouts:
    """Step a batch of episodes in lockstep, one MjData each.

    Args:
        mj_model: The plant.
        starts: Initial (qpos, qvel) per episode.
        noise: Control noise (random episodes: the whole control),
            (B, steps, nu).
        lqr_mask: Which episodes add LQR feedback to their noise, (B,).
        lqr: The LQR controller (needed when any mask entry is set).
        steps: Steps per episode.
        stop_at_limit: End an episode at a rail limit / non-finite state.
            An episode MuJoCo reports unstable is always dropped
            (`hydrax.simulation.plant_checks`).
        energy_mask: Which episodes add the energy swing-up (with ``lqr``
            near upright) to their noise, (B,).
        energy: The swing-up law (needed when any energy entry is set).

    Returns:
        The logged rows.
    """
    datas = []
    for q0, v0 in starts:
        data = mujoco.MjData(mj_model)
        data.qpos[:] = q0
        data.qvel[:] = v0
        datas.append(data)
    with instability_reported_here():
        return _step_batch(
            mj_model, datas, noise, lqr, lqr_mask, energy, energy_mask,
            steps=steps, stop_at_limit=stop_at_limit,
        )  # fmt: skip


def _step_batch(
    mj_model: mujoco.MjModel,
    datas: list[mujoco.MjData],
    noise: np.ndarray,
    lqr: LQRController | None,
    lqr_mask: np.ndarray,
    energy: EnergySwingup | None,
    energy_mask: np.ndarray | None,
    *,
    steps: int,
    stop_at_limit: bool,
) -> Rollouts:
    """`run_batch`'s lockstep loop over its episodes' data."""
    b, nq, nv, nu = len(datas), mj_model.nq, mj_model.nv, mj_model.nu
    qpos = np.zeros((b, steps, nq))
    qvel = np.zeros((b, steps, nv))
    ctrl = np.zeros((b, steps, nu))
    lengths = np.full(b, steps)
    u_min, u_max = control_limits(mj_model)
    check = LimitCheck(mj_model)
    active = list(range(b))
    lqr_idx = np.flatnonzero(lqr_mask)
    energy_idx = np.flatnonzero(
        np.zeros(b, bool) if energy_mask is None else energy_mask
    )
    step = mujoco.mj_step
    dt = mj_model.opt.timestep
    unstable: dict[int, str] = {}
    for k in range(steps):
        for i in active:
            qpos[i, k] = datas[i].qpos
            qvel[i, k] = datas[i].qvel
        if stop_at_limit and k:
            hit = check.hit(qpos[active, k], qvel[active, k])
            if hit.any():
                for i in np.asarray(active)[hit]:
                    lengths[i] = k
                active = [i for i, h in zip(active, hit, strict=True) if not h]
                if not active:
                    break
        u = noise[:, k].copy()
        if lqr_idx.size:
            u[lqr_idx] += lqr(qpos[lqr_idx, k], qvel[lqr_idx, k])
        if energy_idx.size:
            u[energy_idx] += energy(
                qpos[energy_idx, k], qvel[energy_idx, k], lqr
            )
        u = np.clip(u, u_min, u_max)
        ctrl[:, k] = u
        # MuJoCo's reset restarts data.time (but looks like a first step).
        reset_before = (k + 0.5) * dt if k else np.inf
        for i in active:
            data = datas[i]
            data.ctrl[:] = u[i]
            step(mj_model, data)
            if data.time < reset_before and (k or unstable_warning(data)):
                warning = unstable_warning(data) or "MuJoCo reset the state"
                unstable[i] = f"{warning} (t = {k * dt:.3f} s)"
                lengths[i] = 0
        if len(unstable) > b - len(active):
            active = [i for i in active if i not in unstable]
            if not active:
                break
    return Rollouts(qpos, qvel, ctrl, lengths, unstable)


def run_mpc_episode(
    source: ModelSource,
    *,
    controller: object,
    start: tuple[np.ndarray, np.ndarray],
    noise: np.ndarray,
    duration: float,
    seed: int,
    stop_at_limit: bool,
) -> Rollouts:
    """One episode of the default MPC plus control noise."""
    from hydrax.simulation.loop import run_closed_loop

    check = LimitCheck(source.mj_model, limits=stop_at_limit)
    with instability_reported_here():
        episode = run_closed_loop(
            source.task,
            controller,
            start[0],
            start[1],
            duration,
            seed=seed,
            stop_condition=check.stops,
            compute_cost=False,
            ctrl_noise=noise,
        )
    n = len(episode.times)
    unstable = {}
    if check.unstable is not None:  # the step from the last logged row
        dt = source.mj_model.opt.timestep
        unstable[0] = f"{check.unstable} (t = {(n - 1) * dt:.3f} s)"
    return Rollouts(
        episode.qpos[None],
        episode.qvel[None],
        episode.ctrl[None],
        np.array([0 if unstable else n]),
        unstable,
    )
