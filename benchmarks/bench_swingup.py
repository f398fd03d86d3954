"""Learned-model swing-up: data budget, training time and trial success.

    python benchmarks/bench_swingup.py                    # pendulum, cart pole
    python benchmarks/bench_swingup.py --tasks cart_pole --trial-seeds 5
    python benchmarks/bench_swingup.py --energy-fraction 0   # LQR + random only
    python benchmarks/bench_swingup.py --tasks double_cart_pole
    python benchmarks/bench_swingup.py --tasks double_cart_pole \
        --train-seeds 0 1 2 --num-samples 256
    python benchmarks/bench_swingup.py --tasks double_cart_pole \
        --train-seeds 0 1 2 --no-true --aggregate 4

Per task: collects with the project's collection (``python -m
hydrax.simulation.collect``, policy ``mix``: energy swing-up episodes, LQR
episodes around upright, random episodes), trains a recurrent GRU with the
project's training command (``python -m hydrax.dynamics_model_training.train``)
and runs the swing-up trial (start hanging at rest, 10 s, upright in every
state of the last 2 s) with the task's default controller on trial seeds
0 .. n - 1, planning on the true model (MJX) and on the learned one
(``--num-samples`` overrides the controller's sample count for both). With
several ``--train-seeds`` it trains one model per seed on the same logs.
With ``--aggregate N`` each model then runs N rounds of data aggregation
(``python -m hydrax.simulation.aggregate --trial swingup``: 10 closed-loop
episodes with exploration noise, 3 fine-tuning epochs, 10 trials on seeds
1000-1009 per round, ``--round-trials 0`` for none) and the last round's
model runs the same trials.
Prints one table: rows logged, simulated minutes, collect and train wall
time, true and learned success, milliseconds per replanning; with
``--aggregate``, also the last round's success on the trial seeds, the
rounds' wall time and each round's success on seeds 1000-1009 (those
trials at the controller's default sample count).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_table import machine_lines  # noqa: E402

EPISODES = {"pendulum": 60, "cart_pole": 100, "double_cart_pole": 150}
EPOCHS = {"pendulum": 8, "cart_pole": 10, "double_cart_pole": 10}
HIDDEN = {"pendulum": 64, "cart_pole": 64, "double_cart_pole": 128}
BATCH = {"pendulum": 64, "cart_pole": 64, "double_cart_pole": 32}
HISTORY = {"pendulum": 11, "cart_pole": 11, "double_cart_pole": 6}
DURATION = {"pendulum": 10.0, "cart_pole": 10.0, "double_cart_pole": 5.0}
# The double cart pole has no energy law: its swing-up data is LQR episodes
# (the --episodes) plus short random-control episodes from states spread over
# every angle (the whole circle for both poles) and ±π in x and every
# velocity, so the logs cover the states a swing-up passes through.
BROAD = {
    "double_cart_pole": [
        "--policy",
        "random",
        "--episodes",
        "600",
        "--duration",
        "2",
        "--init-spread",
        "3.14",
    ]
}


def _parser() -> argparse.ArgumentParser:
    from hydrax.utils import DefaultsHelpFormatter

    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "--tasks",
        nargs="+",
        choices=sorted(EPISODES),
        default=["pendulum", "cart_pole"],
        help="the tasks to run",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path("results/bench_swingup"),
        help="where the logs, checkpoints and trial logs go (overwritten)",
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="episodes to collect (none given: pendulum 60, cart pole 100, "
        "double cart pole 150 LQR episodes of --duration plus 600 broad "
        "random ones of 2 s)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="simulated seconds per collected episode (none given: 10; "
        "the double cart pole's LQR episodes 5)",
    )
    p.add_argument(
        "--energy-fraction",
        type=float,
        default=None,
        help="share of energy swing-up episodes (none given: collect's "
        "default, 0.5)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (none given: pendulum 8, cart pole 10)",
    )
    p.add_argument(
        "--hidden-size",
        type=int,
        default=None,
        help="GRU hidden units (none given: 64; double cart pole 128)",
    )
    p.add_argument(
        "--prediction-horizon",
        type=int,
        default=40,
        help="steps predicted autoregressively in the training loss",
    )
    p.add_argument(
        "--trial-seeds",
        type=int,
        default=10,
        help="swing-up trials per planner model (seeds 0 .. n - 1)",
    )
    p.add_argument(
        "--train-seeds",
        type=int,
        nargs="+",
        default=None,
        help="train one model per seed on the same logs (none given: one "
        "model at train's default seed)",
    )
    p.add_argument(
        "--num-samples",
        type=int,
        default=None,
        help="control sequences per replanning, for the true and the "
        "learned model (none given: the task's swing-up default: 256 for "
        "the double cart pole, 128 for the others)",
    )
    p.add_argument(
        "--no-true",
        action="store_true",
        help="skip the true-model (MJX) trials (the slow ones on a CPU)",
    )
    p.add_argument(
        "--aggregate",
        type=int,
        default=0,
        metavar="N",
        help="rounds of swing-up data aggregation after training, each "
        "model's last round then runs the trials too (0: none)",
    )
    p.add_argument(
        "--round-trials",
        type=int,
        default=10,
        metavar="N",
        help="with --aggregate: trials on seeds 1000 .. 1000 + N - 1 after "
        "each round (0: none; a round then takes about a third of the time)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the rows as JSON here",
    )
    return p


def _trials(
    name: str, task: object, seeds: range, out: Path, num_samples: int | None
) -> dict:
    """Swing-up trials of one planner model: successes and ms/replan."""
    from hydrax.simulation.compare import run_condition

    overrides = {} if num_samples is None else {"num_samples": num_samples}
    summary = run_condition(
        name, task, "swingup", seeds, out, overrides, log=False
    )
    d = summary.as_dict()
    ok = zip(seeds, d["successes"], strict=True)
    return {
        "successes": sum(d["successes"]),
        "succeeded_seeds": [seed for seed, success in ok if success],
        "ms": d["replan_ms_mean"],
    }


def _aggregated(
    task_name: str,
    checkpoint: Path,
    data_dirs: list[Path],
    out: Path,
    seeds: range,
    args: argparse.Namespace,
) -> dict:
    """Aggregation rounds from one checkpoint, then the last one's trials."""
    from hydrax.simulation.aggregate import aggregate
    from hydrax.simulation.controllers import learned_task

    start = time.perf_counter()
    records = aggregate(
        task_name,
        checkpoint,
        data_dirs,
        iterations=args.aggregate,
        episodes=10,
        epochs=3,
        trials=args.round_trials,
        out_dir=out / "aggregate",
        trial="swingup",
    )
    seconds = time.perf_counter() - start
    last = Path(records[-1]["checkpoint"])
    result = _trials(
        f"learned_{out.name}_aggregated",
        learned_task(task_name, last),
        seeds,
        out.parent,
        args.num_samples,
    )
    result["aggregate_s"] = seconds
    result["rounds_heldout"] = [
        r["success_rate"] for r in records if "success_rate" in r
    ]
    return result


