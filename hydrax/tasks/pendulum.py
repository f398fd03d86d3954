"""Swing up and balance a torque-limited pendulum."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from hydrax.control.swingup import EnergySwingup
from hydrax.dynamics.base import Dynamics
from hydrax.task_base import Task, model_path


class Pendulum(Task):
    """A pendulum on a hinge (qpos[0]); upright is π, torque |u| ≤ 3."""

    def __init__(
        self, custom_dynamics: Dynamics | None = None, impl: str = "jax"
    ) -> None:
        """Load the model.

        Args:
            custom_dynamics: Dynamics to plan with instead of MJX physics.
            impl: The MJX backend (upstream's argument).
        """
        path = model_path("pendulum")
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(
            mj_model,
            trace_sites=["tip"],
            impl=impl,
            custom_dynamics=custom_dynamics,
            model_file=path,
        )
        self.tip_id = mj_model.site("tip").id
        self.upright_height = 0.9
        """The tip height [m] above the hinge that counts as upright."""

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ)."""
        return (
            1.0
            + jnp.cos(state.qpos[0])
            + 0.01 * jnp.square(state.qvel[0])
            + 0.001 * jnp.sum(jnp.square(control))
        )

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T)."""
        return 10.0 * (1.0 + jnp.cos(state.qpos[0])) + 0.1 * jnp.square(
            state.qvel[0]
        )

    def goal(self) -> tuple[np.ndarray, np.ndarray]:
        """Upright and at rest."""
        return np.array([np.pi]), np.zeros(1)

    def success(self, qpos: np.ndarray, site_xpos: np.ndarray) -> bool:
        """Upright: the tip is at least 0.9 m above the hinge."""
        return bool(site_xpos[self.tip_id][2] >= self.upright_height)

    def energy_swingup(self) -> EnergySwingup:
        """The ``energy`` collection policy's swing-up law.

        Energy pumping at full torque, the LQR within 0.5 rad of upright.
        """
        return EnergySwingup.from_model(
            self.mj_model,
            pole="pole",
            hinge="hinge",
        )
