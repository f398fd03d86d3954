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

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training import rotations as rot
from hydrax.dynamics_model_training.layout import StateLayout

__all__ = [
    "StateLayout",
    "TransformFn",
    "apply_delta",
    "integrated_delta",
    "state_delta",
    "transform_state",
    "velocity_delta",
    "window_features",
]

TransformFn = Callable[[jax.Array], jax.Array]
"""A custom qpos feature map: (..., nq) → (..., m), JAX-traceable."""

_NORM_EPS = 1e-12


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


def check_transform(transform_fn: TransformFn | None, nq: int) -> None:
    """Refuse a custom qpos map that JAX cannot trace or that drops axes.

    The map is traced once (``jax.eval_shape``, nothing computed) on a
    (2, 3, nq) input; it must return one array of shape (2, 3, m).

    Raises:
        ValueError: naming ``transform_fn`` and what it did.
    """
    if transform_fn is None:
        return
    name = getattr(transform_fn, "__qualname__", None)
    if name is None or not hasattr(transform_fn, "__module__"):
        raise ValueError(
            f"transform_fn must be a function with a name (a def), which "
            f"the checkpoint records, got {transform_fn!r}"
        )
    probe = jax.ShapeDtypeStruct((2, 3, nq), jnp.float32)
    try:
        out = jax.eval_shape(transform_fn, probe)
    except Exception as e:  # noqa: BLE001 (whatever the user's code raises)
        raise ValueError(
            f"transform_fn {name} must be a JAX function of a (..., nq) "
            f"array; traced on shape (2, 3, {nq}) it raised "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    shape = getattr(out, "shape", None)
    if shape is None or len(shape) != 3 or tuple(shape[:2]) != (2, 3):
        got = tuple(shape) if shape is not None else type(out).__name__
        raise ValueError(
            f"transform_fn {name} must map (..., nq) to (..., m), keeping "
            f"the leading axes; it maps (2, 3, {nq}) to {got}"
        )


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


def integrated_delta(
    layout: StateLayout, state: jax.Array, delta: jax.Array
) -> jax.Array:
    """The delta whose position part follows from its velocity part.

    The structured delta (``layout.delta == "velocity"``): the new velocity
    is qvel' = qvel + Δqvel (Δqvel, the delta's last nv entries, turned to
    the world with ``heading_frame``), and the positions move as MuJoCo's
    semi-implicit Euler step moves them, by :func:`velocity_delta` of qvel'
    over ``layout.delta_dt``: slide and hinge qpos by dt·q̇', quaternions by
    the local rotation vector dt·ω', a free joint's position by dt·v' (world
    frame). The delta's own position part is ignored.

    Args:
        layout: The state layout (nq = nv + number of quaternions).
        state: Raw (qpos, qvel), (..., nq + nv).
        delta: A delta, (..., state_dim); only its last nv entries are read.

    Returns:
        The delta with the integrated position part, (..., state_dim).
    """
    nq, nv = layout.nq, layout.nv
    state, delta = jnp.asarray(state), jnp.asarray(delta)
    qpos, dv = state[..., :nq], delta[..., -nv:]
    world_dv = dv
    if layout.heading_frame:
        yaws = rot.free_joint_yaws(layout.free_joints, qpos)
        _, world_dv = rot.rotate_free_joints(layout.free_joints, qpos, dv, yaws)
    qvel = state[..., nq:] + world_dv
    dt = layout.delta_dt
    moved = velocity_delta(layout, qvel, dt, qpos)[..., : layout.state_dim - nv]
    return jnp.concatenate([moved, dv], axis=-1)


def apply_delta(
    layout: StateLayout, state: jax.Array, delta: jax.Array
) -> jax.Array:
    """Apply a delta to a raw state: the one definition everything uses.

    With the structured delta (``layout.delta == "velocity"``) the position
    part is first integrated from the new velocity (:func:`integrated_delta`):
    one semi-implicit Euler step, as MuJoCo's ``Euler`` integrator makes it.

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
    if layout.delta == "velocity":
        delta = integrated_delta(layout, state, delta)
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
