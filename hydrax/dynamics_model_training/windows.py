"""Windows into logged rows: blocks of whole files, and gathering windows.

A window of ``history_length + prediction_horizon`` rows is an index (its
*current* row, the last of the history) into a :class:`RowBlock`, the rows of
some whole files. Rows before a file's first row are the start-up history of
the log format (:func:`hydrax.logs.startup_history`): the file's first state
repeated with zero control.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.transforms import StateLayout
from hydrax.logs import DataError, Trajectory, startup_history
from hydrax.utils import plural

if TYPE_CHECKING:
    from hydrax.dynamics_model_training.dataset import DynamicsDataset


@dataclass(frozen=True)
class RowBlock:
    """The rows of whole files in memory, and the windows into them.

    Attributes:
        data: Rows, (N, R) float32, angles wrapped. A streamed block is
            padded with zero rows to the dataset's block size, which no
            window reads, so every block has one shape (no recompiles).
        file_offsets: First row of each file, then the end of the last,
            (F + 1,).
        example_rows: Each window's current row, (E,).
        example_files: Each window's file (its index in the block), (E,).
        files: The block's files.
        file_ids: Each of the block's files as an index into the
            dataset's files, (F,).
    """

    data: np.ndarray
    file_offsets: np.ndarray
    example_rows: np.ndarray
    example_files: np.ndarray
    files: tuple[Path, ...]
    file_ids: np.ndarray

    def window_starts(self) -> np.ndarray:
        """The first row of each window's file, (E,) int64."""
        return self.file_offsets[self.example_files].astype(np.int64)

    def row_files(self) -> np.ndarray:
        """The block's file (index in the block) of every row, (N,).

        Padding rows after the last file get F, one past the last index.
        """
        n = len(self.data)
        return np.searchsorted(self.file_offsets, np.arange(n), "right") - 1


def first_window_row(history_length: int, pad_start: bool) -> int:
    """The first row of a file that can be a window's current row."""
    return 0 if pad_start else history_length - 1


def rows_for_a_window(
    history_length: int, prediction_horizon: int, pad_start: bool
) -> int:
    """The rows a file needs for one window (shorter files are skipped)."""
    return first_window_row(history_length, pad_start) + 1 + prediction_horizon


def why_rows(
    history_length: int, prediction_horizon: int, pad_start: bool
) -> str:
    """What makes :func:`rows_for_a_window`'s count, for messages."""
    h, k = history_length, prediction_horizon
    if pad_start:
        return f"prediction_horizon={k} + 1; history_length={h} is padded"
    return f"history_length={h} + prediction_horizon={k}"


def make_block(
    trajectories: Sequence[Trajectory],
    file_ids: Sequence[int],
    layout: StateLayout,
    history_length: int,
    prediction_horizon: int,
    pad_start: bool,
    num_rows: int | None = None,
) -> RowBlock:
    """Rows of some files (angles wrapped) and the window index into them.

    Args:
        trajectories: The files' logs, in block order.
        file_ids: Their indices among the dataset's files.
        layout: Which qpos are angles (wrapped to [-π, π)).
        history_length: Rows of history per window (H).
        prediction_horizon: Rows after the current one per window (K).
        pad_start: Offer windows whose history starts before the file.
        num_rows: Pad the rows with zeros to this count (None: no padding).

    Returns:
        The block.
    """
    lengths = np.array([len(t.rows) for t in trajectories])
    file_offsets = np.concatenate([[0], np.cumsum(lengths)])
    total = int(file_offsets[-1])
    width = trajectories[0].rows.shape[1]
    rows = np.zeros((num_rows or total, width), np.float32)
    for t, lo in zip(trajectories, file_offsets, strict=False):
        rows[lo : lo + len(t.rows)] = t.rows
    angles = list(layout.angle_indices)
    if angles:
        a = np.concatenate([t.rows[:, angles] for t in trajectories])
        rows[:total, angles] = np.remainder(a + np.pi, 2 * np.pi) - np.pi
    first = first_window_row(history_length, pad_start)
    starts, in_file = [], []
    for f, n in enumerate(lengths):
        t = np.arange(first, n - prediction_horizon)
        starts.append(file_offsets[f] + t)
        in_file.append(np.full(len(t), f))
    # int32 while it fits (JAX indexes in int32 anyway): the index arrays
    # stay small beside the float32 rows.
    index = np.int32 if len(rows) < 2**31 else np.int64
    return RowBlock(
        data=rows,
        file_offsets=file_offsets,
        example_rows=np.concatenate(starts).astype(index),
        example_files=np.concatenate(in_file).astype(np.int32),
        files=tuple(t.path for t in trajectories),
        file_ids=np.asarray(file_ids, np.int64),
    )


