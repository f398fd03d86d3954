"""The evaluation's plots (PNG, matplotlib's Agg canvas, no pyplot state).

- ``error_growth.png``: standardized MSE and MAE vs prediction time, model
  (with its 95% interval) and baselines, log y;
- ``per_dimension_error.png``: physical RMSE vs time per state dimension;
- ``trajectories.png``: predicted vs true trajectories of three examples;
- ``training_curves.png``: train and validation loss per epoch;
- ``ensemble.png`` (ensembles only, ``evaluation_ensemble_plot.py``): each
  member's error and the ensemble's, and disagreement vs true error.

Time axes are in seconds with the step number on a secondary axis at the
top; a dotted vertical line marks the training horizon; angle panels of the
trajectories mark the task's goal angle (``goal_qpos`` of the data's
manifest: a pole's upright) where it is in view (a position goal, such as
the hopper's standing x = 0, says little of a task that travels). Each
figure has one legend shared by its panels.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from hydrax.dynamics_model_training.evaluation_ensemble_plot import (
    ENSEMBLE_PLOT,
    plot_ensemble,
)
from hydrax.dynamics_model_training.evaluation_metrics import (
    dim_label,
    state_dimensions,
    state_errors,
)
from hydrax.dynamics_model_training.evaluation_plot_style import (
    LABELS,
    STYLE,
    baselines_and_model,
    figure,
    positive,
    shared_legend,
    styled,
    time_axis,
)
from hydrax.dynamics_model_training.transforms import StateLayout

PLOT_FILES = (
    "error_growth.png",
    "per_dimension_error.png",
    "trajectories.png",
    "training_curves.png",
)


@styled
def plot_error_growth(metrics: dict[str, Any], path: Path) -> Path:
    """Standardized MSE and MAE vs time, model and baselines, log y."""
    fig = figure(11, 4.8)
    axes = fig.subplots(1, 2)
    times = np.arange(1, metrics["horizon"] + 1) * metrics["dt"]
    pct = f"{metrics['bootstrap']['confidence'] * 100:g}%"
    for ax, key, title in (
        (axes[0], "mse", "MSE"),
        (axes[1], "mae", "MAE"),
    ):
        for name, res in baselines_and_model(metrics):
            ax.plot(
                times, positive(res[key]), label=LABELS[name], **STYLE[name]
            )
        ci = np.asarray(metrics["predictors"]["model"][f"{key}_ci"])
        ax.fill_between(
            times,
            positive(ci[:, 0]),
            positive(ci[:, 1]),
            color=STYLE["model"]["color"],
            alpha=0.2,
            lw=0,
            label=f"GRU model, {pct} interval",
        )
        ax.set_yscale("log")
        ax.set_ylabel(f"{title} of the delta (standardized)")
        ax.set_title(f"{title} per step (training-loss units)")
        time_axis(ax, metrics)
    shared_legend(fig, axes)
    fig.suptitle(
        f"Open-loop error growth over {metrics['num_examples']} "
        f"{metrics['split']} windows"
    )
    fig.savefig(path)
    return path


@styled
def plot_per_dimension(metrics: dict[str, Any], path: Path) -> Path:
    """Physical RMSE vs time, one panel per state dimension."""
    dims = metrics["dims"]
    ncol = min(3, len(dims))
    nrow = math.ceil(len(dims) / ncol)
    fig = figure(4.6 * ncol, 3.4 * nrow + 1.0)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    times = np.arange(1, metrics["horizon"] + 1) * metrics["dt"]
    for i, (ax, dim) in enumerate(zip(axes, dims, strict=False)):
        for name, res in baselines_and_model(metrics):
            rmse = np.sqrt(np.asarray(res["phys_mse"][dim["name"]]))
            ax.plot(times, positive(rmse), label=LABELS[name], **STYLE[name])
        ax.set_yscale("log")
        ax.set_title(dim_label(dim))
        unit = f" [{dim['unit']}]" if dim["unit"] else ""
        ax.set_ylabel(f"RMSE{unit}")
        time_axis(
            ax,
            metrics,
            xlabel="time ahead [s]" if i >= len(dims) - ncol else None,
            step_label=i < ncol,
        )
    for ax in axes[len(dims) :]:
        ax.set_visible(False)
    shared_legend(fig, axes[: len(dims)])
    where = (
        "everywhere" if metrics.get("delta") == "velocity" else "on velocities"
    )
    both = "constant_velocity" in dict(baselines_and_model(metrics))
    note = f"({metrics['num_examples']} {metrics['split']} windows" + (
        f"; zero delta and constant velocity coincide {where})" if both else ")"
    )
    fig.suptitle(  # about 10 characters an inch: wrapped to the figure
        "Physical RMSE of the predicted state per dimension\n"
        + textwrap.fill(note, width=int(10 * 4.6 * ncol))
    )
    fig.savefig(path)
    return path


def _pick_examples(
    metrics: dict[str, Any],
    windows: np.ndarray,
    states_of: dict[str, np.ndarray],
    layout: StateLayout,
    count: int,
) -> list[tuple[int, float]]:
    """(example, quantile) at the 25th/50th/90th pct of the final error."""
    ns = layout.nq + layout.nv
    final = np.sum(
        np.square(
            state_errors(layout, states_of["model"][:, -1], windows[:, -1, :ns])
        ),
        axis=-1,
    )
    order = np.argsort(final)
    n = len(order)
    quantiles = (0.25, 0.5, 0.9)[: min(count, n)]
    return [(int(order[min(n - 1, int(q * n))]), q) for q in quantiles]


def _mark_goal(ax: Any, goal: float, angle: bool) -> None:  # noqa: ANN401
    """Mark the task's goal value on a position panel.

    An angle's goal is drawn at its 2π-multiple nearest the panel. The line
    is drawn when it is in view or when showing it at most doubles the
    panel's y range; otherwise a note says it is off scale.
    """
    lo, hi = ax.get_ylim()
    mid, span = 0.5 * (lo + hi), hi - lo
    ref = (
        goal + 2 * np.pi * round((mid - goal) / (2 * np.pi)) if angle else goal
    )
    text = _in_pi(ref) if angle else f"{ref:g}"
    if max(hi, ref) - min(lo, ref) <= 2 * span:
        ax.axhline(ref, color="C1", lw=1.2, ls="-.", label="the task's goal")
        pad = 0.05 * span
        ax.set_ylim(min(lo, ref - pad), max(hi, ref + pad))
        return
    above = ref > hi
    ax.text(
        0.99,
        0.97 if above else 0.03,
        f"{'↑' if above else '↓'} goal {text} off scale",
        transform=ax.transAxes,
        ha="right",
        va="top" if above else "bottom",
        color="C1",
        fontsize=9.5,
        bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1.5},
    )


def _in_pi(value: float) -> str:
    """An angle as a multiple of π where it is one (``−π``, ``3π``)."""
    k = value / np.pi
    if abs(k - round(k)) > 1e-6:
        return f"{value:.2f}".replace("-", "−")
    k = round(k)
    return {0: "0", 1: "π", -1: "−π"}.get(k, f"{k}π".replace("-", "−"))


def _trajectory_panel(
    ax: Any,  # noqa: ANN401
    shown: np.ndarray,
    h: int,
    dt: float,
    predicted: dict[str, np.ndarray],
) -> None:
    """One dimension of one example: history, truth and predictions.

    Args:
        ax: The panel.
        shown: The true values over the window, (H + K,).
        h: The history length H.
        dt: The timestep.
        predicted: Predicted values per predictor, each (K,).
    """
    t = np.arange(-h + 1, len(shown) - h + 1) * dt
    ax.plot(t[h - 1 :], shown[h - 1 :], color="k", lw=1.8, label="true")
    ax.plot(t[:h], shown[:h], color="0.55", lw=1.8, label="history (input)")
    for name, pred in predicted.items():
        style = {
            "color": STYLE[name]["color"],
            "ls": "--" if name == "model" else ":",
            "lw": 1.8 if name == "model" else 1.4,
        }
        line = np.concatenate([[shown[h - 1]], pred])
        ax.plot(t[h - 1 :], line, label=LABELS[name], **style)
    ax.axvline(0.0, color="0.7", lw=0.8)


@styled
def plot_trajectories(
    metrics: dict[str, Any],
    path: Path,
    *,
    windows: np.ndarray,
    states_of: dict[str, np.ndarray],
    layout: StateLayout,
    count: int = 3,
) -> Path:
    """Predicted vs true trajectories of a few examples, physical units.

    The examples are those at the 25th, 50th and 90th percentile of the
    model's final-step error (summed over dims), so the picture shows a good,
    a typical and a bad case. Angles are unwrapped for display.

    Args:
        metrics: The evaluation's metrics (dims, examples, dt, H).
        path: The PNG to write.
        windows: The evaluated example rows, (B, H + K, R).
        states_of: Predicted states per predictor, each (B, K, nq + nv).
        layout: The state layout.
        count: How many examples (at most 3).

    Returns:
        The path written.
    """
    dims = state_dimensions(layout)  # raw values, quaternion components too
    ns, h = len(dims), metrics["history_length"]
    goal = metrics.get("goal_qpos")  # the manifest's, when it records one
    dt = metrics["dt"]
    picks = _pick_examples(metrics, windows, states_of, layout, count)
    fig = figure(4.8 * len(picks), 2.2 * ns + 1.6)
    axes = fig.subplots(ns, len(picks), squeeze=False, sharex="col")
    angles = list(layout.angle_indices)
    for col, (i, q) in enumerate(picks):
        true = windows[i, :, :ns].astype(np.float64)
        shown = true.copy()
        shown[:, angles] = np.unwrap(true[:, angles], axis=0)
        shift = shown[h - 1] - true[h - 1]  # 2π multiples on angles
        predicted = {
            name: states_of[name][i] + shift
            for name in ("model", "linear")
            if name in states_of
        }
        for row, dim in enumerate(dims):
            ax = axes[row, col]
            _trajectory_panel(
                ax,
                shown[:, row],
                h,
                dt,
                {name: pred[:, row] for name, pred in predicted.items()},
            )
            ax.set_ylabel(dim_label(dim))
            if goal is not None and row < len(goal) and dim["kind"] == "angle":
                _mark_goal(ax, goal[row], angle=True)
            time_axis(
                ax,
                metrics,
                xlabel="time since the last measured row [s]"
                if row == ns - 1
                else None,
                step_axis=row == 0,
            )
            ax.tick_params(labelbottom=row == ns - 1)
        ex = metrics["examples"][i]
        axes[0, col].set_title(
            f"{ex['file']} row {ex['row']}\n"
            f"({int(q * 100)}th pct of final error)"
        )
    shared_legend(fig, axes.ravel())
    fig.suptitle("Open-loop predictions vs truth (angles unwrapped)")
    fig.savefig(path)
    return path


@styled
def plot_training_curves(history: dict[str, Any], path: Path) -> Path:
    """Train and validation loss per epoch, log y."""
    from matplotlib.ticker import MaxNLocator

    fig = figure(6.5, 4.4)
    ax = fig.subplots()
    train = history.get("train_loss") or []
    val = [np.nan if v is None else v for v in history.get("val_loss") or []]
    if not train:
        ax.text(
            0.5,
            0.5,
            "no training history in the checkpoint",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    else:
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, positive(train), "o-", ms=3, label="train loss")
        if val and not np.all(np.isnan(val)):
            ax.plot(
                epochs[: len(val)],
                positive(val),
                "s-",
                ms=3,
                label="validation loss",
            )
        best = history.get("best_epoch")
        if best:
            ax.axvline(best, color="0.6", ls=":", label=f"best epoch ({best})")
        ax.set_yscale("log")
        ax.legend()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("multi-step loss (standardized MSE)")
    ax.set_title(f"Training curves ({len(train)} epochs)")
    ax.grid(True, which="both", alpha=0.25)
    fig.savefig(path)
    return path


def write_plots(
    metrics: dict[str, Any],
    out: Path,
    *,
    history: dict[str, Any],
    windows: np.ndarray,
    states_of: dict[str, np.ndarray],
    layout: StateLayout,
    ensemble_rolled: tuple[np.ndarray, ...] | None = None,
) -> list[Path]:
    """Write the PNGs into ``out`` (``ensemble.png`` too for an ensemble).

    Returns:
        The paths written.
    """
    extra = []
    if ensemble_rolled is not None:
        extra.append(
            plot_ensemble(metrics, out / ENSEMBLE_PLOT, rolled=ensemble_rolled)
        )
    return [
        plot_error_growth(metrics, out / PLOT_FILES[0]),
        plot_per_dimension(metrics, out / PLOT_FILES[1]),
        plot_trajectories(
            metrics,
            out / PLOT_FILES[2],
            windows=windows,
            states_of=states_of,
            layout=layout,
        ),
        plot_training_curves(history, out / PLOT_FILES[3]),
        *extra,
    ]
