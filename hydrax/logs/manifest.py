"""``manifest.json``: what a directory of logs was collected from.

The manifest records the model's identity (MJCF path and SHA-256, ``dt``,
``nq``/``nv``/``nu``, joints), the qpos indices training needs (hinges are
angles; slides and free joints' horizontal x, y are coordinates), the
columns, the totals and one record per collection run. :class:`Manifest` is
its one typed form: built from a model by :meth:`Manifest.for_model`, read
by :func:`read_manifest` (checked field by field), written atomically by
:func:`write_manifest`. Every field is optional on reading (hand-written
manifests often hold only the indices); fields it does not know are kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from hydrax.atomic import write_json_atomic
from hydrax.logs.format import DT_RTOL, DataError, csv_header

MANIFEST = "manifest.json"
"""The manifest's file name in a data directory."""

FORMAT = "hydrax-dataset"
FORMAT_VERSION = 1

MANIFEST_IDENTITY = ("task", "model_sha256", "dt", "nq", "nv", "nu", "joints")
"""Manifest fields that identify the model the data came from."""

QUATERNION_NOTE = (
    "angle_indices lists the qpos of hinge joints; coordinate_indices those "
    "of slide joints and the x, y position of free joints (a height stays "
    "absolute, the distance to a floor matters: a free joint's z and a root "
    "slide along gravity); "
    "quat_indices the first qpos of each ball and free joint's quaternion "
    "(w, x, y, z; its 3 angular velocities are in the joint's local frame, "
    "a free joint's linear velocity in the world frame)."
)

_JOINT_TYPES = {
    mujoco.mjtJoint.mjJNT_FREE: "free",
    mujoco.mjtJoint.mjJNT_BALL: "ball",
    mujoco.mjtJoint.mjJNT_SLIDE: "slide",
    mujoco.mjtJoint.mjJNT_HINGE: "hinge",
}


def joint_table(mj_model: mujoco.MjModel) -> list[dict]:
    """Each joint's name, type and qpos/dof addresses, for the manifest."""
    return [
        {
            "name": mj_model.joint(j).name,
            "type": _JOINT_TYPES[mujoco.mjtJoint(mj_model.jnt_type[j])],
            "qpos_adr": int(mj_model.jnt_qposadr[j]),
            "dof_adr": int(mj_model.jnt_dofadr[j]),
        }
        for j in range(mj_model.njnt)
    ]


def suggested_indices(mj_model: mujoco.MjModel) -> tuple[list[int], list[int]]:
    """The qpos indices of angles and of Cartesian coordinates.

    Angles: hinge joints. Coordinates (made relative to a window's first
    row in training): slide joints and the horizontal position x, y of free
    joints. A height is in neither list: it stays an absolute state, since
    contact with a floor depends on it (see README, "Floating-base
    robots"): a free joint's z, and a slide joint of a body attached to the
    world whose axis is along gravity (a planar robot's root height).
    Quaternions are in neither list.

    Returns:
        ``(angle_indices, coordinate_indices)``, sorted.
    """
    angles, coordinates = [], []
    for j, joint in enumerate(joint_table(mj_model)):
        adr = joint["qpos_adr"]
        if joint["type"] == "hinge":
            angles.append(adr)
        elif joint["type"] == "slide" and not _is_root_height(mj_model, j):
            coordinates.append(adr)
        elif joint["type"] == "free":
            coordinates.extend([adr, adr + 1])  # x, y; z stays absolute
    return sorted(angles), sorted(coordinates)


def _is_root_height(mj_model: mujoco.MjModel, joint: int) -> bool:
    """Whether a slide joint moves a world-attached body along gravity."""
    body = mj_model.jnt_bodyid[joint]
    gravity = np.asarray(mj_model.opt.gravity, float)
    if mj_model.body_parentid[body] != 0 or not gravity.any():
        return False
    axis = np.zeros(3)
    mujoco.mju_rotVecQuat(
        axis, mj_model.jnt_axis[joint], mj_model.body_quat[body]
    )
    cosine = (
        abs(axis @ gravity) / np.linalg.norm(axis) / np.linalg.norm(gravity)
    )
    return bool(cosine > 0.99)


