"""Collect trajectory CSVs for dynamics learning: `collect`.

Episodes run on the MuJoCo C plant (``mj_step``, any integrator) and are
logged one CSV per episode (``episode_00000.csv``, ...) in the trajectory
format, plus a ``manifest.json`` that describes the model and the columns.
Policies (`hydrax.simulation.policies`):

- ``lqr``: LQR about the task's goal (`hydrax.control.lqr`, Q = I,
  R = 10 I: it holds the double cart pole from about ±0.15 rad) plus smooth
  control noise, from states spread around the goal. Episodes that leave the
  region where LQR holds are logged all the same: they are useful data.
- ``random``: smooth (AR(1)-filtered Gaussian) random controls from states
  spread around the model's default pose ``qpos0``. The only policy for an
  MJCF without a task cost, or a task without a goal.
- ``mpc``: the task's default sampling-based controller plus control noise
  (slow: tens to hundreds of milliseconds per replanning).
- ``mix``: LQR for a ``lqr_fraction`` of the episodes, random for the rest.

An episode ends early when a limited slide joint (e.g. the cart's rail)
reaches its range, or when the state stops being finite; the state that
reached the limit is not logged (``stop_at_limit=False`` keeps going).

The noise ``n`` is an AR(1) process per actuator,
``n_{k+1} = a n_k + sqrt(1 - a²) σ ξ_k`` with ``a = noise_smoothing`` and
stationary standard deviation ``σ``; ``σ`` is given as a fraction of each
limited actuator's half range (in control units for unlimited ones).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hydrax import ROOT
from hydrax.logs import Manifest, read_manifest, write_manifest
from hydrax.logs.manifest import model_sha256
from hydrax.logs.writer import write_trajectory_csv
from hydrax.simulation.model_source import ModelSource, resolve_source
from hydrax.simulation.policies import (
    episode_inputs,
    exploration_lqr,
    resolve_policy,
    run_batch,
    run_mpc_episode,
)
from hydrax.task_base import Task


def _existing_files(out_dir: Path) -> list[Path]:
    """The dataset files already in ``out_dir``."""
    if not out_dir.is_dir():
        return []
    files = sorted(out_dir.glob("episode_*.csv"))
    manifest = out_dir / "manifest.json"
    return files + ([manifest] if manifest.exists() else [])


def _check_options(
    *,
    dt: float,
    episodes: int,
    duration: float,
    lqr_fraction: float,
    noise_std: float,
    random_std: float,
    noise_smoothing: float,
    init_spread: float,
    batch_size: int,
    overwrite: bool,
    append: bool,
) -> None:
    """A ValueError naming the first option out of its range."""
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


@dataclass
class _Target:
    """Where a collection writes, and what is there already."""

    out_dir: Path
    existing: list[Path]
    sha: str
    first: int
    old: Manifest | None


def _resolve_target(
    source: ModelSource,
    out_dir: str | Path | None,
    *,
    overwrite: bool,
    append: bool,
) -> _Target:
    """The output directory checked against overwrite / append."""
    out_dir = Path(out_dir) if out_dir else ROOT / "data_csv" / source.name
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a directory")
    existing = _existing_files(out_dir)
    sha = model_sha256(source.model_file)
    first = 0
    old: Manifest | None = None
    if existing and append:
        old = read_manifest(out_dir)
        if old is None:
            raise ValueError(
                f"{out_dir} has episode CSVs but no manifest.json; cannot "
                "append (use --overwrite)"
            )
        if old.model_sha256 != sha:
            raise ValueError(
                f"cannot append: {out_dir} was collected from a different "
                f"model (sha256 {old.model_sha256}, this one {sha})"
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

    return _Target(out_dir, existing, sha, first, old)


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

    Longer than 80 lines: ``_finish`` writes the manifest from this run's
    settings at the end or on Ctrl-C, and the error handling around the
    episode loop keeps a failed run from leaving partial files.

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
    policy = resolve_policy(source, policy)
    mj_model, dt = source.mj_model, float(source.mj_model.opt.timestep)
    _check_options(
        dt=dt,
        episodes=episodes,
        duration=duration,
        lqr_fraction=lqr_fraction,
        noise_std=noise_std,
        random_std=random_std,
        noise_smoothing=noise_smoothing,
        init_spread=init_spread,
        batch_size=batch_size,
        overwrite=overwrite,
        append=append,
    )
    target = _resolve_target(
        source, out_dir, overwrite=overwrite, append=append
    )
    out_dir, existing = target.out_dir, target.existing
    first, old = target.first, target.old
    steps = int(round(duration / dt))
    lqr = exploration_lqr(source) if policy in ("lqr", "mix") else None
    controller = None
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
        manifest = Manifest.for_model(
            mj_model, source.name, source.model_file, previous=old
        ).with_run(run, episodes=done, rows=total_rows)
        write_manifest(out_dir, manifest)

    try:
        bar = tqdm(total=episodes, disable=not progress, desc="episodes")
        chunk = 1 if policy == "mpc" else batch_size
        for offset in range(0, episodes, chunk):
            indices = range(
                first + offset, first + min(offset + chunk, episodes)
            )
            starts, noises, mask = episode_inputs(
                source,
                indices,
                policy=policy,
                seed=seed,
                steps=steps,
                lqr_fraction=lqr_fraction,
                noise_std=noise_std,
                noise_smoothing=noise_smoothing,
                random_std=random_std,
                init_spread=init_spread,
            )
            if policy == "mpc":
                batch = run_mpc_episode(
                    source,
                    controller=controller,
                    start=starts[0],
                    noise=noises[0],
                    duration=duration,
                    seed=seed + indices[0],
                    stop_at_limit=stop_at_limit,
                )
            else:
                batch = run_batch(
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
