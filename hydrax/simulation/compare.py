"""Closed-loop control on the MuJoCo plant: true vs learned planner model.

``python -m hydrax.simulation.closed_loop --task double_cart_pole --dynamics
true learned --checkpoint .../best_model.pkl`` runs the same trials (same
initial states and seeds) with the controller planning on MJX physics and on
the learned model, and reports success rate, mean cost and the time from
which a trial stayed in the task's success set (upright, for a pole).
Every episode is logged as a CSV in the collection format, with a manifest,
so the logs are training data for the next round.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hydrax.atomic import sigint_deferred, sigint_kept
from hydrax.planning_options import (
    add_controller_options,
    add_learned_planning_options,
    controller_overrides,
)
from hydrax.simulation.compare_results import (
    DYNAMICS,
    interrupted_note,
    write_results,
)
from hydrax.simulation.episode_costs import running_costs
from hydrax.simulation.run_logs import RunLogs
from hydrax.simulation.trials import (
    TrialResult,
    add_trial_flags,
    run_trial,
    task_arguments,
)
from hydrax.task_base import Task
from hydrax.utils import (
    DefaultsHelpFormatter,
    command_error,
    command_name,
    in_flags,
    interrupted_exit,
    plural,
)


@dataclass
class ConditionSummary:
    """The trials of one planner model.

    Attributes:
        name: ``true`` or ``learned``.
        results: One result per seed.
        costs: Mean running cost per step of each episode.
        upright_times: Time after which each episode stayed upright (NaN
            when it never did).
        step_costs: Each episode's running cost per plant step.
        planner: The controller's class and settings (as run).
    """

    name: str
    results: list[TrialResult] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    upright_times: list[float] = field(default_factory=list)
    step_costs: list[np.ndarray] = field(default_factory=list)
    planner: dict = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        """Share of successful trials."""
        return float(np.mean([r.success for r in self.results]))

    def as_dict(self) -> dict:
        """JSON-ready numbers."""
        replans = np.concatenate(
            [r.episode.replan_seconds for r in self.results]
        )
        return {  # null for NaN or Inf (a trial never upright): valid JSON
            "dynamics": self.name,
            "success_rate": self.success_rate,
            "successes": [bool(r.success) for r in self.results],
            "seeds": [r.seed for r in self.results],
            "mean_cost": _number(np.mean(self.costs)),
            "costs": [_number(c) for c in self.costs],
            "time_to_upright": [_number(t) for t in self.upright_times],
            "episode_seconds": [r.episode.duration for r in self.results],
            "replan_ms_mean": _number(1e3 * np.mean(replans)),
            "planner": self.planner,
        }


def _number(x: float) -> float | None:
    """A float for JSON, None where it is not finite."""
    return float(x) if np.isfinite(x) else None


def time_to_upright(task: Task, result: TrialResult) -> float:
    """Simulated time from which the episode stays in the success set.

    The task's success set (a pole upright, a walker up and past its
    distance), to the episode's end; NaN where it does not end there.
    """
    e = result.episode
    ok = np.array(
        [task.success(e.qpos[k], e.site_xpos[k]) for k in range(len(e.times))]
    )
    if not len(ok) or not ok[-1] or e.stopped_early:
        return float("nan")
    bad = np.flatnonzero(~ok)
    return float(e.times[bad[-1] + 1] if len(bad) else e.times[0])


class ConditionInterrupted(KeyboardInterrupt):
    """Ctrl-C during a planner model's trials; ``summary``: those finished."""

    def __init__(self, summary: ConditionSummary) -> None:
        super().__init__()
        self.summary = summary


def run_condition(  # noqa: PLR0917 (positional since the first version)
    name: str,
    task: Task,
    trial: str,
    seeds: Sequence[int],
    out_dir: Path | None,
    controller_overrides: dict | None = None,
    log: bool = True,
    progress: bool = True,
    controller: object | None = None,
) -> ConditionSummary:
    """Run one planner model's trials.

    ``log`` prints a line per trial and, with ``progress``, a bar of each
    trial's plant steps. ``controller``: the planner (default: the task's
    default controller with ``controller_overrides``).

    Raises:
        ConditionInterrupted: on Ctrl-C, with the trials finished; their
            logs are on disk with a manifest.
    """
    from hydrax.simulation.controllers import (
        default_controller,
        planner_settings,
    )

    if controller is None:
        controller = default_controller(
            task, trial, **(controller_overrides or {})
        )
    summary = ConditionSummary(name, planner=planner_settings(controller))
    folder = out_dir / name if out_dir is not None else None
    logs = RunLogs(folder, "seed_*.csv") if folder is not None else None
    try:
        for seed in seeds:
            result = run_trial(
                trial, task, controller, seed, progress=log and progress
            )
            e = result.episode
            cost = np.asarray(running_costs(task, e.qpos, e.qvel, e.ctrl))
            upright = time_to_upright(task, result)
            with sigint_deferred():  # the log and its record, or neither
                if logs is not None:
                    logs.write(folder / f"seed_{seed:03d}.csv", e)
                summary.results.append(result)
                summary.step_costs.append(cost)
                summary.costs.append(float(np.mean(cost)))
                summary.upright_times.append(upright)
            if log:
                print(
                    f"  {name:8s} seed {seed:3d}: "
                    f"{'success' if result.success else 'failure'}  "
                    f"{e.duration:5.2f} s simulated  cost "
                    f"{summary.costs[-1]:.3f}  "
                    f"{1e3 * np.mean(e.replan_seconds):.0f} ms/replan",
                    flush=True,
                )
    except KeyboardInterrupt:
        raise ConditionInterrupted(summary) from None
    finally:
        if logs is not None:  # the manifest of this run's (complete) logs
            logs.finish(task)
    return summary