def gather_windows(
    data: jax.Array | np.ndarray,
    rows: jax.Array | np.ndarray,
    file_starts: jax.Array | np.ndarray,
    offsets: jax.Array | np.ndarray,
    ns: int,
) -> jax.Array:
    """Gather windows of rows; rows before a file's start are padding.

    Padding rows are :func:`hydrax.logs.startup_history` of the file's first
    state: that state with zero control.

    Args:
        data: All rows, (N, R).
        rows: Each window's current row (global index), (B,).
        file_starts: The first global row of each window's file, (B,).
        offsets: Row offsets relative to the current row, (W,).
        ns: nq + nv (the state part of a row).

    Returns:
        Windows, (B, W, R).
    """
    data = jnp.asarray(data)
    offsets = jnp.asarray(offsets)
    file_starts = jnp.asarray(file_starts)
    idx = jnp.asarray(rows)[:, None] + offsets[None, :]  # (B, W)
    starts = file_starts[:, None]
    win = data[jnp.maximum(idx, starts)]  # (B, W, R)
    pad = startup_history(
        data[file_starts, :ns], offsets.shape[0], data.shape[-1] - ns
    )  # (B, W, R)
    return jnp.where((idx < starts)[..., None], pad, win)


def check_poolable(a: DynamicsDataset, b: DynamicsDataset) -> None:
    """Raise when two datasets cannot be pooled (columns or layout).

    The message names ``a`` (the left of ``+``) first, then ``b``.
    """
    what = f"cannot combine {a.data_dirs[0]} with {b.data_dirs[0]}"
    if a.columns != b.columns:
        only = [
            ", ".join(c for c in x.columns if c not in y.columns) or "none"
            for x, y in ((a, b), (b, a))
        ]
        raise DataError(
            f"{what}: their columns differ ({len(a.columns)} vs "
            f"{len(b.columns)}; only in the first: {only[0]}; only in the "
            f"second: {only[1]})"
        )
    if a.layout != b.layout:
        raise DataError(
            f"{what}: angle/coordinate indices differ "
            f"({a.layout} vs {b.layout})"
        )
    windows = [(d.history_length, d.prediction_horizon) for d in (a, b)]
    if windows[0] != windows[1]:
        raise DataError(
            f"{what}: history_length and prediction_horizon differ "
            f"({windows[0][0]} and {windows[0][1]} vs {windows[1][0]} and "
            f"{windows[1][1]})"
        )


