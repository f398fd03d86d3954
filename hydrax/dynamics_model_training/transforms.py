"""The learned model's data conventions: features, deltas, applying a delta.

Every part of the package (the dataset's statistics, the training loss,
evaluation, planning) goes through these functions, so training and
inference cannot disagree.

A raw row is ``(qpos, qvel, ctrl)`` as logged, angles unwrapped. The
*transformed state* (the network's state features) replaces each angle θ by
the pair (cos θ, sin θ), each free or ball joint's quaternion by its
continuous 6D feature (:func:`~hydrax.dynamics_model_training.rotations.
quat_to_6d`), and keeps every other qpos and all of qvel; its layout is

    [cos θ_a0, sin θ_a0, ..., 6D of q_0, ..., other qpos ..., qvel ...]

with angles in ``angle_indices`` order, quaternions in ``quat_indices``
order and the other qpos in index order. A *delta* (``state_dim`` numbers)
has the same order: a rotation (cos Δθ, sin Δθ) per angle, a rotation vector
r (3 numbers, local frame, q' = q ⊗ exp(r) as in MuJoCo's
``mj_integratePos``) per quaternion, and an increment for everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training import rotations as rot

TransformFn = Callable[[jax.Array], jax.Array]
"""A custom qpos feature map: (..., nq) → (..., m), JAX-traceable."""

_NORM_EPS = 1e-12


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
    """

    nq: int
    nv: int
    nu: int
    angle_indices: tuple[int, ...] = ()
    coordinate_indices: tuple[int, ...] = ()
    quat_indices: tuple[int, ...] = ()
    heading_frame: bool = False

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
        if heading_frame and not layout.free_joints:
            raise ValueError(
                "heading_frame needs a free joint: a quaternion in "
                "quat_indices right after its 3 position qpos (neither angles"
                f" nor quaternions); got quat_indices {list(quats)}"
            )
        return layout

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
        """The layout as plain data (index tuples as lists), for files."""
        from dataclasses import fields

        return {
            f.name: list(v) if isinstance(v, tuple) else v
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }

    @classmethod
    def from_dict(cls, data: dict) -> StateLayout:
        """A validated layout from :meth:`to_dict`'s output.

        Keys of other fields are ignored; an absent index list is empty.

        Raises:
            ValueError: if a dimension is missing or an index is invalid.
        """
        from dataclasses import MISSING, fields

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


def transform_state(layout: StateLayout, state: jax.Array) -> jax.Array:
    """Raw (qpos, qvel) → transformed state, (..., nq + nv) → (..., F).

    F = state_dim + 3 per quaternion (a 6D feature each).
    """
    qpos, qvel = state[..., : layout.nq], state[..., layout.nq :]
    angles = qpos[..., list(layout.angle_indices)]
    pairs = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)
    pairs = pairs.reshape(*angles.shape[:-1], 2 * angles.shape[-1])
    six = [rot.quat_to_6d(qpos[..., q : q + 4]) for q in layout.quat_indices]
    other = qpos[..., list(layout.other_indices)]
    return jnp.concatenate([pairs, *six, other, qvel], axis=-1)


def _quats(layout: StateLayout, qpos: jax.Array) -> jax.Array:
    """The quaternions of a qpos, (..., nq) → (..., n_quat, 4)."""
    idx = np.asarray(layout.quat_indices, np.int64).reshape(-1, 1)
    return qpos[..., idx + np.arange(4)]


def window_features(
    layout: StateLayout,
    window: jax.Array,
    transform_fn: TransformFn | None = None,
    reference: jax.Array | None = None,
) -> jax.Array:
    """The network's input features of a window of raw rows (unstandardized).

    Cartesian coordinates are taken relative to their value in the window's
    first row (or in ``reference``); then angles become (cos, sin); the
    control is appended.

    Args:
        layout: The state layout.
        window: Raw rows, (..., H, nq + nv + nu).
        transform_fn: Optional custom map of the (re-referenced) qpos to its
            features, replacing the (cos, sin) / as-is qpos features.
        reference: The row coordinates are taken relative to, (..., R);
            the window's first row when None.

    Returns:
        Features, (..., H, F).
    """
    nq, nv = layout.nq, layout.nv
    window = jnp.asarray(window)
    coords = list(layout.coordinate_indices)
    if coords:
        first = (
            window[..., :1, :] if reference is None else reference[..., None, :]
        )
        window = window.at[..., coords].add(-first[..., coords])
    if layout.heading_frame:
        ref = (
            window[..., :1, :] if reference is None else reference[..., None, :]
        )
        window = rot.into_heading_frame(
            layout.free_joints, window, ref, layout.nq, layout.nv
        )
    if transform_fn is None:
        state = transform_state(layout, window[..., : nq + nv])
    else:
        q_feat = transform_fn(window[..., :nq])
        state = jnp.concatenate([q_feat, window[..., nq : nq + nv]], axis=-1)
    return jnp.concatenate([state, window[..., nq + nv :]], axis=-1)


