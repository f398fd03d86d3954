"""Trajectory CSV logs: ``timestamp, qpos_*, qvel_*, ctrl_*``, one row a step.

A row at time t holds the state *before* the step (qpos, qvel as measured,
angles unwrapped) and the control actually applied during it, after clipping
to the actuators' ``ctrlrange``. Files are written atomically: a temporary
file beside the target is renamed over it, so a reader never sees a partial
log. Floats are written by polars in their shortest round-trip form, so a
log read back with polars (or numpy) gives the very same float64 values.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import polars as pl

from hydrax.dynamics_model_training.checkpoint import sigint_deferred


def csv_header(nq: int, nv: int, nu: int) -> list[str]:
    """The column names: ``timestamp, qpos_0.., qvel_0.., ctrl_0..``."""
    for name, n in (("nq", nq), ("nv", nv), ("nu", nu)):
        if n < 0:
            raise ValueError(f"{name} must be >= 0, got {n}")
    return (
        ["timestamp"]
        + [f"qpos_{i}" for i in range(nq)]
        + [f"qvel_{i}" for i in range(nv)]
        + [f"ctrl_{i}" for i in range(nu)]
    )


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

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with sigint_deferred():  # Ctrl-C lands after the file is complete
        try:
            if path.suffix == ".parquet":
                frame.write_parquet(tmp, compression="zstd")
            else:
                frame.write_csv(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
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


def read_trajectory_csv(
    path: str | Path, nq: int, nv: int, nu: int
) -> dict[str, np.ndarray]:
    """Read a log written by `write_trajectory_csv`, checking its header.

    Args:
        path: The CSV file.
        nq: Position dimension expected.
        nv: Velocity dimension expected.
        nu: Control dimension expected.

    Returns:
        ``times`` (T,), ``qpos`` (T, nq), ``qvel`` (T, nv), ``ctrl`` (T, nu).
    """
    frame = pl.read_csv(path)
    expected = csv_header(nq, nv, nu)
    if frame.columns != expected:
        raise ValueError(
            f"{path}: columns {frame.columns} do not match the expected "
            f"{expected}"
        )
    data = frame.to_numpy().astype(np.float64, copy=False)
    return {
        "times": data[:, 0],
        "qpos": data[:, 1 : 1 + nq],
        "qvel": data[:, 1 + nq : 1 + nq + nv],
        "ctrl": data[:, 1 + nq + nv :],
    }
