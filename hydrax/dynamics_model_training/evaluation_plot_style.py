"""Shared look of the evaluation's figures: fonts, styles, axes, legend.

Figures are drawn on matplotlib's Agg canvas without pyplot (no global
state); fonts are set in a local rc context (:func:`styled`). Time axes are
in seconds at round ticks with the step number on a secondary axis at the
top and a dotted line at the training horizon (:func:`time_axis`); each
figure has one legend shared by its panels (:func:`shared_legend`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

LABELS = {
    "model": "GRU model",
    "zero_delta": "zero delta",
    "constant_velocity": "constant velocity",
    "linear": "linear (ridge)",
}
STYLE = {
    "model": {"color": "C3", "lw": 2.2, "marker": "o", "ms": 3},
    "zero_delta": {"color": "0.45", "ls": "--"},
    "constant_velocity": {"color": "C0", "ls": "-."},
    "linear": {"color": "C2", "ls": ":", "lw": 2},
}
_RC = {
    "font.size": 11,
    "axes.titlesize": 11.5,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10.5,
    "figure.titlesize": 13,
}
"""Font sizes in points; at the saved 110 dpi the smallest is ~15 px."""

_ROUND_STEPS = [1, 2, 2.5, 5, 10]


def styled(fn: Callable[..., Path]) -> Callable[..., Path]:
    """Draw and save with the plots' font sizes (a local rc context)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Path:  # noqa: ANN401
        import matplotlib as mpl

        with mpl.rc_context(_RC):
            return fn(*args, **kwargs)

    return wrapper


def figure(w: float, h: float) -> Any:  # noqa: ANN401
    """A matplotlib Figure on the Agg canvas (no pyplot, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def time_axis(
    ax: Any,  # noqa: ANN401
    metrics: dict,
    *,
    xlabel: str | None = "prediction time ahead [s]",
    step_label: bool = True,
    step_axis: bool = True,
) -> None:
    """Seconds at round ticks below, steps on top, the training horizon."""
    from matplotlib.ticker import MaxNLocator

    dt = metrics["dt"]
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=_ROUND_STEPS))
    if xlabel:
        ax.set_xlabel(xlabel)
    if step_axis:
        top = ax.secondary_xaxis(
            "top", functions=(lambda t: t / dt, lambda k: k * dt)
        )
        top.xaxis.set_major_locator(
            MaxNLocator(nbins=6, steps=_ROUND_STEPS, integer=True)
        )
        if step_label:
            top.set_xlabel(f"step (dt = {dt * 1000:g} ms)")
    k_train = metrics.get("training_horizon")
    if k_train and k_train <= metrics["horizon"]:
        ax.axvline(
            k_train * dt,
            color="0.3",
            lw=1.3,
            ls=":",
            label=f"training horizon ({k_train} steps)",
        )
    ax.grid(True, which="both", alpha=0.25)


def shared_legend(fig: Any, axes: Sequence[Any]) -> None:  # noqa: ANN401
    """One legend below the panels, every label drawn in any of them once."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    fig.legend(
        list(seen.values()),
        list(seen),
        loc="outside lower center",
        ncol=min(len(seen), 4),
        frameon=False,
    )


def positive(values: Sequence[float]) -> np.ndarray:
    """The values as floats, NaN where not positive (gaps on a log axis)."""
    a = np.asarray(values, np.float64)
    return np.where(a > 0, a, np.nan)


def baselines_and_model(metrics: dict) -> list[tuple[str, dict]]:
    """The predictors other than an ensemble's members, with their metrics."""
    return [
        (name, res)
        for name, res in metrics["predictors"].items()
        if not name.startswith("member_")
    ]
