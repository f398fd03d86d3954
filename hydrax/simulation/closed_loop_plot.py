"""The closed loop's plot: every trial of every planner model over time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import mujoco

from hydrax.task_base import Task

if TYPE_CHECKING:
    from hydrax.simulation.compare import ConditionSummary


def plot_conditions(
    task: Task, summaries: list[ConditionSummary], path: Path, trial: str
) -> None:
    """Tip height (or cost) and qpos_0 of every episode, a column a model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    has_tip = hasattr(task, "tip_id")
    fig = Figure(figsize=(5.5 * len(summaries), 6.5), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(summaries), squeeze=False, sharex=True)
    for j, s in enumerate(summaries):
        top, bottom = axes[0, j], axes[1, j]
        costs = s.step_costs or [None] * len(s.results)
        for r, cost in zip(s.results, costs, strict=True):
            e = r.episode
            style = "-" if r.success else ":"
            color = "tab:green" if r.success else "tab:red"
            if has_tip:
                top.plot(
                    e.times,
                    e.site_xpos[:, task.tip_id, 2],
                    style,
                    color=color,
                    lw=1,
                )
            elif cost is not None:  # no tip: how well the cost is met
                top.plot(e.times, cost, style, color=color, lw=1)
            bottom.plot(e.times, e.qpos[:, 0], style, color=color, lw=1)
        if has_tip and trial:
            threshold = getattr(task, "upright_height", None)
            if threshold is not None:  # what the task's success() asks
                top.axhline(threshold, color="k", lw=0.8, ls="--")
        top.set_title(
            f"{s.name} model: {sum(r.success for r in s.results)}/"
            f"{len(s.results)} {trial} trials"
        )
        top.set_ylabel("tip height [m]" if has_tip else "running cost")
        hinge = task.mj_model.jnt_type[0] == mujoco.mjtJoint.mjJNT_HINGE
        bottom.set_ylabel(f"qpos_0 [{'rad' if hinge else 'm'}]")
        bottom.set_xlabel("simulated time [s]")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    fig.suptitle(
        "Closed loop on the MuJoCo plant\n(solid green: success, dotted "
        "red: failure" + ("; dashed: upright threshold)" if has_tip else ")"),
        fontsize="medium",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, format="png")
