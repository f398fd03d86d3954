"""Command-line options of planning with a learned model, for every command.

The choices are written out here, not imported, so that ``--help`` loads
neither flax nor the model code; a test pins them to
``nn_dynamics.STRATEGIES`` and ``gru.MATMUL_DTYPES``.
"""

from __future__ import annotations

import argparse

STRATEGY_CHOICES = ("mean", "ts", "members")
MATMUL_DTYPE_CHOICES = ("float32", "bfloat16")


def add_learned_planning_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--strategy`` and ``--matmul-dtype`` to a command's parser."""
    parser.add_argument(
        "--strategy",
        choices=STRATEGY_CHOICES,
        default="mean",
        help="how the planner rolls out an ensemble: mean, the members' "
        "mean prediction; ts, each sampled plan follows one member; "
        "members, each plan is rolled out by every member and scored by "
        "their mean cost, step by step (a single model ignores it)",
    )
    parser.add_argument(
        "--matmul-dtype",
        choices=MATMUL_DTYPE_CHOICES,
        default="float32",
        help="the learned model's recurrent products in planning: bfloat16 "
        "operands with float32 sums replan 1.3-1.5x faster on a CPU with "
        "AVX512-BF16 (README, 'Planning with an ensemble')",
    )
