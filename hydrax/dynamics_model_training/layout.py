"""The state layout: which qpos are angles, coordinates and quaternions.

`StateLayout` says how a raw row ``(qpos, qvel, ctrl)`` splits into the
kinds of joint the learned model treats differently; `transforms` turns
rows into features and deltas with it. It is kept in checkpoints and
manifests as plain data (`StateLayout.to_dict` / `StateLayout.from_dict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields, replace

import numpy as np

DELTAS = ("state", "velocity")
"""What the network predicts. ``state`` (the default): the whole delta of
the next state. ``velocity`` (the structured delta): only the velocity
change Δqvel; the position part follows from the new velocity as MuJoCo's
semi-implicit Euler integrator moves it, q' = q + dt·qvel' (quaternions
turned by dt·ω'), in ``transforms.apply_delta``."""

FEATURE_FIELDS = (
    "angle_indices",
    "coordinate_indices",
    "quat_indices",
    "heading_frame",
    "delta",
    "delta_dt",
)
"""The layout's fields that decide what a network's weights mean (its
features and its output): a checkpoint resumed or fine-tuned must share
them."""


def _as_indices(name: str, values: Sequence[int] | None, nq: int) -> tuple:
    """Validate a list of qpos indices; name the parameter in every error."""
    if values is None:
        return ()
    values = np.asarray(values).reshape(-1)
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got {values.tolist()}")
    out = tuple(int(v) for v in values)
    for v in out:
        if v < 0:
            raise ValueError(f"{name} holds a negative index {v}")
        if v >= nq:
            raise ValueError(
                f"{name} holds index {v}, out of range for nq = {nq} "
                f"(valid: 0..{nq - 1})"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"{name} holds a duplicated index: {list(out)}")
    return out


def _as_quat_indices(
    values: Sequence[int] | None, nq: int, nv: int, taken: set[int]
) -> tuple[int, ...]:
    """Validate quaternion start indices against nq, nv and other indices."""
    quats = _as_indices("quat_indices", values, nq)
    if not quats:
        return ()
    used: set[int] = set()
    for q in quats:
        block = set(range(q, q + 4))
        if q + 4 > nq:
            raise ValueError(
                f"quat_indices holds {q}, but a quaternion needs qpos "
                f"{q}..{q + 3} and nq = {nq}"
            )
        if block & used:
            raise ValueError(
                f"quat_indices {list(quats)}: the quaternion at {q} overlaps "
                "another"
            )
        if block & taken:
            raise ValueError(
                f"quat_indices: qpos {sorted(block & taken)} of the "
                f"quaternion at {q} are also angles or coordinates"
            )
        used |= block
    if nv != nq - len(quats):
        raise ValueError(
            f"quat_indices {list(quats)}: {len(quats)} quaternions need "
            f"nv = nq - {len(quats)} = {nq - len(quats)}, got nv = {nv}"
        )
    return quats


@dataclass(frozen=True)
class StateLayout:
    """Which qpos entries are angles, coordinates and quaternions.

    Attributes:
        nq: Generalized positions.
        nv: Generalized velocities.
        nu: Controls.
        angle_indices: qpos indices of angles (→ cos, sin).
        coordinate_indices: qpos indices of Cartesian coordinates (taken
            relative to the window's first row in the features).
        quat_indices: The first qpos index of each free or ball joint's
            unit quaternion (w, x, y, z: 4 qpos, 3 angular velocity dofs).
            With quaternions, nv = nq − len(quat_indices) and each qpos maps
            to its dofs in order, as in MuJoCo.
        heading_frame: Express each free joint in its heading (yaw) frame:
            features in the yaw frame of the window's first row (position,
            linear velocity, orientation), the position and linear-velocity
            parts of a delta in the yaw frame of the state it applies to. A
            model then cannot depend on where the robot faces.
        delta: What the network predicts (see :data:`DELTAS`): ``state``,
            the whole delta; ``velocity``, only its velocity part, the
            position part being integrated from the new velocity.
        delta_dt: The step positions are integrated over (``velocity``).
    """

    nq: int
    nv: int
    nu: int
    angle_indices: tuple[int, ...] = ()
    coordinate_indices: tuple[int, ...] = ()
    quat_indices: tuple[int, ...] = ()
    heading_frame: bool = False
    delta: str = "state"
    delta_dt: float | None = None

    def describe(self) -> str:
        """``angles [1, 2], coordinates [0]`` (and the quaternions)."""
        text = (
            f"angles {list(self.angle_indices)}, coordinates "
            f"{list(self.coordinate_indices)}"
        )
        if self.quat_indices:
            text += f", quaternions {list(self.quat_indices)}"
            text += " (heading frame)" if self.heading_frame else ""
        return text

    @classmethod
    def create(
        cls,
        nq: int,
        nv: int,
        nu: int,
        angle_indices: Sequence[int] | None = None,
        coordinate_indices: Sequence[int] | None = None,
        quat_indices: Sequence[int] | None = None,
        heading_frame: bool = False,
        delta: str = "state",
        delta_dt: float | None = None,
    ) -> StateLayout:
        """A validated layout (indices in range, unique, not overlapping)."""
        angles = _as_indices("angle_indices", angle_indices, nq)
        coords = _as_indices("coordinate_indices", coordinate_indices, nq)
        both = sorted(set(angles) & set(coords))
        if both:
            raise ValueError(
                f"qpos indices {both} are in both angle_indices and "
                "coordinate_indices; an entry is one or the other"
            )
        quats = _as_quat_indices(
            quat_indices, nq, nv, set(angles) | set(coords)
        )
        layout = cls(nq, nv, nu, angles, coords, quats, bool(heading_frame))
        layout = layout.with_delta(delta, delta_dt)
        if heading_frame and not layout.free_joints:
            raise ValueError(
                "heading_frame needs a free joint: a quaternion in "
                "quat_indices right after its 3 position qpos (neither angles"
                f" nor quaternions); got quat_indices {list(quats)}"
            )
        return layout

    def with_delta(self, delta: str, dt: float | None = None) -> StateLayout:
        """This layout predicting ``delta`` (see :data:`DELTAS`).

        Raises:
            ValueError: for an unknown ``delta``, or ``velocity`` without a
                positive ``dt`` or with nv ≠ nq − (number of quaternions).
        """
        if delta not in DELTAS:
            raise ValueError(f"delta must be one of {DELTAS}, got {delta!r}")
        if delta == "state":
            return replace(self, delta="state", delta_dt=None)
        if dt is None or not float(dt) > 0:
            raise ValueError(f"delta='velocity' needs a dt > 0, got {dt!r}")
        if self.nv != self.nq - len(self.quat_indices):
            raise ValueError(
                "delta='velocity' needs one dof per qpos and 3 per "
                f"quaternion: nv = nq - {len(self.quat_indices)}, got nq = "
                f"{self.nq}, nv = {self.nv}"
            )
        return replace(self, delta="velocity", delta_dt=float(dt))

    @property
    def output_dim(self) -> int:
        """Size of the network's output: state_dim, or nv (``velocity``)."""
        return self.nv if self.delta == "velocity" else self.state_dim

    @property
    def free_joints(self) -> tuple[tuple[int, int, int], ...]:
        """(quaternion qpos, first position qpos, first linear dof) each.

        MuJoCo stores a free joint as its position (3 qpos) then its
        quaternion, so a quaternion whose 3 preceding qpos are neither angles
        nor quaternions is taken for a free joint's.
        """
        plain = set(self.other_indices)
        return tuple(
            (q, q - 3, self.dof_indices([q - 3])[0])
            for q in self.quat_indices
            if {q - 3, q - 2, q - 1} <= plain
        )

    @property
    def quat_qpos(self) -> tuple[int, ...]:
        """All qpos indices of quaternions (4 per quaternion)."""
        return tuple(q + k for q in self.quat_indices for k in range(4))

    @property
    def other_indices(self) -> tuple[int, ...]:
        """The qpos indices that are neither angles nor quaternions."""
        skip = set(self.angle_indices) | set(self.quat_qpos)
        return tuple(i for i in range(self.nq) if i not in skip)

    def dof_indices(self, qpos_indices: Sequence[int]) -> list[int]:
        """The velocity dof of each non-quaternion qpos index."""
        return [i - sum(q < i for q in self.quat_indices) for i in qpos_indices]

    @property
    def quat_dofs(self) -> np.ndarray:
        """The 3 angular velocity dofs of each quaternion, (n_quat, 3)."""
        starts = self.dof_indices(self.quat_indices)
        return np.asarray(starts, np.int64).reshape(-1, 1) + np.arange(3)

    @property
    def state_dim(self) -> int:
        """Size of a delta (the network's output)."""
        n_ang, n_quat = len(self.angle_indices), len(self.quat_indices)
        return self.nq + n_ang - n_quat + self.nv

    @property
    def row_dim(self) -> int:
        """Size of a raw row (qpos, qvel, ctrl)."""
        return self.nq + self.nv + self.nu

    @property
    def angle_slots(self) -> np.ndarray:
        """Positions of the (cos, sin) pairs in the transformed state."""
        return np.arange(2 * len(self.angle_indices)).reshape(-1, 2)

    @property
    def quat_slots(self) -> np.ndarray:
        """Positions of each rotation vector in a delta, (n_quat, 3)."""
        first = 2 * len(self.angle_indices)
        return first + np.arange(3 * len(self.quat_indices)).reshape(-1, 3)

    @property
    def additive_slots(self) -> np.ndarray:
        """Positions of the additive entries in a delta."""
        first = 2 * len(self.angle_indices) + 3 * len(self.quat_indices)
        return np.arange(first, self.state_dim)

    def to_dict(self) -> dict:
        """The layout as plain data (index tuples as lists), for files.

        The plain delta's ``delta`` and ``delta_dt`` are left out, so such
        a layout is stored as before the structured delta.
        """
        skip = ("delta", "delta_dt") if self.delta == "state" else ()
        return {
            f.name: list(v) if isinstance(v, tuple) else v
            for f in fields(self)
            if f.name not in skip
            for v in [getattr(self, f.name)]
        }

    @classmethod
    def from_dict(cls, data: dict) -> StateLayout:
        """A validated layout from :meth:`to_dict`'s output.

        Keys of other fields are ignored; an absent index list is empty.

        Raises:
            ValueError: if a dimension is missing or an index is invalid.
        """
        missing = [
            f.name
            for f in fields(cls)
            if f.default is MISSING and f.name not in data
        ]
        if missing:
            raise ValueError(f"the state layout lacks {missing}")
        return cls.create(
            **{f.name: data[f.name] for f in fields(cls) if f.name in data}
        )
