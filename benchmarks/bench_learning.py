"""Learned-dynamics benchmark: training, rollouts, replanning, ingestion.

    python benchmarks/bench_learning.py                  # ~5-10 minutes
    python benchmarks/bench_learning.py --quick          # smoke run
    python benchmarks/bench_learning.py --out results/bench_learning.json

Prints one table, every figure measured in this one run on this machine
(GRU hidden 128, H = 11, K = 9, the double cart pole's dims), with the ratio
and PASS/MISS of each target:

1. training samples/s of hydrax's jitted train step (the one
   ``train_dynamics_model`` builds), window and recurrent mode;
2. the same model and loss in PyTorch (``torch_peer.py``), eager and
   ``torch.compile``, after checking both losses agree on one batch;
3. rollout steps/s through the MPC seam (``Dynamics.step`` in ``lax.scan``
   over 50 steps, ``vmap`` over the batch, kinematics and running cost
   included) beside MJX physics and ``mujoco.rollout`` (C);
4. replanning rate of predictive sampling, 128 samples x 50 steps;
5. CSV and Parquet ingestion MB/s (in CSV bytes), in memory and streamed, and
   the dataset's memory against raw float32;
6. achieved GFLOP/s of the train step against a matmul peak;
7. compile seconds, cold and (in a subprocess with the persistent
   compilation cache) warm.

Rates are the best of a few rounds of at least ``--seconds`` each, so that
bursts of load from other processes do not decide a ratio. PyTorch rows are
skipped (with a note) when torch is not installed (``pip install
.[bench]``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import optax
from flax import nnx
from mujoco import rollout as mj_rollout

from hydrax.dynamics.base import PhysicsDynamics
from hydrax.dynamics_model_training import train_steps
from hydrax.dynamics_model_training.data_loader import (
    DynamicsDataset,
)
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    Statistic,
    multi_step_errors,
    split_rows,
)
from hydrax.dynamics_model_training.parallel import DataParallel
from hydrax.dynamics_model_training.rollout_steps import scored_step
from hydrax.dynamics_model_training.train import make_optimizer
from hydrax.dynamics_model_training.train_steps import (
    Batch,
    StepSpec,
    train_step,
)
from hydrax.tasks.double_cart_pole import DoubleCartPole
from hydrax.utils import DefaultsHelpFormatter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (  # noqa: E402
    ANGLES,
    COORDS,
    HIDDEN,
    STEPS,
    Bench,
    H,
    K,
    interleaved,
    learned_dynamics,
    matmul_peak,
    one_round,
    prepared,
    replanning,
    start_state,
)
from bench_ensemble import (  # noqa: E402
    measure_ensembles,
)
from bench_ingestion import (  # noqa: E402
    ingestion,
    simulate_logs,
    write_logs,
)
from bench_learning_rows import build_table  # noqa: E402
from bench_table import cpu_model, versions, versions_line  # noqa: E402

try:
    import torch
except ImportError:  # the PyTorch rows say so
    torch = None
if torch is not None:
    from torch_peer import TorchDynamicsNetwork, TorchTrainer  # noqa: E402


# --- training -----------------------------------------------------------------


def make_network(dataset: DynamicsDataset, mode: str) -> DynamicsNetwork:
    """A fresh network of the benchmark's size with the data's statistics."""
    net = DynamicsNetwork(
        dataset.layout, HIDDEN, H, rngs=nnx.Rngs(0), mode=mode
    )
    net.set_statistics(dataset.statistics)
    return net


def batch_indices(
    dataset: DynamicsDataset, batch: int, count: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Random training batches as train.py feeds them: (rows, starts, w)."""
    rng = np.random.default_rng(seed)
    starts_all = dataset.file_offsets[dataset.example_files].astype(np.int64)
    out = []
    for _ in range(count):
        part = rng.choice(dataset.train_indices, batch, replace=False)
        out.append(
            (
                dataset.example_rows[part],
                starts_all[part],
                np.ones(batch, np.float32),
            )
        )
    return out


