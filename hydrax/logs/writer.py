"""Write trajectory logs, CSV or Parquet, losslessly and atomically.

Floats are written by polars in their shortest round-trip form (CSV) or as
float64 columns (Parquet), so a log read back gives the very same float64
values. A temporary file beside the target is renamed over it, so a reader
never sees a partial log, and Ctrl-C lands after the file is complete.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from hydrax.atomic import atomic_path
from hydrax.logs.format import csv_header


def _as_rows(name: str, a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` as a float64 (rows, n) array, or a ValueError naming it."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1 and rows == a.shape[0]:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] != rows:
        raise ValueError(
            f"{name} must have shape ({rows}, n) to match {rows} "
            f"timestamps, got {a.shape}"
        )
    return a


def write_trajectory(
    path: str | Path,
    times: np.ndarray,
    qpos: np.ndarray,
    qvel: np.ndarray,
    ctrl: np.ndarray,
) -> Path:
    """Write one trajectory losslessly and atomically, CSV or Parquet.

    A ``.parquet`` path gets a Parquet file (float64 columns, zstd), any
    other path a CSV file; both have the same columns.

    Args:
        path: The file to write (its directory is created).
        times: Simulated time of each row, (T,).
        qpos: Positions before each step, (T, nq).
        qvel: Velocities before each step, (T, nv).
        ctrl: The (clipped) control applied during each step, (T, nu).

    Returns:
        The path written.
    """
    path = Path(path)
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1:
        raise ValueError(f"times must be 1-D, got shape {times.shape}")
    rows = times.shape[0]
    qpos = _as_rows("qpos", qpos, rows)
    qvel = _as_rows("qvel", qvel, rows)
    ctrl = _as_rows("ctrl", ctrl, rows)
    header = csv_header(qpos.shape[1], qvel.shape[1], ctrl.shape[1])
    data = np.concatenate([times[:, None], qpos, qvel, ctrl], axis=1)
    frame = pl.DataFrame(data, schema=header, orient="row")
    # No fsync: a collection writes many small logs (~3 ms each); the
    # rename alone keeps a crashed process from leaving a partial log.
    with atomic_path(path, fsync=False) as tmp:
        if path.suffix == ".parquet":
            frame.write_parquet(tmp, compression="zstd")
        else:
            frame.write_csv(tmp)
    return path


def write_trajectory_csv(
    path: str | Path,
    times: np.ndarray,
    qpos: np.ndarray,
    qvel: np.ndarray,
    ctrl: np.ndarray,
) -> Path:
    """Write one trajectory as a CSV log (see `write_trajectory`)."""
    if Path(path).suffix == ".parquet":
        raise ValueError(f"{path}: a CSV log needs a name ending in .csv")
    return write_trajectory(path, times, qpos, qvel, ctrl)
