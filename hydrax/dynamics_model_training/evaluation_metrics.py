"""The evaluation's error metrics and their bootstrap confidence intervals.

A predictor (the network or a baseline, see ``baselines.py``) is rolled out
K steps from true windows through ``model.rollout_deltas``. Per window and
step this module measures:

- the standardized squared and absolute error of the predicted delta
  against the delta from the predictor's current state to the true next
  state (the training loss's definition and units), averaged over the
  delta's components;
- the physical-unit squared and absolute error of the predicted state per
  state dimension (:func:`error_dimensions`): angle errors wrapped to
  (-π, π], each free or ball joint's orientation as one geodesic angle in
  degrees, positions in metres where the layout knows them.

The metrics are the means over windows; beside each mean a 95% percentile
bootstrap interval over windows (:func:`bootstrap_weights`,
:func:`bootstrap_interval`), the same resamples for every predictor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.baselines import StandardizedDeltaModel
from hydrax.dynamics_model_training.model import rollout_deltas
from hydrax.dynamics_model_training.rotations import geodesic_angle
from hydrax.dynamics_model_training.transforms import StateLayout
from hydrax.utils import wrap_angle

BOOTSTRAP_RESAMPLES = 1000
"""Bootstrap resamples of the evaluated windows."""

CONFIDENCE = 0.95
"""Coverage of the reported intervals."""


# --- state dimensions ---------------------------------------------------------


def _qpos_kind(layout: StateLayout, i: int, free_positions: set[int]) -> tuple:
    """(kind, unit) of a non-quaternion qpos index."""
    if i in layout.angle_indices:
        return "angle", "rad"
    if i in layout.coordinate_indices or i in free_positions:
        return "coordinate", "m"
    return "position", ""


def _velocity_dims(layout: StateLayout) -> list[dict[str, str]]:
    """Name, kind and unit of each qvel dimension (units from its qpos)."""
    units = [""] * layout.nv
    if layout.nv != layout.nq - len(layout.quat_indices):
        # No known map from qpos to dofs (undeclared quaternions): no units.
        return [
            {"name": f"qvel_{i}", "kind": "velocity", "unit": ""}
            for i in range(layout.nv)
        ]
    free = {p + k for _, p, _ in layout.free_joints for k in range(3)}
    others = layout.other_indices
    for i, dof in zip(others, layout.dof_indices(others), strict=True):
        unit = _qpos_kind(layout, i, free)[1]
        units[dof] = unit + "/s" if unit else ""
    for dof in layout.dof_indices(layout.angle_indices):
        units[dof] = "rad/s"
    angular = {int(d) for d in layout.quat_dofs.ravel()}
    for dof in angular:
        units[dof] = "rad/s"
    return [
        {
            "name": f"qvel_{i}",
            "kind": "angular velocity" if i in angular else "velocity",
            "unit": units[i],
        }
        for i in range(layout.nv)
    ]


def state_dimensions(layout: StateLayout) -> list[dict[str, str]]:
    """Name, kind and unit of each raw state dimension (qpos, then qvel).

    A quaternion's 4 qpos are of kind ``quaternion`` (no unit); a free
    joint's 3 position qpos are coordinates in metres.
    """
    free = {p + k for _, p, _ in layout.free_joints for k in range(3)}
    quat = set(layout.quat_qpos)
    dims = []
    for i in range(layout.nq):
        kind, unit = (
            ("quaternion", "") if i in quat else _qpos_kind(layout, i, free)
        )
        dims.append({"name": f"qpos_{i}", "kind": kind, "unit": unit})
    return dims + _velocity_dims(layout)


def error_dimensions(layout: StateLayout) -> list[dict[str, str]]:
    """The rows in which a state error is reported (see `state_errors`).

    The raw dimensions, except that each free or ball joint's quaternion is
    one row ``orientation_<first qpos>`` in degrees (the geodesic angle)
    in the place of its 4 components. Without quaternions these are the
    raw dimensions.
    """
    raw = state_dimensions(layout)
    starts = set(layout.quat_indices)
    dims = []
    for i, dim in enumerate(raw[: layout.nq]):
        if i in starts:
            dims.append(
                {
                    "name": f"orientation_{i}",
                    "kind": "orientation",
                    "unit": "deg",
                }
            )
        elif dim["kind"] != "quaternion":
            dims.append(dim)
    return dims + raw[layout.nq :]


def with_joint_units(
    dims: list[dict[str, str]], joints: list[dict] | None
) -> list[dict[str, str]]:
    """Units the layout leaves open, from the manifest's joint types.

    A qpos in neither index list (a planar robot's root height, an
    absolute slide) gets ``m`` from a slide joint and ``rad`` from a hinge,
    its velocity ``m/s`` or ``rad/s``; other rows stay as they are.
    """
    units = {}
    for joint in joints or []:  # a hand-written manifest may lack fields
        unit = {"slide": "m", "hinge": "rad"}.get(joint.get("type"))
        qpos, dof = joint.get("qpos_adr"), joint.get("dof_adr")
        if unit and isinstance(qpos, int) and isinstance(dof, int):
            units[f"qpos_{qpos}"] = unit
            units[f"qvel_{dof}"] = unit + "/s"
    return [
        {**d, "unit": units[d["name"]]}
        if not d["unit"] and d["name"] in units
        else d
        for d in dims
    ]


def dim_label(dim: dict[str, str]) -> str:
    """``qpos_1 [rad]``, or the bare name when the unit is unknown."""
    return f"{dim['name']} [{dim['unit']}]" if dim["unit"] else dim["name"]


def state_errors(
    layout: StateLayout, predicted: np.ndarray, true: np.ndarray
) -> np.ndarray:
    """Errors of raw states (..., nq + nv) in the rows of `error_dimensions`.

    Predicted minus true, angle dims wrapped to (-π, π]; each quaternion is
    the geodesic angle between the two orientations in degrees, in [0, 180]
    (`rotations.geodesic_angle`).
    """
    predicted = np.asarray(predicted, np.float64)
    true = np.asarray(true, np.float64)
    err = predicted - true
    angles = list(layout.angle_indices)
    err[..., angles] = wrap_angle(err[..., angles])
    if not layout.quat_indices:
        return err
    columns = []
    quat = set(layout.quat_qpos)
    for i in range(layout.nq):
        if i in layout.quat_indices:
            q = slice(i, i + 4)
            columns.append(
                np.asarray(
                    geodesic_angle(predicted[..., q], true[..., q]), np.float64
                )
            )
        elif i not in quat:
            columns.append(err[..., i])
    columns += [err[..., layout.nq + j] for j in range(layout.nv)]
    return np.stack(columns, axis=-1)


# --- bootstrap ----------------------------------------------------------------


def bootstrap_weights(
    num_windows: int, seed: int, resamples: int = BOOTSTRAP_RESAMPLES
) -> np.ndarray:
    """Resampling weights: how often each window is drawn, per resample.

    Each resample draws ``num_windows`` windows with replacement; row r of
    the result counts the draws of each window divided by ``num_windows``,
    so ``weights @ values`` is the resampled means of ``values`` (B, ...).

    Args:
        num_windows: B, the evaluated windows.
        seed: Seeds the resamples (numpy's default generator).
        resamples: How many resamples.

    Returns:
        (resamples, B) float64 weights, each row summing to 1.

    Raises:
        ValueError: a non-positive ``num_windows`` or ``resamples``.
    """
    if num_windows < 1 or resamples < 1:
        raise ValueError(
            f"num_windows and resamples must be >= 1, got {num_windows} "
            f"and {resamples}"
        )
    rng = np.random.default_rng((seed, 0xB007))
    draws = rng.integers(0, num_windows, (resamples, num_windows))
    flat = draws + num_windows * np.arange(resamples)[:, None]
    counts = np.bincount(flat.ravel(), minlength=resamples * num_windows)
    return counts.reshape(resamples, num_windows) / num_windows


def bootstrap_interval(
    values: np.ndarray,
    weights: np.ndarray,
    confidence: float = CONFIDENCE,
) -> np.ndarray:
    """Percentile bootstrap interval of the mean over axis 0.

    Args:
        values: Per-window values, (B, ...).
        weights: From :func:`bootstrap_weights`, (resamples, B).
        confidence: Coverage, in (0, 1).

    Returns:
        (..., 2): the lower and upper bound of each mean.

    Raises:
        ValueError: ``confidence`` outside (0, 1), or weights for another B.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    values = np.asarray(values, np.float64)
    if weights.shape[1] != values.shape[0]:
        raise ValueError(
            f"weights are for {weights.shape[1]} windows, values have "
            f"{values.shape[0]}"
        )
    flat = values.reshape(values.shape[0], -1)
    means = weights @ flat  # (resamples, M)
    tail = 50.0 * (1.0 - confidence)
    bounds = np.percentile(means, [tail, 100.0 - tail], axis=0)  # (2, M)
    return np.moveaxis(bounds, 0, -1).reshape(*values.shape[1:], 2)


# --- rollouts and metrics -----------------------------------------------------


def rollout_batches(
    model: StandardizedDeltaModel,
    windows: np.ndarray,
    batch_size: int,
    rollout_fn: Callable[..., tuple] = rollout_deltas,
) -> tuple[np.ndarray, ...]:
    """Roll a predictor out over windows (B, H + K, R) in fixed-size batches.

    Args:
        model: The predictor (its ``layout`` and ``history_length``).
        windows: The evaluated rows, (B, H + K, R).
        batch_size: Windows per compiled call.
        rollout_fn: ``(model, window, controls, targets)`` to a tuple of
            per-window arrays; ``rollout_deltas`` (the default) or
            ``evaluation_ensemble.ensemble_rollout``.

    Returns:
        What ``rollout_fn`` returns for every window: for ``rollout_deltas``
        the predicted states (B, K, nq + nv), the predicted and the true
        standardized deltas (B, K, D).
    """
    h = model.history_length
    ns = model.layout.nq + model.layout.nv
    fn = jax.jit(lambda w, c, t: rollout_fn(model, w, c, t))
    outs = None
    for lo in range(0, len(windows), batch_size):
        part = windows[lo : lo + batch_size]
        n = len(part)
        if n < batch_size:  # pad to one compiled shape
            pad = np.repeat(part[:1], batch_size - n, axis=0)
            part = np.concatenate([part, pad])
        part = jnp.asarray(part)
        res = fn(part[:, :h], part[:, h:, ns:], part[:, h:, :ns])
        outs = outs or [[] for _ in res]
        for out, r in zip(outs, res, strict=True):
            out.append(np.asarray(r)[:n])
    return tuple(np.concatenate(o) for o in outs)


def _mean_with_ci(values: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
    """The mean of per-window values (B,) and its bootstrap interval."""
    return {
        "mean": float(np.mean(values)),
        "ci": bootstrap_interval(values, weights).tolist(),
    }


def predictor_metrics(
    layout: StateLayout,
    dims: list[dict[str, str]],
    rolled: tuple[np.ndarray, np.ndarray, np.ndarray],
    targets: np.ndarray,
    weights: np.ndarray,
    training_horizon: int | None = None,
) -> dict[str, Any]:
    """Per-step errors of one predictor's rollout, with their intervals.

    Args:
        layout: The state layout.
        dims: From :func:`error_dimensions`.
        rolled: What :func:`rollout_batches` returned.
        targets: The true states, (B, K, nq + nv).
        weights: From :func:`bootstrap_weights` for these B windows.
        training_horizon: Also report the mean over the first this many
            steps (None or longer than K: not reported).

    Returns:
        Per-step lists ``mse``, ``mae`` (standardized), ``phys_mse``,
        ``phys_mae`` (per state dimension), ``phys_mse_sum``; the intervals
        ``mse_ci``, ``mae_ci``, ``phys_mse_sum_ci`` ([low, high] per step);
        ``horizon_mean``: the mean over all K steps of ``mse`` and
        ``phys_mse_sum``, each ``{"mean", "ci"}``, and ``training_horizon``
        when asked for.
    """
    states, pred_std, true_std = rolled
    diff = pred_std.astype(np.float64) - true_std.astype(np.float64)
    sq_std = np.mean(np.square(diff), axis=2)  # (B, K)
    abs_std = np.mean(np.abs(diff), axis=2)
    err = state_errors(layout, states, targets)  # (B, K, len(dims))
    sq_sum = np.sum(np.square(err), axis=2)  # (B, K)
    mse = np.mean(np.square(err), axis=0)  # (K, ns)
    mae = np.mean(np.abs(err), axis=0)
    names = [d["name"] for d in dims]
    out = {
        "mse": np.mean(sq_std, axis=0).tolist(),
        "mae": np.mean(abs_std, axis=0).tolist(),
        "phys_mse": {n: mse[:, i].tolist() for i, n in enumerate(names)},
        "phys_mae": {n: mae[:, i].tolist() for i, n in enumerate(names)},
        "phys_mse_sum": mse.sum(axis=1).tolist(),
        "mse_ci": bootstrap_interval(sq_std, weights).tolist(),
        "mae_ci": bootstrap_interval(abs_std, weights).tolist(),
        "phys_mse_sum_ci": bootstrap_interval(sq_sum, weights).tolist(),
        "horizon_mean": {
            "steps": sq_std.shape[1],
            "mse": _mean_with_ci(sq_std.mean(axis=1), weights),
            "phys_mse_sum": _mean_with_ci(sq_sum.mean(axis=1), weights),
        },
    }
    k_train = training_horizon
    if k_train and k_train <= sq_std.shape[1]:
        out["training_horizon_mean"] = {
            "steps": int(k_train),
            "mse": _mean_with_ci(sq_std[:, :k_train].mean(axis=1), weights),
        }
    return out


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float | None]:
    """Element-wise a / b; None where it is not finite."""
    out = []
    for x, y in zip(a, b, strict=True):
        r = x / y if y > 0 else math.inf
        out.append(r if math.isfinite(r) else None)
    return out
