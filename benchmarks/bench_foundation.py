"""Foundation benchmark: planner rate, physics throughput, data collection.

    python benchmarks/bench_foundation.py            # ~1-2 minutes
    python benchmarks/bench_foundation.py --trials   # + balance/swing-up

Prints one table, measured in one run on this machine:
- the default double cart pole controller's replanning rate;
- MJX ``jit(vmap(scan(step)))`` vs ``mujoco.rollout`` steps/s at batch
  128 and 1024;
- collection throughput (logged rows/s, LQR policy, CSVs included);
- with ``--trials``: balance (5 s) and swing-up (10 s) trial success of the
  default controller over ``--seeds`` seeds, with mean replanning times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import rollout as mj_rollout

from hydrax.simulation.closed_loop import balance_trial, swingup_trial
from hydrax.simulation.collect import collect
from hydrax.simulation.controllers import DEFAULT_CONFIGS, default_controller
from hydrax.tasks import get_task
from hydrax.utils import DefaultsHelpFormatter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_table import machine_lines  # noqa: E402

if TYPE_CHECKING:
    from mujoco import mjx


def replanning_rate(task, repeats: int) -> tuple[float, float]:
    """Replannings per second and compile seconds, default controller."""
    from mujoco import mjx  # after hydrax: no Warp import lines

    ctrl = default_controller(task)
    q, v = task.goal()
    state = mjx.make_data(task.model).replace(
        qpos=jnp.asarray(q, jnp.float32), qvel=jnp.asarray(v, jnp.float32)
    )
    params = ctrl.init_params()
    start = time.perf_counter()
    jax.block_until_ready(ctrl.optimize(state, params))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        params, _ = ctrl.optimize(state, params)
    jax.block_until_ready(params)
    return repeats / (time.perf_counter() - start), compile_s


def mjx_rate(task, batch: int, steps: int) -> float:
    """MJX steps/s: jit(vmap(scan(step))) over random controls."""
    from mujoco import mjx  # after hydrax: no Warp import lines

    model = task.model

    def roll(x0: mjx.Data, us: jax.Array) -> jax.Array:
        def step(x, u):
            x = mjx.step(model, x.replace(ctrl=u))
            return x, x.qpos

        return jax.lax.scan(step, x0, us)[1]

    f = jax.jit(jax.vmap(roll, in_axes=(None, 0)))
    q, v = task.goal()
    x0 = mjx.make_data(model).replace(
        qpos=jnp.asarray(q, jnp.float32), qvel=jnp.asarray(v, jnp.float32)
    )
    us = jax.random.uniform(
        jax.random.key(0), (batch, steps, task.nu), minval=-1, maxval=1
    )
    jax.block_until_ready(f(x0, us))
    start = time.perf_counter()
    jax.block_until_ready(f(x0, us))
    return batch * steps / (time.perf_counter() - start)


def rollout_rate(task, batch: int, steps: int, threads: int) -> float:
    """mujoco.rollout steps/s (C, ``threads`` threads)."""
    m = task.mj_model
    datas = [mujoco.MjData(m) for _ in range(threads)]
    d = datas[0]
    d.qpos[:], d.qvel[:] = task.goal()
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.zeros(mujoco.mj_stateSize(m, spec))
    mujoco.mj_getState(m, d, state, spec)
    rng = np.random.default_rng(0)
    us = rng.uniform(-1, 1, (batch, steps, m.nu))
    states = np.tile(state, (batch, 1))
    with mj_rollout.Rollout(nthread=threads) as r:
        r.rollout(m, datas, states, us)
        start = time.perf_counter()
        r.rollout(m, datas, states, us)
        return batch * steps / (time.perf_counter() - start)


def collection_rate(episodes: int, duration: float) -> tuple[float, int]:
    """Logged rows/s of LQR collection (CSV writing included)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = collect(
            "double_cart_pole",
            os.path.join(tmp, "d"),
            episodes,
            duration,
            policy="lqr",
            progress=False,
        )
        run = json.loads((out / "manifest.json").read_text())["collection"][0]
    return run["rows"] / run["seconds"], run["rows"]


def trials(task, seeds: int) -> list[tuple[str, str]]:
    """Balance and swing-up success of each trial's default controller."""
    rows = []
    for name, kind, trial in (
        ("balance", "balance", balance_trial),
        ("swing-up", "swingup", swingup_trial),
    ):
        ctrl = default_controller(task, kind)
        ok, replan = 0, []
        start = time.perf_counter()
        for seed in range(seeds):
            result = trial(task, ctrl, seed)
            ok += result.success
            replan.extend(result.episode.replan_seconds)
            print(f"  {name} seed {seed}: {result.success}", flush=True)
        wall = time.perf_counter() - start
        rows.append(
            (
                f"{name} trial, default controller",
                f"{ok}/{seeds} ({1e3 * np.mean(replan):.0f} ms/replan, "
                f"{wall:.0f} s wall)",
            )
        )
    return rows


def main() -> None:
    """Run the benchmark and print the table."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "--trials",
        action="store_true",
        help="also run the default controller's balance (5 s) and swing-up "
        "(10 s) trials on the MuJoCo plant",
    )
    p.add_argument(
        "--seeds", type=int, default=10, help="trials of each kind (seeds 0..)"
    )
    p.add_argument(
        "--steps", type=int, default=100, help="rollout length in steps"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="mujoco.rollout's threads (default: every core)",
    )
    args = p.parse_args()
    print("\n".join(machine_lines()), flush=True)
    task = get_task("double_cart_pole")
    rows: list[tuple[str, str]] = []
    config = DEFAULT_CONFIGS["double_cart_pole"]
    hz, compile_s = replanning_rate(task, repeats=20)
    rows.append(
        (
            f"replanning, default controller ({config['algorithm']}, "
            f"{config['num_samples']} samples, {config['iterations']} it.)",
            f"{hz:.1f} Hz ({1e3 / hz:.0f} ms; compile {compile_s:.0f} s)",
        )
    )
    for batch in (128, 1024):
        a = mjx_rate(task, batch, args.steps)
        b = rollout_rate(task, batch, args.steps, args.threads)
        rows.append(
            (f"MJX jit(vmap(scan)) steps/s, batch {batch}", f"{a:,.0f}")
        )
        rows.append(
            (
                f"mujoco.rollout steps/s, batch {batch}, "
                f"{args.threads} threads",
                f"{b:,.0f} ({b / a:.1f}x MJX)",
            )
        )
    rate, n = collection_rate(episodes=256, duration=5.0)
    rows.append((f"collection, LQR policy ({n:,} rows)", f"{rate:,.0f} rows/s"))
    if args.trials:
        rows.extend(trials(task, args.seeds))

    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'what'.ljust(width)} | figure")
    print(f"{'-' * width}-|-{'-' * 40}")
    for what, figure in rows:
        print(f"{what.ljust(width)} | {figure}")


if __name__ == "__main__":
    main()
