"""An ensemble's evaluation: its mean rollout, disagreement and calibration.

An ensemble checkpoint (``num_models > 1``) is evaluated as the planner's
default ``"mean"`` strategy rolls it out (``NeuralNetworkDynamics``): at
every step each member predicts a standardized delta from the same current
state and its own memory; the mean of those deltas is applied and fed back
(:func:`ensemble_rollout`). That rollout is the evaluation's ``model``;
each member is also rolled out on its own (``member_<m>``).

The members' disagreement at a step is the standard deviation over the
members of their predicted standardized deltas, root-mean-squared over the
delta's components (the planner's disagreement penalty is the weight times
the delta's size D times its square). Whether it tells where the ensemble
is wrong: its Pearson and Spearman correlation over the windows with the
ensemble's true error at the same step (the root-mean-square standardized
error), per step and overall (per-window means over the horizon).

One step ahead every member predicts from the same true window, so the
ensemble's mean prediction there is no worse than the members' average in
standardized MSE (convexity of the square); later steps feed back the mean
and carry no such guarantee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import rankdata

from hydrax.dynamics_model_training.evaluation_metrics import (
    bootstrap_interval,
)
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    drop_oldest,
    integrated,
    predict_delta,
    push_row,
    start_memory,
)
from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    apply_delta,
    state_delta,
)


def member_name(m: int) -> str:
    """The predictor name of ensemble member ``m``: ``member_<m>``."""
    return f"member_{m}"


@dataclass(frozen=True)
class EnsembleMean:
    """The members of an ensemble (sharing layout, H and statistics)."""

    members: tuple[DynamicsNetwork, ...]

    @property
    def layout(self) -> StateLayout:
        """The members' state layout."""
        return self.members[0].layout

    @property
    def history_length(self) -> int:
        """The members' input window length H."""
        return self.members[0].history_length


def ensemble_rollout(
    ensemble: EnsembleMean,
    window: jax.Array,
    controls: jax.Array,
    targets: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Roll the ensemble out with the mean of its members' deltas.

    The steps are ``model.rollout_deltas``'s, with every member's memory
    carried and the mean standardized delta applied.

    Args:
        ensemble: The members.
        window: The initial raw rows, (B, H, R).
        controls: The controls after the window, (B, K, nu).
        targets: The true states, (B, K, nq + nv).

    Returns:
        The predicted states (B, K, nq + nv), the mean predicted and the
        target standardized deltas (B, K, D), and the members' disagreement
        (B, K).
    """
    members = ensemble.members
    layout = ensemble.layout
    first = members[0]  # the members share the statistics
    ns = layout.nq + layout.nv
    xs = (jnp.swapaxes(controls, 0, 1), jnp.swapaxes(targets, 0, 1))

    def step(carry: tuple, xs: tuple) -> tuple:
        memories, current = carry
        u_next, target = xs
        pairs = zip(members, memories, strict=True)
        # Each member's delta as its own rollout scores it (a structured
        # delta's position part integrated), as the planner's mean step has.
        preds = jnp.stack(
            [integrated(m, current, predict_delta(m, mem)) for m, mem in pairs]
        )
        mean = preds.mean(axis=0)  # preds: (M, B, D)
        spread = jnp.sqrt(jnp.mean(jnp.var(preds, axis=0), axis=-1))
        true_std = first.standardize(state_delta(layout, current, target))
        nxt = apply_delta(layout, current, first.unstandardize(mean))
        row = jnp.concatenate([nxt, u_next], axis=-1)
        memories = tuple(
            push_row(m, drop_oldest(m, mem), row)
            for m, mem in zip(members, memories, strict=True)
        )
        return (memories, nxt), (nxt, mean, true_std, spread)

    memories = tuple(start_memory(m, window, window[:, 0]) for m in members)
    _, outs = jax.lax.scan(step, (memories, window[:, -1, :ns]), xs)
    return tuple(jnp.swapaxes(o, 0, 1) for o in outs)


# --- correlation --------------------------------------------------------------


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's correlation of two samples; None when either is constant."""
    x = np.asarray(x, np.float64) - np.mean(x)
    y = np.asarray(y, np.float64) - np.mean(y)
    denom = np.sqrt(np.sum(x * x) * np.sum(y * y))
    if not denom > 0 or not np.isfinite(denom):
        return None
    return float(np.clip(np.sum(x * y) / denom, -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation (ties share their mean rank)."""
    return pearson(rankdata(x), rankdata(y))


def _per_step(fn: Any, a: np.ndarray, b: np.ndarray) -> list[float | None]:  # noqa: ANN401
    return [fn(a[:, k], b[:, k]) for k in range(a.shape[1])]


def ensemble_metrics(
    results: dict[str, dict],
    rolled: Sequence[np.ndarray],
    num_models: int,
    weights: np.ndarray,
) -> dict[str, Any]:
    """What metrics.json holds under ``ensemble``.

    Args:
        results: Every predictor's metrics, ``model`` (the ensemble's mean
            rollout) and ``member_<m>`` among them.
        rolled: :func:`ensemble_rollout`'s outputs for the evaluated windows.
        num_models: M, the members.
        weights: The bootstrap weights of the windows.

    Returns:
        ``num_models``, ``members`` (their predictor names), per step
        ``member_mean_mse`` (the members' average standardized MSE),
        ``disagreement`` (its mean over windows) with ``disagreement_ci``,
        ``pearson`` and ``spearman`` (with the ensemble's RMS standardized
        error, over windows), and ``overall`` (the same correlations of the
        per-window means over the horizon).
    """
    _, pred_std, true_std, spread = (np.asarray(r, np.float64) for r in rolled)
    error = np.sqrt(np.mean(np.square(pred_std - true_std), axis=2))  # (B, K)
    names = [member_name(m) for m in range(num_models)]
    member_mse = np.mean([results[n]["mse"] for n in names], axis=0)
    return {
        "num_models": num_models,
        "rollout": "mean of the members' standardized deltas at every step "
        "(the planner's 'mean' strategy)",
        "members": names,
        "member_mean_mse": member_mse.tolist(),
        "disagreement": np.mean(spread, axis=0).tolist(),
        "disagreement_ci": bootstrap_interval(spread, weights).tolist(),
        "disagreement_definition": "std over the members of the predicted "
        "standardized delta, root-mean-squared over its components",
        "error_definition": "root-mean-square standardized error of the "
        "ensemble's predicted delta",
        "pearson": _per_step(pearson, spread, error),
        "spearman": _per_step(spearman, spread, error),
        "overall": {
            "over": "windows, each the mean over the horizon",
            "pearson": pearson(spread.mean(axis=1), error.mean(axis=1)),
            "spearman": spearman(spread.mean(axis=1), error.mean(axis=1)),
        },
    }