def suggested_quat_indices(mj_model: mujoco.MjModel) -> list[int]:
    """The first qpos index of each free and ball joint's quaternion."""
    quats = []
    for joint in joint_table(mj_model):
        if joint["type"] == "free":
            quats.append(joint["qpos_adr"] + 3)
        elif joint["type"] == "ball":
            quats.append(joint["qpos_adr"])
    return sorted(quats)


def model_sha256(path: str | Path) -> str:
    """The SHA-256 of the model file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return _is_int(v) or isinstance(v, float)


def _is_list_of(
    check: Callable[[object], bool],
) -> Callable[[object], bool]:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


_CHECKS = {
    "format": (lambda v: isinstance(v, str), "a string"),
    "format_version": (_is_int, "an integer"),
    "task": (lambda v: isinstance(v, str), "a string"),
    "model_file": (lambda v: isinstance(v, str), "a string"),
    "model_sha256": (lambda v: isinstance(v, str), "a string"),
    "dt": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "nq": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "nv": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "nu": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "joints": (_is_list_of(lambda x: isinstance(x, dict)), "a list of objects"),
    "angle_indices": (_is_list_of(_is_int), "a list of integers"),
    "coordinate_indices": (_is_list_of(_is_int), "a list of integers"),
    "quat_indices": (_is_list_of(_is_int), "a list of integers"),
    "goal_qpos": (_is_list_of(_is_number), "a list of numbers"),
    "notes": (lambda v: isinstance(v, str), "a string"),
    "columns": (_is_list_of(lambda x: isinstance(x, str)), "a list of strings"),
    "episodes": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "rows": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "collection": (
        _is_list_of(lambda x: isinstance(x, dict)),
        "a list of objects",
    ),
}


@dataclass(frozen=True)
class Manifest:
    """The contents of ``manifest.json`` (None: the field is absent).

    Attributes:
        format: ``hydrax-dataset``.
        format_version: The format's version.
        task: The task name or the MJCF file's stem.
        model_file: The MJCF file.
        model_sha256: The SHA-256 of its bytes.
        dt: The model's timestep, s.
        nq: Position dimension.
        nv: Velocity dimension.
        nu: Control dimension.
        joints: Each joint's name, type, qpos and dof address.
        angle_indices: qpos indices of angles.
        coordinate_indices: qpos indices of Cartesian coordinates.
        quat_indices: First qpos index of each free/ball joint's quaternion.
        goal_qpos: The qpos the task stabilizes (``Task.goal()``: the
            upright pose), which evaluation's plots mark; absent without one.
        notes: What the indices mean.
        columns: The logs' columns.
        episodes: Logs in the directory.
        rows: Rows of all logs.
        collection: One record per collection run (policy, seed, ...).
        extra: Fields this version does not know, kept as they were.
    """

    format: str | None = None
    format_version: int | None = None
    task: str | None = None
    model_file: str | None = None
    model_sha256: str | None = None
    dt: float | None = None
    nq: int | None = None
    nv: int | None = None
    nu: int | None = None
    joints: list[dict] | None = None
    angle_indices: list[int] | None = None
    coordinate_indices: list[int] | None = None
    quat_indices: list[int] | None = None
    goal_qpos: list[float] | None = None
    notes: str | None = None
    columns: list[str] | None = None
    episodes: int | None = None
    rows: int | None = None
    collection: list[dict] | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def for_model(
        cls,
        mj_model: mujoco.MjModel,
        task: str,
        model_file: str | Path | None,
        previous: Manifest | None = None,
        goal_qpos: Sequence[float] | None = None,
    ) -> Manifest:
        """Describe a model's logs; totals and runs continue ``previous``.

        Args:
            mj_model: The model the logs come from.
            task: The task name (or the MJCF file's stem).
            model_file: The MJCF file (hashed), or None when there is none.
            previous: The directory's manifest before this run (appending).
            goal_qpos: The task's goal qpos, if it has one.

        Returns:
            The manifest, before this run's :meth:`with_run`.
        """
        angles, coordinates = suggested_indices(mj_model)
        return cls(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            task=task,
            model_file=str(model_file) if model_file is not None else None,
            model_sha256=model_sha256(model_file) if model_file else None,
            dt=float(mj_model.opt.timestep),
            nq=mj_model.nq,
            nv=mj_model.nv,
            nu=mj_model.nu,
            joints=joint_table(mj_model),
            angle_indices=angles,
            coordinate_indices=coordinates,
            quat_indices=suggested_quat_indices(mj_model),
            goal_qpos=None
            if goal_qpos is None
            else list(map(float, goal_qpos)),
            notes=QUATERNION_NOTE,
            columns=csv_header(mj_model.nq, mj_model.nv, mj_model.nu),
            episodes=(previous.episodes or 0) if previous else 0,
            rows=(previous.rows or 0) if previous else 0,
            collection=list(previous.collection or []) if previous else [],
        )

    def with_run(self, run: dict, episodes: int, rows: int) -> Manifest:
        """This manifest with one more run of ``episodes`` logs, ``rows``."""
        return dataclasses.replace(
            self,
            episodes=(self.episodes or 0) + episodes,
            rows=(self.rows or 0) + rows,
            collection=[*(self.collection or []), dict(run)],
        )

    def identity(self) -> dict:
        """The fields of :data:`MANIFEST_IDENTITY` that are present."""
        data = self.to_dict()
        return {k: data[k] for k in MANIFEST_IDENTITY if k in data}

    def check_dims(self, dims: tuple[int, int, int], where: str | Path) -> None:
        """Raise when the recorded nq, nv, nu differ from a log header's."""
        for key, value in zip(("nq", "nv", "nu"), dims, strict=True):
            recorded = getattr(self, key)
            if recorded is not None and recorded != value:
                raise DataError(
                    f"{where}: {key}={recorded} but the CSV header has {value}"
                )

    def checked_dt(self, dt: float, where: str | Path) -> float:
        """The recorded dt when the logs' ``dt`` agrees (else DataError)."""
        if self.dt is None:
            return dt
        recorded = float(self.dt)
        if abs(recorded - dt) > DT_RTOL * recorded:
            raise DataError(
                f"{where}: timestep {dt:.6g} s differs from the manifest's "
                f"dt {recorded:.6g} s"
            )
        return recorded

    def to_dict(self) -> dict:
        """The JSON object: present fields in their order, then the extra."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "extra" and getattr(self, f.name) is not None
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str | Path = "manifest") -> Manifest:
        """Check a JSON object field by field and type it.

        Raises:
            DataError: naming ``where`` and the first field of a wrong type.
        """
        if not isinstance(data, dict):
            raise DataError(
                f"{where}: a manifest is a JSON object, got "
                f"{type(data).__name__}"
            )
        known, extra = {}, {}
        for key, value in data.items():
            if key not in _CHECKS:
                extra[key] = value
                continue
            check, what = _CHECKS[key]
            if value is not None and not check(value):
                raise DataError(
                    f"{where}: {key!r} must be {what}, got {value!r}"
                )
            known[key] = value
        return cls(**known, extra=extra)


def read_manifest(data_dir: str | Path) -> Manifest | None:
    """The manifest of a data directory, or None when there is none.

    Raises:
        DataError: the file is not JSON, or a field has a wrong type.
    """
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from e
    return Manifest.from_dict(data, path)


def write_manifest(data_dir: str | Path, manifest: Manifest) -> Path:
    """Write ``data_dir/manifest.json`` atomically; return its path."""
    return write_json_atomic(Path(data_dir) / MANIFEST, manifest.to_dict())
