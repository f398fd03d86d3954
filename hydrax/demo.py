"""The main job on the built-in double cart pole, end to end.

``python -m hydrax.demo``: collect logs on the MuJoCo plant, train a GRU
dynamics model, evaluate it against baselines, then balance the double cart
pole in the MuJoCo plant with MPC planning on the true (MJX) model and on
the learned model, and print the comparison. Small defaults: it finishes
within about 15 minutes on a 2-core CPU. Every output path is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hydrax import ROOT
from hydrax.atomic import sigint_kept
from hydrax.planning_options import add_learned_planning_options
from hydrax.utils import (
    DefaultsHelpFormatter,
    command_error,
    command_name,
    interrupted_exit,
)

TASK = "double_cart_pole"


def _section(title: str) -> float:
    print(f"\n=== {title} " + "=" * max(0, 60 - len(title)), flush=True)
    return time.perf_counter()


def _parser() -> argparse.ArgumentParser:
    """The command line."""
    # Long by nature: one add_argument per flag, each with its help line.
    p = argparse.ArgumentParser(
        prog=command_name("hydrax.demo"),
        formatter_class=DefaultsHelpFormatter,
        description=(
            "Collect data on the double cart pole, train a recurrent (GRU) "
            "model of its dynamics, evaluate it, and balance the plant with "
            "a sampling-based planner (MPC) that predicts with the true "
            "physics and with the learned model."
        ),
    )
    p.add_argument(
        "--episodes", type=int, default=150, help="episodes to collect"
    )
    p.add_argument(
        "--duration",
        type=float,
        default=4.0,
        help="simulated seconds per collected episode",
    )
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.add_argument(
        "--hidden-size",
        type=int,
        default=128,
        help="width of the model's recurrent (GRU) layer",
    )
    p.add_argument(
        "--prediction-horizon",
        type=int,
        default=40,
        help="how many steps ahead the model is trained to predict; "
        "planning looks 80 steps ahead, and a model trained to predict 10 "
        "steps balanced 0/3 trials where 40 steps balanced 10/10",
    )
    p.add_argument(
        "--mode",
        choices=("recurrent", "window"),
        default="recurrent",
        help="how the model is rolled out: recurrent carries its memory "
        "from step to step, window re-reads a fixed span of past states; "
        "recurrent plans about 10x faster",
    )
    p.add_argument(
        "--num-models",
        type=int,
        default=5,
        help="train an ensemble of this many models at once and plan with "
        "all of them (see --strategy); 5 models balanced 30 of 30 trials "
        "where one model balanced 18 of 30 (README, 'Planning with an "
        "ensemble'), "
        "and train in about 9 minutes on 2 cores; 1 is about 5x faster",
    )
    add_learned_planning_options(p)
    p.add_argument(
        "--trials", type=int, default=3, help="balance trials per model"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of every stage"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="dataset folder, reused when it holds logs unless --fresh "
        f"(none given: hydrax/data_csv/{TASK} inside the package)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=Path("results") / "demo",
        help="evaluation plots, metrics and closed-loop logs",
    )
    p.add_argument("--fresh", action="store_true", help="recollect the dataset")
    return p


def _collect_stage(args: argparse.Namespace) -> None:
    """1/4: collect LQR logs unless the data directory has some."""
    from hydrax.logs import holds_logs
    from hydrax.simulation.collection import collect

    t0 = _section("1/4 collect")
    logs = holds_logs(args.data_dir)
    if args.fresh or not logs:
        collect(
            TASK,
            out_dir=args.data_dir,
            episodes=args.episodes,
            duration=args.duration,
            seed=args.seed,
            # LQR around upright with strong smooth noise and spread-out
            # starts: the states a balancing MPC visits.
            policy="lqr",
            noise_std=0.5,
            init_spread=0.15,
            # A folder without logs loses at most a stale manifest.
            overwrite=True,
        )
    else:
        print(f"reusing the logs in {args.data_dir} (--fresh recollects)")
    print(f"data: {args.data_dir}  ({time.perf_counter() - t0:.0f} s)")


def _train_stage(args: argparse.Namespace) -> Path:
    """2/4: train the model; returns its best checkpoint."""
    from hydrax.dynamics_model_training.model_io import CHECKPOINT_ROOT
    from hydrax.dynamics_model_training.train import train_dynamics_model

    t0 = _section("2/4 train")
    _, history = train_dynamics_model(
        args.data_dir,
        TASK,
        coordinate_indices=[0],
        angle_indices=[1, 2],
        hidden_size=args.hidden_size,
        history_length=6,
        prediction_horizon=args.prediction_horizon,
        num_epochs=args.epochs,
        learning_rate=3e-3,
        seed=args.seed,
        mode=args.mode,
        num_models=args.num_models,
    )
    best = CHECKPOINT_ROOT / TASK / "best_model.pkl"
    print(
        f"checkpoint: {best} (best val loss {history['best_val_loss']:.4g}, "
        f"{time.perf_counter() - t0:.0f} s)"
    )
    return best


def _evaluate_stage(args: argparse.Namespace, best: Path) -> None:
    """3/4: open-loop evaluation plots and metrics."""
    from hydrax.dynamics_model_training.evaluate import evaluate_model

    t0 = _section("3/4 evaluate")
    eval_dir = args.output_dir / "evaluation"
    evaluate_model(
        best,
        args.data_dir,
        num_examples=200,
        horizon=50,
        output_dir=eval_dir,
        seed=args.seed,
    )
    print(f"evaluation: {eval_dir}  ({time.perf_counter() - t0:.0f} s)")


def _control_stage(args: argparse.Namespace, best: Path) -> None:
    """4/4: balance trials planning on the true and the learned model."""
    from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics
    from hydrax.simulation.closed_loop_plot import plot_conditions
    from hydrax.simulation.compare import ConditionSummary
    from hydrax.simulation.controllers import default_controller
    from hydrax.simulation.run_logs import RunLogs
    from hydrax.simulation.trials import run_trial
    from hydrax.tasks.double_cart_pole import DoubleCartPole

    t0 = _section("4/4 control: balance trials in the MuJoCo plant")
    true_task = DoubleCartPole()
    learned = NeuralNetworkDynamics.load_params(
        model=true_task.model,
        path=best,
        strategy=args.strategy,
        matmul_dtype=args.matmul_dtype,
    )
    gru = "GRU" if learned.num_models == 1 else f"{learned.num_models} GRUs"
    rows = []
    for name, task in (
        ("true model (MJX)", true_task),
        (f"learned model ({gru})", DoubleCartPole(custom_dynamics=learned)),
    ):
        controller = default_controller(task)
        log_dir = args.output_dir / "closed_loop" / name.split()[0]
        logs = RunLogs(log_dir, "seed_*.csv")
        results = []
        try:
            for k in range(args.trials):
                seed = args.seed + k
                path = log_dir / f"seed_{seed:03d}.csv"
                r = run_trial("balance", task, controller, seed, progress=True)
                logs.write(path, r.episode)
                results.append(r)
                print(
                    f"  {name}: seed {seed} "
                    f"{'upright for 5 s' if r.success else 'FELL'} "
                    f"({1e3 * np.mean(r.episode.replan_seconds):.0f} ms/"
                    "replan)",
                    flush=True,
                )
        finally:  # training reads the folder as is, Ctrl-C or not
            logs.finish(task)
        rows.append((name, results, log_dir))
    print("\nbalance trial (upright for 5 s; README.md, section Trials):")
    print(f"  {'planner dynamics':22s} {'success':>9s} {'ms/replan':>10s}")
    for name, results, _ in rows:
        ok = sum(r.success for r in results)
        ms = 1e3 * np.mean(
            np.concatenate([r.episode.replan_seconds for r in results])
        )
        print(f"  {name:22s} {ok:>4d}/{len(results):<4d} {ms:10.0f}")
    plot = args.output_dir / "evaluation" / "closed_loop_balance.png"
    plot_conditions(
        true_task,
        [
            ConditionSummary(name.split()[0], results)
            for name, results, _ in rows
        ],
        plot,
        "balance",
    )
    print(f"closed-loop plot (tip height, cart position): {plot}")
    print(
        "closed-loop logs (valid training data): "
        f"{args.output_dir / 'closed_loop'}"
    )
    print(f"({time.perf_counter() - t0:.0f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run collect → train → evaluate → control."""
    p = _parser()
    args = p.parse_args(argv)
    if args.data_dir is None:
        args.data_dir = ROOT / "data_csv" / TASK
    for name in (
        "episodes",
        "epochs",
        "trials",
        "hidden_size",
        "prediction_horizon",
        "num_models",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")

    from hydrax.utils import enable_compilation_cache

    enable_compilation_cache()
    t_all = time.perf_counter()
    collected = False
    try:
        with sigint_kept():  # a Ctrl-C Python swallows is raised again
            _collect_stage(args)
            collected = True
    except ValueError as e:  # an option out of range (e.g. --duration)
        p.error(str(e))
    except KeyboardInterrupt as stop:  # its notes say what was kept
        done = f"the dataset in {args.data_dir} is complete"
        kept = getattr(stop, "__notes__", None) or [
            done if collected else "nothing was written"
        ]
        print(f"{p.prog}: interrupted; {'; '.join(kept)}", file=sys.stderr)
        return interrupted_exit()
    from hydrax.dynamics_model_training.trainer import TrainingDiverged

    best = None
    try:
        with sigint_kept():
            best = _train_stage(args)
            _evaluate_stage(args, best)
            _control_stage(args, best)
    except KeyboardInterrupt as stop:
        said = _left_by(stop, best)
        print(f"{p.prog}: interrupted; {said}", file=sys.stderr)
        return interrupted_exit()
    except (ValueError, OSError, TrainingDiverged) as e:  # as train's
        return command_error(p, e)
    print(f"\ndone in {time.perf_counter() - t_all:.0f} s")
    return 0


def _left_by(stop: KeyboardInterrupt, best: Path | None) -> str:
    """What a Ctrl-C after the collection leaves on disk.

    ``best`` is the trained model's checkpoint, None until training ends.
    """
    from hydrax.dynamics_model_training.trainer import TrainingInterrupted

    if isinstance(stop, TrainingInterrupted) and stop.checkpoint_dir:
        return (
            f"the checkpoints in {stop.checkpoint_dir} hold the last good model"
        )
    if best is None:  # in training, before its first epoch ended
        return "no checkpoint was written yet"
    return (
        f"the model is in {best}; a trial's log is written when the trial ends"
    )


if __name__ == "__main__":
    sys.exit(main())