class Examples(Sequence):
    """Training windows that reference their datasets' rows (no copies).

    ``examples[i]`` is one window of ``history_length + prediction_horizon``
    raw rows; ``a + b`` combines the windows of two datasets of the same
    columns and layout into one sequence.
    """

    def __init__(self, parts: list[tuple[DynamicsDataset, np.ndarray]]):
        """Windows given as (dataset, example index array) parts."""
        self.parts = parts
        self._sizes = np.cumsum([0] + [len(ix) for _, ix in parts])

    def __len__(self) -> int:
        return int(self._sizes[-1])

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(f"example {i} out of range ({len(self)})")
        i %= len(self)
        p = int(np.searchsorted(self._sizes, i, side="right") - 1)
        ds, ix = self.parts[p]
        return ds.window_rows(np.array([ix[i - self._sizes[p]]]))[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def __add__(self, other: Examples) -> Examples:
        if not isinstance(other, Examples):
            return NotImplemented
        if self.parts and other.parts:
            a, b = self.parts[0][0], other.parts[0][0]
            a.check_compatible(b)
        return Examples(self.parts + other.parts)

    def batch(self, indices: np.ndarray) -> np.ndarray:
        """Windows for a batch of positions, (B, H + K, R) float32.

        Negative positions count from the end, as ``examples[i]``.

        Raises:
            IndexError: naming the first position out of range, or for an
                empty batch.
        """
        indices = np.asarray(indices)
        n = len(self)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise IndexError(
                f"example positions must be integers, got {indices.dtype}"
            )
        bad = (indices < -n) | (indices >= n)
        if bad.any():
            i = indices[bad].flat[0]
            raise IndexError(f"example {i} out of range ({n} examples)")
        indices = indices % max(n, 1)
        out = None
        for p, (ds, ix) in enumerate(self.parts):
            lo, hi = self._sizes[p], self._sizes[p + 1]
            sel = (indices >= lo) & (indices < hi)
            if not sel.any():
                continue
            rows = ds.window_rows(ix[indices[sel] - lo])
            if out is None:
                out = np.empty((len(indices), *rows.shape[1:]), rows.dtype)
            out[sel] = rows
        if out is None:
            raise IndexError("empty batch")
        return out


# --- sampling weights -------------------------------------------------------


def seeded(seed: int, purpose: str, *keys: int) -> np.random.Generator:
    """A generator of its own for one use of a run's seed.

    ``default_rng([seed, e])`` and ``default_rng([seed, e, 0])`` draw the
    same numbers (trailing zeros are dropped), so streams told apart only
    by trailing keys collide; a purpose tag in the ``spawn_key`` keeps
    them apart.
    """
    tag = zlib.crc32(purpose.encode())
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(tag, *keys))
    )


def directory_file_weights(
    files: Sequence[Path],
    data_dirs: Sequence[Path],
    weights: Sequence[int],
) -> np.ndarray:
    """Per-file sampling weights from one weight per data directory.

    Args:
        files: The dataset's files (each directly inside one of
            ``data_dirs``).
        data_dirs: The dataset's directories, in order.
        weights: One positive integer per directory.

    Returns:
        Each file's weight, (F,) int64.

    Raises:
        ValueError: naming ``data_weights`` when the weights do not fit the
            directories (count, value, one directory given twice with two
            weights).
    """
    dirs = [Path(d) for d in data_dirs]
    if len(weights) != len(dirs):
        raise ValueError(
            f"data_weights has {plural(len(weights), 'entry', 'entries')} "
            f"for {plural(len(dirs), 'data directory', 'data directories')}; "
            "give one weight per directory"
        )
    by_dir: dict[Path, int] = {}
    for d, w in zip(dirs, weights, strict=True):
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1:
            raise ValueError(
                f"data_weights: the weight of {d} must be a positive "
                f"integer, got {w!r}"
            )
        if by_dir.setdefault(d, int(w)) != w:
            raise ValueError(
                f"data_weights: {d} is given twice, with weights "
                f"{by_dir[d]} and {w}"
            )
    return np.array([by_dir[Path(f).parent] for f in files], np.int64)


def weighted_windows(
    block: RowBlock, ids: np.ndarray, file_weights: np.ndarray | None
) -> np.ndarray:
    """Window ids, each repeated its file's weight times, in id order.

    ``file_weights`` indexes the dataset's files; None (or all ones) returns
    ``ids`` itself, so an unweighted epoch is exactly the unweighted one.
    """
    if file_weights is None:
        return ids
    per_window = file_weights[block.file_ids[block.example_files[ids]]]
    if np.all(per_window == 1):
        return ids
    return np.repeat(ids, per_window)