def format_table(summaries: list[ConditionSummary], trial: str) -> str:
    """The comparison as a small text table."""
    lines = [
        f"{trial} trial, {plural(len(summaries[0].results), 'seed')} each:",
        f"  {'planner model':14s} {'success':>9s} {'mean cost':>10s} "
        f"{'time to success':>16s} {'ms/replan':>10s}",
    ]
    for s in summaries:
        d = s.as_dict()
        t = np.array(s.upright_times)
        t_text = f"{np.nanmean(t):.2f} s" if np.isfinite(t).any() else "-"
        ok = sum(d["successes"])
        lines.append(
            f"  {s.name:14s} {ok:>4d}/{len(s.results):<4d} "
            f"{d['mean_cost']:10.3f} {t_text:>16s} "
            f"{d['replan_ms_mean']:10.1f}"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    from hydrax.tasks import TASK_NAMES

    p = argparse.ArgumentParser(
        prog=command_name("hydrax.simulation.closed_loop"),
        formatter_class=DefaultsHelpFormatter,
        description=(
            "Control the MuJoCo plant with sampling-based model-predictive "
            "control (MPC), planning with the true (MJX) "
            "model and/or a learned model, on the same initial states; "
            "report success, cost and time to success (from which a trial "
            "stayed in the task's success set); write plots and the "
            "episodes' CSV logs."
        ),
    )
    p.add_argument(
        "--task",
        choices=TASK_NAMES,
        default="double_cart_pole",
        help="the built-in task",
    )
    p.add_argument(
        "--dynamics",
        nargs="+",
        choices=DYNAMICS,
        default=list(DYNAMICS),
        help="what the planner predicts with: true (the MuJoCo physics in "
        "JAX, MJX), learned (the model of --checkpoint), or both",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="the learned model's best_model.pkl (for --dynamics learned)",
    )
    add_learned_planning_options(p)
    p.add_argument(
        "--disagreement-weight",
        type=float,
        default=0.0,
        help="with --strategy mean, the weight of the members' disagreement "
        "in the running cost",
    )
    add_trial_flags(p)
    p.add_argument(
        "--episodes", type=int, default=10, help="trials per planner model"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the first trial (trial i uses seed + i)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=Path("results") / "closed_loop",
        help="results go to <output-dir>/<task>/<trial>/",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the bar of each trial's plant steps (a line per trial "
        "stays)",
    )
    add_controller_options(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError
    from hydrax.simulation.controllers import (
        LearnedPlanning,
        default_controller,
        learned_task,
    )
    from hydrax.simulation.trials import check_trial
    from hydrax.tasks import get_task
    from hydrax.utils import enable_compilation_cache

    p = build_parser()
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error("--episodes must be >= 1")
    if "learned" in args.dynamics and args.checkpoint is None:
        p.error("--dynamics learned needs --checkpoint")
    learned = ("checkpoint", "strategy", "matmul_dtype", "disagreement_weight")
    learned_only = [
        a.option_strings[-1]
        for a in p._actions
        if a.dest in learned and getattr(args, a.dest) != a.default
    ]
    if "learned" not in args.dynamics and learned_only:
        p.error(f"{', '.join(learned_only)}: only for --dynamics learned")
    enable_compilation_cache()
    overrides = controller_overrides(args)
    planning = LearnedPlanning(
        args.strategy, args.disagreement_weight, args.matmul_dtype
    )
    out = args.output_dir / args.task / args.trial
    seeds = range(args.seed, args.seed + args.episodes)
    summaries, interrupted = [], False
    try:
        task_kwargs = task_arguments(
            args.task, args.target_distance, args.target_velocity
        )
    except ValueError as e:
        p.error(in_flags(str(e), p))
    try:  # every planner model and planner is checked before any trial
        tasks = {
            name: get_task(args.task, **task_kwargs)
            if name == "true"
            else learned_task(
                args.task,
                args.checkpoint,
                planning.strategy,
                planning.disagreement_weight,
                planning.matmul_dtype,
                **task_kwargs,
            )
            for name in args.dynamics
        }
        planners = {}
        for name, task in tasks.items():
            check_trial(task, args.trial)
            planners[name] = default_controller(task, args.trial, **overrides)
        with sigint_kept():  # a Ctrl-C Python swallows is raised again
            for name, task in tasks.items():
                print(f"{name} model:", flush=True)
                summaries.append(
                    run_condition(
                        name,
                        task,
                        args.trial,
                        seeds,
                        out,
                        progress=not args.no_progress,
                        controller=planners[name],
                    )
                )
    except (ValueError, CheckpointError) as e:
        return command_error(p, e)
    except KeyboardInterrupt as stop:
        if isinstance(stop, ConditionInterrupted) and stop.summary.results:
            summaries.append(stop.summary)
        interrupted = True

    def used(name: str) -> dict:  # what summary.json records of the model
        if name != "learned":
            return {}
        return {
            "checkpoint": str(args.checkpoint.absolute()),
            **planning.record(),
        }

    records = [
        {**s.as_dict(), **task_kwargs, **used(s.name)} for s in summaries
    ]
    if interrupted and records and len(summaries[-1].results) < len(seeds):
        records[-1]["interrupted"] = True
    if summaries:
        print("\n" + format_table(summaries, args.trial))
        try:  # a Ctrl-C while they are written comes after both
            task = tasks[summaries[0].name]
            write_results(out, task, args.trial, summaries, records)
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        note = interrupted_note(out, summaries)
        print(f"{p.prog}: interrupted; {note}", file=sys.stderr)
        return interrupted_exit()
    print(
        f"\nwrote {out / 'closed_loop.png'}, {out / 'summary.json'} and the "
        f"episodes' CSV logs (training data) under {out}/<model>/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
