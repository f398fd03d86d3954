"""Exploration policies and their episode runners, on the MuJoCo C plant.

- ``lqr``: LQR about the task's goal plus smooth control noise.
- ``random``: smooth random controls about the actuators' centres.
- ``mpc``: the task's default sampling-based controller plus noise.
- ``mix``: LQR for a fraction of the episodes, random for the rest.

The noise ``n`` is an AR(1) process per actuator (`coloured_noise`). LQR and
random episodes run in lockstep batches (`run_batch`), one ``MjData`` each,
so every integrator MuJoCo offers is simulated exactly as ``mj_step`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import scipy.signal

from hydrax.control.lqr import LQRController
from hydrax.simulation.model_source import ModelSource

POLICIES = ("auto", "lqr", "random", "mpc", "mix")


def coloured_noise(
    rng: np.random.Generator,
    steps: int,
    std: np.ndarray,
    smoothing: float,
) -> np.ndarray:
    """AR(1) Gaussian noise with stationary standard deviation ``std``.

    Args:
        rng: The random generator.
        steps: Number of steps.
        std: Per-channel stationary standard deviation, (n,).
        smoothing: The AR coefficient a in [0, 1) (0 gives white noise).

    Returns:
        The noise, (steps, n).
    """
    std = np.asarray(std, dtype=np.float64)
    white = rng.standard_normal((steps, std.shape[0]))
    gain = np.sqrt(1.0 - smoothing**2)
    # n_0 = ξ_0 (stationary start), then n_k = a n_{k-1} + gain ξ_k.
    out = np.empty_like(white)
    out[0] = white[0]
    out[1:], _ = scipy.signal.lfilter(
        [gain],
        [1.0, -smoothing],
        white[1:],
        axis=0,
        zi=smoothing * white[:1],
    )
    return out * std


def resolve_policy(source: ModelSource, policy: str) -> str:
    """The policy to run (``auto`` resolved), or a ValueError."""
    if policy not in POLICIES:
        raise ValueError(
            f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}"
        )
    has_goal = source.task is not None and source.task.goal() is not None
    if policy == "auto":
        return "mix" if has_goal else "random"
    if policy in ("lqr", "mix", "mpc") and not has_goal:
        what = "a bare MJCF" if source.task is None else "this task"
        raise ValueError(
            f"policy {policy!r} needs a task with a goal; {what} has none "
            "(use --policy random)"
        )
    return policy


def episode_is_lqr(policy: str, index: int, lqr_fraction: float) -> bool:
    """Whether episode ``index`` runs LQR (mix: an exact running fraction)."""
    if policy == "mix":
        return int((index + 1) * lqr_fraction) > int(index * lqr_fraction)
    return policy == "lqr"


def spread_state(
    mj_model: mujoco.MjModel,
    rng: np.random.Generator,
    qpos: np.ndarray,
    qvel: np.ndarray,
    spread: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(qpos, qvel) moved by U(−spread, spread) in every dof."""
    qpos = np.array(qpos, dtype=np.float64)
    mujoco.mj_integratePos(
        mj_model, qpos, rng.uniform(-spread, spread, mj_model.nv), 1.0
    )
    qvel = np.asarray(qvel, dtype=np.float64)
    return qpos, qvel + rng.uniform(-spread, spread, mj_model.nv)


