"""Unit-quaternion math for free and ball joints, in MuJoCo's conventions.

Quaternions are (w, x, y, z), unit norm, as MuJoCo stores them in qpos. A
rotation *delta* is a 3-vector r (axis · angle, radians) in the body's own
(child, local) frame, applied on the right:

    q' = q ⊗ exp(r),

which is what MuJoCo's ``mj_integratePos`` does for ball joints and for the
rotational part of free joints (``mju_quatIntegrate(q, ω, dt)`` with r = ω·dt,
ω the joint's angular velocity in the local frame). So the true one-step
delta of an Euler step is ``dt · qvel_{t+1}`` of the joint's three angular
dofs, exactly.

Features of an orientation use the continuous 6D representation (the first
two columns of the rotation matrix, Zhou et al. 2019) rather than a
sign-canonical quaternion: a quaternion q and −q are one rotation, and any
rule that picks one of them (e.g. w ≥ 0) jumps where the rule switches. For a
yaw ψ = π ± ε, which a walking robot reaches whenever it turns around, the
canonical quaternion jumps by a norm of 2 − O(ε²) while the rotation changes
by 2ε; the 6D feature changes by 2√2·sin(ε) ≈ 0.028 for ε = 0.01 rad, 70×
less, and is a smooth function of the rotation everywhere, so a network
sees nearby inputs for nearby orientations. The 6D numbers are bounded in
[−1, 1] and standardize like any other feature.

All functions are JAX-traceable, broadcast over leading axes and have finite
gradients at the identity rotation.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

_SMALL = 1e-12


def quat_mul(a: jax.Array, b: jax.Array) -> jax.Array:
    """The Hamilton product a ⊗ b of quaternions (w, x, y, z), (..., 4)."""
    aw, ax, ay, az = jnp.moveaxis(jnp.asarray(a), -1, 0)
    bw, bx, by, bz = jnp.moveaxis(jnp.asarray(b), -1, 0)
    return jnp.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conj(q: jax.Array) -> jax.Array:
    """The conjugate (the inverse of a unit quaternion), (..., 4)."""
    q = jnp.asarray(q)
    return q * jnp.array([1.0, -1.0, -1.0, -1.0], q.dtype)


def quat_normalize(q: jax.Array) -> jax.Array:
    """The unit quaternion q / ‖q‖; zero becomes the identity (1, 0, 0, 0)."""
    q = jnp.asarray(q)
    n2 = jnp.sum(jnp.square(q), axis=-1, keepdims=True)
    tiny = n2 < _SMALL
    identity = jnp.zeros_like(q).at[..., 0].set(1.0)
    safe = jnp.where(tiny, 1.0, n2)
    return jnp.where(tiny, identity, q / jnp.sqrt(safe))


def quat_exp(r: jax.Array) -> jax.Array:
    """The unit quaternion of a rotation vector r (axis · angle), (..., 3).

    Returns (cos(θ/2), sin(θ/2)·r/θ) with θ = ‖r‖; a Taylor expansion near
    θ = 0 keeps values and gradients finite.
    """
    r = jnp.asarray(r)
    t2 = jnp.sum(jnp.square(r), axis=-1, keepdims=True)
    small = t2 < 1e-8
    t = jnp.sqrt(jnp.where(small, 1.0, t2))
    w = jnp.where(small, 1.0 - t2 / 8.0, jnp.cos(0.5 * t))
    k = jnp.where(small, 0.5 - t2 / 48.0, jnp.sin(0.5 * t) / t)
    return jnp.concatenate([w, k * r], axis=-1)


def quat_log(q: jax.Array) -> jax.Array:
    """The rotation vector of a unit quaternion, angle in [0, π], (..., 3).

    q and −q give the same (shortest) rotation vector.
    """
    q = jnp.asarray(q)
    q = jnp.where(q[..., :1] < 0.0, -q, q)
    w, v = q[..., :1], q[..., 1:]
    n2 = jnp.sum(jnp.square(v), axis=-1, keepdims=True)
    small = n2 < 1e-12
    n = jnp.sqrt(jnp.where(small, 1.0, n2))
    # θ = 2·atan2(‖v‖, w); r = θ·v/‖v‖ → 2v/w for small ‖v‖.
    k = jnp.where(
        small,
        2.0 / jnp.maximum(w, _SMALL),
        2.0 * jnp.arctan2(n, w) / n,
    )
    return k * v


def quat_integrate(q: jax.Array, omega: jax.Array, dt: float) -> jax.Array:
    """MuJoCo's ``mju_quatIntegrate``: normalize(q ⊗ exp(ω·dt)), (..., 4).

    Args:
        q: Unit quaternions, (..., 4).
        omega: Angular velocities in the local (body) frame, (..., 3).
        dt: The time step.

    Returns:
        The integrated unit quaternions, (..., 4).
    """
    return quat_normalize(quat_mul(q, quat_exp(dt * jnp.asarray(omega))))


def quat_to_matrix(q: jax.Array) -> jax.Array:
    """The rotation matrix of a quaternion (normalized first), (..., 3, 3)."""
    w, x, y, z = jnp.moveaxis(quat_normalize(q), -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def quat_to_6d(q: jax.Array) -> jax.Array:
    """The continuous 6D feature: the matrix's first two columns, (..., 6).

    Ordered (R₀₀, R₁₀, R₂₀, R₀₁, R₁₁, R₂₁); the same for q and −q.
    """
    m = quat_to_matrix(q)
    return jnp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def rotation_6d_to_matrix(x: jax.Array) -> jax.Array:
    """The rotation matrix of a 6D feature (Gram–Schmidt), (..., 3, 3)."""
    x = jnp.asarray(x)
    a, b = x[..., :3], x[..., 3:6]

    def unit(v: jax.Array) -> jax.Array:
        n2 = jnp.sum(jnp.square(v), axis=-1, keepdims=True)
        return v / jnp.sqrt(jnp.maximum(n2, _SMALL))

    c0 = unit(a)
    c1 = unit(b - jnp.sum(c0 * b, axis=-1, keepdims=True) * c0)
    c2 = jnp.cross(c0, c1)
    return jnp.stack([c0, c1, c2], axis=-1)


def yaw(q: jax.Array) -> jax.Array:
    """The heading: the angle of the body's x axis about the world z, (...)."""
    w, x, y, z = jnp.moveaxis(jnp.asarray(q), -1, 0)
    return jnp.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def yaw_quat(psi: jax.Array) -> jax.Array:
    """The quaternion of a rotation by ψ about the world z axis, (..., 4)."""
    psi = jnp.asarray(psi)
    zero = jnp.zeros_like(psi)
    return jnp.stack(
        [jnp.cos(0.5 * psi), zero, zero, jnp.sin(0.5 * psi)], axis=-1
    )


