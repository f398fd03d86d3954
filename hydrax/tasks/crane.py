"""Bring a crane's payload to a target (upstream hydrax's luffing crane)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from hydrax import ROOT
from hydrax.dynamics.base import Dynamics
from hydrax.task_base import Task


class Crane(Task):
    """A luffing crane swings its cable-hung payload to a target.

    qpos = [slew, luff, payload free joint (7)]; position actuators set the
    slew angle (|u| ≤ 1 rad), the luff angle (0–1 rad) and the cable
    length (0.05–2 m). The target is the mocap body ``target``.
    """

    def __init__(
        self, impl: str = "jax", custom_dynamics: Dynamics | None = None
    ) -> None:
        """Load the model.

        Args:
            impl: The MJX backend (``"jax"``).
            custom_dynamics: Dynamics to plan with instead of MJX physics.
        """
        path = ROOT / "models" / "crane" / "scene.xml"
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(
            mj_model,
            trace_sites=["payload_end"],
            impl=impl,
            custom_dynamics=custom_dynamics,
            model_file=path,
        )
        self.payload_pos_sensor_adr = int(
            mj_model.sensor_adr[mj_model.sensor("payload_pos").id]
        )
        self.payload_vel_sensor_adr = int(
            mj_model.sensor_adr[mj_model.sensor("payload_vel").id]
        )
        self.payload_idx = mj_model.body("payload").id

    def _get_payload_position(self, state: mjx.Data) -> jax.Array:
        """The payload end's position relative to the target, (3,)."""
        adr = self.payload_pos_sensor_adr
        return state.sensordata[adr : adr + 3]

    def _get_payload_velocity(self, state: mjx.Data) -> jax.Array:
        """The payload end's velocity relative to the target, (3,)."""
        adr = self.payload_vel_sensor_adr
        return state.sensordata[adr : adr + 3]

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ): distance to the target, speed."""
        return jnp.sum(
            jnp.square(self._get_payload_position(state))
        ) + 0.1 * jnp.sum(jnp.square(self._get_payload_velocity(state)))

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T): the running cost."""
        return self.running_cost(state, jnp.zeros(self.nu))

    def domain_randomize_model(self, rng: jax.Array) -> dict[str, jax.Array]:
        """Damping ×U(0.05, 20), payload mass ×U(0.5, 2), gains ±U(5)."""
        damping_rng, mass_rng, gain_rng = jax.random.split(rng, 3)
        m = self.model
        damping = m.dof_damping * jax.random.uniform(
            damping_rng, (1,), minval=0.05, maxval=20.0
        )
        scale = jax.random.uniform(mass_rng, (), minval=0.5, maxval=2.0)
        i = self.payload_idx
        gain = m.actuator_gainprm[:, 0] + jax.random.uniform(
            gain_rng, (1,), minval=-5.0, maxval=5.0
        )
        return {
            "dof_damping": damping,
            "body_mass": m.body_mass.at[i].multiply(scale),
            "body_inertia": m.body_inertia.at[i].multiply(scale),
            "actuator_gainprm": m.actuator_gainprm.at[:, 0].set(gain),
            "actuator_biasprm": m.actuator_biasprm.at[:, 1].set(-gain),
        }

    def domain_randomize_data(
        self, data: mjx.Data, rng: jax.Array
    ) -> dict[str, jax.Array]:
        """Gaussian noise (σ = 0.01) on the measured qpos and qvel."""
        q_rng, v_rng = jax.random.split(rng)
        return {
            "qpos": data.qpos + 0.01 * jax.random.normal(q_rng, (self.nq,)),
            "qvel": data.qvel + 0.01 * jax.random.normal(v_rng, (self.nv,)),
        }
