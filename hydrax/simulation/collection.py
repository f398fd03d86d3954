"""Collect trajectory CSVs for dynamics learning: `collect`.

Episodes run on the MuJoCo C plant (``mj_step``, any integrator) and are
logged one CSV per episode (``episode_00000.csv``, ...) in the trajectory
format, plus a ``manifest.json`` that describes the model and the columns.
The policies (``lqr``, ``random``, ``mpc``, ``energy``, ``mix``) are
described in `hydrax.simulation.policies`.

An episode ends early when a limited slide joint (e.g. the cart's rail)
reaches its range, or when the state stops being finite; the state that
reached the limit is not logged (``stop_at_limit=False`` keeps going). An
episode that MuJoCo reports unstable is not written at all (a warning and
the manifest's ``unstable_episodes_dropped`` say which and when; see
`hydrax.simulation.plant_checks`).

The noise ``n`` is an AR(1) process per actuator,
``n_{k+1} = a n_k + sqrt(1 - a²) σ ξ_k`` with ``a = noise_smoothing`` and
stationary standard deviation ``σ``; ``σ`` is given as a fraction of each
limited actuator's half range (in control units for unlimited ones).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hydrax.control.lqr import LQRController
from hydrax.control.swingup import EnergySwingup
from hydrax.logs import Manifest, write_manifest
from hydrax.simulation.model_source import ModelSource, resolve_source
from hydrax.simulation.output_dir import (
    OutputTarget,
    Progress,
    UnstableEpisodes,
    drop_if_empty,
    resolve_output,
    unstable_note,
    write_episodes,
)
from hydrax.simulation.policies import (
    check_random_centre,
    episode_inputs,
    exploration_lqr,
    mix_energy_fraction,
    resolve_policy,
)
from hydrax.simulation.runners import Rollouts, run_batch, run_mpc_episode
from hydrax.task_base import Task
from hydrax.utils import plural


@dataclass
class _Settings:
    """One collection's episode settings, as recorded in the manifest."""

    policy: str
    seed: int
    duration: float
    lqr_fraction: float
    noise_std: float
    noise_smoothing: float
    random_std: float
    init_spread: float
    stop_at_limit: bool
    energy_fraction: float = 0.0
    random_centre: str = "middle"