class LimitCheck:
    """Which states have a limited slide joint at its range, or non-finite."""

    def __init__(self, mj_model: mujoco.MjModel) -> None:
        slide = (mj_model.jnt_type == mujoco.mjtJoint.mjJNT_SLIDE) & (
            mj_model.jnt_limited.astype(bool)
        )
        self.adr = np.asarray(mj_model.jnt_qposadr[slide], dtype=int)
        self.lo, self.hi = mj_model.jnt_range[slide].T

    def hit(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """(B,) bool for states (B, nq), (B, nv)."""
        bad = ~(np.isfinite(qpos).all(-1) & np.isfinite(qvel).all(-1))
        if self.adr.size:
            x = qpos[..., self.adr]
            bad |= ((x <= self.lo) | (x >= self.hi)).any(-1)
        return bad


@dataclass
class Rollouts:
    """A batch of logged episodes (row arrays padded to the longest)."""

    qpos: np.ndarray  # (B, T, nq)
    qvel: np.ndarray  # (B, T, nv)
    ctrl: np.ndarray  # (B, T, nu)
    lengths: np.ndarray  # (B,)


def run_batch(
    mj_model: mujoco.MjModel,
    *,
    starts: list[tuple[np.ndarray, np.ndarray]],
    noise: np.ndarray,
    lqr_mask: np.ndarray,
    lqr: LQRController | None,
    steps: int,
    stop_at_limit: bool,
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

    Returns:
        The logged rows.
    """
    b, nq, nv, nu = len(starts), mj_model.nq, mj_model.nv, mj_model.nu
    qpos = np.zeros((b, steps, nq))
    qvel = np.zeros((b, steps, nv))
    ctrl = np.zeros((b, steps, nu))
    lengths = np.full(b, steps)
    limited = mj_model.actuator_ctrllimited.astype(bool)
    lo, hi = mj_model.actuator_ctrlrange.T
    u_min = np.where(limited, lo, -np.inf)
    u_max = np.where(limited, hi, np.inf)
    datas = []
    for q0, v0 in starts:
        data = mujoco.MjData(mj_model)
        data.qpos[:] = q0
        data.qvel[:] = v0
        datas.append(data)
    check = LimitCheck(mj_model)
    active = list(range(b))
    lqr_idx = np.flatnonzero(lqr_mask)
    step = mujoco.mj_step
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
        u = np.clip(u, u_min, u_max)
        ctrl[:, k] = u
        for i in active:
            datas[i].ctrl[:] = u[i]
            step(mj_model, datas[i])
    return Rollouts(qpos, qvel, ctrl, lengths)


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

    check = LimitCheck(source.mj_model)

    def stop(data: mujoco.MjData) -> bool:
        return bool(check.hit(data.qpos[None], data.qvel[None])[0])

    episode = run_closed_loop(
        source.task,
        controller,
        start[0],
        start[1],
        duration,
        seed=seed,
        stop_condition=stop if stop_at_limit else None,
        compute_cost=False,
        ctrl_noise=noise,
    )
    return Rollouts(
        episode.qpos[None],
        episode.qvel[None],
        episode.ctrl[None],
        np.array([len(episode.times)]),
    )


def episode_inputs(
    source: ModelSource,
    indices: range,
    *,
    policy: str,
    seed: int,
    steps: int,
    lqr_fraction: float,
    noise_std: float,
    noise_smoothing: float,
    random_std: float,
    init_spread: float,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray], list[bool]]:
    """Each episode's start, control noise and whether it runs LQR.

    Episode ``i`` draws from ``np.random.default_rng([seed, i])``.
    """
    mj_model = source.mj_model
    limited = mj_model.actuator_ctrllimited.astype(bool)
    lo, hi = mj_model.actuator_ctrlrange.T
    half_range = np.where(limited, (hi - lo) / 2.0, 1.0)
    centre = np.where(limited, (hi + lo) / 2.0, 0.0)
    starts, noises, mask = [], [], []
    for i in indices:
        rng = np.random.default_rng([seed, i])
        is_lqr = policy == "mpc" or episode_is_lqr(policy, i, lqr_fraction)
        if is_lqr:
            starts.append(
                spread_state(mj_model, rng, *source.task.goal(), init_spread)
            )
            std = noise_std * half_range
            noises.append(coloured_noise(rng, steps, std, noise_smoothing))
        else:
            starts.append(
                spread_state(
                    mj_model,
                    rng,
                    mj_model.qpos0,
                    np.zeros(mj_model.nv),
                    init_spread,
                )
            )
            std = random_std * half_range
            noises.append(
                centre + coloured_noise(rng, steps, std, noise_smoothing)
            )
        mask.append(is_lqr)
    return starts, noises, mask


def exploration_lqr(source: ModelSource) -> LQRController:
    """The LQR at the task's goal, or a one-line ValueError that says why not.

    Raises:
        ValueError: The goal has the wrong shape, MuJoCo cannot linearize the
            model, or no gain stabilizes the linearization (e.g. a floating
            base that no actuator reaches).
    """
    try:
        return LQRController(source.mj_model, *source.task.goal(), 1.0, 10.0)
    except (ValueError, mujoco.FatalError) as err:
        message = " ".join(str(err).split())
        raise ValueError(
            f"{source.name}: no LQR for the lqr and mix policies: {message} "
            "(use --policy random, or a goal the actuators can hold)"
        ) from err
