"""Learned-model balance control: a single model against an ensemble.

    python benchmarks/bench_control.py                       # 3 x 10 trials
    python benchmarks/bench_control.py --trial-seeds 5 --num-models 1 5
    python benchmarks/bench_control.py --out results/bench_control.json

With the demo's data recipe (``python -m hydrax.demo``: LQR logs around
upright with noise, a recurrent GRU, prediction horizon 40, its epochs and
learning rate), trains one model per training seed and ensemble size, then
runs the balance trial (upright for 5 s in the MuJoCo plant) with the
default double cart pole controller on trial seeds 0 .. n - 1, planning on
the true model (MJX) and on every learned model (each ensemble with each
``--strategies`` entry). Prints one table of successes per row; every
trial is appended to ``--out`` as it finishes (a JSON list), so a stopped
run keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_table import machine_lines  # noqa: E402

TASK = "double_cart_pole"


def _parser() -> argparse.ArgumentParser:
    from hydrax.utils import DefaultsHelpFormatter

    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path("results/bench_ctl"),
        help="where the logs and checkpoints go (reused by a later run)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="JSON list of every trial"
    )
    p.add_argument(
        "--train-seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="one model (or ensemble) trained per seed",
    )
    p.add_argument(
        "--trial-seeds",
        type=int,
        default=10,
        help="trials on seeds 0 .. n - 1 per planner model",
    )
    p.add_argument(
        "--num-models",
        type=int,
        nargs="+",
        default=[1, 5],
        help="ensemble sizes to train (1 = a single model)",
    )
    p.add_argument(
        "--strategies",
        nargs="+",
        default=["mean"],
        choices=("ts", "mean", "members"),
        help="how an ensemble plans: the members' mean, one per sample, or "
        "every member per sample",
    )
    p.add_argument(
        "--disagreement-weight",
        type=float,
        default=0.0,
        help="weight of the members' disagreement in the running cost",
    )
    p.add_argument(
        "--episodes", type=int, default=150, help="LQR episodes collected"
    )
    p.add_argument(
        "--duration", type=float, default=4.0, help="seconds per episode"
    )
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.add_argument("--no-true", action="store_true", help="skip MJX rows")
    return p


def _data(args: argparse.Namespace) -> Path:
    from hydrax.simulation.collection import collect

    data = args.work_dir / "data"
    if not any(data.glob("*.csv")):
        collect(
            TASK,
            out_dir=data,
            episodes=args.episodes,
            duration=args.duration,
            seed=0,
            policy="lqr",
            noise_std=0.5,
            init_spread=0.15,
            progress=False,
        )
    return data


def _train(args: argparse.Namespace, data: Path, seed: int, n: int) -> tuple:
    from hydrax.dynamics_model_training.checkpoint import read_checkpoint
    from hydrax.dynamics_model_training.train import train_dynamics_model

    name = f"seed{seed}_n{n}"
    best = args.work_dir / "ckpt" / name / "best_model.pkl"
    last = best.with_name("last.pkl")
    if last.exists() and read_checkpoint(last)["epoch"] >= args.epochs:
        return best, None  # trained by an earlier run
    t0 = time.perf_counter()
    train_dynamics_model(
        data,
        name,
        coordinate_indices=[0],
        angle_indices=[1, 2],
        hidden_size=128,
        history_length=6,
        prediction_horizon=40,
        num_epochs=args.epochs,
        learning_rate=3e-3,
        seed=seed,
        mode="recurrent",
        num_models=n,
        checkpoint_dir=args.work_dir / "ckpt",
        progress=False,
        log=lambda s: print(f"  [{name}] {s}", flush=True),
    )
    return best, time.perf_counter() - t0


def _trials(args: argparse.Namespace, label: str, task: object) -> list:
    from hydrax.simulation.controllers import default_controller
    from hydrax.simulation.trials import balance_trial

    controller = default_controller(task)
    out = []
    for seed in range(args.trial_seeds):
        r = balance_trial(task, controller, seed)
        rec = {
            "row": label,
            "trial_seed": seed,
            "success": bool(r.success),
            "seconds": float(r.episode.duration),
            "ms_per_replan": 1e3 * float(np.mean(r.episode.replan_seconds)),
        }
        print(json.dumps(rec), flush=True)
        out.append(rec)
        if args.out:
            old = json.loads(args.out.read_text()) if args.out.exists() else []
            args.out.write_text(json.dumps([*old, rec], indent=1))
    return out


def _table(records: list) -> None:
    rows: dict[str, list] = {}
    for rec in records:
        key = rec["row"].rsplit(" seed", 1)[0]
        rows.setdefault(key, []).append(rec)
    print(f"\n{'planner dynamics':28s} {'success':>9s} {'ms/replan':>10s}")
    for key, recs in rows.items():
        ok = sum(r["success"] for r in recs)
        ms = np.mean([r["ms_per_replan"] for r in recs])
        print(f"{key:28s} {ok:>4d}/{len(recs):<4d} {ms:10.0f}")


def main(argv: list[str] | None = None) -> int:
    """Collect, train, run the trials, print the table."""
    args = _parser().parse_args(argv)
    print("\n".join(machine_lines()), flush=True)
    from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics
    from hydrax.tasks.double_cart_pole import DoubleCartPole
    from hydrax.utils import enable_compilation_cache

    enable_compilation_cache()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    data = _data(args)
    records = []
    if not args.no_true:
        records += _trials(args, "true (MJX)", DoubleCartPole())
    for seed in args.train_seeds:
        for n in args.num_models:
            best, secs = _train(args, data, seed, n)
            if secs is not None:
                print(f"trained {best} in {secs:.0f} s", flush=True)
            for strategy in args.strategies if n > 1 else ["-"]:
                dyn = NeuralNetworkDynamics.load_params(
                    DoubleCartPole().model,
                    best,
                    strategy=strategy if n > 1 else "ts",
                    # a weight only means something for an ensemble's mean
                    disagreement_weight=args.disagreement_weight
                    if strategy == "mean"
                    else 0.0,
                )
                label = f"learned N={n}" + (f" {strategy}" if n > 1 else "")
                records += _trials(
                    args,
                    f"{label} seed{seed}",
                    DoubleCartPole(custom_dynamics=dyn),
                )
    _table(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
