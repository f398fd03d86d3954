"""The closed-loop command's results beside the logs: table, plot, summary.

``<output-dir>/<task>/<trial>/`` holds a folder of logs per planner model,
``summary.json`` (a record per model) and ``closed_loop.png``. A rerun
with fewer models keeps the other model's record and logs; a run stopped
by Ctrl-C records the trials it finished, so the summary always describes
the logs on disk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydrax.atomic import atomic_path, sigint_deferred, write_text_atomic
from hydrax.simulation.closed_loop_plot import plot_conditions
from hydrax.task_base import Task
from hydrax.utils import plural

if TYPE_CHECKING:
    from hydrax.simulation.compare import ConditionSummary

DYNAMICS = ("true", "learned")
"""The planner models: MJX physics, or the learned model."""


def earlier_records(out: Path, ran: Sequence[str]) -> list[dict]:
    """The records of ``out/summary.json`` for planner models not rerun.

    A rerun with fewer planner models leaves the other model's logs (they
    may be training data already), so its record stays beside them; only
    those whose folder still holds logs are kept.
    """
    try:
        old = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):  # none, or not a summary of this command
        return []
    if not isinstance(old, list):
        return []
    return [
        r
        for r in old
        if isinstance(r, dict)
        and r.get("dynamics") in set(DYNAMICS) - set(ran)
        and any((out / r["dynamics"]).glob("seed_*.csv"))
    ]


def write_results(
    out: Path,
    task: Task,
    trial: str,
    summaries: list[ConditionSummary],
    records: list[dict],
) -> None:
    """Write summary.json and closed_loop.png for the models that ran.

    Records of models not run this time are kept while their logs are
    there. With nothing run (Ctrl-C before a trial finished) the folder
    is left as it was.
    """
    if not summaries:
        return
    kept = earlier_records(out, [s.name for s in summaries])
    for r in kept:
        print(
            f"summary.json keeps the {r['dynamics']} model's record of an "
            f"earlier run (its logs: {out / r['dynamics']}/)"
        )
    with sigint_deferred():  # both describe the logs on disk, or neither
        write_text_atomic(
            out / "summary.json",
            json.dumps(kept + records, indent=2, allow_nan=False),
        )
        with atomic_path(out / "closed_loop.png", fsync=False) as tmp:
            plot_conditions(task, summaries, tmp, trial)


def interrupted_note(out: Path, summaries: list[ConditionSummary]) -> str:
    """What a run stopped by Ctrl-C left in ``out``."""
    if not summaries:
        return f"no trial finished; {out} is as it was"
    done = ", ".join(
        f"the {s.name} model's {plural(len(s.results), 'trial')}"
        for s in summaries
    )
    return (
        f"{out / 'summary.json'} and closed_loop.png record the trials "
        f"finished ({done}), whose logs are in {out}/<model>/ with a manifest"
    )