def state_delta(
    layout: StateLayout, state: jax.Array, next_state: jax.Array
) -> jax.Array:
    """The delta that takes ``state`` to ``next_state`` (raw, (..., nq+nv)).

    Angles give (cos(θ' − θ), sin(θ' − θ)); a quaternion gives the local
    rotation vector log(q̄ ⊗ q') (so q' = q ⊗ exp(r)); everything else θ' − θ
    (a free joint's position and linear velocity in the heading frame of
    ``state`` with ``heading_frame``).
    """
    state, next_state = jnp.asarray(state), jnp.asarray(next_state)
    diff = next_state - state
    if layout.heading_frame:
        nq = layout.nq
        minus = [
            -a for a in rot.free_joint_yaws(layout.free_joints, state[..., :nq])
        ]
        dq, dv = rot.rotate_free_joints(
            layout.free_joints, diff[..., :nq], diff[..., nq:], minus
        )
        diff = jnp.concatenate([dq, dv], axis=-1)
    angle_diff = diff[..., list(layout.angle_indices)]
    pairs = jnp.stack([jnp.cos(angle_diff), jnp.sin(angle_diff)], axis=-1)
    pairs = pairs.reshape(*angle_diff.shape[:-1], 2 * angle_diff.shape[-1])
    q0 = _quats(layout, state[..., : layout.nq])
    q1 = _quats(layout, next_state[..., : layout.nq])
    rv = rot.quat_log(rot.quat_mul(rot.quat_conj(q0), q1))
    rv = rv.reshape(*rv.shape[:-2], 3 * len(layout.quat_indices))
    other = diff[..., list(layout.other_indices)]
    return jnp.concatenate([pairs, rv, other, diff[..., layout.nq :]], axis=-1)


def apply_delta(
    layout: StateLayout, state: jax.Array, delta: jax.Array
) -> jax.Array:
    """Apply a delta to a raw state: the one definition everything uses.

    Angles rotate by the delta's pair: by the addition formulas the new point
    on the unit circle is (cos θ·c − sin θ·s, sin θ·c + cos θ·s) normalized,
    which is exactly θ + atan2(s, c); the angle is returned in that unwrapped
    form, like the logs. A pair of zero norm leaves the angle unchanged.
    A quaternion q turns by its rotation vector r as MuJoCo integrates it,
    q ⊗ exp(r), and is renormalized, so it stays unit norm. Everything else
    adds (with ``heading_frame``, a free joint's position and linear velocity
    increments are first turned from the state's heading frame to the world).

    Args:
        layout: The state layout.
        state: Raw (qpos, qvel), (..., nq + nv).
        delta: A delta in the transformed layout, (..., D).

    Returns:
        The new raw state, (..., nq + nv).
    """
    n_ang = len(layout.angle_indices)
    state, delta = jnp.asarray(state), jnp.asarray(delta)
    c = delta[..., 0 : 2 * n_ang : 2]
    s = delta[..., 1 : 2 * n_ang : 2]
    tiny = jnp.square(c) + jnp.square(s) < _NORM_EPS
    dtheta = jnp.arctan2(jnp.where(tiny, 0.0, s), jnp.where(tiny, 1.0, c))
    n_quat = len(layout.quat_indices)
    rv = delta[..., 2 * n_ang : 2 * n_ang + 3 * n_quat]
    add = delta[..., 2 * n_ang + 3 * n_quat :]
    nq, n_other = layout.nq, len(layout.other_indices)
    qpos = state[..., :nq]
    inc = (
        jnp.zeros_like(qpos)
        .at[..., list(layout.other_indices)]
        .set(add[..., :n_other])
    )
    dv = add[..., n_other:]
    if layout.heading_frame:
        inc, dv = rot.rotate_free_joints(
            layout.free_joints,
            inc,
            dv,
            rot.free_joint_yaws(layout.free_joints, qpos),
        )
    qpos = (qpos + inc).at[..., list(layout.angle_indices)].add(dtheta)
    if n_quat:
        rv = rv.reshape(*rv.shape[:-1], n_quat, 3)
        quats = _quats(layout, qpos)
        turned = rot.quat_normalize(rot.quat_mul(quats, rot.quat_exp(rv)))
        qpos = qpos.at[..., list(layout.quat_qpos)].set(
            turned.reshape(*turned.shape[:-2], 4 * n_quat)
        )
    qvel = state[..., nq:] + dv
    return jnp.concatenate([qpos, qvel], axis=-1)


def velocity_delta(
    layout: StateLayout,
    qvel: jax.Array,
    dt: float,
    qpos: jax.Array | None = None,
) -> jax.Array:
    """The delta of one Euler position step q ← q + dt·qvel, qvel held.

    What MuJoCo's ``mj_integratePos`` does with the step's velocity: angles
    turn by dt·θ̇, quaternions by the local rotation vector dt·ω, other qpos
    move by dt·q̇ (a free joint's linear velocity is in the world frame, like
    its position); the velocity part is zero.

    Args:
        layout: The state layout (nq = nv + number of quaternions).
        qvel: Velocities, (..., nv).
        dt: The time step.
        qpos: The positions, (..., nq); needed with ``heading_frame``.

    Returns:
        The delta, (..., state_dim).
    """
    if layout.nv != layout.nq - len(layout.quat_indices):
        raise ValueError(
            f"velocity_delta needs nv = nq - {len(layout.quat_indices)} "
            f"(one dof per qpos, 3 per quaternion), got nq = {layout.nq}, "
            f"nv = {layout.nv}; declare the quaternions in quat_indices"
        )
    qvel = jnp.asarray(qvel)
    if layout.heading_frame:
        if qpos is None:
            raise ValueError("velocity_delta needs qpos with heading_frame")
        minus = [
            -a
            for a in rot.free_joint_yaws(layout.free_joints, jnp.asarray(qpos))
        ]
        _, qvel = rot.rotate_free_joints(
            layout.free_joints, jnp.asarray(qpos), qvel, minus
        )
    dtheta = dt * qvel[..., layout.dof_indices(layout.angle_indices)]
    pairs = jnp.stack([jnp.cos(dtheta), jnp.sin(dtheta)], axis=-1)
    pairs = pairs.reshape(*dtheta.shape[:-1], 2 * dtheta.shape[-1])
    rv = dt * qvel[..., layout.quat_dofs.reshape(-1)]
    other = dt * qvel[..., layout.dof_indices(layout.other_indices)]
    return jnp.concatenate([pairs, rv, other, jnp.zeros_like(qvel)], axis=-1)
