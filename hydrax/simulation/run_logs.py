"""A folder of one run's closed-loop logs, and the manifest beside them.

A folder of closed-loop logs is training data as it stands (training reads
the manifest); ``RunLogs`` keeps it one run's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hydrax.atomic import sigint_deferred
from hydrax.logs.writer import write_trajectory_csv
from hydrax.task_base import Task
from hydrax.utils import plural

if TYPE_CHECKING:
    from hydrax.simulation.loop import Episode


class RunLogs:
    """One run's logs in a folder, which replace an earlier run's.

    A folder of closed-loop logs is one run's: logs left by an earlier run
    with more episodes or another model would join the next training. They
    (and its manifest) are removed once this run has written its first
    log, so a run that fails before that loses nothing.
    """

    def __init__(self, folder: Path, pattern: str) -> None:
        self.folder = folder
        old = sorted(folder.glob(pattern)) if folder.is_dir() else []
        manifest = folder / "manifest.json"
        self._earlier: list[Path] | None = old + (
            [manifest] if manifest.exists() else []
        )
        self.count = 0
        """The logs this run wrote."""

    def wrote(self, path: Path) -> None:
        """Note a log this run wrote; the first removes the earlier run's."""
        self.count += 1
        if self._earlier is None:
            return
        earlier, self._earlier = self._earlier, None
        for old in earlier:
            if old.resolve() != path.resolve():  # that one is overwritten
                old.unlink(missing_ok=True)
        logs = sum(p.name != "manifest.json" for p in earlier)
        if logs:
            print(
                f"  cleared the {plural(logs, 'log')} of an earlier run from "
                f"{self.folder}"
            )

    def write(self, path: Path, episode: Episode) -> None:
        """Write an episode's CSV log and note it (`wrote`) as one step.

        Ctrl-C cannot split the two (a caller's own ``sigint_deferred``
        block around it extends the step to its records).
        """
        with sigint_deferred():
            write_trajectory_csv(
                path, episode.times, episode.qpos, episode.qvel, episode.ctrl
            )
            self.wrote(path)

    def finish(self, task: Task) -> None:
        """The manifest of the logs this run wrote (none: nothing)."""
        if self.count:
            write_manifest(task, self.folder)


def write_manifest(task: Task, folder: Path) -> None:
    """A collection manifest beside closed-loop logs (training reads it)."""
    from hydrax.logs import Manifest, count_rows
    from hydrax.logs import write_manifest as write_manifest_file
    from hydrax.simulation.model_source import goal_qpos

    files = sorted(folder.glob("*.csv"))
    name = task.model_file.stem if task.model_file else "custom"
    manifest = Manifest.for_model(
        task.mj_model, name, task.model_file, goal_qpos=goal_qpos(task)
    )
    run = {"policy": "closed-loop MPC"}
    rows = sum(count_rows(f) for f in files)
    write_manifest_file(folder, manifest.with_run(run, len(files), rows))
