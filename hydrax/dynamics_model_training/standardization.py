"""Standardization statistics of a dataset's training windows.

Inputs: mean and std per feature over all (window, row) pairs. Deltas: mean
and std of one-step true deltas per additive dimension; each angle pair gets
mean (1, 0) and std(sin Δθ) on both components. Every std is floored at
``STD_EPS``. Moments are combined per chunk and per block in float64 (Chan
et al.), with fixed chunk shapes, so the functions compile once.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    TransformFn,
    state_delta,
    window_features,
)
from hydrax.dynamics_model_training.windows import RowBlock, gather_windows

STD_EPS = 1e-6
"""Floor of every standardization std (a constant column stays finite)."""

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
    in_mean = np.asarray(features[1])
    in_std = np.sqrt(np.maximum(features[2] / features[0], 0.0))
    out_mean = np.array(steps[1])
    out_std = np.sqrt(np.maximum(steps[2] / max(steps[0], 1.0), 0.0))
    for c, s in layout.angle_slots:
        out_mean[c], out_mean[s] = 1.0, 0.0
        out_std[c] = out_std[s]
    return {
        "in_mean": in_mean.astype(np.float32),
        "in_std": np.maximum(in_std, STD_EPS).astype(np.float32),
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
    offsets = jnp.arange(-history_length + 1, 1)
    win = gather_windows(data, rows, starts, offsets, layout.nq + layout.nv)
    f = window_features(layout, win, transform_fn)
    w = jnp.broadcast_to(weight[:, None, None], f.shape[:-1] + (1,))
    n = jnp.sum(w)
    mean = jnp.sum(w * f, axis=(0, 1)) / jnp.maximum(n, 1.0)
    m2 = jnp.sum(w * jnp.square(f - mean), axis=(0, 1))
    return n, mean, m2


@partial(jax.jit, static_argnames=("layout",))
def _step_deltas(
    prev: jax.Array, nxt: jax.Array, *, layout: StateLayout
) -> jax.Array:
    """One-step deltas of consecutive rows (``state_delta``), jitted once."""
    return state_delta(layout, prev, nxt)
