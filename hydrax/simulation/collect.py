"""Collect trajectory CSVs for dynamics learning: ``python -m ...collect``.

Episodes run on the MuJoCo C plant (``mj_step``) and are logged one CSV per
episode (``episode_00000.csv``, ...) in the seed's format, plus a
``manifest.json`` that describes the model and the columns. Policies:

- ``lqr``: LQR about the task's goal (``hydrax.simulation.lqr``, Q = I,
  R = 10 I: it holds the double cart pole from about ±0.15 rad) plus smooth
  control noise, from states spread around the goal. Episodes that leave the
  region where LQR holds are logged all the same: they are useful data.
- ``random``: smooth (AR(1)-filtered Gaussian) random controls from states
  spread around the model's default pose ``qpos0``. The only policy for an
  MJCF without a task cost, or a task without a goal.
- ``mpc``: the task's default sampling-based controller plus control noise
  (slow: tens to hundreds of milliseconds per replanning).
- ``mix``: LQR for a ``--lqr-fraction`` of the episodes, random for the rest.

An episode ends early when a limited slide joint (e.g. the cart's rail)
reaches its range, or when the state stops being finite; the state that
reached the limit is not logged (``--no-stop-at-limit`` keeps going).

The noise ``n`` is an AR(1) process per actuator,
``n_{k+1} = a n_k + sqrt(1 - a²) σ ξ_k`` with ``a = --noise-smoothing`` and
stationary standard deviation ``σ``; ``σ`` is given as a fraction of each
limited actuator's half range (in control units for unlimited ones).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
import scipy.signal
from tqdm import tqdm

from hydrax import ROOT
from hydrax.simulation.logging import csv_header, write_trajectory_csv
from hydrax.simulation.lqr import LQRController
from hydrax.task_base import Task

FORMAT = "hydrax-dataset"
FORMAT_VERSION = 1
POLICIES = ("auto", "lqr", "random", "mpc", "mix")
_JOINT_TYPES = {
    mujoco.mjtJoint.mjJNT_FREE: "free",
    mujoco.mjtJoint.mjJNT_BALL: "ball",
    mujoco.mjtJoint.mjJNT_SLIDE: "slide",
    mujoco.mjtJoint.mjJNT_HINGE: "hinge",
}
QUATERNION_NOTE = (
    "angle_indices lists the qpos of hinge joints; coordinate_indices those "
    "of slide joints and the 3 position coordinates of free joints; "
    "quat_indices the first qpos of each ball and free joint's quaternion "
    "(w, x, y, z; its 3 angular velocities are in the joint's local frame, "
    "a free joint's linear velocity in the world frame)."
)


@dataclass
class ModelSource:
    """What is collected from: a model, its file, and a task if any.

    Attributes:
        name: The task name or the XML file's stem.
        mj_model: The model.
        model_file: The MJCF file (hashed into the manifest).
        task: The built-in task (None for a bare MJCF).
    """

    name: str
    mj_model: mujoco.MjModel
    model_file: Path
    task: Task | None


def resolve_source(task_or_model: str | Path | Task) -> ModelSource:
    """Load a built-in task by name, a Task, or a bare MJCF file.

    Args:
        task_or_model: A task name (``double_cart_pole``...), a `Task`, or
            the path of an MJCF file (``.xml``).

    Returns:
        The resolved source.
    """
    from hydrax.tasks import TASK_NAMES, get_task

    if isinstance(task_or_model, Task):
        task = task_or_model
        if task.model_file is None:
            raise ValueError(
                f"{type(task).__name__} has no model_file to hash into the "
                "manifest"
            )
        return ModelSource(
            task.model_file.stem, task.mj_model, task.model_file, task
        )
    if isinstance(task_or_model, str) and task_or_model in TASK_NAMES:
        task = get_task(task_or_model)
        return ModelSource(task_or_model, task.mj_model, task.model_file, task)
    path = Path(task_or_model)
    if path.suffix.lower() != ".xml":
        raise ValueError(
            f"{str(task_or_model)!r} is neither a built-in task "
            f"({', '.join(TASK_NAMES)}) nor an .xml model file"
        )
    if not path.is_file():
        raise ValueError(f"model file not found: {path}")
    try:
        mj_model = mujoco.MjModel.from_xml_path(str(path))
    except ValueError as err:
        message = " ".join(str(err).split())
        raise ValueError(f"invalid MJCF {path}: {message}") from err
    if mj_model.nu == 0:
        raise ValueError(
            f"{path}: the model has no actuators, so there is nothing to "
            "control (add an <actuator>)"
        )
    return ModelSource(path.stem, mj_model, path.resolve(), None)


def joint_table(mj_model: mujoco.MjModel) -> list[dict]:
    """Each joint's name, type and qpos/dof addresses, for the manifest."""
    joints = []
    for j in range(mj_model.njnt):
        joints.append(
            {
                "name": mj_model.joint(j).name,
                "type": _JOINT_TYPES[mujoco.mjtJoint(mj_model.jnt_type[j])],
                "qpos_adr": int(mj_model.jnt_qposadr[j]),
                "dof_adr": int(mj_model.jnt_dofadr[j]),
            }
        )
    return joints