def run_task(task_name: str, args: argparse.Namespace) -> list[dict]:
    """Collect, train and run the trials of one task: a row per model."""
    from hydrax.dynamics_model_training.train import main as train_main
    from hydrax.logs import read_manifest
    from hydrax.simulation.collect import main as collect_main
    from hydrax.simulation.controllers import learned_task
    from hydrax.tasks import get_task

    work = args.work_dir / task_name
    data = work / "data"
    argv = [
        "--task", task_name,
        "--episodes", str(args.episodes or EPISODES[task_name]),
        "--duration", str(args.duration or DURATION[task_name]),
        "--out-dir", str(data),
        "--overwrite", "--quiet",
    ]  # fmt: skip
    if args.energy_fraction is not None:
        argv += ["--energy-fraction", str(args.energy_fraction)]
    if task_name in BROAD:
        argv += ["--policy", "lqr"]
    runs = [(data, argv)]
    if task_name in BROAD:
        broad = work / "data_broad"
        runs.append((broad, [
            "--task", task_name, "--out-dir", str(broad),
            "--overwrite", "--quiet", *BROAD[task_name],
        ]))  # fmt: skip
    start = time.perf_counter()
    rows = 0
    for folder, collect_argv in runs:
        if collect_main(collect_argv):
            raise SystemExit(f"collection failed for {task_name}")
        rows += read_manifest(folder).collection[-1]["rows"]
    collect_s = time.perf_counter() - start
    manifest = read_manifest(data)
    seeds = range(args.trial_seeds)
    base = {
        "task": task_name,
        "rows": rows,
        "sim_minutes": rows * manifest.dt / 60.0,
        "collect_s": collect_s,
        "seeds": len(seeds),
    }
    true = None
    if not args.no_true:
        true = _trials(
            "true", get_task(task_name), seeds, work, args.num_samples
        )
    out = []
    for train_seed in args.train_seeds or [None]:
        name = "checkpoints" if train_seed is None else f"seed{train_seed}"
        trial_name = "learned" if train_seed is None else f"learned_{name}"
        start = time.perf_counter()
        status = train_main([
            "--data-dir", *(str(folder) for folder, _ in runs),
            "--task-name", task_name,
            "--mode", "recurrent",
            "--hidden-size", str(args.hidden_size or HIDDEN[task_name]),
            "--history-length", str(HISTORY[task_name]),
            "--prediction-horizon", str(args.prediction_horizon),
            "--batch-size", str(BATCH[task_name]),
            "--epochs", str(args.epochs or EPOCHS[task_name]),
            "--checkpoint-dir", str(work / name),
            "--no-progress",
            *([] if train_seed is None else ["--seed", str(train_seed)]),
        ])  # fmt: skip
        if status:
            raise SystemExit(f"training failed for {task_name}")
        row = dict(base, train_seed=train_seed)
        row["train_s"] = time.perf_counter() - start
        if true is not None:
            row["true"] = true
        checkpoint = work / name / task_name / "best_model.pkl"
        learned = learned_task(task_name, checkpoint)
        row["learned"] = _trials(
            trial_name, learned, seeds, work, args.num_samples
        )
        if args.aggregate:
            row["aggregated"] = _aggregated(
                task_name, checkpoint, [f for f, _ in runs], work / name,
                seeds, args,
            )  # fmt: skip
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def _cell(row: dict, key: str) -> tuple[str, str]:
    """Success text and ms/replan text of one planner model."""
    if key not in row:
        return "-", "-"
    r = row[key]
    return f"{r['successes']}/{row['seeds']}", f"{r['ms']:.0f}"


