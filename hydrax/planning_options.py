"""Command-line options of planning, for every command that plans.

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


_ALL_OVERRIDES = ("num_samples", "plan_horizon", "iterations", "noise_level")
"""Read from a namespace that :func:`add_controller_options` did not make."""


def add_controller_options(
    parser: argparse.ArgumentParser,
    noise_level: bool = False,
    planner_iterations: bool = True,
) -> None:
    """Add the default controller's settings a command may override.

    ``--num-samples``, ``--plan-horizon``, ``--iterations`` (unless
    ``planner_iterations`` is False: ``aggregate``'s ``--iterations`` count
    its rounds) and, with ``noise_level``, ``--noise-level`` (see
    :func:`controller_overrides`).
    """
    parser.add_argument(
        "--num-samples",
        type=int,
        default=None,
        help="control sequences the planner tries per replanning (none "
        "given: the task's default controller's for the trial; the double "
        "cart pole: 128 to balance, 256 to swing up)",
    )
    parser.add_argument(
        "--plan-horizon",
        type=float,
        default=None,
        help="seconds the planner looks ahead (none given: the default "
        "controller's)",
    )
    if planner_iterations:
        parser.add_argument(
            "--iterations",
            type=int,
            default=None,
            help="planner refinements per replanning (none given: the "
            "default controller's)",
        )
    if noise_level:
        parser.add_argument(
            "--noise-level",
            type=float,
            default=None,
            help="the samples' noise (none given: the default controller's)",
        )
    added = ["num_samples", "plan_horizon"]
    added += ["iterations"] * planner_iterations + ["noise_level"] * noise_level
    # Read back by controller_overrides: only the options added here.
    parser.set_defaults(_controller_options=tuple(added))


def controller_overrides(args: argparse.Namespace) -> dict:
    """The controller settings given on the command line, by keyword.

    Only those :func:`add_controller_options` added to the parser (another
    ``--iterations``, such as ``aggregate``'s rounds, is not one).
    """
    added = getattr(args, "_controller_options", _ALL_OVERRIDES)
    return {
        k: getattr(args, k) for k in added if getattr(args, k, None) is not None
    }
