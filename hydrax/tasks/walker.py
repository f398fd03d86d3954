"""Walk forward with a planar biped (upstream hydrax's walker)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from hydrax import ROOT
from hydrax.dynamics.base import Dynamics
from hydrax.task_base import Task


class Walker(Task):
    """A planar biped asked to walk forward at 1.5 m/s, torso at 1.2 m.

    qpos = [torso z (from 1.3 m), torso x, torso pitch, right hip, knee,
    ankle, left hip, knee, ankle]; six torque motors, |u| ≤ 1 (gears 100,
    50, 20 N·m).
    """

    def __init__(
        self, impl: str = "jax", custom_dynamics: Dynamics | None = None
    ) -> None:
        """Load the model.

        Args:
            impl: The MJX backend (``"jax"``).
            custom_dynamics: Dynamics to plan with instead of MJX physics.
        """
        path = ROOT / "models" / "walker" / "scene.xml"
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(
            mj_model,
            trace_sites=["torso_site"],
            impl=impl,
            custom_dynamics=custom_dynamics,
            model_file=path,
        )
        self.torso_position_sensor = mj_model.sensor("torso_position").id
        self.torso_velocity_sensor = mj_model.sensor("torso_subtreelinvel").id
        self.torso_zaxis_sensor = mj_model.sensor("torso_zaxis").id
        self.target_velocity = 1.5
        self.target_height = 1.2

    def _sensor(self, state: mjx.Data, sensor_id: int, i: int) -> jax.Array:
        """Component ``i`` of a sensor's reading."""
        return state.sensordata[self.model.sensor_adr[sensor_id] + i]

    def _get_torso_height(self, state: mjx.Data) -> jax.Array:
        """The torso's height above the ground."""
        return self._sensor(state, self.torso_position_sensor, 2)

    def _get_torso_velocity(self, state: mjx.Data) -> jax.Array:
        """The forward (x) velocity of the walker's centre of mass."""
        return self._sensor(state, self.torso_velocity_sensor, 0)

    def _get_torso_deviation_from_upright(self, state: mjx.Data) -> jax.Array:
        """The torso z axis' world z component minus 1 (0 when upright)."""
        return self._sensor(state, self.torso_zaxis_sensor, 2) - 1.0

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ): the terminal cost plus effort."""
        return self.terminal_cost(state) + 0.1 * jnp.sum(jnp.square(control))

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T): height, uprightness, speed."""
        height = self._get_torso_height(state) - self.target_height
        upright = self._get_torso_deviation_from_upright(state)
        speed = self._get_torso_velocity(state) - self.target_velocity
        return (
            10.0 * jnp.square(height)
            + 3.0 * jnp.square(upright)
            + jnp.square(speed)
        )
