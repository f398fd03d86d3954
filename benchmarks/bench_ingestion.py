"""Ingestion rows of ``bench_learning.py``: simulated logs, dataset builds.

``simulate_logs`` makes double cart pole logs with ``mujoco.rollout``;
``ingestion`` times building a ``DynamicsDataset`` from them (CSV, Parquet,
streamed), the CSV reader alone and the multi-file scan; and
``add_ingestion_rows`` turns those figures into table rows.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import mujoco
import numpy as np
from bench_common import ANGLES, COORDS, H, K
from bench_table import Table
from mujoco import rollout as mj_rollout

from hydrax.dynamics_model_training.convert import convert_logs
from hydrax.dynamics_model_training.data_loader import (
    DynamicsDataset,
    read_trajectory_csv,
)
from hydrax.logs import list_logs, scan_logs
from hydrax.simulation.logging import write_trajectory_csv


def simulate_logs(
    mj_model: mujoco.MjModel, files: int, rows: int, seed: int
) -> list[np.ndarray]:
    """Double cart pole rows (time, qpos, qvel, ctrl) under smooth random
    controls, half the episodes started near upright, half hanging."""
    rng = np.random.default_rng(seed)
    nq, nv = mj_model.nq, mj_model.nv
    init = np.zeros((files, 1 + nq + nv))
    upright = np.arange(files) % 2 == 0
    init[:, 2] = np.where(upright, np.pi, 0.0) + rng.uniform(-0.3, 0.3, files)
    init[:, 3] = rng.uniform(-0.3, 0.3, files)
    init[:, 1 + nq :] = rng.uniform(-0.3, 0.3, (files, nv))
    # Ornstein-Uhlenbeck controls (time constant ~0.2 s), clipped to ±1.
    u = np.zeros((files, rows, 1))
    for t in range(1, rows):
        u[:, t] = 0.95 * u[:, t - 1] + 0.3 * rng.standard_normal((files, 1))
    u = np.clip(u, -1.0, 1.0)
    datas = [mujoco.MjData(mj_model) for _ in range(os.cpu_count() or 1)]
    after, _ = mj_rollout.rollout(mj_model, datas, init, u)
    before = np.concatenate([init[:, None], after[:, :-1]], axis=1)
    dt = mj_model.opt.timestep
    times = np.arange(rows) * dt
    return [
        np.concatenate([times[:, None], b[:, 1:], c], axis=1)
        for b, c in zip(before, u, strict=True)
    ]


def write_logs(logs: list[np.ndarray], out: Path, nq: int, nv: int) -> int:
    """Write the logs losslessly (the project's writer); bytes on disk."""
    total = 0
    for i, a in enumerate(logs):
        path = write_trajectory_csv(
            out / f"episode_{i:04d}.csv",
            a[:, 0],
            a[:, 1 : 1 + nq],
            a[:, 1 + nq : 1 + nq + nv],
            a[:, 1 + nq + nv :],
        )
        total += path.stat().st_size
    return total


def ingestion(data_dir: Path, nbytes: int) -> tuple[DynamicsDataset, dict]:
    """Time the dataset's construction (CSV, Parquet, streamed) and,
    separately, the raw reader."""

    def build(directory: Path, **kw: int) -> tuple[DynamicsDataset, float]:
        start = time.perf_counter()
        dataset = DynamicsDataset(
            directory,
            angle_indices=ANGLES,
            coordinate_indices=COORDS,
            history_length=H,
            prediction_horizon=K,
            verbose=False,
            **kw,
        )
        return dataset, time.perf_counter() - start

    def best(directory: Path, **kw: int) -> tuple[DynamicsDataset, float]:
        """The best of 3 builds, as the rates of the other rows."""
        built = [build(directory, **kw) for _ in range(3)]
        return built[0][0], min(s for _, s in built)

    build(data_dir)  # compile the statistics once; time the later builds
    dataset, build_s = best(data_dir)
    pq = data_dir / "parquet"
    convert_logs(data_dir, pq, progress=False)
    pq_bytes = sum(f.stat().st_size for f in pq.glob("*.parquet"))
    _, pq_s = best(pq)
    total_rows = len(dataset.data)
    # Streamed statistics compile for the block's shape: time the later.
    _, stream_cold_s = build(pq, max_rows_in_memory=total_rows // 10)
    streamed, stream_s = best(pq, max_rows_in_memory=total_rows // 10)
    # A streamed epoch holds the block in use and the one read ahead.
    stream_held = 2 * streamed.block_rows * dataset.data.shape[1] * 4
    reads = []  # best of 3, as the scans below
    for _ in range(3):
        start = time.perf_counter()
        for path in sorted(data_dir.glob("*.csv")):
            read_trajectory_csv(path)
        reads.append(time.perf_counter() - start)
    # Reading the directory: one file at a time (8 threads) against one
    # multi-file scan, interleaved, best of 3 each.
    files = list_logs([data_dir])
    by_file, at_once = [], []
    for _ in range(3):
        for kind, out in ((False, by_file), (True, at_once)):
            start = time.perf_counter()
            scan_logs(files, at_once=kind)
            out.append(time.perf_counter() - start)
    held = sum(
        a.nbytes
        for a in (
            dataset.data,
            dataset.example_rows,
            dataset.example_files,
            dataset.train_indices,
            dataset.val_indices,
            dataset.file_offsets,
        )
    )
    raw = dataset.data.shape[0] * dataset.data.shape[1] * 4
    return dataset, {
        "mb": nbytes / 1e6,
        "build_s": build_s,
        "read_s": min(reads),
        "scan_by_file_s": min(by_file),
        "scan_at_once_s": min(at_once),
        "parquet_mb": pq_bytes / 1e6,
        "parquet_build_s": pq_s,
        "stream_build_s": stream_s,
        "stream_cold_s": stream_cold_s,
        "stream_held_bytes": stream_held,
        "rows": total_rows,
        "held_bytes": held,
        "raw_bytes": raw,
        "data_bytes": dataset.data.nbytes,
        "columns": dataset.data.shape[1],
    }


def add_ingestion_rows(t: Table, m: dict) -> None:
    """The ingestion and dataset-memory rows."""
    ing = m["ingestion"]
    files, rows = m["files"]
    t.add(
        f"ingest DynamicsDataset(), {files} files x {rows} rows, "
        f"{ing['mb']:.1f} MB",
        ing["mb"] / ing["build_s"],
        "MB/s",
        target=100.0,
        fmt=",.1f",
    )
    t.add(
        "ingest DynamicsDataset(), same logs as Parquet "
        f"({ing['parquet_mb']:.1f} MB), in CSV MB/s",
        ing["mb"] / ing["parquet_build_s"],
        "MB/s",
        target=100.0,
        fmt=",.1f",
    )
    t.add(
        "ingest streamed Parquet (blocks of 1/10 of the rows), in CSV MB/s"
        f" (first build, compiling: {ing['mb'] / ing['stream_cold_s']:,.1f})",
        ing["mb"] / ing["stream_build_s"],
        "MB/s",
        fmt=",.1f",
    )
    t.add(
        "ingest scan_logs(): one multi-file scan vs one file at a time "
        f"({ing['mb'] / ing['scan_by_file_s']:,.1f} MB/s)",
        ing["mb"] / ing["scan_at_once_s"],
        "MB/s",
        ratio=ing["scan_by_file_s"] / ing["scan_at_once_s"],
        ratio_of="vs one at a time",
        fmt=",.1f",
    )
    t.add(
        "ingest read_trajectory_csv() alone, same files",
        ing["mb"] / ing["read_s"],
        "MB/s",
        target=100.0,
        fmt=",.1f",
    )
    t.add(
        f"dataset memory / raw float32 (rows x {ing['columns']} columns x 4 B)",
        ing["held_bytes"] / ing["raw_bytes"],
        "x",
        target=1.5,
        better="lower",
        fmt=".2f",
    )
    t.add(
        "streamed: rows of the 2 blocks held / raw float32 (computed)",
        ing["stream_held_bytes"] / ing["raw_bytes"],
        "x",
        better="lower",
        fmt=".2f",
    )


if __name__ == "__main__":
    from bench_table import not_a_command

    not_a_command(__file__)
