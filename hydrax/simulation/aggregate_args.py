"""The command line of ``python -m hydrax.simulation.aggregate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from hydrax.planning_options import (
    add_controller_options,
    add_learned_planning_options,
)
from hydrax.simulation.trials import add_trial_flags
from hydrax.utils import DefaultsHelpFormatter, command_name


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m hydrax.simulation.aggregate``."""
    # Long by nature: one add_argument per flag, each with its help line.
    from hydrax.tasks import TASK_NAMES

    p = argparse.ArgumentParser(
        prog=command_name("hydrax.simulation.aggregate"),
        formatter_class=DefaultsHelpFormatter,
        description=(
            "Data aggregation: control with the learned model (plus "
            "exploration noise), add the logs, fine-tune; repeat. Prints the "
            "trials' success, seconds in the success set and running cost "
            "per iteration."
        ),
    )
    p.add_argument(
        "--task",
        choices=TASK_NAMES,
        default="double_cart_pole",
        help="the built-in task",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="the learned model to start from (none given: "
        "hydrax/dynamics_model_training/checkpoints/<task>/best_model.pkl "
        "inside the package)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        nargs="+",
        required=True,
        help="the original dataset's directory (or several), kept in every "
        "fine-tuning",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=3,
        help="rounds of control, logging and fine-tuning",
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=10,
        help="closed-loop episodes logged per round",
    )
    add_trial_flags(p)
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="simulated seconds per logged episode (none given: the "
        "trial's, 5 s balance, 10 s swing-up)",
    )
    p.add_argument(
        "--noise-std",
        type=float,
        default=0.1,
        help="standard deviation of the smooth exploration noise on the "
        "logged episodes' controls, as a fraction of each actuator's half "
        "range",
    )
    p.add_argument(
        "--epochs", type=int, default=3, help="fine-tuning epochs per round"
    )
    p.add_argument(
        "--trials",
        type=int,
        default=3,
        help="trials without noise that measure success each round (0: "
        "none, a faster round)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=Path("results") / "aggregate",
        help="where each round's logs and checkpoint go",
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="the fine-tuning's peak learning rate (none given: a third of "
        "the starting checkpoint's; give it when continuing from an "
        "aggregated checkpoint, whose own is already a third)",
    )
    p.add_argument(
        "--fresh-weight",
        type=int,
        default=3,
        help="each fine-tuning epoch draws the closed-loop logs' windows "
        "this many times, the original directories' once (1: all alike)",
    )
    p.add_argument(
        "--disagreement-weight",
        type=float,
        default=0.0,
        help="with --strategy mean, an ensemble checkpoint plans with its "
        "members' mean plus this weight times their disagreement in the "
        "running cost",
    )
    add_learned_planning_options(p)
    add_controller_options(p, planner_iterations=False)
    p.add_argument(
        "--seed", type=int, default=0, help="seeds the episodes and trials"
    )
    return p
