"""What data is collected from: a built-in task, a `Task` or a bare MJCF.

Also the model description written into a dataset's manifest: the joint
table, the suggested angle and coordinate indices, the model file's hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import mujoco

from hydrax.task_base import Task

FORMAT = "hydrax-dataset"
FORMAT_VERSION = 1
_JOINT_TYPES = {
    mujoco.mjtJoint.mjJNT_FREE: "free",
    mujoco.mjtJoint.mjJNT_BALL: "ball",
    mujoco.mjtJoint.mjJNT_SLIDE: "slide",
    mujoco.mjtJoint.mjJNT_HINGE: "hinge",
}
QUATERNION_NOTE = (
    "angle_indices lists the qpos of hinge joints; coordinate_indices those "
    "of slide joints and the 3 position coordinates of free joints. "
    "Quaternions of ball and free joints are left untransformed (neither "
    "angles nor coordinates)."
)


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


def joint_table(mj_model: mujoco.MjModel) -> list[dict]:
    """Each joint's name, type and qpos/dof addresses, for the manifest."""
    joints = []
    for j in range(mj_model.njnt):
        joints.append(
            {
                "name": mj_model.joint(j).name,
                "type": _JOINT_TYPES[mujoco.mjtJoint(mj_model.jnt_type[j])],
                "qpos_adr": int(mj_model.jnt_qposadr[j]),
                "dof_adr": int(mj_model.jnt_dofadr[j]),
            }
        )
    return joints


def suggested_indices(mj_model: mujoco.MjModel) -> tuple[list[int], list[int]]:
    """The qpos indices of angles and of Cartesian coordinates.

    Angles: hinge joints. Coordinates: slide joints and the 3 position
    coordinates of free joints. Quaternions are in neither list.

    Returns:
        ``(angle_indices, coordinate_indices)``, sorted.
    """
    angles, coordinates = [], []
    for joint in joint_table(mj_model):
        adr = joint["qpos_adr"]
        if joint["type"] == "hinge":
            angles.append(adr)
        elif joint["type"] == "slide":
            coordinates.append(adr)
        elif joint["type"] == "free":
            coordinates.extend([adr, adr + 1, adr + 2])
    return sorted(angles), sorted(coordinates)


def model_sha256(path: Path) -> str:
    """The SHA-256 of the model file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
