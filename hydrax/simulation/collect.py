"""The data collection command: ``python -m hydrax.simulation.collect``.

The collection itself is `hydrax.simulation.collection.collect` (re-exported
here with the names this module has always offered); the policies live in
`hydrax.simulation.policies`, the model description in
`hydrax.simulation.model_source`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import mujoco

from hydrax.atomic import sigint_kept
from hydrax.logs import read_manifest
from hydrax.logs.manifest import (
    FORMAT,
    FORMAT_VERSION,
    QUATERNION_NOTE,
    joint_table,
    model_sha256,
    suggested_indices,
    suggested_quat_indices,
)
from hydrax.simulation.collection import collect
from hydrax.simulation.model_source import ModelSource, resolve_source
from hydrax.simulation.policies import POLICIES, RANDOM_CENTRES, coloured_noise
from hydrax.utils import (
    DefaultsHelpFormatter,
    command_error,
    command_name,
    command_warnings,
    interrupted_exit,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "POLICIES",
    "QUATERNION_NOTE",
    "ModelSource",
    "coloured_noise",
    "collect",
    "joint_table",
    "main",
    "model_sha256",
    "resolve_source",
    "suggested_indices",
    "suggested_quat_indices",
]


def _parser() -> argparse.ArgumentParser:
    """The command line."""
    from hydrax.tasks import TASK_NAMES

    p = argparse.ArgumentParser(
        prog=command_name("hydrax.simulation.collect"),
        formatter_class=DefaultsHelpFormatter,
        description=(
            "Collect MuJoCo trajectories (one CSV per episode plus "
            "manifest.json) for training dynamics models."
        ),
        epilog=(
            "Policies: lqr (a linear feedback controller that holds the "
            "task's goal, plus smooth noise), random (smooth random "
            "controls), mpc (the task's default sampling-based planner plus "
            "noise; slow), energy (swing up from hanging by pumping the "
            "pole's energy, then the lqr near upright, plus smooth noise; "
            "pendulum and cart_pole), mix (energy for --energy-fraction of "
            "the episodes, lqr for --lqr-fraction of the others, random for "
            "the rest), auto (mix for a task with a goal, random "
            "otherwise). Any MJCF works: every MuJoCo integrator (Euler, "
            "implicit, implicitfast, RK4), free, ball, slide and hinge "
            "joints, actuators with or without ctrlrange. An episode ends "
            "early when a limited slide joint reaches its range (e.g. the "
            "cart at its rail limit) or the state stops being finite."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", choices=TASK_NAMES, help="a built-in task")
    src.add_argument("--model", type=Path, help="path to any MJCF .xml")
    p.add_argument(
        "--episodes", type=int, default=100, help="episodes to collect"
    )
    p.add_argument(
        "--duration",
        type=float,
        default=5.0,
        help="simulated seconds per episode (an episode can end early: see "
        "below)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed (episode i draws from the pair (seed, i))",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="output folder (none given: hydrax/data_csv/<task or XML stem>/)",
    )
    p.add_argument(
        "--policy",
        choices=POLICIES,
        default="auto",
        help="how controls are chosen (see below)",
    )
    p.add_argument(
        "--lqr-fraction",
        type=float,
        default=0.8,
        help="share of LQR episodes under --policy mix among those that "
        "do not swing up, in [0, 1]",
    )
    p.add_argument(
        "--energy-fraction",
        type=float,
        default=None,
        help="share of energy swing-up episodes under --policy mix, in "
        "[0, 1]; none given: 0.5 for a task with an energy law (pendulum, "
        "cart_pole), 0 otherwise",
    )
    p.add_argument(
        "--noise-std",
        type=float,
        default=0.1,
        help="standard deviation of the smooth noise added to LQR, energy "
        "and MPC controls, as a fraction of each actuator's half range "
        "(control units for actuators without ctrlrange)",
    )
    p.add_argument(
        "--noise-smoothing",
        type=float,
        default=0.95,
        help="how smooth the control noise is, in [0, 1): the share of "
        "each step's noise carried into the next (0: independent steps)",
    )
    p.add_argument(
        "--random-std",
        type=float,
        default=0.5,
        help="standard deviation of the random policy's smooth controls "
        "(same units as --noise-std)",
    )
    p.add_argument(
        "--random-centre",
        choices=RANDOM_CENTRES,
        default="middle",
        help="what the random policy's controls vary about: the middle of "
        "each actuator's range, or zero (the in-range control nearest 0; "
        "for position actuators the joints' zero angles, the hopper's and "
        "the quadruped's standing pose; a range that ends at 0 gets about "
        "half its targets clipped to that end)",
    )
    p.add_argument(
        "--init-spread",
        type=float,
        default=0.1,
        help="initial states are drawn uniformly within +-s of the goal "
        "(LQR, MPC) or of the default pose (random, energy) in every "
        "position and velocity; LQR holds the double cart pole from about "
        "0.15 rad",
    )
    p.add_argument(
        "--no-stop-at-limit",
        action="store_true",
        help="keep going when a limited slide joint reaches its range",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--overwrite", action="store_true", help="replace an existing dataset"
    )
    mode.add_argument(
        "--append", action="store_true", help="add to an existing dataset"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="LQR, energy and random episodes simulated side by side",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 on a user mistake)."""
    parser = _parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:  # sigint_kept: a Ctrl-C Python swallows is raised again
        with command_warnings(parser), sigint_kept():
            out_dir = collect(
                args.task or args.model,
                out_dir=args.out_dir,
                episodes=args.episodes,
                duration=args.duration,
                policy=args.policy,
                seed=args.seed,
                lqr_fraction=args.lqr_fraction,
                energy_fraction=args.energy_fraction,
                noise_std=args.noise_std,
                noise_smoothing=args.noise_smoothing,
                random_std=args.random_std,
                random_centre=args.random_centre,
                init_spread=args.init_spread,
                stop_at_limit=not args.no_stop_at_limit,
                overwrite=args.overwrite,
                append=args.append,
                batch_size=args.batch_size,
                progress=not args.quiet,
            )
    except (ValueError, mujoco.FatalError) as err:
        return command_error(parser, " ".join(str(err).split()))
    except KeyboardInterrupt as stop:
        notes = "".join(f"; {n}" for n in getattr(stop, "__notes__", []))
        print(f"{parser.prog}: interrupted{notes}", file=sys.stderr)
        return interrupted_exit()
    if not args.quiet:
        run = read_manifest(out_dir).collection[-1]
        rate = run["rows"] / max(time.perf_counter() - start, 1e-9)
        print(
            f"wrote {run['episodes']} episodes, {run['rows']} rows to "
            f"{out_dir} ({rate:,.0f} rows/s including start-up)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
