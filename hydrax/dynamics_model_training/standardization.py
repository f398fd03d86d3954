"""Standardization statistics of a dataset's training windows.

Inputs: mean and std per feature over all (window, row) pairs. Deltas: mean
and std of one-step true deltas per additive dimension; each angle pair gets
mean (1, 0) and std(sin Δθ) on both components. A delta's std is floored
at ``STD_EPS``; a constant input feature's std is 1. Moments are combined
per chunk and per block in float64 (Chan et al.), with fixed chunk shapes,
so the functions compile once.

:func:`compute_statistics` reads the training split's blocks.
:class:`FileMoments` instead folds per-file moments in while the files are
read and checked (:func:`hydrax.logs.scan_logs`'s ``on_file``), before the
split is known, and combines the training files' afterwards: a streamed
dataset then reads each file once at construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.log_layout import check_unit_quaternions
from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    TransformFn,
    state_delta,
    window_features,
)
from hydrax.dynamics_model_training.windows import (
    RowBlock,
    gather_windows,
    make_block,
)
from hydrax.logs import LogScan, Trajectory, scan_logs

STD_EPS = 1e-6
"""Floor of a delta's std; an input feature's std below it becomes 1."""

Moments = tuple[float, np.ndarray, np.ndarray]
"""(count, mean, centred sum of squares)."""


def combine_moments(a: Moments, b: Moments) -> Moments:
    """Chan et al.'s pairwise combination of (count, mean, centred M2)."""
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    total = n_a + n_b
    if total == 0:
        return a
    delta = mean_b - mean_a
    mean = mean_a + delta * n_b / total
    return total, mean, m2_a + m2_b + np.square(delta) * n_a * n_b / total


def training_pairs(block: RowBlock, val_file_mask: np.ndarray) -> np.ndarray:
    """Which (t, t + 1) row pairs of a block lie in one training file."""
    n = len(block.data)
    file_of = block.row_files()
    real = np.arange(n) < block.file_offsets[-1]  # not padding
    same = (file_of[:-1] == file_of[1:]) & real[1:]
    last = len(block.file_ids) - 1
    is_val = val_file_mask[block.file_ids[np.minimum(file_of[1:], last)]]
    return same & ~is_val


def compute_statistics(
    blocks: Iterable[tuple[RowBlock, np.ndarray]],
    val_file_mask: np.ndarray,
    layout: StateLayout,
    history_length: int,
    transform_fn: TransformFn | None,
    chunk: int = 16384,
) -> dict[str, np.ndarray]:
    """Standardization statistics over the training split's blocks.

    Args:
        blocks: The training split's (block, window ids) pairs.
        val_file_mask: Which of the dataset's files validate, (F,).
        layout: The state layout.
        history_length: Rows per input window (H).
        transform_fn: The custom qpos feature map, if any.
        chunk: Windows per compiled moment computation.

    Returns:
        ``in_mean``, ``in_std`` (per feature), ``out_mean``, ``out_std``
        (per transformed state dimension), float32.
    """
    ns = layout.nq + layout.nv
    static = {
        "layout": layout,
        "history_length": history_length,
        "transform_fn": transform_fn,
    }
    features = (0.0, np.float64(0.0), np.float64(0.0))
    steps = (0.0, np.float64(0.0), np.float64(0.0))
    for block, ids in blocks:
        data = jnp.asarray(block.data)
        starts = block.window_starts()
        for lo in range(0, len(ids), chunk):
            part = ids[lo : lo + chunk]
            weight = np.ones(chunk, np.float32)
            weight[len(part) :] = 0.0
            part = np.resize(part, chunk)
            moments = _feature_moments(
                data, block.example_rows[part], starts[part], weight, **static
            )
            features = combine_moments(
                features, tuple(np.asarray(x, np.float64) for x in moments)
            )
        # One-step deltas (row t → t + 1) within each training file.
        d = _step_deltas(data[:-1, :ns], data[1:, :ns], layout=layout)
        d = np.asarray(d, np.float64)
        d = d[training_pairs(block, val_file_mask)]
        mean = d.mean(0)
        steps = combine_moments(
            steps, (float(len(d)), mean, np.square(d - mean).sum(0))
        )
    return _finish(features, steps, layout)


def _finish(
    features: Moments, steps: Moments, layout: StateLayout
) -> dict[str, np.ndarray]:
    """The statistics from the pooled moments (angle pairs, floors)."""
    in_mean = np.asarray(features[1])
    in_std = np.sqrt(np.maximum(features[2] / features[0], 0.0))
    out_mean = np.array(steps[1])
    out_std = np.sqrt(np.maximum(steps[2] / max(steps[0], 1.0), 0.0))
    for c, s in layout.angle_slots:
        out_mean[c], out_mean[s] = 1.0, 0.0
        out_std[c] = out_std[s]
    return {
        "in_mean": in_mean.astype(np.float32),
        # A constant input is centred, not scaled: floored at STD_EPS, a
        # planner's deviation from it (a control the logs never moved)
        # would reach the GRU magnified a millionfold.
        "in_std": np.where(in_std < STD_EPS, 1.0, in_std).astype(np.float32),
        "out_mean": out_mean.astype(np.float32),
        "out_std": np.maximum(out_std, STD_EPS).astype(np.float32),
    }