def whole_window_loss(net: DynamicsNetwork, rows, weights) -> jax.Array:
    """The window-mode loss as computed before 2026-12-06: ``lax.scan`` over
    the K steps, each running the GRU over its whole sliding window."""
    window, controls, targets = split_rows(net, rows)
    ns = net.layout.nq + net.layout.nv

    def step(carry, xs):
        window, current = carry
        u_next, target = xs
        pred, true, nxt = scored_step(
            net, current, net.predict_standardized(window), target
        )
        row = jnp.concatenate([nxt, u_next], axis=-1)
        window = jnp.concatenate([window[:, 1:], row[:, None]], axis=1)
        return (window, nxt), jnp.mean(jnp.square(pred - true), axis=-1)

    xs = (jnp.swapaxes(controls, 0, 1), jnp.swapaxes(targets, 0, 1))
    _, errs = jax.lax.scan(step, (window, window[:, -1, :ns]), xs)
    per_sample = jnp.mean(errs, axis=0)
    return jnp.sum(weights * per_sample) / jnp.maximum(jnp.sum(weights), 1.0)


def jax_train(
    dataset: DynamicsDataset, mode: str, batch: int, before: bool = False
) -> Bench:
    """The train step ``train_dynamics_model`` runs, in samples.

    ``train_steps.train_step`` itself (clip + AdamW, value_and_grad of
    ``multi_step_loss``, micro-batches above ``MICRO_BATCH``, windows
    gathered on device inside the jitted step), the previous step's loss
    read back after dispatching the next, as the training loop does.
    ``before``: the same step on :func:`whole_window_loss`, the window
    model's loss before its rows were fed once (in one pass).
    """
    network = make_network(dataset, mode)
    graphdef, params, stats = nnx.split(network, nnx.Param, Statistic)
    tx, _ = make_optimizer(1e-3, 1e-5, 10_000)
    dp = DataParallel(jax.devices()[:1])
    spec = StepSpec.create(graphdef, tx, dataset, dp)
    params, stats = dp.replicate((params, stats))
    opt_state = dp.replicate(tx.init(params))
    data = dp.replicate(jnp.asarray(dataset.data))

    @jax.jit
    def before_step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(
            lambda p: whole_window_loss(
                nnx.merge(graphdef, p, stats),
                spec.windows(batch),
                batch.weights,
            )
        )(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    batches = [
        Batch(data, *(jnp.asarray(a) for a in b))
        for b in batch_indices(dataset, batch, 64, seed=1)
    ]
    state = {"p": params, "o": opt_state, "i": 0, "prev": None}

    def call() -> jax.Array:
        b = batches[state["i"] % len(batches)]
        state["i"] += 1
        if before:
            out = before_step(state["p"], state["o"], b)
        else:
            out = train_step(spec, state["p"], stats, state["o"], b)
        state["p"], state["o"], loss = out
        if state["prev"] is not None:  # as train.py: check the previous loss
            float(state["prev"])
        state["prev"] = loss
        return loss

    return prepared(call, batch)


def torch_train(
    dataset: DynamicsDataset, batch: int, compiled: bool, threads: int
) -> Bench:
    """The PyTorch peer's train step on ``threads`` threads, in samples."""

    def setup() -> None:
        torch.set_num_threads(threads)

    setup()
    model = TorchDynamicsNetwork(dataset.layout, HIDDEN, H)
    model.copy_from_hydrax(make_network(dataset, "window"))
    trainer = TorchTrainer(
        model, dataset.data, dataset.window_offsets(), compile=compiled
    )
    batches = batch_indices(dataset, batch, 64, seed=1)
    i = [0]

    def call() -> None:
        rows, starts, _ = batches[i[0] % len(batches)]
        i[0] += 1
        trainer.step(rows, starts)

    return prepared(call, batch, setup)


def loss_check(dataset: DynamicsDataset) -> tuple[float, float, float]:
    """JAX and PyTorch losses of the same weights on one batch."""
    network = make_network(dataset, "window")
    rows = dataset.train_examples.batch(
        np.arange(64) * 97 % len(dataset.train_indices)
    )
    loss_jax = float(jnp.mean(multi_step_errors(network, jnp.asarray(rows))))
    model = TorchDynamicsNetwork(dataset.layout, HIDDEN, H)
    model.copy_from_hydrax(network)
    with torch.no_grad():
        loss_torch = float(model(torch.from_numpy(np.asarray(rows))))
    return loss_jax, loss_torch, abs(loss_jax - loss_torch)


# --- rollouts and planning ----------------------------------------------------


def seam_rollouts(task, dynamics, batch: int) -> Bench:
    """``dynamics.step`` in scan(50) under vmap(batch), as the controller's
    ``eval_rollouts`` runs it (running cost per step), in steps."""
    model = task.model
    state, history = start_state(task, H - 1)
    carry = dynamics.init_carry(model, state, history)

    def rollout(us: jax.Array) -> jax.Array:
        def step(xc, u):
            x, c = xc
            cost = task.running_cost(x, u)
            x, c = dynamics.step(model, x, c, u)
            return (x, c), cost

        return jax.lax.scan(step, (state, carry), us)[1]

    f = jax.jit(jax.vmap(rollout))
    us = jax.random.uniform(
        jax.random.key(0), (batch, STEPS, task.nu), minval=-1.0, maxval=1.0
    )
    return prepared(lambda: jax.block_until_ready(f(us)), batch * STEPS)


def c_rollouts(task, batch: int) -> Bench:
    """``mujoco.rollout.rollout`` on os.cpu_count() threads, in steps."""
    m = task.mj_model
    datas = [mujoco.MjData(m) for _ in range(os.cpu_count() or 1)]
    d = datas[0]
    q, v = task.sample_initial_state(np.random.default_rng(0), "balance")
    d.qpos[:], d.qvel[:] = q, v
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    x0 = np.zeros(mujoco.mj_stateSize(m, spec))
    mujoco.mj_getState(m, d, x0, spec)
    x0 = np.tile(x0, (batch, 1))
    us = np.random.default_rng(0).uniform(-1, 1, (batch, STEPS, m.nu))
    out = np.zeros((batch, STEPS, x0.shape[1]))

    def call() -> None:
        mj_rollout.rollout(m, datas, x0, us, state=out, persistent_pool=True)

    return prepared(call, batch * STEPS)


# --- compile cache (subprocess) -----------------------------------------------


def compile_probe(cache_dir: str) -> dict:
    """First-call seconds of the train step and optimize, with the cache on.

    Run in a fresh process twice over the same cache directory: the first
    run compiles (cold), the second loads (warm).
    """
    from hydrax.utils import enable_compilation_cache

    enable_compilation_cache(cache_dir)
    with tempfile.TemporaryDirectory() as tmp:
        task = DoubleCartPole()
        logs = simulate_logs(task.mj_model, 6, 300, seed=0)
        write_logs(logs, Path(tmp), task.nq, task.nv)
        dataset = DynamicsDataset(
            tmp, angle_indices=ANGLES, coordinate_indices=COORDS, verbose=False
        )
    train = jax_train(dataset, "window", 32)
    learned = DoubleCartPole(
        custom_dynamics=learned_dynamics(make_network(dataset, "window"), task)
    )
    plan = replanning(learned)
    return {
        "train_step_s": train.compile_s(one_round(train, 0.0)),
        "optimize_s": plan.compile_s(one_round(plan, 0.0)),
    }


def cache_probe_runs() -> tuple[dict, dict] | str:
    """Cold and warm compile seconds from two subprocesses sharing a cache."""
    with tempfile.TemporaryDirectory() as cache:
        runs = []
        for _ in range(2):
            proc = subprocess.run(
                [sys.executable, __file__, "--compile-probe", cache],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                return proc.stderr.strip().splitlines()[-1]
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return runs[0], runs[1]


# --- the table ----------------------------------------------------------------


def ensemble_figures(args: argparse.Namespace, say: Callable[[str], None]):
    """The ensemble rows' figures (``bench_ensemble``) on fresh logs."""
    task = DoubleCartPole()
    files = 6 if args.quick else 20
    say(f"ensembles: simulating and writing {files} x 1000 rows of logs ...")
    logs = simulate_logs(task.mj_model, files, 1000, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        write_logs(logs, Path(tmp), task.nq, task.nv)
        return measure_ensembles(Path(tmp), args.seconds, args.rounds, say)


def measure(args: argparse.Namespace, say: Callable[[str], None]) -> dict:
    """Run every measurement; the raw figures, keyed by what.

    Figures that form a ratio are measured in one group, their rounds
    interleaved (see :func:`interleaved`). With ``--ensemble-only``, only
    the ensemble rows' figures.
    """
    if args.ensemble_only:
        return {"ensemble": ensemble_figures(args, say)}
    quick, seconds, rounds = args.quick, args.seconds, args.rounds
    cpus = os.cpu_count() or 1
    train_batches = (32,) if quick else (32, 1024)
    roll_batches = (128,) if quick else (128, 1024)
    n_files, n_rows = (20, 1000) if quick else (200, 1000)
    task = DoubleCartPole()
    m: dict = {
        "train_batches": train_batches,
        "roll_batches": roll_batches,
        "files": (n_files, n_rows),
        "train": {},
        "torch": {},
        "torch_installed": torch is not None,
        "rollout": {},
        "replan": {},
        "loss_check": None,
        "peak": 0.0,
    }

    def run(group: dict[str, Bench]) -> dict[str, tuple[float, float]]:
        say(f"  timing {len(group)} interleaved, {rounds} x {seconds:g} s ...")
        rates = interleaved(group, seconds, rounds)
        return {k: (r, group[k].compile_s(r)) for k, r in rates.items()}

    # 5. Ingestion first: the dataset feeds everything else.
    say(f"simulating and writing {n_files} x {n_rows} rows of logs ...")
    logs = simulate_logs(task.mj_model, n_files, n_rows, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        nbytes = write_logs(logs, Path(tmp), task.nq, task.nv)
        say("ingestion ...")
        dataset, m["ingestion"] = ingestion(Path(tmp), nbytes)
    if args.ingestion_only:
        return {"ingestion": m["ingestion"], "files": m["files"]}
    m["features"] = int(dataset.statistics["in_mean"].shape[0])
    m["out_dim"] = dataset.layout.state_dim

    # 1, 2, 6. Training: JAX, the PyTorch peer and the matmul peak together.
    if torch is not None:
        m["loss_check"] = loss_check(dataset)
        say(
            "loss check: JAX {:.7f}, PyTorch {:.7f}, |diff| {:.2e}".format(
                *m["loss_check"]
            )
        )
    for b in train_batches:
        group: dict[str, Bench] = {}
        for mode in ("window", "recurrent"):
            say(f"compiling JAX {mode} train step, batch {b} ...")
            group[mode] = jax_train(dataset, mode, b)
        say(f"compiling JAX window train step, whole windows, batch {b} ...")
        group["window before"] = jax_train(dataset, "window", b, True)
        if b > train_steps.MICRO_BATCH:
            say(f"compiling JAX window train step in one pass, batch {b} ...")
            micro, train_steps.MICRO_BATCH = train_steps.MICRO_BATCH, b
            group["window one pass"] = jax_train(dataset, "window", b)
            train_steps.MICRO_BATCH = micro  # (the step above is traced)
        runs = [("eager", cpus), ("eager", 1), ("compile", cpus)]
        if b == 32:
            runs.append(("compile", 1))
        for kind, threads in dict.fromkeys(runs) if torch is not None else ():
            say(f"preparing PyTorch {kind}, batch {b}, {threads} thread(s) ...")
            try:
                group[f"{kind} {threads}"] = torch_train(
                    dataset, b, kind == "compile", threads
                )
            except Exception as e:  # noqa: BLE001 (reported in its row)
                msg = f"{type(e).__name__}: {e}".splitlines()[0][:100]
                m["torch"][kind, b, threads] = msg
        group["peak"] = matmul_peak()
        for name, figure in run(group).items():
            if name == "peak":
                m["peak"] = max(m["peak"], figure[0])
            elif name.startswith(("window", "recurrent")):
                m["train"][name, b] = figure
            else:
                kind, threads = name.split()
                m["torch"][kind, b, int(threads)] = figure
        if torch is not None:
            torch.set_num_threads(cpus)
    if args.training_only:
        return {k: v for k, v in m.items() if k not in ("rollout", "replan")}

    # 3. Rollouts through the seam, and mujoco.rollout.
    nets = {
        mode: make_network(dataset, mode) for mode in ("window", "recurrent")
    }
    seams = {
        "learned window": learned_dynamics(nets["window"], task),
        "learned recurrent": learned_dynamics(nets["recurrent"], task),
        "MJX physics": PhysicsDynamics(),
    }
    for b in roll_batches:
        group = {}
        for name, dynamics in seams.items():
            say(f"compiling rollouts, {name}, batch {b} ...")
            group[name] = seam_rollouts(task, dynamics, b)
        group["mujoco.rollout"] = c_rollouts(task, b)
        for name, figure in run(group).items():
            m["rollout"][name, b] = figure

    # 4. Replanning.
    group = {}
    seams["learned window, bfloat16"] = learned_dynamics(
        nets["window"], task, matmul_dtype="bfloat16"
    )
    for name in (
        "MJX physics",
        "learned window",
        "learned window, bfloat16",
        "learned recurrent",
    ):
        say(f"compiling the controller, {name} ...")
        custom = None if name == "MJX physics" else seams[name]
        group[name] = replanning(DoubleCartPole(custom_dynamics=custom))
    m["replan"] = run(group)

    # 8. Ensembles (their own logs and the demo's configuration).
    m["ensemble"] = ensemble_figures(args, say)

    # 7. Warm compile through the persistent cache.
    m["cache_probe"] = None
    if args.cache_probe:
        say("compile cache probe (two subprocesses) ...")
        m["cache_probe"] = cache_probe_runs()
    return m


def main() -> None:
    """Run the benchmark, print the table, optionally write JSON."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--out", type=Path, help="also write the table as JSON")
    p.add_argument(
        "--seconds",
        type=float,
        help="seconds per round (none given: 2, or 0.3 with --quick)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        help="rounds per rate, the best kept (none given: 3, or 1 with "
        "--quick)",
    )
    p.add_argument(
        "--cache-probe",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure warm compiles through the persistent cache in two "
        "subprocesses (default: on, off with --quick)",
    )
    p.add_argument(
        "--ensemble-only",
        action="store_true",
        help="only the ensemble rows (1 vs 5 members: epoch seconds, "
        "replanning Hz)",
    )
    p.add_argument(
        "--ingestion-only",
        action="store_true",
        help="only the ingestion and dataset-memory rows",
    )
    p.add_argument(
        "--training-only",
        action="store_true",
        help="only the training rows (JAX, PyTorch, FLOP/s vs matmul peak)",
    )
    p.add_argument("--compile-probe", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.compile_probe:
        print(json.dumps(compile_probe(args.compile_probe)))
        return
    args.seconds = args.seconds or (0.3 if args.quick else 2.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.cache_probe is None:
        args.cache_probe = not args.quick

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    meta = {
        "date": datetime.datetime.now()
        .astimezone()
        .isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "os.cpu_count()": os.cpu_count(),
        "versions": versions(),
        "load_before": os.getloadavg(),
        "quick": args.quick,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
    }
    m = measure(args, say)
    meta["load_after"] = os.getloadavg()
    table = build_table(m)
    header = [
        "hydrax learned-dynamics benchmark, "
        + meta["date"]
        + (" (--quick)" if args.quick else ""),
        f"CPU: {meta['cpu']}; os.cpu_count() = {meta['os.cpu_count()']}; "
        "load average {:.2f} before, {:.2f} after".format(
            meta["load_before"][0], meta["load_after"][0]
        ),
        versions_line(meta["versions"]),
        f"GRU hidden {HIDDEN}, H={H}, K={K} (ensemble rows: the demo's "
        "H=6, K=40); double cart pole (nq=nv=3, "
        f"nu=1, angles {ANGLES}, coordinate {COORDS}). Rates: best of "
        f"{args.rounds} round(s) of >= {args.seconds:g} s. compile s: "
        "first call minus one steady call.",
    ]
    text = "\n".join([*header, "", table.text()])
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rows = [{k: v for k, v in r.items() if k != "fmt"} for r in table.rows]
        payload = {
            "meta": meta,
            "rows": rows,
            "ingestion": m.get("ingestion"),
            "matmul_peak_gflops": m.get("peak"),
            "ensemble": m.get("ensemble"),
            "table": text,
        }
        args.out.write_text(json.dumps(payload, indent=2, default=str))
        say(f"wrote {args.out}")


if __name__ == "__main__":
    main()