def _check_options(
    settings: _Settings,
    *,
    dt: float,
    episodes: int,
    batch_size: int,
    overwrite: bool,
    append: bool,
) -> None:
    """A ValueError naming the first option out of its range."""
    st = settings
    check_random_centre(st.random_centre)
    fractions = (("lqr", st.lqr_fraction), ("energy", st.energy_fraction))
    checks = [
        (episodes >= 1, f"episodes must be >= 1, got {episodes}"),
        (
            st.duration >= dt,
            f"duration must be >= the timestep {dt}, got {st.duration}",
        ),
        *(
            (0.0 <= v <= 1.0, f"{k}_fraction must be in [0, 1], got {v}")
            for k, v in fractions
        ),
        (st.noise_std >= 0, f"noise_std must be >= 0, got {st.noise_std}"),
        (st.random_std >= 0, f"random_std must be >= 0, got {st.random_std}"),
        (
            0.0 <= st.noise_smoothing < 1.0,
            f"noise_smoothing must be in [0, 1), got {st.noise_smoothing}",
        ),
        (
            st.init_spread >= 0,
            f"init_spread must be >= 0, got {st.init_spread}",
        ),
        (batch_size >= 1, f"batch_size must be >= 1, got {batch_size}"),
        (not (overwrite and append), "choose one of overwrite and append"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def _simulate_chunk(
    source: ModelSource,
    indices: range,
    settings: _Settings,
    *,
    steps: int,
    lqr: LQRController | None,
    controller: object,
    energy: EnergySwingup | None = None,
) -> Rollouts:
    """Run the episodes ``indices`` (a batch, or one MPC episode)."""
    starts, noises, kinds = episode_inputs(
        source,
        indices,
        policy=settings.policy,
        seed=settings.seed,
        steps=steps,
        lqr_fraction=settings.lqr_fraction,
        noise_std=settings.noise_std,
        noise_smoothing=settings.noise_smoothing,
        random_std=settings.random_std,
        random_centre=settings.random_centre,
        init_spread=settings.init_spread,
        energy_fraction=settings.energy_fraction,
    )
    if settings.policy == "mpc":
        return run_mpc_episode(
            source,
            controller=controller,
            start=starts[0],
            noise=noises[0],
            duration=settings.duration,
            seed=settings.seed + indices[0],
            stop_at_limit=settings.stop_at_limit,
        )
    return run_batch(
        source.mj_model,
        starts=starts,
        noise=np.stack(noises),
        lqr_mask=np.array([k == "lqr" for k in kinds]),
        lqr=lqr,
        steps=steps,
        stop_at_limit=settings.stop_at_limit,
        energy_mask=np.array([k == "energy" for k in kinds]),
        energy=energy,
    )


def _write_run_manifest(
    source: ModelSource,
    target: OutputTarget,
    settings: _Settings,
    progress: Progress,
) -> None:
    """Write the manifest for the complete episodes of ``progress``."""
    done = len(progress.written)
    seconds = time.perf_counter() - progress.start_time
    run = {
        "policy": settings.policy,
        "seed": settings.seed,
        "first_episode": target.first,
        "episodes": done,
        "duration": settings.duration,
        "lqr_fraction": settings.lqr_fraction,
        "energy_fraction": settings.energy_fraction,
        "noise_std": settings.noise_std,
        "noise_smoothing": settings.noise_smoothing,
        "random_std": settings.random_std,
        "random_centre": settings.random_centre,
        "init_spread": settings.init_spread,
        "stop_at_limit": settings.stop_at_limit,
        "unstable_episodes_dropped": progress.unstable,
        "rows": progress.rows,
        "seconds": round(seconds, 3),
    }
    manifest = Manifest.for_model(
        source.mj_model, source.name, source.model_file, target.old, source.goal
    ).with_run(run, episodes=done, rows=progress.rows)
    write_manifest(target.out_dir, manifest)


def _run_episodes(
    source: ModelSource,
    target: OutputTarget,
    settings: _Settings,
    progress: Progress,
    *,
    episodes: int,
    batch_size: int,
    show_progress: bool,
    controller: object,
) -> None:
    """Simulate and write all episodes, chunk by chunk."""
    dt = float(source.mj_model.opt.timestep)
    steps = int(round(settings.duration / dt))
    policy = settings.policy
    needs_lqr = policy in ("lqr", "mix", "energy")
    lqr = exploration_lqr(source) if needs_lqr else None
    energy = None
    if settings.energy_fraction > 0:
        energy = source.task.energy_swingup()
    bar = tqdm(total=episodes, disable=not show_progress, desc="episodes")
    if controller is not None:  # the first episode compiles its planner
        bar.set_postfix_str("compiling the planner (the first episode)")
    chunk = 1 if policy == "mpc" else batch_size
    first = target.first
    for offset in range(0, episodes, chunk):
        indices = range(first + offset, first + min(offset + chunk, episodes))
        batch = _simulate_chunk(
            source,
            indices,
            settings,
            steps=steps,
            lqr=lqr,
            controller=controller,
            energy=energy,
        )
        write_episodes(target.out_dir, indices, batch, dt, progress)
        bar.set_postfix_str("", refresh=False)  # update() draws once
        bar.update(len(indices))
    bar.close()


def _mpc_controller(
    source: ModelSource, policy: str, controller: object
) -> object:
    """Policy ``mpc``'s controller: the one given, or the task's default."""
    if controller is not None and policy != "mpc":
        raise ValueError(f"controller is for policy 'mpc', not {policy!r}")
    if policy != "mpc" or controller is not None:
        return controller
    from hydrax.simulation.controllers import default_controller

    try:
        return default_controller(source.task)
    except ValueError as err:
        raise ValueError(f"{err}; pass collect a controller=") from err


def collect(  # noqa: PLR0917 (the CLI's core, called positionally too)
    task_or_model: str | Path | Task,
    out_dir: str | Path | None = None,
    episodes: int = 100,
    duration: float = 5.0,
    policy: str = "auto",
    seed: int = 0,
    *,
    lqr_fraction: float = 0.8,
    energy_fraction: float | None = None,
    noise_std: float = 0.1,
    noise_smoothing: float = 0.95,
    random_std: float = 0.5,
    random_centre: str = "middle",
    init_spread: float = 0.1,
    stop_at_limit: bool = True,
    overwrite: bool = False,
    append: bool = False,
    batch_size: int = 32,
    progress: bool = True,
    controller: object = None,
) -> Path:
    """Collect episodes on the MuJoCo plant into CSVs plus a manifest.

    On Ctrl-C the complete episodes stay and the manifest describes them;
    on any other error this run's files are deleted.

    Args:
        task_or_model: A built-in task name, a `Task`, or an MJCF path.
        out_dir: Where to write; default ``hydrax/data_csv/<name>/``.
        episodes: Episodes to collect (>= 1).
        duration: Simulated seconds per episode (at most; see the limits).
        policy: ``auto`` (mix with a goal, else random), ``lqr``,
            ``random``, ``mpc``, ``mix`` or ``energy`` (a task with
            ``energy_swingup()``).
        seed: The seed; episode i draws from ``default_rng([seed, i])``, so
            an appended run continues rather than repeats.
        lqr_fraction: The share of LQR episodes under ``mix`` among those
            that do not swing up.
        energy_fraction: The share of energy swing-up episodes under
            ``mix``; None: 0.5 for a task with an energy law, else 0.
        noise_std: Std of the noise on LQR/MPC controls (fraction of the
            half range of limited actuators).
        noise_smoothing: AR(1) coefficient of all control noise, in [0, 1).
        random_std: Std of the random policy's controls (same units).
        random_centre: What the random policy's controls vary about:
            ``middle`` of each actuator's range or ``zero`` (the in-range
            control nearest 0: a position actuator's target at qpos 0,
            the hopper's and the quadruped's standing pose).
        init_spread: Initial states are U(−spread, spread) away from the goal
            (LQR, MPC) or from ``qpos0`` at rest (random), in every dof.
        stop_at_limit: End an episode when a limited slide joint reaches its
            range (or the state is not finite).
        overwrite: Delete an existing dataset in ``out_dir`` first.
        append: Add episodes to an existing dataset of the same model.
        batch_size: Episodes stepped in lockstep (LQR and random).
        controller: The sampling-based controller of policy ``mpc`` (None:
            the built-in task's default); needed for one's own task.
        progress: Show a progress bar over episodes.

    Returns:
        The output directory.
    """
    source = resolve_source(task_or_model)
    policy = resolve_policy(source, policy)
    energy_fraction = mix_energy_fraction(source, policy, energy_fraction)
    settings = _Settings(
        policy=policy,
        seed=seed,
        duration=duration,
        lqr_fraction=lqr_fraction,
        noise_std=noise_std,
        noise_smoothing=noise_smoothing,
        random_std=random_std,
        init_spread=init_spread,
        stop_at_limit=stop_at_limit,
        energy_fraction=energy_fraction,
        random_centre=random_centre,
    )
    _check_options(
        settings,
        dt=float(source.mj_model.opt.timestep),
        episodes=episodes,
        batch_size=batch_size,
        overwrite=overwrite,
        append=append,
    )
    controller = _mpc_controller(source, policy, controller)
    target = resolve_output(source, out_dir, overwrite=overwrite, append=append)
    out_dir = target.out_dir
    # Validation is over: from here on, files change.
    created_dir = not out_dir.exists()
    if target.existing and overwrite:
        for path in target.existing:
            path.unlink()
    removed = bool(target.existing) and overwrite
    out_dir.mkdir(parents=True, exist_ok=True)
    done = Progress(written=[], start_time=time.perf_counter())
    try:
        _run_episodes(
            source,
            target,
            settings,
            done,
            episodes=episodes,
            batch_size=batch_size,
            show_progress=progress,
            controller=controller,
        )
        if not done.written:
            raise ValueError(
                unstable_note(done.unstable, episodes)
                + (" (overwrite had removed the old dataset)" * removed)
            )
        _write_run_manifest(source, target, settings, done)
        if done.unstable:
            warnings.warn(
                unstable_note(done.unstable, episodes),
                UnstableEpisodes,
                stacklevel=2,
            )
    except KeyboardInterrupt as stop:
        # Ctrl-C: every episode recorded so far is complete (atomic files);
        # keep them, describe them in the manifest, then stop.
        if done.written:
            _write_run_manifest(source, target, settings, done)
            stop.add_note(
                f"the {plural(len(done.written), 'episode')} written "
                f"{'is' if len(done.written) == 1 else 'are'} complete and "
                f"listed in {out_dir / 'manifest.json'}"
            )
        else:
            drop_if_empty(out_dir, created_dir)
            stop.add_note(
                "no episode was complete: nothing was written"
                + (" (--overwrite had removed the old dataset)" * removed)
            )
        raise
    except BaseException:
        for path in done.written:
            path.unlink(missing_ok=True)
        drop_if_empty(out_dir, created_dir)
        raise
    return out_dir
