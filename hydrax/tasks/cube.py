"""Turn a cube in a hand to a goal orientation (upstream hydrax's cube).

Upstream uses the LEAP hand's meshes; this model is a simplified hand of
primitive geoms: a palm with four 4-joint capsule fingers (16 position
actuators, like LEAP's), the cube resting on the palm between them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from hydrax import ROOT
from hydrax.dynamics.base import Dynamics
from hydrax.dynamics_model_training.rotations import quat_log
from hydrax.task_base import Task, sparse_jacobian_on_cpu


class CubeRotation(Task):
    """Rotate a 5 cm cube on the palm to the goal's orientation.

    qpos = [16 finger joints (index, middle, ring, thumb: abduction, then
    three flexions), cube free joint (7)]. The goal orientation is the
    mocap body ``goal``'s (``mocap_quat[0]``); the cube should also stay
    within ``delta`` of the grasp site in the palm's plane.
    """

    def __init__(
        self, impl: str = "jax", custom_dynamics: Dynamics | None = None
    ) -> None:
        """Load the model.

        Args:
            impl: The MJX backend (``"jax"``).
            custom_dynamics: Dynamics to plan with instead of MJX physics.
        """
        path = ROOT / "models" / "cube" / "scene.xml"
        mj_model = sparse_jacobian_on_cpu(
            mujoco.MjModel.from_xml_path(str(path))
        )
        super().__init__(
            mj_model,
            trace_sites=["cube_center", "if_tip", "mf_tip", "rf_tip", "th_tip"],
            impl=impl,
            custom_dynamics=custom_dynamics,
            model_file=path,
        )
        self.cube_position_sensor = mj_model.sensor("cube_position").id
        self.cube_orientation_sensor = mj_model.sensor("cube_orientation").id
        self.delta = 0.015  # m: beyond it the position cost is steep

    def _get_cube_position_err(self, state: mjx.Data) -> jax.Array:
        """The cube's position relative to the grasp site, (3,)."""
        adr = self.model.sensor_adr[self.cube_position_sensor]
        return state.sensordata[adr : adr + 3]

    def _get_cube_orientation_err(self, state: mjx.Data) -> jax.Array:
        """The cube's rotation from the goal's, a rotation vector (3,)."""
        adr = self.model.sensor_adr[self.cube_orientation_sensor]
        return quat_log(state.sensordata[adr : adr + 4])

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ): stay in the hand, turn, low effort."""
        squared = jnp.sum(jnp.square(self._get_cube_position_err(state)[:2]))
        position_cost = 0.1 * squared + 100.0 * jnp.maximum(
            squared - self.delta**2, 0.0
        )
        orientation_cost = jnp.sum(
            jnp.square(self._get_cube_orientation_err(state))
        )
        return (
            position_cost
            + orientation_cost
            + 0.001 * jnp.sum(jnp.square(control))
        )

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T): the cube's distance from the grasp."""
        return 100.0 * jnp.sum(jnp.square(self._get_cube_position_err(state)))

    def domain_randomize_model(self, rng: jax.Array) -> dict[str, jax.Array]:
        """Scale every geom's sliding friction by U(0.5, 2)."""
        friction = self.model.geom_friction
        scale = jax.random.uniform(
            rng, (friction.shape[0],), minval=0.5, maxval=2.0
        )
        return {"geom_friction": friction.at[:, 0].set(friction[:, 0] * scale)}

    def domain_randomize_data(
        self, data: mjx.Data, rng: jax.Array
    ) -> dict[str, jax.Array]:
        """Gaussian noise (σ = 5 mm or rad) on the measured qpos."""
        noise = 0.005 * jax.random.normal(rng, (self.nq,))
        return {"qpos": data.qpos + noise}
