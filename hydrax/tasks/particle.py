"""Drive a planar point mass to a target (upstream hydrax's particle)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from hydrax import ROOT
from hydrax.dynamics.base import Dynamics
from hydrax.task_base import Task


class Particle(Task):
    """A force-driven point mass in the plane chases a target position.

    qpos = [x, y] (slide joints, |x|, |y| ≤ 0.29 m), two motors with
    |u| ≤ 1 N. The target is the mocap body ``goal`` (``mocap_pos[0]``);
    drag it in the viewer, or set ``state.mocap_pos``.
    """

    def __init__(
        self, impl: str = "jax", custom_dynamics: Dynamics | None = None
    ) -> None:
        """Load the model.

        Args:
            impl: The MJX backend (``"jax"``).
            custom_dynamics: Dynamics to plan with instead of MJX physics.
        """
        path = ROOT / "models" / "particle" / "scene.xml"
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(
            mj_model,
            trace_sites=["pointmass"],
            impl=impl,
            custom_dynamics=custom_dynamics,
            model_file=path,
        )
        self.pointmass_id = mj_model.site("pointmass").id

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ): the terminal cost plus effort."""
        return self.terminal_cost(state) + 0.1 * jnp.sum(jnp.square(control))

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T): distance to the target, speed."""
        error = state.site_xpos[self.pointmass_id] - state.mocap_pos[0]
        return 5.0 * jnp.sum(jnp.square(error)) + 0.1 * jnp.sum(
            jnp.square(state.qvel)
        )

    def domain_randomize_model(self, rng: jax.Array) -> dict[str, jax.Array]:
        """Scale the actuator gains by U(0.9, 1.1)."""
        gains = self.model.actuator_gainprm[:, 0]
        scale = jax.random.uniform(rng, gains.shape, minval=0.9, maxval=1.1)
        return {
            "actuator_gainprm": self.model.actuator_gainprm.at[:, 0].set(
                gains * scale
            )
        }

    def domain_randomize_data(
        self, data: mjx.Data, rng: jax.Array
    ) -> dict[str, jax.Array]:
        """Shift the measured position by U(−1, 1) cm."""
        shift = jax.random.uniform(rng, (2,), minval=-0.01, maxval=0.01)
        return {"qpos": data.qpos + shift}
