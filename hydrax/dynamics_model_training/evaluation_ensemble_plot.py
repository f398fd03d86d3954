"""An ensemble's evaluation plot, ``ensemble.png``.

See ``evaluation_ensemble``. Left: the standardized MSE per step of every
member rolled out alone, of their average and of the ensemble's mean
rollout, vs prediction time.
Right: the members' disagreement vs the ensemble's true error, one point
per (window, step) coloured by the step, with the mean error in bins of
disagreement (deciles), log-log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hydrax.dynamics_model_training.evaluation_plot_style import (
    STYLE,
    figure,
    positive,
    shared_legend,
    styled,
    time_axis,
)

ENSEMBLE_PLOT = "ensemble.png"
MAX_POINTS = 20_000
"""At most this many (window, step) points are drawn (a seeded subset)."""


def _members_panel(ax: Any, metrics: dict[str, Any]) -> None:  # noqa: ANN401
    ens = metrics["ensemble"]
    times = np.arange(1, metrics["horizon"] + 1) * metrics["dt"]
    for i, name in enumerate(ens["members"]):
        ax.plot(
            times,
            positive(metrics["predictors"][name]["mse"]),
            color="C0",
            lw=1.0,
            alpha=0.55,
            label="members, each alone" if i == 0 else None,
        )
    ax.plot(
        times,
        positive(ens["member_mean_mse"]),
        color="C0",
        lw=2.0,
        ls="--",
        label="members' average",
    )
    ax.plot(
        times,
        positive(metrics["predictors"]["model"]["mse"]),
        label="ensemble (mean of the deltas)",
        **STYLE["model"],
    )
    ax.set_yscale("log")
    ax.set_ylabel("MSE of the delta (standardized)")
    ax.set_title(f"{ens['num_models']} members and the ensemble")
    time_axis(ax, metrics)


def _binned(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean x and mean y in deciles of x."""
    edges = np.quantile(x, np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, 9)
    keep = [b for b in range(10) if np.any(which == b)]
    return (
        np.array([x[which == b].mean() for b in keep]),
        np.array([y[which == b].mean() for b in keep]),
    )


def _scatter_panel(
    ax: Any,  # noqa: ANN401
    fig: Any,  # noqa: ANN401
    metrics: dict[str, Any],
    rolled: tuple[np.ndarray, ...],
) -> None:
    _, pred_std, true_std, spread = (np.asarray(r, np.float64) for r in rolled)
    error = np.sqrt(np.mean(np.square(pred_std - true_std), axis=2))
    steps = np.broadcast_to(np.arange(1, error.shape[1] + 1), error.shape)
    x, y, c = spread.ravel(), error.ravel(), steps.ravel()
    ok = (x > 0) & (y > 0)
    x, y, c = x[ok], y[ok], c[ok]
    if len(x) > MAX_POINTS:
        pick = np.random.default_rng(0).choice(len(x), MAX_POINTS, False)
        x, y, c = x[pick], y[pick], c[pick]
    dots = ax.scatter(
        x, y, c=c, s=6, alpha=0.45, cmap="viridis", lw=0, rasterized=True
    )
    fig.colorbar(dots, ax=ax, label="step")
    if len(x):
        bx, by = _binned(x, y)
        ax.plot(bx, by, "k-o", ms=4, lw=1.8, label="mean error per decile")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("members' disagreement (std of the standardized delta)")
    ax.set_ylabel("ensemble's RMS error (standardized)")
    over = metrics["ensemble"]["overall"]
    rho = "n/a" if over["spearman"] is None else f"{over['spearman']:.2f}"
    ax.set_title(
        "Disagreement vs true error, every window and step\n"
        f"(Spearman over windows, horizon means: {rho})"
    )
    ax.grid(True, which="both", alpha=0.25)


@styled
def plot_ensemble(
    metrics: dict[str, Any],
    path: Path,
    *,
    rolled: tuple[np.ndarray, ...],
) -> Path:
    """Write ``ensemble.png``.

    Args:
        metrics: The evaluation's metrics, with ``ensemble``.
        path: The PNG to write.
        rolled: ``evaluation_ensemble.ensemble_rollout``'s outputs for the
            evaluated windows.

    Returns:
        The path written.
    """
    fig = figure(12, 5.0)
    left, right = fig.subplots(1, 2)
    _members_panel(left, metrics)
    _scatter_panel(right, fig, metrics, rolled)
    shared_legend(fig, [left, right])
    fig.suptitle(
        f"Ensemble over {metrics['num_examples']} {metrics['split']} windows"
    )
    fig.savefig(path)
    return path
