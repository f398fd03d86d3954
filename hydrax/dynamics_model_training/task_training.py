"""Train a built-in task's dynamics model: collect a default dataset first.

The shared core of ``train_double_cart_pole`` and ``train_cart_pole``: the
task's data directory (``hydrax/data_csv/<task>``) is filled with a default
dataset when it holds no logs, then training runs with the task's qpos
indices and every hyperparameter a flag (``--help`` lists the defaults).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hydrax import ROOT
from hydrax.dynamics_model_training.train import run_training_cli
from hydrax.dynamics_model_training.training_cli import (
    add_training_arguments,
    shown_path,
)
from hydrax.logs import DataError, holds_logs, read_manifest
from hydrax.utils import (
    DefaultsHelpFormatter,
    command_error,
    command_name,
    interrupted_exit,
)


def default_data_dir(task: str) -> Path:
    """Where a built-in task's logs live, ``hydrax/data_csv/<task>``."""
    return ROOT / "data_csv" / task


def ensure_task_dataset(
    task: str,
    data_dir: Path,
    episodes: int = 200,
    duration: float = 5.0,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Collect a built-in task's default dataset if ``data_dir`` is empty.

    The collection's default ``mix`` (``hydrax.simulation.collect``):
    episodes LQR-stabilized around the task's goal with smooth control noise
    and random initial states, smooth random-control episodes and, for a task
    with an energy law (the cart pole), energy swing-up episodes from
    hanging for half of them.

    Args:
        task: The built-in task's name (``hydrax.tasks.TASK_NAMES``).
        data_dir: The directory to fill.
        episodes: Episodes to collect when it holds no logs.
        duration: Simulated seconds per episode.
        seed: The collection's seed.
        progress: Show the collection's progress bar.

    Returns:
        ``data_dir``.
    """
    if holds_logs(data_dir):
        return data_dir
    from hydrax.simulation.collect import collect

    collect(
        task,
        out_dir=data_dir,
        episodes=episodes,
        duration=duration,
        seed=seed,
        progress=progress,
    )
    print(
        f"{data_dir} held no logs: collected {episodes} episodes of "
        f"{duration:g} s"
    )
    return data_dir


def _logged_task(data_dir: Path) -> str | None:
    """The task a directory's manifest names (None: none, or unreadable)."""
    try:
        manifest = read_manifest(data_dir)
    except DataError:  # the dataset names the problem
        return None
    return manifest.task if manifest is not None else None


def task_training_main(
    task: str,
    coordinate_indices: Sequence[int],
    angle_indices: Sequence[int],
    argv: Sequence[str] | None = None,
) -> int:
    """The command line of ``python -m ...train_<task>``.

    Args:
        task: The built-in task's name; also the checkpoints' task name.
        coordinate_indices: The qpos indices of Cartesian coordinates.
        angle_indices: The qpos indices of angles.
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    data_dir = default_data_dir(task)
    parser = argparse.ArgumentParser(
        prog=command_name(f"hydrax.dynamics_model_training.train_{task}"),
        description=(
            f"Train a GRU dynamics model for the built-in {task} "
            f"(coordinate_indices={list(coordinate_indices)}, "
            f"angle_indices={list(angle_indices)}), collecting a default "
            "dataset first if the data directory is empty."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="directory of trajectory logs, collected first when it holds "
        f"none (default: {shown_path(data_dir)})",
    )
    parser.add_argument(
        "--collect-episodes",
        type=int,
        default=200,
        help="episodes to collect when the data directory is empty",
    )
    parser.add_argument(
        "--collect-duration",
        type=float,
        default=5.0,
        help="simulated seconds per collected episode",
    )
    add_training_arguments(parser, task=task)
    args = parser.parse_args(argv)
    if args.collect_episodes < 1:
        parser.error("--collect-episodes must be >= 1")
    if not args.collect_duration > 0:
        parser.error("--collect-duration must be > 0")
    args.data_dir = args.data_dir or data_dir
    try:
        ensure_task_dataset(
            task,
            args.data_dir,
            episodes=args.collect_episodes,
            duration=args.collect_duration,
            progress=not args.no_progress,
        )
    except ValueError as e:
        aliases = {
            "duration": "--collect-duration",
            "episodes": "--collect-episodes",
        }
        return command_error(parser, e, aliases)
    except KeyboardInterrupt as stop:  # its notes say what was kept
        kept = "".join(f"; {n}" for n in getattr(stop, "__notes__", []))
        print(f"{parser.prog}: interrupted{kept}", file=sys.stderr)
        return interrupted_exit()
    other = _logged_task(args.data_dir)
    if other not in (None, task):
        return command_error(
            parser,
            f"{args.data_dir}: its manifest says these logs are of the "
            f"{other} task, not the {task}; this command trains the {task} "
            f"(its indices) on its logs; for the {other}'s, use hydrax-train "
            f"--task-name {other} (python -m hydrax.dynamics_model_training."
            "train)",
        )
    return run_training_cli(
        parser,
        args,
        data_dir=args.data_dir,
        task_name=task,
        coordinate_indices=list(coordinate_indices),
        angle_indices=list(angle_indices),
    )