def rotate_z(v: jax.Array, psi: jax.Array) -> jax.Array:
    """Rotate 3-vectors v (..., 3) by ψ (...) about the z axis."""
    v = jnp.asarray(v)
    c, s = jnp.cos(psi), jnp.sin(psi)
    x, y = v[..., 0], v[..., 1]
    return jnp.stack([c * x - s * y, s * x + c * y, v[..., 2]], axis=-1)


FreeJoints = Sequence[tuple[int, int, int]]
"""(quaternion qpos, first position qpos, first linear dof) per free joint."""


def free_joint_yaws(joints: FreeJoints, qpos: jax.Array) -> list[jax.Array]:
    """The heading of each free joint's quaternion in qpos, each (...)."""
    return [yaw(qpos[..., q : q + 4]) for q, _, _ in joints]


def rotate_free_joints(
    joints: FreeJoints,
    qpart: jax.Array,
    vpart: jax.Array,
    psi: Sequence[jax.Array],
) -> tuple[jax.Array, jax.Array]:
    """Turn free joints' positions and linear velocities about the world z.

    Args:
        joints: The free joints.
        qpart: Positions (or position increments), (..., nq).
        vpart: Velocities (or increments), (..., nv).
        psi: One angle per free joint, broadcastable to qpart[..., 0].

    Returns:
        The rotated (qpart, vpart); nothing else changes.
    """
    for (_, p, v), angle in zip(joints, psi, strict=True):
        qpart = qpart.at[..., p : p + 3].set(
            rotate_z(qpart[..., p : p + 3], angle)
        )
        vpart = vpart.at[..., v : v + 3].set(
            rotate_z(vpart[..., v : v + 3], angle)
        )
    return qpart, vpart


def into_heading_frame(
    joints: FreeJoints, rows: jax.Array, ref: jax.Array, nq: int, nv: int
) -> jax.Array:
    """Raw rows in the heading frames of a reference row.

    Each free joint's position, linear velocity and orientation are turned
    by −ψ_ref about the world z, ψ_ref the joint's heading in ``ref``; the
    angular velocity is in the body frame already and stays.

    Args:
        joints: The free joints.
        rows: Raw rows (qpos, qvel, ...), (..., T, R).
        ref: The reference rows, (..., 1, R).
        nq: Generalized positions.
        nv: Generalized velocities.

    Returns:
        The rows, (..., T, R).
    """
    minus = [-a for a in free_joint_yaws(joints, ref[..., :nq])]
    qpos, qvel = rotate_free_joints(
        joints, rows[..., :nq], rows[..., nq : nq + nv], minus
    )
    for (q, _, _), angle in zip(joints, minus, strict=True):
        qpos = qpos.at[..., q : q + 4].set(
            quat_mul(yaw_quat(angle), qpos[..., q : q + 4])
        )
    return jnp.concatenate([qpos, qvel, rows[..., nq + nv :]], axis=-1)


def geodesic_angle(
    q_pred: jax.Array, q_true: jax.Array, degrees: bool = True
) -> jax.Array:
    """The angle of the rotation between two orientations, (..., 4) → (...).

    The geodesic distance on SO(3): 2·atan2(‖vec(q̄_pred ⊗ q_true)‖,
    |w(q̄_pred ⊗ q_true)|), in [0, 180] degrees (or [0, π] radians). Either
    input may be unnormalized (both are normalized first) and q and −q are
    the same orientation.

    Args:
        q_pred: Predicted quaternions (w, x, y, z), (..., 4).
        q_true: True quaternions, (..., 4).
        degrees: Degrees (default) or radians.

    Returns:
        The angles, (...).
    """
    d = quat_mul(quat_conj(quat_normalize(q_pred)), quat_normalize(q_true))
    n = jnp.sqrt(jnp.sum(jnp.square(d[..., 1:]), axis=-1))
    angle = 2.0 * jnp.arctan2(n, jnp.abs(d[..., 0]))
    return jnp.degrees(angle) if degrees else angle
