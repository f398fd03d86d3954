"""Baseline predictors and a rollout that returns standardized deltas.

Every predictor here has the network's surface (``layout``,
``history_length``, ``predict_standardized``, ``standardize``,
``unstandardize``), so it rolls out through the same ``apply_delta`` and
window sliding as the network, and its errors are measured in the network's
standardized units:

- :class:`ZeroDeltaModel`: the state stays where it is;
- :class:`ConstantVelocityModel`: q_{t+k} = q_t + k·dt·qvel_t, qvel held
  (quaternions turn by the local rotation vector k·dt·ω_t);
- :class:`LinearDeltaModel`: ridge regression from the standardized,
  flattened window features to the standardized one-step delta
  (:func:`fit_linear_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    TransformFn,
    state_delta,
    velocity_delta,
    window_features,
)
from hydrax.dynamics_model_training.windows import gather_windows
from hydrax.logs import DataError

RIDGE = 1e-3
"""Ridge penalty per window (features are standardized)."""

MAX_FIT_WINDOWS = 100_000
"""At most this many training windows fit the linear baseline."""


class StandardizedDeltaModel(Protocol):
    """What a rollout needs from a predictor (a network or a baseline)."""

    layout: StateLayout
    history_length: int

    def predict_standardized(self, window: jax.Array) -> jax.Array:
        """The standardized delta after a window, (B, H, R) → (B, D)."""

    def standardize(self, delta: jax.Array) -> jax.Array:
        """A physical delta in standardized units."""

    def unstandardize(self, delta_std: jax.Array) -> jax.Array:
        """A standardized delta in physical units."""


@dataclass(frozen=True)
class _Baseline:
    """A baseline predictor that shares the network's delta statistics."""

    layout: StateLayout
    history_length: int
    out_mean: jax.Array
    out_std: jax.Array

    def standardize(self, delta: jax.Array) -> jax.Array:
        """A physical delta in the network's standardized units."""
        return (delta - self.out_mean) / self.out_std

    def unstandardize(self, delta_std: jax.Array) -> jax.Array:
        """A standardized delta in physical units."""
        return self.out_mean + self.out_std * delta_std

    @classmethod
    def like(cls, network: DynamicsNetwork, **kw: Any) -> _Baseline:  # noqa: ANN401
        """A baseline with the network's layout, H and delta statistics."""
        return cls(
            network.layout,
            network.history_length,
            jnp.asarray(network.out_mean[...]),
            jnp.asarray(network.out_std[...]),
            **kw,
        )


def _identity_delta(layout: StateLayout, batch: int) -> jax.Array:
    """The delta that changes nothing: (1, 0) per angle, 0 elsewhere."""
    delta = jnp.zeros((batch, layout.state_dim))
    return delta.at[:, layout.angle_slots[:, 0]].set(1.0)


@dataclass(frozen=True)
class ZeroDeltaModel(_Baseline):
    """Predicts that the state stays where it is."""

    def predict_standardized(self, window: jax.Array) -> jax.Array:
        """The standardized zero delta, (B, H, R) → (B, D)."""
        delta = _identity_delta(self.layout, window.shape[0])
        return self.standardize(delta)


@dataclass(frozen=True)
class ConstantVelocityModel(_Baseline):
    """Moves qpos by dt·qvel of the current row (``velocity_delta``)."""

    dt: float = 0.01

    def predict_standardized(self, window: jax.Array) -> jax.Array:
        """The standardized constant-velocity delta, (B, H, R) → (B, D)."""
        lay = self.layout
        qvel = window[:, -1, lay.nq : lay.nq + lay.nv]
        qpos = window[:, -1, : lay.nq]
        return self.standardize(velocity_delta(lay, qvel, self.dt, qpos))