def suggested_indices(mj_model: mujoco.MjModel) -> tuple[list[int], list[int]]:
    """The qpos indices of angles and of Cartesian coordinates.

    Angles: hinge joints. Coordinates: slide joints and the 3 position
    coordinates of free joints. Quaternions are in neither list (see
    :func:`suggested_quat_indices`).

    Returns:
        ``(angle_indices, coordinate_indices)``, sorted.
    """
    angles, coordinates = [], []
    for joint in joint_table(mj_model):
        adr = joint["qpos_adr"]
        if joint["type"] == "hinge":
            angles.append(adr)
        elif joint["type"] == "slide":
            coordinates.append(adr)
        elif joint["type"] == "free":
            coordinates.extend([adr, adr + 1, adr + 2])
    return sorted(angles), sorted(coordinates)


def suggested_quat_indices(mj_model: mujoco.MjModel) -> list[int]:
    """The first qpos index of each free and ball joint's quaternion."""
    quats = []
    for joint in joint_table(mj_model):
        if joint["type"] == "free":
            quats.append(joint["qpos_adr"] + 3)
        elif joint["type"] == "ball":
            quats.append(joint["qpos_adr"])
    return sorted(quats)


def model_sha256(path: Path) -> str:
    """The SHA-256 of the model file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def _policy_of(source: ModelSource, policy: str) -> str:
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


def _episode_is_lqr(policy: str, index: int, lqr_fraction: float) -> bool:
    """Whether episode ``index`` runs LQR (mix: an exact running fraction)."""
    if policy == "mix":
        return int((index + 1) * lqr_fraction) > int(index * lqr_fraction)
    return policy == "lqr"


def _spread_state(
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


class _LimitCheck:
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
class _Rollouts:
    """A batch of logged episodes (row arrays padded to the longest)."""

    qpos: np.ndarray  # (B, T, nq)
    qvel: np.ndarray  # (B, T, nv)
    ctrl: np.ndarray  # (B, T, nu)
    lengths: np.ndarray  # (B,)


def _run_batch(
    mj_model: mujoco.MjModel,
    *,
    starts: list[tuple[np.ndarray, np.ndarray]],
    noise: np.ndarray,
    lqr_mask: np.ndarray,
    lqr: LQRController | None,
    steps: int,
    stop_at_limit: bool,
) -> _Rollouts:
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
    check = _LimitCheck(mj_model)
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
    return _Rollouts(qpos, qvel, ctrl, lengths)


def _run_mpc_episode(
    source: ModelSource,
    *,
    controller: object,
    start: tuple[np.ndarray, np.ndarray],
    noise: np.ndarray,
    duration: float,
    seed: int,
    stop_at_limit: bool,
) -> _Rollouts:
    """One episode of the default MPC plus control noise."""
    from hydrax.simulation.closed_loop import run_closed_loop

    check = _LimitCheck(source.mj_model)

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
    return _Rollouts(
        episode.qpos[None],
        episode.qvel[None],
        episode.ctrl[None],
        np.array([len(episode.times)]),
    )


def _existing_files(out_dir: Path) -> list[Path]:
    """The dataset files already in ``out_dir``."""
    if not out_dir.is_dir():
        return []
    files = sorted(out_dir.glob("episode_*.csv"))
    manifest = out_dir / "manifest.json"
    return files + ([manifest] if manifest.exists() else [])


def _write_json_atomic(path: Path, obj: dict) -> None:
    """Write JSON to ``path`` via a temporary file and a rename."""
    tmp = path.with_suffix(".json.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def collect(  # noqa: PLR0917 (the CLI's core, called positionally too)
    task_or_model: str | Path | Task,
    out_dir: str | Path | None = None,
    episodes: int = 100,
    duration: float = 5.0,
    policy: str = "auto",
    seed: int = 0,
    *,
    lqr_fraction: float = 0.8,
    noise_std: float = 0.1,
    noise_smoothing: float = 0.95,
    random_std: float = 0.5,
    init_spread: float = 0.1,
    stop_at_limit: bool = True,
    overwrite: bool = False,
    append: bool = False,
    batch_size: int = 32,
    progress: bool = True,
) -> Path:
    """Collect episodes on the MuJoCo plant into CSVs plus a manifest.

    Args:
        task_or_model: A built-in task name, a `Task`, or an MJCF path.
        out_dir: Where to write; default ``hydrax/data_csv/<name>/``.
        episodes: Episodes to collect (>= 1).
        duration: Simulated seconds per episode (at most; see the limits).
        policy: ``auto`` (mix with a goal, else random), ``lqr``,
            ``random``, ``mpc`` or ``mix``.
        seed: The seed; episode i draws from ``default_rng([seed, i])``, so
            an appended run continues rather than repeats.
        lqr_fraction: The share of LQR episodes under ``mix``.
        noise_std: Std of the noise on LQR/MPC controls (fraction of the
            half range of limited actuators).
        noise_smoothing: AR(1) coefficient of all control noise, in [0, 1).
        random_std: Std of the random policy's controls (same units).
        init_spread: Initial states are U(−spread, spread) away from the goal
            (LQR, MPC) or from ``qpos0`` at rest (random), in every dof.
        stop_at_limit: End an episode when a limited slide joint reaches its
            range (or the state is not finite).
        overwrite: Delete an existing dataset in ``out_dir`` first.
        append: Add episodes to an existing dataset of the same model.
        batch_size: Episodes stepped in lockstep (LQR and random).
        progress: Show a progress bar over episodes.

    Returns:
        The output directory.
    """
    source = resolve_source(task_or_model)
    policy = _policy_of(source, policy)
    mj_model, dt = source.mj_model, float(source.mj_model.opt.timestep)
    checks = [
        (episodes >= 1, f"episodes must be >= 1, got {episodes}"),
        (
            duration >= dt,
            f"duration must be >= the timestep {dt}, got {duration}",
        ),
        (
            0.0 <= lqr_fraction <= 1.0,
            f"lqr_fraction must be in [0, 1], got {lqr_fraction}",
        ),
        (noise_std >= 0, f"noise_std must be >= 0, got {noise_std}"),
        (random_std >= 0, f"random_std must be >= 0, got {random_std}"),
        (
            0.0 <= noise_smoothing < 1.0,
            f"noise_smoothing must be in [0, 1), got {noise_smoothing}",
        ),
        (init_spread >= 0, f"init_spread must be >= 0, got {init_spread}"),
        (batch_size >= 1, f"batch_size must be >= 1, got {batch_size}"),
        (not (overwrite and append), "choose one of overwrite and append"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)

    out_dir = Path(out_dir) if out_dir else ROOT / "data_csv" / source.name
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a directory")
    existing = _existing_files(out_dir)
    sha = model_sha256(source.model_file)
    first = 0
    old: dict | None = None
    manifest_path = out_dir / "manifest.json"
    if existing and append:
        if not manifest_path.exists():
            raise ValueError(
                f"{out_dir} has episode CSVs but no manifest.json; cannot "
                "append (use --overwrite)"
            )
        old = json.loads(manifest_path.read_text())
        if old.get("model_sha256") != sha:
            raise ValueError(
                f"cannot append: {out_dir} was collected from a different "
                f"model (sha256 {old.get('model_sha256')}, this one {sha})"
            )
        numbers = [
            int(p.stem.split("_")[1]) for p in existing if p.suffix == ".csv"
        ]
        first = max(numbers, default=-1) + 1
    elif existing and not overwrite:
        raise ValueError(
            f"{out_dir} already holds a dataset ({len(existing)} files); "
            "pass --overwrite to replace it or --append to add to it"
        )

    steps = int(round(duration / dt))
    limited = mj_model.actuator_ctrllimited.astype(bool)
    lo, hi = mj_model.actuator_ctrlrange.T
    half_range = np.where(limited, (hi - lo) / 2.0, 1.0)
    centre = np.where(limited, (hi + lo) / 2.0, 0.0)
    lqr = None
    controller = None
    if policy in ("lqr", "mix"):
        lqr = LQRController(mj_model, *source.task.goal(), 1.0, 10.0)
    if policy == "mpc":
        from hydrax.simulation.controllers import default_controller

        controller = default_controller(source.task)

    # Validation is over: from here on, files change.
    created_dir = not out_dir.exists()
    if existing and overwrite:
        for path in existing:
            path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    total_rows = 0
    start_time = time.perf_counter()

    def _finish(done: int) -> None:
        """Write the manifest for ``done`` complete episodes."""
        seconds = time.perf_counter() - start_time

        angles, coordinates = suggested_indices(mj_model)
        run = {
            "policy": policy,
            "seed": seed,
            "first_episode": first,
            "episodes": done,
            "duration": duration,
            "lqr_fraction": lqr_fraction,
            "noise_std": noise_std,
            "noise_smoothing": noise_smoothing,
            "random_std": random_std,
            "init_spread": init_spread,
            "stop_at_limit": stop_at_limit,
            "rows": total_rows,
            "seconds": round(seconds, 3),
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "task": source.name,
            "model_file": str(source.model_file),
            "model_sha256": sha,
            "dt": dt,
            "nq": mj_model.nq,
            "nv": mj_model.nv,
            "nu": mj_model.nu,
            "joints": joint_table(mj_model),
            "angle_indices": angles,
            "coordinate_indices": coordinates,
            "quat_indices": suggested_quat_indices(mj_model),
            "notes": QUATERNION_NOTE,
            "columns": csv_header(mj_model.nq, mj_model.nv, mj_model.nu),
            "episodes": (old["episodes"] if old else 0) + done,
            "rows": (old["rows"] if old else 0) + total_rows,
            "collection": (old["collection"] if old else []) + [run],
        }
        _write_json_atomic(manifest_path, manifest)

    try:
        bar = tqdm(total=episodes, disable=not progress, desc="episodes")
        chunk = 1 if policy == "mpc" else batch_size
        for offset in range(0, episodes, chunk):
            indices = range(
                first + offset, first + min(offset + chunk, episodes)
            )
            starts, noises, mask = [], [], []
            for i in indices:
                rng = np.random.default_rng([seed, i])
                is_lqr = policy == "mpc" or _episode_is_lqr(
                    policy, i, lqr_fraction
                )
                if is_lqr:
                    starts.append(
                        _spread_state(
                            mj_model, rng, *source.task.goal(), init_spread
                        )
                    )
                    std = noise_std * half_range
                    noises.append(
                        coloured_noise(rng, steps, std, noise_smoothing)
                    )
                else:
                    starts.append(
                        _spread_state(
                            mj_model,
                            rng,
                            mj_model.qpos0,
                            np.zeros(mj_model.nv),
                            init_spread,
                        )
                    )
                    std = random_std * half_range
                    noises.append(
                        centre
                        + coloured_noise(rng, steps, std, noise_smoothing)
                    )
                mask.append(is_lqr)
            if policy == "mpc":
                batch = _run_mpc_episode(
                    source,
                    controller=controller,
                    start=starts[0],
                    noise=noises[0],
                    duration=duration,
                    seed=seed + indices[0],
                    stop_at_limit=stop_at_limit,
                )
            else:
                batch = _run_batch(
                    mj_model,
                    starts=starts,
                    noise=np.stack(noises),
                    lqr_mask=np.array(mask),
                    lqr=lqr,
                    steps=steps,
                    stop_at_limit=stop_at_limit,
                )
            for j, i in enumerate(indices):
                n = int(batch.lengths[j])
                path = out_dir / f"episode_{i:05d}.csv"
                write_trajectory_csv(
                    path,
                    dt * np.arange(n),
                    batch.qpos[j, :n],
                    batch.qvel[j, :n],
                    batch.ctrl[j, :n],
                )
                written.append(path)
                total_rows += n
            bar.update(len(indices))
        bar.close()
        _finish(len(written))
    except KeyboardInterrupt:
        # Ctrl-C: every episode written so far is complete (atomic files);
        # keep them, describe them in the manifest, then stop.
        if written:
            _finish(len(written))
        raise
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created_dir and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise
    return out_dir


def _parser() -> argparse.ArgumentParser:
    """The command line."""
    from hydrax.tasks import TASK_NAMES

    p = argparse.ArgumentParser(
        prog="python -m hydrax.simulation.collect",
        description=(
            "Collect MuJoCo trajectories (one CSV per episode plus "
            "manifest.json) for training dynamics models."
        ),
        epilog=(
            "Policies: lqr (LQR at the goal + smooth noise), random (smooth "
            "random controls), mpc (the default sampling MPC + noise; "
            "slow), mix (lqr for --lqr-fraction of the episodes, random for "
            "the rest), auto (mix with a goal, random for a bare MJCF). An "
            "episode ends early when a limited slide joint reaches its "
            "range (e.g. the cart at its rail limit)."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", choices=TASK_NAMES, help="a built-in task")
    src.add_argument("--model", type=Path, help="path to any MJCF .xml")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument(
        "--duration", type=float, default=5.0, help="seconds per episode"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="default: hydrax/data_csv/<task or XML stem>/",
    )
    p.add_argument("--policy", choices=POLICIES, default="auto")
    p.add_argument(
        "--lqr-fraction",
        type=float,
        default=0.8,
        help="share of LQR episodes under --policy mix",
    )
    p.add_argument(
        "--noise-std",
        type=float,
        default=0.1,
        help="std of the smooth noise on the stabilizing controller, as a "
        "fraction of the control half range",
    )
    p.add_argument(
        "--noise-smoothing",
        type=float,
        default=0.95,
        help="AR(1) coefficient of the control noise per step, in [0, 1)",
    )
    p.add_argument(
        "--random-std",
        type=float,
        default=0.5,
        help="std of the random policy's smooth controls (same units)",
    )
    p.add_argument(
        "--init-spread",
        type=float,
        default=0.1,
        help="initial states are U(-s, s) away from the goal in every dof "
        "(LQR holds about ±0.15 rad on the double cart pole)",
    )
    p.add_argument(
        "--no-stop-at-limit",
        action="store_true",
        help="keep going when a limited slide joint reaches its range",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--overwrite", action="store_true", help="replace an existing dataset"
    )
    mode.add_argument(
        "--append", action="store_true", help="add to an existing dataset"
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 on a user mistake)."""
    args = _parser().parse_args(argv)
    start = time.perf_counter()
    try:
        out_dir = collect(
            args.task or args.model,
            out_dir=args.out_dir,
            episodes=args.episodes,
            duration=args.duration,
            policy=args.policy,
            seed=args.seed,
            lqr_fraction=args.lqr_fraction,
            noise_std=args.noise_std,
            noise_smoothing=args.noise_smoothing,
            random_std=args.random_std,
            init_spread=args.init_spread,
            stop_at_limit=not args.no_stop_at_limit,
            overwrite=args.overwrite,
            append=args.append,
            batch_size=args.batch_size,
            progress=not args.quiet,
        )
    except ValueError as err:
        print(f"collect: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "collect: interrupted; the episodes written so far are complete "
            "and listed in manifest.json",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        manifest = json.loads((out_dir / "manifest.json").read_text())
        run = manifest["collection"][-1]
        rate = run["rows"] / max(time.perf_counter() - start, 1e-9)
        print(
            f"wrote {args.episodes} episodes, {run['rows']} rows to "
            f"{out_dir} ({rate:,.0f} rows/s including start-up)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
