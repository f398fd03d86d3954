"""Data aggregation: control with the learned model, log, fine-tune, repeat.

The states a learned-model controller visits are not the states the
training logs cover; Nagabandi et al. (2018) close the gap by alternating:

1. run the MPC that plans with the current learned model on the MuJoCo
   plant, with smooth exploration noise on its controls, and log every
   episode;
2. add the logs to the dataset and fine-tune the model on all of it (each
   epoch draws the closed-loop logs' windows ``fresh_weight`` times; the
   files the model validated on stay validation files, the new logs are
   split anew: `hydrax.simulation.fine_tune`);
3. measure closed-loop success (balance or swing-up trials, without noise).

``python -m hydrax.simulation.aggregate --data-dir DIR [DIR ...]`` prints
per iteration the trials' success, their seconds in the success set and
running cost, and writes each iteration's logs and checkpoint.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hydrax.atomic import write_text_atomic
from hydrax.dynamics_model_training.model_io import CHECKPOINT_ROOT
from hydrax.simulation.controllers import LearnedPlanning
from hydrax.simulation.fine_tune import fine_tune, fine_tune_rate
from hydrax.simulation.learned_episodes import (
    check_inputs,
    collect_with_model,
    say_scores,
    trial_scores,
)
from hydrax.simulation.trials import TRIALS, task_arguments
from hydrax.utils import command_error, interrupted_exit, plural


def _write_records(out_dir: Path, records: list[dict]) -> None:
    """aggregation.json, after every round: a stopped run keeps them.

    The first write replaces an earlier run's record, so its rounds
    (``iter_<k>/``: data and checkpoints) go too: no round of another run
    is left beside this one's.
    """
    if len(records) == 1:
        earlier = sorted(d for d in out_dir.glob("iter_*") if d.is_dir())
        for d in earlier:
            shutil.rmtree(d)
        if earlier:
            print(
                f"cleared {plural(len(earlier), 'round')} of an earlier run "
                f"from {out_dir} ({', '.join(d.name for d in earlier)})"
            )
    write_text_atomic(
        out_dir / "aggregation.json", json.dumps(records, indent=2)
    )


def _round_record(
    it: int, checkpoint: Path, scores: dict, dirs: list[Path], **settings
) -> dict:
    """What aggregation.json says of one round (and the run's settings)."""
    return {
        "iteration": it,
        "checkpoint": str(checkpoint),
        **scores,
        "data_dirs": [str(d) for d in dirs],
        **settings,
    }


def aggregate(
    task_name: str,
    checkpoint: str | Path,
    data_dir: str | Path | Sequence[str | Path],
    iterations: int = 3,
    episodes: int = 10,
    duration: float | None = None,
    noise_std: float = 0.1,
    epochs: int = 3,
    trials: int = 3,
    out_dir: str | Path = Path("results") / "aggregate",
    seed: int = 0,
    trial_duration: float | None = None,
    trial: str = "balance",
    fresh_weight: int = 3,
    learning_rate: float | None = None,
    disagreement_weight: float = 0.0,
    target_distance: float | None = None,
    target_velocity: float | None = None,
    strategy: str = "mean",
    matmul_dtype: str = "float32",
    controller_overrides: Mapping[str, Any] | None = None,
) -> list[dict]:
    """Alternate learned-model control, logging and fine-tuning.

    Args:
        task_name: A built-in task.
        checkpoint: The starting model.
        data_dir: The original dataset's directory, or several (kept in
            every fine-tuning).
        iterations: Rounds of collect → fine-tune.
        episodes: Closed-loop episodes logged per round.
        duration: Seconds per logged episode (default: the trial's).
        noise_std: Exploration noise on the controls (fraction of range/2).
        epochs: Fine-tuning epochs per round.
        trials: Trials (no noise) to measure success per round (0: none;
            the records then hold no figures).
        out_dir: Where the rounds' logs and checkpoints go.
        seed: Seeds the episodes and trials.
        trial_duration: Seconds of each trial (default: the trial's).
        trial: ``balance`` or ``swingup``: where episodes start and what
            success means.
        fresh_weight: Fine-tuning epochs draw every closed-loop log's
            windows this many times, the original data's once.
        learning_rate: The fine-tuning's peak learning rate (default: a
            third of the starting checkpoint's; give it when continuing
            from an aggregated checkpoint, whose own is already a third).
        disagreement_weight: With ``strategy="mean"``, an ensemble plans
            (episodes and trials) with its members' mean plus this weight
            times their disagreement in the running cost (0: none). The
            learned model refuses a negative or non-finite one, or a
            positive one for a single model, on loading, before the first
            round's trials or episodes.
        target_distance: The hopper's or the quadruped's metres to travel
            (None: the task's own; 0: success is "did not fall", which a
            balance trial needs).
        target_velocity: The hopper's or the quadruped's forward speed its
            cost asks for (None: the task's own; 0: stand).
        strategy: How an ensemble rolls out in the episodes and trials:
            ``"mean"``, ``"ts"`` or ``"members"`` (``learned_task``).
        matmul_dtype: The learned model's recurrent products' operands.
        controller_overrides: The default controller's settings to replace
            in the episodes and trials (``{"num_samples": 1024}``).

    Returns:
        One record per round (0 = the starting model): the figures of
        ``trial_scores`` (success rate, seconds in the success set, mean
        running cost), checkpoint, data directories.
    """
    # A round is collect_with_model, fine_tune and trial_scores.
    if learning_rate is not None and not 0 < learning_rate < float("inf"):
        raise ValueError(
            f"learning_rate must be > 0 and finite, got {learning_rate}"
        )
    if trial not in TRIALS:
        raise ValueError(f"unknown trial {trial!r}; choose from {list(TRIALS)}")
    single = isinstance(data_dir, (str, Path))
    dirs = [Path(d) for d in ([data_dir] if single else data_dir)]
    if not dirs:
        raise ValueError("data_dir: give at least one directory of logs")
    n_original = len(dirs)
    duration = TRIALS[trial][0] if duration is None else duration
    _check_arguments(
        task_name,
        iterations=iterations,
        episodes=episodes,
        epochs=epochs,
        trials=trials,
        fresh_weight=fresh_weight,
        noise_std=noise_std,
        duration=duration,
        trial_duration=trial_duration,
    )
    task_kwargs = task_arguments(task_name, target_distance, target_velocity)
    out_dir = Path(out_dir)
    inside = [("data_dir", d) for d in dirs] + [("checkpoint", checkpoint)]
    for name, path in inside:  # the earlier run's rounds are replaced
        if Path(path).resolve().is_relative_to(out_dir.resolve()):
            raise ValueError(
                f"{name} {path} lies in the output folder {out_dir}, whose "
                "earlier rounds this run replaces; give another out_dir"
            )
    checkpoint = Path(checkpoint).absolute()  # records usable from anywhere
    # Before any output: the checkpoint, the data and the trial fit.
    planning = LearnedPlanning(
        strategy, disagreement_weight, matmul_dtype, controller_overrides or {}
    )
    config, planner = check_inputs(
        task_name, checkpoint, dirs, trial, planning, task_kwargs, trials > 0
    )
    trial_seeds = range(seed + 1000, seed + 1000 + trials)
    tune_rate = fine_tune_rate(config, learning_rate)
    records: list[dict] = []

    def score(it: int) -> None:  # the round's trials, printed and recorded
        scores = (
            trial_scores(
                task_name,
                checkpoint,
                trial_seeds,
                trial_duration,
                trial,
                planning,
                task_kwargs,
            )
            if trials
            else {}
        )
        records.append(
            _round_record(
                it,
                checkpoint,
                scores,
                dirs,
                fresh_weight=fresh_weight,
                **planning.record(),
                planner=planner,
                episodes=episodes,
                noise_std=noise_std,
                epochs=epochs,
                learning_rate=tune_rate,
                **task_kwargs,
            )
        )
        say_scores(it, scores, trials)
        _write_records(out_dir, records)

    score(0)
    for it in range(1, iterations + 1):
        logs = collect_with_model(
            task_name,
            checkpoint,
            out_dir / f"iter_{it}" / "data",
            episodes,
            duration,
            noise_std,
            seed + 100 * it,
            trial,
            planning,
            task_kwargs,
        )
        dirs.append(logs)
        checkpoint = fine_tune(
            task_name,
            it,
            dirs,
            config,
            init_from=checkpoint,
            epochs=epochs,
            seed=seed,
            out_dir=out_dir,
            fresh_weight=fresh_weight,
            n_original=n_original,
            learning_rate=learning_rate,
        )
        score(it)
    return records


_COUNTS = ("iterations", "episodes", "epochs", "trials", "fresh_weight")


def _check_arguments(task_name: str, **given: float | None) -> None:
    """A ValueError naming the first argument out of its range."""
    from hydrax.tasks import get_task

    dt = float(get_task(task_name).mj_model.opt.timestep)
    low = {"trials": 0, "noise_std": 0.0, "duration": dt, "trial_duration": dt}
    for name, value in given.items():
        least, count = low.get(name, 1), name in _COUNTS
        if count:
            ok = (
                isinstance(value, int | np.integer)
                and not isinstance(value, bool)
                and value >= least
            )
        else:  # a duration (None: the trial's) or the noise's scale
            ok = value is None or least <= value < float("inf")
        if not ok:
            kind = "an integer " if count else ""
            raise ValueError(
                f"{name} must be {kind}>= {least:g}, got {value!r}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hydrax.simulation.aggregate``."""
    from hydrax.atomic import sigint_kept
    from hydrax.dynamics_model_training.checkpoint import CheckpointError
    from hydrax.planning_options import controller_overrides
    from hydrax.simulation.aggregate_args import parser as make_parser
    from hydrax.utils import enable_compilation_cache

    parser = make_parser()
    args = parser.parse_args(argv)
    if args.checkpoint is None:
        args.checkpoint = CHECKPOINT_ROOT / args.task / "best_model.pkl"
    enable_compilation_cache()
    started = time.time()
    try:
        with sigint_kept():  # a Ctrl-C Python swallows is raised again
            records = aggregate(
                args.task,
                args.checkpoint,
                args.data_dir,
                iterations=args.iterations,
                episodes=args.episodes,
                duration=args.duration,
                noise_std=args.noise_std,
                epochs=args.epochs,
                trials=args.trials,
                out_dir=args.output_dir,
                seed=args.seed,
                trial=args.trial,
                fresh_weight=args.fresh_weight,
                learning_rate=args.learning_rate,
                disagreement_weight=args.disagreement_weight,
                target_distance=args.target_distance,
                target_velocity=args.target_velocity,
                strategy=args.strategy,
                matmul_dtype=args.matmul_dtype,
                controller_overrides=controller_overrides(args),
            )
    except (ValueError, CheckpointError) as e:
        aliases = {"out_dir": "--output-dir"}
        return command_error(parser, e, aliases)
    except KeyboardInterrupt:  # finished rounds are on disk, and listed
        listed = args.output_dir / "aggregation.json"
        where = (  # this run's record, not an earlier run's
            f"{listed} lists the rounds finished, each with its checkpoint"
            if listed.exists() and listed.stat().st_mtime >= started
            else "no round finished"
        )
        print(f"{parser.prog}: interrupted; {where}", file=sys.stderr)
        return interrupted_exit()
    if args.trials:
        print("\niteration  success  seconds in success set  cost per step")
        for r in records:
            print(
                f"{r['iteration']:9d}  {r['success_rate']:7.0%}  "
                f"{r['success_seconds']:22.2f}  {r['mean_cost']:13.4g}"
            )
    print(f"last checkpoint: {records[-1]['checkpoint']}")
    print(f"wrote {args.output_dir / 'aggregation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