@partial(jax.jit, static_argnames=("layout", "history_length", "transform_fn"))
def _feature_moments(
    data: jax.Array,
    rows: jax.Array,
    starts: jax.Array,
    weight: jax.Array,
    *,
    layout: StateLayout,
    history_length: int,
    transform_fn: TransformFn | None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Count, mean and centred sum of squares of one chunk's input features.

    Module-level and keyed on static arguments, so every dataset of one
    layout shares one compiled program.
    """
    f = _input_features(
        data, rows, starts, layout, history_length, transform_fn
    )
    w = jnp.broadcast_to(weight[:, None, None], f.shape[:-1] + (1,))
    n = jnp.sum(w)
    mean = jnp.sum(w * f, axis=(0, 1)) / jnp.maximum(n, 1.0)
    m2 = jnp.sum(w * jnp.square(f - mean), axis=(0, 1))
    return n, mean, m2


def _input_features(
    data: jax.Array,
    rows: jax.Array,
    starts: jax.Array,
    layout: StateLayout,
    history_length: int,
    transform_fn: TransformFn | None,
) -> jax.Array:
    """The input features of the windows at ``rows``, (B, H, D) (traced)."""
    offsets = jnp.arange(-history_length + 1, 1)
    win = gather_windows(data, rows, starts, offsets, layout.nq + layout.nv)
    return window_features(layout, win, transform_fn)


@partial(jax.jit, static_argnames=("layout",))
def _step_deltas(
    prev: jax.Array, nxt: jax.Array, *, layout: StateLayout
) -> jax.Array:
    """One-step deltas of consecutive rows (``state_delta``), jitted once."""
    return state_delta(layout, prev, nxt)


def scan_with_moments(
    files: Sequence[Path],
    layout_of: Callable[[tuple[int, int, int]], StateLayout],
    window: tuple[int, int, bool, TransformFn | None],
    max_rows: int | None,
) -> tuple[LogScan, FileMoments | None]:
    """Read and check the logs (quaternions unit); streamed, fold moments in.

    Args:
        files: The logs.
        layout_of: The layout of the logs' (nq, nv, nu).
        window: (history_length, prediction_horizon, pad_start,
            transform_fn).
        max_rows: None keeps every row (the statistics come from them
            later); else rows are dropped and each file's moments are kept,
            in blocks of at most this many rows.

    Returns:
        The scan, and the streamed files' moments (None in memory).
    """
    if max_rows is None:
        scan = scan_logs(files)
        check_unit_quaternions(layout_of(scan.dims), *scan.trajectories)
        return scan, None
    moments = FileMoments(layout_of, *window, max_rows)
    return scan_logs(files, keep_rows=False, on_file=moments.add), moments


class FileMoments:
    """Per-file moments, folded in as each file is read (``on_file``).

    Which files train is known only once every file has been read (the
    split is by file, over the files long enough for a window), so the
    moments are kept per file and the training files' are combined by
    :meth:`statistics`. Files are gathered into blocks of whole files of at
    most ``max_rows`` rows, padded to a power of two up to that size (few
    compiled shapes), so memory stays bounded as in a streamed epoch.

    An error while folding (the layout of the first file, a transform) is
    kept and raised by :meth:`statistics`, so the dataset's own checks,
    which come first, keep their order and messages.
    """

    def __init__(
        self,
        layout_of: Callable[[tuple[int, int, int]], StateLayout],
        history_length: int,
        prediction_horizon: int,
        pad_start: bool,
        transform_fn: TransformFn | None,
        max_rows: int,
        chunk: int = 16384,
    ) -> None:
        """Nothing read yet; ``layout_of(dims)`` gives the files' layout.

        ``chunk`` bounds the windows per compiled moment computation.
        """
        self._layout_of = layout_of
        self._window = (history_length, prediction_horizon, pad_start)
        self.transform_fn = transform_fn
        self.max_rows = max_rows
        # A block holds at most max_rows windows: chunks of equal size that
        # cover it waste little on padding (one compiled shape still).
        parts = -(-max_rows // chunk)
        self.chunk = -(-max_rows // parts)
        self.layout: StateLayout | None = None
        self.error: Exception | None = None
        self._pending: list[tuple[int, Trajectory]] = []
        self._features: dict[int, Moments] = {}
        self._steps: dict[int, Moments] = {}

    def add(self, index: int, traj: Trajectory) -> None:
        """Fold in file ``index`` (its checked log)."""
        if self.error is not None:
            return
        try:
            if self.layout is None:
                self.layout = self._layout_of(traj.dims)
            check_unit_quaternions(self.layout, traj)
            rows = sum(len(t.rows) for _, t in self._pending)
            if self._pending and rows + len(traj.rows) > self.max_rows:
                self._flush()
            self._pending.append((index, traj))
        except Exception as e:  # noqa: BLE001 - raised by statistics()
            self.error = e

    def statistics(self, train_files: Sequence[int]) -> dict[str, np.ndarray]:
        """The statistics over the given files (indices passed to ``add``)."""
        if self.error is None and self._pending:
            try:
                self._flush()
            except Exception as e:  # noqa: BLE001 - raised below
                self.error = e
        if self.error is not None:
            raise self.error
        assert self.layout is not None
        empty = (0.0, np.float64(0.0), np.float64(0.0))
        features, steps = empty, empty
        for f in train_files:  # in file order, as blocks would give them
            features = combine_moments(features, self._features[f])
            steps = combine_moments(steps, self._steps[f])
        return _finish(features, steps, self.layout)

    def _flush(self) -> None:
        """Moments of each pending file, from one block of them."""
        ids = [i for i, _ in self._pending]
        trajs = [t for _, t in self._pending]
        self._pending = []
        h, k, pad_start = self._window
        layout = self.layout
        # Padded to a power of two up to max_rows: few compiled shapes, and
        # a dataset far smaller than max_rows is not padded up to it.
        rows = sum(len(t.rows) for t in trajs)
        rows = max(rows, min(self.max_rows, 1 << (rows - 1).bit_length()))
        block = make_block(trajs, ids, layout, h, k, pad_start, rows)
        data = jnp.asarray(block.data)
        for f in ids:
            self._features[f] = (0.0, np.float64(0.0), np.float64(0.0))
        self._fold_features(block, data)
        ns = layout.nq + layout.nv
        d = _step_deltas(data[:-1, :ns], data[1:, :ns], layout=layout)
        d = np.asarray(d, np.float64)
        offsets = block.file_offsets
        for j, f in enumerate(ids):  # pairs (t, t + 1) inside file j
            part = d[offsets[j] : offsets[j + 1] - 1]
            mean = part.mean(0) if len(part) else np.float64(0.0)
            self._steps[f] = (
                float(len(part)),
                mean,
                np.square(part - mean).sum(0),
            )

    def _fold_features(self, block: RowBlock, data: jax.Array) -> None:
        """Combine each chunk's per-file feature moments into its files'."""
        starts = block.window_starts()
        static = {
            "layout": self.layout,
            "history_length": self._window[0],
            "transform_fn": self.transform_fn,
        }
        chunk = self.chunk
        for lo in range(0, len(block.example_rows), chunk):
            part = np.arange(lo, min(lo + chunk, len(block.example_rows)))
            files = block.example_files[part]
            segments = np.zeros(chunk, np.int32)
            segments[: len(part)] = files - files[0]
            weight = np.zeros(chunk, np.float32)
            weight[: len(part)] = 1.0
            part = np.resize(part, chunk)
            n, mean, m2 = (
                np.asarray(x, np.float64)
                for x in _feature_moments_by_file(
                    data,
                    block.example_rows[part],
                    starts[part],
                    segments,
                    weight,
                    **static,
                )
            )
            for s in range(int(files[-1] - files[0]) + 1):
                f = int(block.file_ids[files[0] + s])
                self._features[f] = combine_moments(
                    self._features[f], (float(n[s]), mean[s], m2[s])
                )


@partial(jax.jit, static_argnames=("layout", "history_length", "transform_fn"))
def _feature_moments_by_file(
    data: jax.Array,
    rows: jax.Array,
    starts: jax.Array,
    segments: jax.Array,
    weight: jax.Array,
    *,
    layout: StateLayout,
    history_length: int,
    transform_fn: TransformFn | None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Count, mean and centred sum of squares per file of one chunk.

    ``segments`` numbers each window's file from 0 within the chunk (a
    chunk's windows come in file order); as :func:`_feature_moments`, but
    one (count, mean, M2) per segment.
    """
    f = _input_features(
        data, rows, starts, layout, history_length, transform_fn
    )
    size = rows.shape[0]
    n = jax.ops.segment_sum(weight * f.shape[1], segments, size)
    total = jax.ops.segment_sum(weight[:, None] * f.sum(1), segments, size)
    mean = total / jnp.maximum(n, 1.0)[:, None]
    dev = jnp.square(f - mean[segments][:, None, :]).sum(1)
    m2 = jax.ops.segment_sum(weight[:, None] * dev, segments, size)
    return n, mean, m2
