"""The contact tasks' 1 m trial with the default controller: distance, up.

    python benchmarks/bench_hopper.py --seeds 0 1 2
    python benchmarks/bench_hopper.py --seeds 0 --replan-hz 25 --iterations 2
    python benchmarks/bench_hopper.py --checkpoint .../best_model.pkl
    python benchmarks/bench_hopper.py --task quadruped --seeds 0 1 2 3 4
    python benchmarks/bench_hopper.py --checkpoint ENSEMBLE.pkl \
        --disagreement-weight 1

Runs the swing-up trial (10 s from standing; success = up and 1 m
travelled in every state of the last 2 s: the hopper along x, the
quadruped from its start, whichever way it faced) on the MuJoCo plant with
``default_controller(task)`` planning on MJX physics, or on a learned
model with ``--checkpoint``. Prints one row per seed: success, the final x
and distance from the start, when the body first left the "up" set
(hopper: torso height ≥ 80 %, |pitch| ≤ 0.7; quadruped: height ≥ 60 %,
tilt ≤ 37°) and how many plant steps it spent outside, and the mean wall
time of a replanning. Each row is
appended to ``--out`` (a JSON list) as it finishes, so a stopped run keeps
what it measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hydrax.planning_options import (
    add_controller_options,
    add_learned_planning_options,
    controller_overrides,
)
from hydrax.utils import DefaultsHelpFormatter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_table import machine_lines  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "--task",
        choices=["hopper", "quadruped"],
        default="hopper",
        help="the contact task",
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="trial seeds (each its initial state and planner key)",
    )
    p.add_argument(
        "--replan-hz", type=float, default=25.0, help="replannings per second"
    )
    p.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="simulated seconds per trial (judged on the last 2 s)",
    )
    p.add_argument(
        "--target-velocity",
        type=float,
        default=None,
        help="the forward speed the cost asks for, m/s (none: the task's; "
        "0: stand)",
    )
    p.add_argument(
        "--target-distance",
        type=float,
        default=None,
        help="how far success needs the body (none given: the task's 1 m; "
        "0: success is standing through the last 2 s)",
    )
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="plan on this model"
    )
    add_learned_planning_options(p)  # --strategy, --matmul-dtype
    p.add_argument(
        "--disagreement-weight",
        type=float,
        default=0.0,
        help="with --strategy mean, the members' disagreement in the cost",
    )
    p.add_argument(
        "--risk",
        choices=["average", "worst"],
        default="average",
        help="how the controller combines a plan's costs over the members "
        "(--strategy members) at every step: their mean or the highest",
    )
    add_controller_options(p, noise_level=True)
    p.add_argument("--out", type=Path, default=None, help="JSON list of rows")
    return p


def _row(task, result, config: dict) -> dict:
    """The numbers of one trial."""
    e = result.episode
    if config["task"] == "hopper":  # torso site height, pitch
        height = e.site_xpos[:, task.torso_id, 2]
        tipped = np.abs(e.qpos[:, 2]) > 0.7
    else:  # the quadruped: free-joint height, tilt of the torso's z axis
        height = e.qpos[:, 2]
        tipped = np.asarray(task._uprightness(e.qpos[:, 3:7].T)) < 0.8
    down = np.flatnonzero((height < task.min_height) | tipped)
    # From the start: the hopper along x (its qpos[1] is the height), the
    # quadruped on the ground, whichever way it walked.
    moved = e.final_qpos[:2] - e.qpos[0, :2]
    distance = abs(moved[0]) if config["task"] == "hopper" else np.hypot(*moved)
    return {
        "seed": result.seed,
        "success": bool(result.success),
        "x_final": round(float(e.final_qpos[0]), 3),
        "distance_final": round(float(distance), 3),
        "x_at_8s": round(float(e.qpos[int(8.0 / e.dt) - 1, 0]), 3)
        if len(e.times) >= int(8.0 / e.dt)
        else None,
        "first_down_s": float(e.times[down[0]]) if len(down) else None,
        "steps_down": int(len(down)),
        "fallen_at_end": bool(height[-1] < 0.5 * task.stand_height),
        "replan_ms": round(1e3 * float(np.mean(e.replan_seconds)), 1),
        **config,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the trials and print a row per seed."""
    from hydrax.simulation.controllers import default_controller, learned_task
    from hydrax.simulation.trials import run_trial
    from hydrax.tasks import get_task

    parser = _parser()
    args = parser.parse_args(argv)
    if args.disagreement_weight and (
        args.checkpoint is None or args.strategy != "mean"
    ):
        parser.error(
            "--disagreement-weight needs --checkpoint and --strategy mean"
        )
    print("\n".join(machine_lines()), flush=True)
    kwargs = {}
    if args.target_velocity is not None:
        kwargs["target_velocity"] = args.target_velocity
    if args.target_distance is not None:
        kwargs["target_distance"] = args.target_distance
    if args.checkpoint is None:
        task = get_task(args.task, **kwargs)
    else:
        task = learned_task(
            args.task,
            args.checkpoint,
            strategy=args.strategy,
            disagreement_weight=args.disagreement_weight,
            matmul_dtype=args.matmul_dtype,
        )
        for name, value in kwargs.items():
            setattr(task, name, value)
    if args.risk != "average" and task.dynamics.num_particles == 1:
        parser.error(  # nothing to combine: physics, "mean", "ts", 1 model
            "--risk needs --checkpoint of an ensemble and --strategy members"
        )
    overrides = controller_overrides(args)
    if args.risk == "worst":
        from hydrax.risk import WorstCase

        overrides["risk_strategy"] = WorstCase()
    controller = default_controller(task, "swingup", **overrides)
    config = {
        "task": args.task,
        "model": "learned" if args.checkpoint else "true",
        "replan_hz": args.replan_hz,
        "target_velocity": task.target_velocity,
        "target_distance": task.target_distance,
        **{k: v for k, v in overrides.items() if k != "risk_strategy"},
        **(
            {
                "strategy": args.strategy,
                "risk": args.risk,
                "disagreement_weight": args.disagreement_weight,
                "matmul_dtype": args.matmul_dtype,
            }
            if args.checkpoint
            else {}
        ),
    }
    rows = []
    for seed in args.seeds:
        result = run_trial(
            "swingup",
            task,
            controller,
            seed,
            duration=args.duration,
            last_seconds=min(2.0, args.duration),
            replan_hz=args.replan_hz,
        )
        rows.append(_row(task, result, config))
        print(json.dumps(rows[-1]), flush=True)
        if args.out is not None:
            old = json.loads(args.out.read_text()) if args.out.exists() else []
            args.out.write_text(json.dumps([*old, rows[-1]], indent=1))
    wins = sum(r["success"] for r in rows)
    print(f"success {wins}/{len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
