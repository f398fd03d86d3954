r"""Evaluate a trained dynamics model: the command line and the public names.

Command line::

    python -m hydrax.dynamics_model_training.evaluate \
        --checkpoint .../best_model.pkl --data-dir hydrax/data_csv/<task> \
        --output-dir results/evaluation [--num-examples 2000] [--horizon 50]

From Python: :func:`evaluate_model` (``evaluation_pipeline.py``). The
pieces: ``evaluation_windows`` (which windows), ``evaluation_metrics``
(errors and bootstrap intervals), ``evaluation_ensemble`` (an ensemble's
mean rollout, disagreement and its correlation with the error),
``evaluation_report`` (printed report and files), ``evaluation_plots`` and
``evaluation_ensemble_plot`` (PNGs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hydrax.dynamics_model_training.checkpoint import CheckpointError
from hydrax.dynamics_model_training.evaluation_metrics import (
    dim_label,
    error_dimensions,
    state_dimensions,
    state_errors,
    wrap_angle,
)
from hydrax.dynamics_model_training.evaluation_pipeline import evaluate_model
from hydrax.dynamics_model_training.evaluation_report import (
    format_report,
    format_value,
    report_steps,
    write_csv,
    write_json,
    write_summary_csv,
)
from hydrax.dynamics_model_training.evaluation_windows import (
    check_data_matches,
)
from hydrax.logs import DataError
from hydrax.utils import (
    DefaultsHelpFormatter,
    command_error,
    command_name,
    command_warnings,
    interrupted_exit,
)

__all__ = [
    "DEFAULT_NUM_EXAMPLES",
    "build_parser",
    "check_data_matches",
    "dim_label",
    "error_dimensions",
    "evaluate_model",
    "format_report",
    "format_value",
    "main",
    "report_steps",
    "state_dimensions",
    "state_errors",
    "wrap_angle",
    "write_csv",
    "write_json",
    "write_summary_csv",
]

DEFAULT_NUM_EXAMPLES = 2000
"""The command line's windows: enough for a stable horizon mean (README)."""


# --- command line -------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog=command_name("hydrax.dynamics_model_training.evaluate"),
        formatter_class=DefaultsHelpFormatter,
        description=(
            "Evaluate a trained dynamics model. From true windows of the "
            "logs, the model predicts the next states step by step, feeding "
            "back its own predictions; its errors per step are compared "
            "with three simple predictors (no change, constant velocity, "
            "a linear fit). Prints the errors with 95% confidence "
            "intervals and writes metrics.json, metrics.csv, summary.csv "
            "and plots. An ensemble's checkpoint is evaluated as planning "
            "rolls it out (the mean of the members' deltas at every step), "
            "each member alone beside it, with the members' disagreement "
            "and its correlation with the true error (ensemble.png)."
        ),
    )
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        required=True,
        type=Path,
        help="model file (.pkl) written by training",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        required=True,
        type=Path,
        nargs="+",
        help="directory of CSV or Parquet logs recorded with the same "
        "MuJoCo model, or several (as train takes them)",
    )
    p.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        default=Path("results/evaluation"),
        help="where the metrics files and plots are written",
    )
    p.add_argument(
        "--num-examples",
        metavar="N",
        type=_positive_int,
        default=DEFAULT_NUM_EXAMPLES,
        help="how many windows (start points in the logs) to evaluate; all "
        "of them when the logs have fewer",
    )
    p.add_argument(
        "--horizon",
        metavar="N",
        type=_positive_int,
        default=None,
        help="how many steps to predict ahead (default: as many as in "
        "training)",
    )
    p.add_argument(
        "--seed",
        metavar="N",
        type=int,
        default=0,
        help="random seed for choosing the windows and for the confidence "
        "intervals",
    )
    p.add_argument(
        "--split",
        choices=("val", "train", "all"),
        default="val",
        help="which log files to evaluate on: those held out from training "
        "(val; when none is in --data-dir, those not trained on), those "
        "trained on (train), or all",
    )
    p.add_argument(
        "--batch-size",
        metavar="N",
        type=_positive_int,
        default=128,
        help="windows predicted at once (affects speed and memory only)",
    )
    p.add_argument(
        "--no-plots",
        action="store_true",
        help="write the metrics files only, no PNG plots",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with command_warnings(parser):
            evaluate_model(
                args.checkpoint,
                args.data_dir[0] if len(args.data_dir) == 1 else args.data_dir,
                num_examples=args.num_examples,
                horizon=args.horizon,
                seed=args.seed,
                split=args.split,
                output_dir=args.output_dir,
                plots=not args.no_plots,
                batch_size=args.batch_size,
            )
    except (DataError, CheckpointError, ValueError, OSError) as e:
        return command_error(parser, e, {"prediction_horizon": "--horizon"})
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return interrupted_exit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
