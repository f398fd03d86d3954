"""Hop forward with a planar one-legged hopper (ground contact)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from hydrax.dynamics.base import Dynamics
from hydrax.task_base import Task, model_path


class Hopper(Task):
    """A planar hopper: qpos = [x, z, pitch, hip, knee, ankle].

    The torso slides in x and z and pitches about y; qpos = 0 stands at rest
    on a straight leg (an unstable equilibrium). Controls are target joint
    angles of position actuators. The cost is gait-aware: it asks for a
    forward velocity with low hops (vertical velocity penalized), keeps the
    torso above a height band (90 % of standing height, above the 80 % that
    ``success`` needs, so crouching for a hop is free but sagging is not)
    and the torso upright with a slow pitch rate (``success`` fails beyond
    |pitch| = 0.7); knee and ankle motion, hence foot clearance, is left
    almost free.
    """

    VELOCITY_WEIGHT = 3.0
    """Weight of (vₓ − target)²: moving forward dominates the cost."""
    VERTICAL_WEIGHT = 2.0
    """Weight of v_z² (running cost): low, short hops. Without it the
    planner found tall, fast hops (0.5-1 m/s for a 0.25-0.5 m/s target)
    that it could not land and fell within 3-8 s."""
    HEIGHT_BAND = 0.9
    """The torso height (fraction of standing) below which the cost grows."""
    HEIGHT_WEIGHT = 30.0
    PITCH_WEIGHT = 10.0
    """Weight of 1 − cos(pitch): a leaning torso is how the hopper falls."""
    PITCH_RATE_WEIGHT = 0.2
    TERMINAL_POSTURE = 10.0
    """The terminal posture cost's multiple: end the horizon recoverable."""

    def __init__(
        self,
        custom_dynamics: Dynamics | None = None,
        target_velocity: float = 0.25,
        target_distance: float = 1.0,
    ) -> None:
        """Load the model.

        Args:
            custom_dynamics: Dynamics to plan with instead of MJX physics.
            target_velocity: The forward speed the cost asks for (m/s).
            target_distance: How far forward ``success`` needs the torso
                (m); 0 makes ``success`` just "not fallen".
        """
        path = model_path("hopper")
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(mj_model, custom_dynamics, model_file=path)
        self.torso_id = mj_model.site("torso").id
        self.target_velocity = target_velocity
        self.target_distance = target_distance
        data = mujoco.MjData(mj_model)
        mujoco.mj_kinematics(mj_model, data)
        self.stand_height = float(data.site_xpos[self.torso_id][2])
        self.min_height = 0.8 * self.stand_height
        self.band_height = self.HEIGHT_BAND * self.stand_height

    def _posture_cost(self, state: mjx.Data) -> jax.Array:
        """Torso below the band (squared), 1 − cos(pitch), pitch rate²."""
        height = state.site_xpos[self.torso_id][2]
        low = jnp.maximum(self.band_height - height, 0.0)
        return (
            self.HEIGHT_WEIGHT * jnp.square(low)
            + self.PITCH_WEIGHT * (1.0 - jnp.cos(state.qpos[2]))
            + self.PITCH_RATE_WEIGHT * jnp.square(state.qvel[2])
        )

    def _velocity_cost(self, state: mjx.Data) -> jax.Array:
        """(vₓ − target velocity)², weighted."""
        speed = state.qvel[0] - self.target_velocity
        return self.VELOCITY_WEIGHT * jnp.square(speed)

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ)."""
        return (
            self._velocity_cost(state)
            + self.VERTICAL_WEIGHT * jnp.square(state.qvel[1])
            + self._posture_cost(state)
            + 0.01 * jnp.sum(jnp.square(state.qvel[3:]))
            + 0.01 * jnp.sum(jnp.square(control))
        )

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T)."""
        return self.TERMINAL_POSTURE * self._posture_cost(
            state
        ) + self._velocity_cost(state)

    def goal(self) -> tuple[np.ndarray, np.ndarray]:
        """Standing at rest on a straight leg (LQR exploration's goal).

        An LQR about it falls within seconds (the contacts make the
        linearization poor), so for data prefer the random or MPC policy.
        """
        return np.zeros(self.nq), np.zeros(self.nv)

    def sample_initial_state(
        self, rng: np.random.Generator, mode: str = "balance"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Standing, the joints moved by U(−0.05, 0.05) rad.

        ``balance`` also draws qvel ~ U(−0.1, 0.1); ``swingup`` starts at
        rest. Both start with the foot on the floor (x = z = 0).
        """
        if mode not in ("balance", "swingup"):
            raise ValueError(f"unknown trial mode {mode!r}")
        qpos = np.zeros(self.nq)
        qpos[2:] = rng.uniform(-0.05, 0.05, self.nq - 2)
        qpos[3:] = np.clip(qpos[3:], *self.mj_model.jnt_range[3:].T)
        qvel = np.zeros(self.nv)
        if mode == "balance":
            qvel = rng.uniform(-0.1, 0.1, self.nv)
        return qpos, qvel

    def success(self, qpos: np.ndarray, site_xpos: np.ndarray) -> bool:
        """Up (torso ≥ 80 % of standing height, |pitch| ≤ 0.7) and forward.

        Forward: x ≥ ``target_distance``. With the default 1 m, a swing-up
        trial (10 s, judged on the last 2 s) means "hopped at least 1 m and
        still up"; with ``target_distance=0`` a balance trial means "did not
        fall for 5 s".
        """
        up = site_xpos[self.torso_id][2] >= self.min_height
        far = self.target_distance <= 0 or qpos[0] >= self.target_distance
        return bool(up and abs(qpos[2]) <= 0.7 and far)
