"""The log format: columns, the row convention, and the start-up history.

A log holds one trajectory, one row per simulation step:
``timestamp, qpos_0.., qvel_0.., ctrl_0..``. Row t holds the state *before*
step t (qpos and qvel as measured, angles unwrapped) and the control actually
applied during it, after clipping to the actuators' ``ctrlrange``. Before the
first measured row, the history is the first measured state repeated with
zero control (:func:`startup_history`): training pads the start of each file
that way and planning starts from it, so the two never differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np

LOG_SUFFIXES = (".csv", ".parquet")
"""File suffixes read as trajectory logs."""

DT_RTOL = 1e-4
"""Relative tolerance on the spacing of timestamps (in and across logs)."""

_GROUP = re.compile(r"^(qpos|qvel|ctrl)_(\d+)$")

ArrayT = TypeVar("ArrayT", np.ndarray, jax.Array)


class DataError(ValueError):
    """A data file or directory that cannot be used, with where and why."""


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


def parse_header(columns: Sequence[str], path: Path) -> tuple[int, int, int]:
    """Check a log's header and return (nq, nv, nu).

    The header must be ``timestamp`` then the qpos, qvel and ctrl groups,
    each numbered from 0 without gaps, in that order.

    Raises:
        DataError: naming ``path`` and the first column that is wrong.
    """
    columns = list(columns)
    if not columns or columns[0].strip() != "timestamp":
        first = columns[0] if columns else "(nothing)"
        raise DataError(
            f"{path}: the first column must be 'timestamp', found {first!r}"
        )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears twice")
        seen.add(name)
    counts = {"qpos": 0, "qvel": 0, "ctrl": 0}
    order = []
    for col, name in enumerate(columns[1:], start=2):
        m = _GROUP.match(name.strip())
        if m is None:
            raise DataError(
                f"{path}: column {col} {name!r} is not qpos_<i>, qvel_<i> "
                "or ctrl_<i>"
            )
        group, idx = m.group(1), int(m.group(2))
        if idx != counts[group]:
            raise DataError(
                f"{path}: column {col} is {name!r} but {group}_{counts[group]}"
                f" was expected there (a gap or a wrong order in the {group} "
                "columns)"
            )
        counts[group] += 1
        if not order or order[-1] != group:
            order.append(group)
    for group in ("qpos", "qvel", "ctrl"):
        if counts[group] == 0:
            raise DataError(f"{path}: the header has no {group}_0.. columns")
    if order != ["qpos", "qvel", "ctrl"]:
        raise DataError(
            f"{path}: column groups must come as qpos, qvel, ctrl; found "
            f"{', '.join(order)}"
        )
    return counts["qpos"], counts["qvel"], counts["ctrl"]


def startup_history(state: ArrayT, num_rows: int, nu: int) -> ArrayT:
    """The history before anything was measured: the state, zero control.

    Works on numpy arrays (returns numpy) and on JAX arrays or tracers
    (returns JAX, so it can be jitted).

    Args:
        state: The first measured (qpos, qvel), (..., nq + nv).
        num_rows: Rows to make (>= 0).
        nu: Controls per row.

    Returns:
        Rows, (..., num_rows, nq + nv + nu), of ``state``'s dtype.
    """
    if num_rows < 0:
        raise ValueError(f"num_rows must be >= 0, got {num_rows}")
    xp = np if isinstance(state, np.ndarray) else jnp
    zeros = xp.zeros((*state.shape[:-1], nu), state.dtype)
    row = xp.concatenate([state, zeros], axis=-1)
    return xp.repeat(row[..., None, :], num_rows, axis=-2)
