"""Swing up and balance a pole on a cart."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from hydrax.control.swingup import EnergySwingup
from hydrax.dynamics.base import Dynamics
from hydrax.task_base import Task, model_path


class CartPole(Task):
    """A cart on a rail (qpos[0]) with one pole (qpos[1]); upright is π."""

    def __init__(
        self, custom_dynamics: Dynamics | None = None, impl: str = "jax"
    ) -> None:
        """Load the model.

        Args:
            custom_dynamics: Dynamics to plan with instead of MJX physics.
            impl: The MJX backend (upstream's argument).
        """
        path = model_path("cart_pole")
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
        """The tip height [m] above the rail that counts as upright."""

    def _upright_cost(self, state: mjx.Data) -> jax.Array:
        """1 + cos θ: zero when the pole stands."""
        return 1.0 + jnp.cos(state.qpos[1])

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ)."""
        return (
            self._upright_cost(state)
            + 0.1 * jnp.square(state.qpos[0])
            + 0.01 * jnp.sum(jnp.square(state.qvel))
            + 0.001 * jnp.sum(jnp.square(control))
        )

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T)."""
        return (
            10.0 * self._upright_cost(state)
            + jnp.square(state.qpos[0])
            + 0.1 * jnp.sum(jnp.square(state.qvel))
        )

    def goal(self) -> tuple[np.ndarray, np.ndarray]:
        """Upright, at rest, cart at the origin."""
        return np.array([0.0, np.pi]), np.zeros(2)

    def success(self, qpos: np.ndarray, site_xpos: np.ndarray) -> bool:
        """Upright: the tip is at least 0.9 m above the rail."""
        return bool(site_xpos[self.tip_id][2] >= self.upright_height)

    def energy_swingup(self) -> EnergySwingup:
        """The ``energy`` collection policy's swing-up law.

        Energy pumping plus cart-centring feedback, the LQR within 0.4 rad.
        """
        return EnergySwingup.from_model(
            self.mj_model,
            pole="pole",
            hinge="hinge",
            cart="slider",
            gain=10.0,
            cart_gains=(0.2, 0.4),
            switch_angle=0.4,
            switch_rate=4.0,
        )