@dataclass(frozen=True)
class LinearDeltaModel(_Baseline):
    """Ridge regression: standardized window features → standardized delta.

    Attributes:
        in_mean: The network's input feature means, (F,).
        in_std: The network's input feature stds, (F,).
        weights: (H·F + 1, D); the last row is the bias.
        transform_fn: The network's custom qpos feature map, if any.
    """

    in_mean: jax.Array | None = None
    in_std: jax.Array | None = None
    weights: jax.Array | None = None
    transform_fn: TransformFn | None = None

    def features(self, window: jax.Array) -> jax.Array:
        """Standardized, flattened window features, (B, H, R) → (B, H·F)."""
        feats = window_features(self.layout, window, self.transform_fn)
        feats = (feats - self.in_mean) / self.in_std
        return feats.reshape(window.shape[0], -1)

    def predict_standardized(self, window: jax.Array) -> jax.Array:
        """The standardized delta after a window, (B, H, R) → (B, D)."""
        return self.features(window) @ self.weights[:-1] + self.weights[-1]


def fit_linear_model(
    network: DynamicsNetwork,
    dataset: DynamicsDataset,
    file_mask: np.ndarray,
    *,
    ridge: float = RIDGE,
    max_windows: int = MAX_FIT_WINDOWS,
    seed: int = 0,
) -> tuple[LinearDeltaModel, int]:
    """Fit the linear baseline on one-step windows of some of the files.

    Solves (XᵀX + ridge·N·I) W = XᵀY with a bias column that is not
    penalized; X holds the network's standardized window features, Y the
    standardized true one-step deltas.

    Args:
        network: Supplies the layout, H, transform and statistics.
        dataset: The rows (its files, in ``dataset.files`` order).
        file_mask: Which of the dataset's files to fit on, (num_files,).
        ridge: Penalty per window.
        max_windows: Subsample to at most this many windows.
        seed: Seed of the subsample.

    Returns:
        The fitted model and the number of windows it was fit on.
    """
    # Long for its documented arguments and the one least-squares solve
    # it states step by step.
    layout, h = network.layout, network.history_length
    ns = layout.nq + layout.nv
    rows, starts = [], []
    for f in np.flatnonzero(file_mask):
        lo, hi = dataset.file_offsets[f], dataset.file_offsets[f + 1]
        current = np.arange(lo + h - 1, hi - 1)
        rows.append(current)
        starts.append(np.full(len(current), lo))
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    if len(rows) == 0:
        raise DataError(
            "no window to fit the linear baseline on (training files "
            f"shorter than history_length + 1 = {h + 1} rows)"
        )
    if len(rows) > max_windows:
        pick = np.sort(
            np.random.default_rng(seed).choice(len(rows), max_windows, False)
        )
        rows, starts = rows[pick], starts[pick]
    model = LinearDeltaModel.like(
        network,
        in_mean=jnp.asarray(network.in_mean[...]),
        in_std=jnp.asarray(network.in_std[...]),
        transform_fn=network.transform_fn,
    )
    offsets = jnp.arange(-h + 1, 2)

    @jax.jit
    def design(data: jax.Array, rows: jax.Array, starts: jax.Array) -> tuple:
        win = gather_windows(data, rows, starts, offsets, ns)
        x = model.features(win[:, :h])
        x = jnp.concatenate([x, jnp.ones((x.shape[0], 1))], axis=-1)
        delta = state_delta(layout, win[:, h - 1, :ns], win[:, h, :ns])
        return x, model.standardize(delta)

    xtx, xty = 0.0, 0.0
    chunk = 8192
    data = jnp.asarray(dataset.data)
    for lo in range(0, len(rows), chunk):
        x, y = design(data, rows[lo : lo + chunk], starts[lo : lo + chunk])
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        xtx = xtx + x.T @ x
        xty = xty + x.T @ y
    penalty = ridge * len(rows) * np.eye(xtx.shape[0])
    penalty[-1, -1] = 0.0
    weights = np.linalg.solve(xtx + penalty, xty)
    model = LinearDeltaModel.like(
        network,
        in_mean=model.in_mean,
        in_std=model.in_std,
        weights=jnp.asarray(weights, jnp.float32),
        transform_fn=network.transform_fn,
    )
    return model, len(rows)
