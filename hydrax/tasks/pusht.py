"""Push a T-shaped block to a goal pose (upstream hydrax's push-T)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from hydrax import ROOT
from hydrax.dynamics.base import Dynamics
from hydrax.dynamics_model_training.rotations import quat_log
from hydrax.task_base import Task


class PushT(Task):
    """A velocity-controlled sphere pushes a T block to the goal pose.

    qpos = [block x, block y, block yaw, pusher x, pusher y]; the pusher's
    qpos is relative to its start 10 cm in front (+y) of the block. The
    goal is the mocap body ``goal``; sensors give the block's pose in its
    frame.
    """

    def __init__(
        self, impl: str = "jax", custom_dynamics: Dynamics | None = None
    ) -> None:
        """Load the model.

        Args:
            impl: The MJX backend (``"jax"``).
            custom_dynamics: Dynamics to plan with instead of MJX physics.
        """
        path = ROOT / "models" / "pusht" / "scene.xml"
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(
            mj_model,
            trace_sites=["pusher"],
            impl=impl,
            custom_dynamics=custom_dynamics,
            model_file=path,
        )
        self.block_position_sensor = mj_model.sensor("position").id
        self.block_orientation_sensor = mj_model.sensor("orientation").id

    def _get_position_err(self, state: mjx.Data) -> jax.Array:
        """The block's position in the goal's frame, (3,)."""
        adr = self.model.sensor_adr[self.block_position_sensor]
        return state.sensordata[adr : adr + 3]

    def _get_orientation_err(self, state: mjx.Data) -> jax.Array:
        """The block's rotation from the goal's, a rotation vector (3,)."""
        adr = self.model.sensor_adr[self.block_orientation_sensor]
        return quat_log(state.sensordata[adr : adr + 4])

    def _close_to_block_err(self, state: mjx.Data) -> jax.Array:
        """The block's position relative to the pusher, (2,)."""
        pusher = state.qpos[3:] + jnp.array([0.0, 0.1])  # its start offset
        return state.qpos[:2] - pusher

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ): pose error, pusher near the block."""
        return (
            jnp.sum(jnp.square(self._get_position_err(state)))
            + jnp.sum(jnp.square(self._get_orientation_err(state)))
            + 0.01 * jnp.sum(jnp.square(self._close_to_block_err(state)))
        )

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T): the running cost without control."""
        return self.running_cost(state, jnp.zeros(self.nu))

    def domain_randomize_model(self, rng: jax.Array) -> dict[str, jax.Array]:
        """Scale every geom's sliding friction by U(0.1, 2)."""
        friction = self.model.geom_friction
        scale = jax.random.uniform(
            rng, (friction.shape[0],), minval=0.1, maxval=2.0
        )
        return {"geom_friction": friction.at[:, 0].set(friction[:, 0] * scale)}
