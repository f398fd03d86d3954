"""What data is collected from: a built-in task, a `Task` or a bare MJCF.

The model description written into a dataset's manifest (the joint table,
the suggested indices, the model file's hash) belongs to `hydrax.logs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco

from hydrax.task_base import Task


@dataclass
class ModelSource:
    """What is collected from: a model, its file, and a task if any.

    Attributes:
        name: The task name or the XML file's stem.
        mj_model: The model.
        model_file: The MJCF file (hashed into the manifest).
        task: The built-in task (None for a bare MJCF).
    """

    name: str
    mj_model: mujoco.MjModel
    model_file: Path
    task: Task | None

    @property
    def goal(self) -> list[float] | None:
        """The task's goal qpos for the manifest (None: none)."""
        return goal_qpos(self.task)


def goal_qpos(task: Task | None) -> list[float] | None:
    """A task's goal qpos (None: no task, or a task without a goal)."""
    goal = task.goal() if task is not None else None
    return None if goal is None else [float(x) for x in goal[0]]


def resolve_source(task_or_model: str | Path | Task) -> ModelSource:
    """Load a built-in task by name, a Task, or a bare MJCF file.

    Args:
        task_or_model: A task name (``double_cart_pole``...), a `Task`, or
            the path of an MJCF file (``.xml``).

    Returns:
        The resolved source.
    """
    from hydrax.tasks import TASK_NAMES, get_task

    if isinstance(task_or_model, Task):
        task = task_or_model
        if task.model_file is None:
            raise ValueError(
                f"{type(task).__name__} has no model_file to hash into the "
                "manifest"
            )
        return ModelSource(
            task.model_file.stem, task.mj_model, task.model_file, task
        )
    if isinstance(task_or_model, str) and task_or_model in TASK_NAMES:
        task = get_task(task_or_model)
        return ModelSource(task_or_model, task.mj_model, task.model_file, task)
    path = Path(task_or_model)
    if path.suffix.lower() != ".xml":
        raise ValueError(
            f"{str(task_or_model)!r} is neither a built-in task "
            f"({', '.join(TASK_NAMES)}) nor an .xml model file"
        )
    if not path.is_file():
        raise ValueError(f"model file not found: {path}")
    try:
        mj_model = mujoco.MjModel.from_xml_path(str(path))
    except ValueError as err:
        message = " ".join(str(err).split())
        raise ValueError(f"invalid MJCF {path}: {message}") from err
    if mj_model.nu == 0:
        raise ValueError(
            f"{path}: the model has no actuators, so there is nothing to "
            "control (add an <actuator>)"
        )
    return ModelSource(path.stem, mj_model, path.resolve(), None)
