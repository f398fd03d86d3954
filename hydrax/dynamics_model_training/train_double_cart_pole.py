"""Train a dynamics model for the double cart pole with the seed's defaults.

``python -m hydrax.dynamics_model_training.train_double_cart_pole`` trains
on ``hydrax/data_csv/double_cart_pole``; when that holds no CSV logs it
first collects a default dataset there (and says so). Checkpoints go to
``hydrax/dynamics_model_training/checkpoints/double_cart_pole/``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hydrax import ROOT
from hydrax.dynamics_model_training.train import run_training_cli
from hydrax.dynamics_model_training.training_cli import (
    HelpFormatter,
    add_training_arguments,
    shown_path,
)

TASK = "double_cart_pole"
DATA_DIR = ROOT / "data_csv" / TASK
COORDINATE_INDICES = [0]
ANGLE_INDICES = [1, 2]


def ensure_dataset(
    data_dir: Path, episodes: int = 200, duration: float = 5.0, seed: int = 0
) -> Path:
    """Collect the default double cart pole dataset if ``data_dir`` is empty.

    Episodes are LQR-stabilized around upright with smooth control noise and
    random initial states, mixed with smooth random-control episodes
    (``hydrax.simulation.collect``).
    """
    if data_dir.exists() and any(data_dir.glob("*.csv")):
        return data_dir
    from hydrax.simulation.collect import collect

    print(
        f"{data_dir} holds no CSV logs: collecting {episodes} episodes of "
        f"{duration:g} s first"
    )
    return collect(
        TASK, out_dir=data_dir, episodes=episodes, duration=duration, seed=seed
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Collect data if needed, then train with the seed's defaults."""
    parser = argparse.ArgumentParser(
        prog="python -m hydrax.dynamics_model_training.train_double_cart_pole",
        description=(
            "Train a GRU dynamics model for the built-in double cart pole "
            "(coordinate_indices=[0], angle_indices=[1, 2]), collecting a "
            "default dataset first if the data directory is empty."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="directory of trajectory logs, collected first when it holds "
        f"none (default: {shown_path(DATA_DIR)})",
    )
    parser.add_argument(
        "--collect-episodes",
        type=int,
        default=200,
        help="episodes to collect when the data directory is empty",
    )
    add_training_arguments(parser)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir or DATA_DIR
    try:
        ensure_dataset(args.data_dir, episodes=args.collect_episodes)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return run_training_cli(
        parser,
        args,
        data_dir=args.data_dir,
        task_name=TASK,
        coordinate_indices=COORDINATE_INDICES,
        angle_indices=ANGLE_INDICES,
    )


if __name__ == "__main__":
    sys.exit(main())