def format_table(rows: list[dict]) -> str:
    """The Markdown table."""
    agg = any("aggregated" in r for r in rows)
    extra = (
        " learned after aggregation | aggregation s "
        "| success per round, seeds 1000-1009 |"
    )
    lines = [
        "| task | rows logged | simulated min | collect s | train s "
        "| true success | learned success | ms/replan true / learned |"
        + (extra if agg else ""),
        "| --- " * (11 if agg else 8) + "|",
    ]
    for r in rows:
        true_ok, true_ms = _cell(r, "true")
        learned_ok, learned_ms = _cell(r, "learned")
        task = r["task"]
        if r.get("train_seed") is not None:
            task += f", training seed {r['train_seed']}"
        line = (
            f"| {task} | {r['rows']:,} | {r['sim_minutes']:.1f} "
            f"| {r['collect_s']:.1f} | {r['train_s']:.0f} | {true_ok} "
            f"| {learned_ok} | {true_ms} / {learned_ms} |"
        )
        if agg:
            a = r.get("aggregated")
            per_round = " → ".join(
                f"{x:.0%}" for x in (a or {}).get("rounds_heldout", [])
            )
            line += (
                " - | - | - |"
                if a is None
                else f" {_cell(r, 'aggregated')[0]} | {a['aggregate_s']:.0f} "
                f"| {per_round or '-'} |"
            )
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    from hydrax.utils import enable_compilation_cache

    p = _parser()
    args = p.parse_args(argv)
    if args.num_samples is not None and args.num_samples < 1:
        p.error("--num-samples must be >= 1")
    if args.train_seeds and len(set(args.train_seeds)) < len(args.train_seeds):
        p.error("--train-seeds: each seed once")
    if args.aggregate < 0:
        p.error("--aggregate must be >= 0")
    if args.round_trials < 0:
        p.error("--round-trials must be >= 0")
    print("\n".join(machine_lines()), flush=True)
    enable_compilation_cache()
    rows = []
    for task_name in args.tasks:
        rows += run_task(task_name, args)
    table = format_table(rows)
    print("\n" + table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
