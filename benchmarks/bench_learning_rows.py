"""The rows of ``bench_learning.py``'s table, from its measured figures."""

from __future__ import annotations

import os

from bench_common import HIDDEN, STEPS, H, K
from bench_ensemble import add_ensemble_rows
from bench_ingestion import add_ingestion_rows
from bench_table import Table


def train_flops_per_sample(mode: str, features: int, out_dim: int) -> float:
    """Matmul FLOPs of one training sample (forward + backward).

    One GRU cell on one sample: input projection x (F) @ w_in (F, 3h) and
    recurrent h (h) @ w_rec (h, 3h): 2·(F·3h + h·3h) FLOPs (a multiply-add
    is 2 FLOPs). The head: 2·h·D per prediction. Window mode evaluates
    K·H cells and K heads per sample; recurrent H + K − 1 cells and K heads.
    Elementwise work (gates, features, deltas) is left out, as is usual for
    model FLOPs. Forward + backward ≈ 3 × forward (the backward pass does
    two matmuls per forward matmul: input and weight gradients).
    """
    cell = 2 * (features * 3 * HIDDEN + HIDDEN * 3 * HIDDEN)
    head = 2 * HIDDEN * out_dim
    cells = K * H if mode == "window" else H + K - 1
    return 3.0 * (cells * cell + K * head)


def add_flops_rows(t: Table, m: dict) -> None:
    """The matmul peak, and each train step's achieved GFLOP/s against it."""
    peak, tr = m["peak"], m["train"]
    t.add("matmul peak, jit f32 2048x2048", peak, "GFLOP/s", fmt=",.1f")
    for mode in ("window", "recurrent"):
        for b in m["train_batches"]:
            flops = train_flops_per_sample(mode, m["features"], m["out_dim"])
            gflops = tr[mode, b][0] * flops / 1e9
            t.add(
                f"train JAX {mode} achieved, batch {b}",
                gflops,
                "GFLOP/s",
                ratio=100 * gflops / peak,
                ratio_of="% of peak",
                target=40.0 if (mode, b) == ("window", 32) else None,
                fmt=",.1f",
            )


def build_table(m: dict) -> Table:
    """The table of every figure, ratio and target."""
    t = Table()
    if "ingestion" not in m:  # --ensemble-only
        add_ensemble_rows(t, m["ensemble"])
        return t
    if "train" not in m:  # --ingestion-only
        add_ingestion_rows(t, m)
        return t
    tr, to = m["train"], m["torch"]
    cpus = os.cpu_count() or 1

    def best_eager(b: int) -> float | None:
        rates = [
            r[0]
            for (kind, bb, _), r in to.items()
            if kind == "eager" and bb == b and isinstance(r, tuple)
        ]
        return max(rates) if rates else None

    for b in m["train_batches"]:
        rate, comp = tr["window", b]
        eager = best_eager(b)
        t.add(
            f"train JAX window, batch {b}",
            rate,
            "samples/s",
            comp,
            ratio=None if eager is None else rate / eager,
            ratio_of="vs best PyTorch eager",
            target=3.0 if b == 32 else 1.0,
        )
        before, comp = tr["window before", b]
        t.add(
            f"train JAX window, whole windows (before), batch {b}",
            before,
            "samples/s",
            comp,
            ratio=rate / before,
            ratio_of="rows fed once vs before",
        )
        if ("window one pass", b) in tr:
            whole, comp = tr["window one pass", b]
            t.add(
                f"train JAX window, one pass (no micro-batches), batch {b}",
                whole,
                "samples/s",
                comp,
                ratio=rate / whole,
                ratio_of="micro-batches vs one pass",
            )
    for b in m["train_batches"]:
        rate, comp = tr["recurrent", b]
        # No target since the window model's rows are fed once (it made
        # the window step 1.2-1.7x faster, so this ratio fell; likewise the
        # rollouts' recurrent vs window ratio below).
        t.add(
            f"train JAX recurrent, batch {b}",
            rate,
            "samples/s",
            comp,
            ratio=rate / tr["window", b][0],
            ratio_of="vs JAX window",
        )
    if not m["torch_installed"]:
        t.add(
            "train PyTorch (eager, torch.compile)",
            "skipped: torch not installed",
        )
    for (kind, b, threads), r in to.items():
        what = f"train PyTorch {kind}, batch {b}, {threads} thread(s)"
        if isinstance(r, str):
            t.add(what, f"failed: {r}")
        else:
            t.add(
                what,
                r[0],
                "samples/s",
                r[1],
                ratio=r[0] / tr["window", b][0],
                ratio_of="vs JAX window",
            )
    if m["loss_check"] is not None:
        lj, lt, diff = m["loss_check"]
        t.add(
            f"loss |JAX - PyTorch|, same weights (JAX {lj:.6f})",
            diff,
            target=1e-4,
            better="lower",
            fmt=".1e",
        )

    add_flops_rows(t, m)
    if "rollout" not in m:  # --training-only
        return t

    ro = m["rollout"]
    for b in m["roll_batches"]:
        win, rec, phys = (
            ro[name, b][0]
            for name in ("learned window", "learned recurrent", "MJX physics")
        )
        t.add(
            f"rollout learned window, {b} x {STEPS}",
            win,
            "steps/s",
            ro["learned window", b][1],
        )
        t.add(
            f"rollout learned recurrent, {b} x {STEPS}",
            rec,
            "steps/s",
            ro["learned recurrent", b][1],
            ratio=rec / win,
            ratio_of="vs learned window",
        )
        t.add(
            f"rollout MJX physics, {b} x {STEPS}",
            phys,
            "steps/s",
            ro["MJX physics", b][1],
        )
        t.add(
            f"rollout learned recurrent vs MJX, {b} x {STEPS}",
            rec,
            "steps/s",
            ratio=rec / phys,
            ratio_of="vs MJX physics",
            target=2.0 if b == 128 else None,
        )
        c = ro["mujoco.rollout", b][0]
        t.add(
            f"rollout mujoco.rollout (C, {cpus} threads), {b} x {STEPS}",
            c,
            "steps/s",
            ratio=c / phys,
            ratio_of="vs MJX physics",
        )

    for name, (hz, comp) in m["replan"].items():
        t.add(
            f"replan PS 128 x {STEPS}, {name}",
            hz,
            "Hz",
            comp,
            target=None if name == "MJX physics" else 50.0,
            fmt=",.1f",
        )

    add_ingestion_rows(t, m)
    add_ensemble_rows(t, m["ensemble"])

    probe = m["cache_probe"]
    if isinstance(probe, str):
        t.add("compile, persistent cache warm", f"failed: {probe}")
    elif probe is not None:
        cold, warm = probe
        for key, what in (
            ("train_step_s", "train step, window, batch 32"),
            ("optimize_s", "optimize, learned window"),
        ):
            t.add(
                f"compile {what}: cold (compile s) vs warm cache",
                warm[key],
                "s warm",
                cold[key],
                ratio=cold[key] / max(warm[key], 1e-9),
                ratio_of="faster warm",
                fmt=".2f",
            )
    return t


if __name__ == "__main__":
    from bench_table import not_a_command

    not_a_command(__file__)
