"""Walk forward with a small floating-base quadruped (free joint, contacts)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from hydrax.dynamics.base import Dynamics
from hydrax.dynamics_model_training.rotations import yaw
from hydrax.task_base import Task, model_path, sparse_jacobian_on_cpu

STAND_SECONDS = 1.0
"""Settling time (simulated) that finds the standing equilibrium."""


class Quadruped(Task):
    """A box torso on a free joint with four 2-dof capsule legs.

    qpos = [x, y, z, qw, qx, qy, qz, 8 joints] (hip, knee per leg: front
    left, front right, hind left, hind right); qvel = [world linear
    velocity, body angular velocity, 8 joints]. Controls are target joint
    angles. The cost asks for a forward velocity along the torso's heading
    (its x axis projected onto the ground) and none sideways, the torso's
    standing height and an upright torso (its z axis along the world's):
    the legs only pitch, so the quadruped walks where it faces, and a trial
    that starts facing any way asks the same of it.
    """

    def __init__(
        self,
        custom_dynamics: Dynamics | None = None,
        target_velocity: float = 0.5,
        target_distance: float = 1.0,
    ) -> None:
        """Load the model and settle it into its standing pose.

        Args:
            custom_dynamics: Dynamics to plan with instead of MJX physics.
            target_velocity: The forward speed the cost asks for (m/s).
            target_distance: How far from its start (on the ground)
                ``success`` needs the torso (m); 0 makes ``success`` just
                "standing".
        """
        path = model_path("quadruped")
        mj_model = sparse_jacobian_on_cpu(
            mujoco.MjModel.from_xml_path(str(path))
        )
        super().__init__(mj_model, custom_dynamics, model_file=path)
        self.torso_id = mj_model.site("torso").id
        self.target_velocity = target_velocity
        self.target_distance = target_distance
        data = mujoco.MjData(mj_model)
        for _ in range(int(STAND_SECONDS / self.dt)):
            mujoco.mj_step(mj_model, data)
        self.stand_qpos = data.qpos.copy()
        self.stand_height = float(data.qpos[2])
        self.min_height = 0.6 * self.stand_height

    @staticmethod
    def _uprightness(quat: jax.Array) -> jax.Array:
        """The world-z component of the torso's z axis: 1 − 2(qx² + qy²)."""
        return 1.0 - 2.0 * (jnp.square(quat[1]) + jnp.square(quat[2]))

    @staticmethod
    def _heading_velocity(qpos: jax.Array, qvel: jax.Array) -> jax.Array:
        """The torso's ground velocity [forward, left] in its heading frame."""
        psi = yaw(qpos[3:7])
        c, s = jnp.cos(psi), jnp.sin(psi)
        vx, vy = qvel[0], qvel[1]
        return jnp.stack([c * vx + s * vy, c * vy - s * vx])

    def _velocity_cost(self, state: mjx.Data) -> jax.Array:
        """Forward speed error (squared) plus half the sideways speed²."""
        forward, left = self._heading_velocity(state.qpos, state.qvel)
        return jnp.square(forward - self.target_velocity) + 0.5 * jnp.square(
            left
        )

    def _posture_cost(self, state: mjx.Data) -> jax.Array:
        """Height error (squared) plus 1 − uprightness."""
        height = state.qpos[2] - self.stand_height
        up = self._uprightness(state.qpos[3:7])
        return 10.0 * jnp.square(height) + 2.0 * (1.0 - up)

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ)."""
        return (
            self._velocity_cost(state)
            + self._posture_cost(state)
            + 0.01 * jnp.sum(jnp.square(state.qvel[3:6]))
            + 0.01 * jnp.sum(jnp.square(control))
        )

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T)."""
        return 10.0 * self._posture_cost(state) + self._velocity_cost(state)

    def goal(self) -> None:
        """None: LQR cannot stabilize a floating base.

        Its x, y and yaw are pure integrators that no joint torque moves at
        a standing equilibrium, so the Riccati equation has no stabilizing
        solution; collection explores with the random policy instead. The
        standing pose is ``stand_qpos``.
        """
        return None

    def sample_initial_state(
        self, rng: np.random.Generator, mode: str = "balance"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Standing with a random heading, joints moved by U(−0.05, 0.05).

        ``balance`` also draws qvel ~ U(−0.1, 0.1); ``swingup`` starts at
        rest. The heading is U(−π, π), so a model must not depend on yaw.
        """
        if mode not in ("balance", "swingup"):
            raise ValueError(f"unknown trial mode {mode!r}")
        qpos = self.stand_qpos.copy()
        yaw = rng.uniform(-np.pi, np.pi)
        qpos[3:7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        qpos[7:] += rng.uniform(-0.05, 0.05, self.nq - 7)
        qpos[7:] = np.clip(qpos[7:], *self.mj_model.jnt_range[1:].T)
        qvel = np.zeros(self.nv)
        if mode == "balance":
            qvel = rng.uniform(-0.1, 0.1, self.nv)
        return qpos, qvel

    def success(self, qpos: np.ndarray, site_xpos: np.ndarray) -> bool:
        """Standing (height ≥ 60 %, tilt ≤ 37°), target_distance from start.

        The distance is on the ground from where every trial starts (the
        standing pose's x, y), whichever way the quadruped faced.
        """
        up = float(self._uprightness(np.asarray(qpos[3:7]))) >= 0.8
        high = qpos[2] >= self.min_height
        travelled = np.hypot(*(np.asarray(qpos[:2]) - self.stand_qpos[:2]))
        far = self.target_distance <= 0 or travelled >= self.target_distance
        return bool(up and high and far)
