"""Command-line flags of the training commands.

Only the parsers live here; ``train.main`` (``hydrax-train``) and
``train_double_cart_pole.main`` (``hydrax-train-double-cart-pole``) run
them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hydrax import ROOT
from hydrax.dynamics_model_training.model_io import CHECKPOINT_ROOT
from hydrax.utils import DefaultsHelpFormatter, command_name


def shown_path(path: Path) -> str:
    """A path inside the package as a source checkout's root shows it."""
    return str(Path(ROOT.name) / path.relative_to(ROOT))


def int_list(text: str) -> list[int]:
    """Parse ``"1,2"`` (or ``""``) into a list of ints."""
    text = text.strip()
    if not text:
        return []
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def horizon(text: str) -> int | str:
    """Parse ``--prediction-horizon``: a positive integer or ``auto``."""
    if text.strip() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'auto', got {text!r}"
        )
    return value


def train_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m hydrax.dynamics_model_training.train``."""
    parser = argparse.ArgumentParser(
        prog=command_name("hydrax.dynamics_model_training.train"),
        description=(
            "Train a GRU dynamics model on a directory of CSV or Parquet "
            "trajectory logs. Angle and coordinate indices come from the "
            "directory's manifest.json unless given."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        nargs="+",
        help="directory of trajectory logs (several are pooled)",
    )
    parser.add_argument(
        "--data-weights",
        type=int,
        nargs="+",
        default=None,
        metavar="W",
        help="one positive integer per --data-dir: an epoch takes each "
        "training window of that directory's files W times (default: once "
        "each; validation is never weighted)",
    )
    parser.add_argument(
        "--task-name",
        required=True,
        help="names the checkpoint folder <checkpoint-dir>/<task-name>; "
        "with --prediction-horizon auto and logs whose manifest names no "
        "task, a built-in task's name also picks the planning horizon",
    )
    parser.add_argument(
        "--angle-indices",
        type=int_list,
        default=None,
        help='qpos indices of angles, e.g. "1,2" (default: from the '
        "data's manifest.json)",
    )
    parser.add_argument(
        "--coordinate-indices",
        type=int_list,
        default=None,
        help='qpos indices of Cartesian coordinates, e.g. "0" (default: '
        "from the data's manifest.json)",
    )
    parser.add_argument(
        "--quat-indices",
        type=int_list,
        default=None,
        help='first qpos index of each free/ball joint quaternion, e.g. "3" '
        "(default: from the data's manifest.json)",
    )
    parser.add_argument(
        "--heading-frame",
        action="store_true",
        help="express free joints in their heading (yaw) frame, so the "
        "model does not depend on where the robot faces",
    )
    add_training_arguments(parser, prediction_horizon="auto")
    return parser


def add_training_arguments(
    parser: argparse.ArgumentParser,
    prediction_horizon: int | str = 9,
    task: str | None = None,
) -> None:
    """The model and training flags shared by the training commands.

    ``prediction_horizon`` is the flag's default: ``train`` matches the
    task's planning horizon (``auto``); the task commands keep the original
    module's 9. ``task`` names a task command's own task in the help (None:
    ``train``'s ``--task-name``).
    """
    auto = (
        "the planning horizon of the task's default controller in model "
        "steps when --task-name is a built-in task with one (80 for "
        "double_cart_pole, 50 for hopper and quadruped), else 9"
        if task is None
        else f"the planning horizon of {task}'s default controller in model "
        "steps, for a model to plan with"
    )
    folder = "<task-name>" if task is None else task
    # Long by nature: one add_argument per flag, each with its help line.
    g = parser.add_argument_group("model and training")
    g.add_argument(
        "--mode",
        choices=("window", "recurrent"),
        default="window",
        help="window: the GRU reads the whole history window again for "
        "every prediction; recurrent: its hidden state is carried from one "
        "prediction to the next (faster to train and to plan with)",
    )
    g.add_argument(
        "--delta",
        choices=("state", "velocity"),
        default="state",
        help="what the network predicts: state, the whole delta of the next "
        "state; velocity (the structured delta), only the velocity change, "
        "the positions then integrated from the new velocity as MuJoCo's "
        "semi-implicit Euler step does (needs the logs of one physics step "
        "per row)",
    )
    g.add_argument(
        "--hidden-size", type=int, default=128, help="GRU hidden units"
    )
    g.add_argument(
        "--history-length",
        type=int,
        default=11,
        help="rows of (state, control) history the model reads",
    )
    g.add_argument(
        "--prediction-horizon",
        type=horizon,
        default=prediction_horizon,
        help="steps predicted autoregressively in the training loss; auto: "
        + auto,
    )
    g.add_argument(
        "--batch-size", type=int, default=32, help="windows per step"
    )
    g.add_argument(
        "--epochs",
        type=int,
        default=100,
        dest="num_epochs",
        help="passes over the training windows",
    )
    g.add_argument(
        "--learning-rate", type=float, default=1e-3, help="peak learning rate"
    )
    g.add_argument(
        "--weight-decay", type=float, default=1e-5, help="AdamW weight decay"
    )
    g.add_argument(
        "--seed",
        type=int,
        default=42,
        help="seeds the split, the initial weights and the shuffles",
    )
    g.add_argument(
        "--num-models",
        type=int,
        default=1,
        help="train an ensemble of this many members at once (different "
        "initial weights and shuffles; saved in one checkpoint)",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="share of the log files held out for validation",
    )
    g.add_argument(
        "--grad-clip",
        type=float,
        default=1.0,
        help="global-norm gradient clipping; 0 switches it off",
    )
    g.add_argument(
        "--lr-schedule",
        choices=("cosine", "constant"),
        default="cosine",
        help="cosine: warm-up then cosine decay; constant: no schedule",
    )
    g.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after this many epochs without a better validation loss "
        "(default: never stop early)",
    )
    g.add_argument(
        "--save-every",
        type=int,
        default=10,
        help="also write model_epoch_<N>.pkl every this many epochs (0: never)",
    )
    g.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=None,
        help="root of checkpoint folders; a run writes to "
        f"<checkpoint-dir>/{folder} (default: "
        f"{shown_path(CHECKPOINT_ROOT)})",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue from last.pkl in the checkpoint folder",
    )
    g.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start from the weights of a trained checkpoint; an "
        "ensemble's checkpoint needs --num-models of its size (each member "
        "starts from its own weights) (default: random initial weights)",
    )
    g.add_argument(
        "--max-rows-in-memory",
        type=int,
        default=None,
        help="read the logs in blocks of whole files of at most this many "
        "rows, for datasets larger than memory (default: all in memory)",
    )
    g.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar"
    )
    d = parser.add_argument_group(
        "training on several machines (jax.distributed; all local devices "
        "are always used)"
    )
    d.add_argument(
        "--coordinator-address",
        default=None,
        help="host:port of process 0 (default: one machine)",
    )
    d.add_argument(
        "--num-processes",
        type=int,
        default=None,
        help="processes taking part (default: one machine)",
    )
    d.add_argument(
        "--process-id",
        type=int,
        default=None,
        help="this process's rank, 0 .. num-processes - 1 (default: one "
        "machine)",
    )


def training_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``train_dynamics_model`` keyword arguments from parsed flags."""
    return {
        "mode": args.mode,
        "delta": args.delta,
        "hidden_size": args.hidden_size,
        "history_length": args.history_length,
        "prediction_horizon": args.prediction_horizon,
        "batch_size": args.batch_size,
        "num_epochs": args.num_epochs,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "seed": args.seed,
        "val_fraction": args.val_fraction,
        "grad_clip": args.grad_clip or None,
        "lr_schedule": args.lr_schedule,
        "patience": args.patience,
        "save_every": args.save_every,
        "checkpoint_dir": args.checkpoint_dir,
        "resume": args.resume,
        "init_from": args.init_from,
        "progress": not args.no_progress,
        "max_rows_in_memory": args.max_rows_in_memory,
        "num_models": args.num_models,
        # Only `train` has --data-dir lists (the per-task commands one).
        "data_weights": getattr(args, "data_weights", None),
    }
