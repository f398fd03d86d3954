"""The task interface: a MuJoCo model, its costs, and its dynamics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from hydrax import ROOT

if TYPE_CHECKING:
    from hydrax.dynamics.base import Dynamics


def model_path(name: str) -> Path:
    """The MJCF file of a built-in task, e.g. ``model_path("pendulum")``."""
    return ROOT / "models" / name / f"{name}.xml"


class Task(ABC):
    """A control task: a MuJoCo model, running and terminal costs, dynamics.

    Rollouts pass through ``self.dynamics``: MJX physics by default, or the
    ``custom_dynamics`` given (for example a learned model,
    :class:`hydrax.dynamics.nn_dynamics.NeuralNetworkDynamics`).
    """

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        custom_dynamics: Dynamics | None = None,
        model_file: str | Path | None = None,
    ) -> None:
        """Set up the task.

        Args:
            mj_model: The MuJoCo model (the plant and the planner's physics).
            custom_dynamics: Dynamics to roll out with instead of MJX physics.
            model_file: The MJCF file the model came from, if any.
        """
        from hydrax.dynamics.base import PhysicsDynamics

        if mj_model.nu == 0:
            raise ValueError(
                f"{type(self).__name__}: the model has no actuators, so "
                "there is nothing to control"
            )
        if mj_model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICIT:
            raise ValueError(
                f"{type(self).__name__}: MJX, which runs the planner's "
                'rollouts, does not support integrator="implicit"; use '
                'integrator="implicitfast" (or "Euler", "RK4") in the '
                "MJCF's <option>"
            )
        self.mj_model = mj_model
        self.model = mjx.put_model(mj_model)
        self.model_file = Path(model_file) if model_file else None
        self.dt = float(mj_model.opt.timestep)
        self.nq, self.nv, self.nu = mj_model.nq, mj_model.nv, mj_model.nu

        limited = mj_model.actuator_ctrllimited.astype(bool)
        lo, hi = mj_model.actuator_ctrlrange.T
        self.u_min = jnp.asarray(np.where(limited, lo, -np.inf))
        self.u_max = jnp.asarray(np.where(limited, hi, np.inf))

        if custom_dynamics is not None:
            custom_dynamics.check_compatible(self.model, self.model_file)
        self.custom_dynamics = custom_dynamics
        self.dynamics: Dynamics = custom_dynamics or PhysicsDynamics()

    @abstractmethod
    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ)."""

    @abstractmethod
    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T)."""

    def goal(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The (qpos, qvel) the task stabilizes, used by LQR exploration."""
        return None

    def sample_initial_state(
        self, rng: np.random.Generator, mode: str = "balance"
    ) -> tuple[np.ndarray, np.ndarray]:
        """A random initial (qpos, qvel) for a trial.

        Args:
            rng: The random generator.
            mode: ``"balance"`` (near the goal) or ``"swingup"`` (at rest,
                near the model's default pose).

        Returns:
            qpos of shape (nq,) and qvel of shape (nv,).
        """
        qpos = self.mj_model.qpos0.copy()
        qvel = np.zeros(self.nv)
        if mode == "balance" and self.goal() is not None:
            qpos, qvel = (np.array(a, dtype=float) for a in self.goal())
            qpos = qpos + rng.uniform(-0.1, 0.1, self.nq)
            qvel = qvel + rng.uniform(-0.1, 0.1, self.nv)
        elif mode == "swingup":
            qpos = qpos + rng.uniform(-0.05, 0.05, self.nq)
        return qpos, qvel

    def success(self, qpos: np.ndarray, site_xpos: np.ndarray) -> bool:
        """Whether one plant state counts as "upright" for trials."""
        raise NotImplementedError(f"{type(self).__name__} defines no success")
