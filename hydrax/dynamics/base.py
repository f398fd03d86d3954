"""The one seam through which every rollout steps: physics or a learned model.

A `Dynamics` advances an ``mjx.Data`` by one ``model.opt.timestep`` under a
control, carrying its own state beside it (nothing for physics; the history
window or a hidden state for a learned model). The controller calls
``init_carry`` once per replanning, ``sample_carry`` once per rollout of a
sampled control sequence (the identity, except for an ensemble that gives
each sample its member), and ``step_with_penalty`` inside its
``lax.scan``: ``step`` plus a penalty added to the running cost (zero,
except for an ensemble's disagreement). A dynamics with
``num_particles = P > 1`` (an ensemble's ``"members"`` strategy) has every
sample rolled out P times, from ``particle_carry(carry, p)``; the
controller combines the P costs of a sample with its risk strategy, as it
does over randomized domains.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from mujoco import mjx

Carry = Any
"""Whatever a dynamics model carries between steps (a pytree of arrays)."""


class Dynamics(ABC):
    """One step of the dynamics, with a carry beside the MJX state."""

    history_length: int = 1
    """Measured rows (qpos, qvel, ctrl) it needs, the current state's included.

    The closed loop hands the controller the ``history_length - 1`` rows
    measured before the current state at every replanning.
    """

    num_particles: int = 1
    """Rollouts of every sampled plan, each from ``particle_carry``."""

    def check_compatible(  # noqa: B027
        self, model: mjx.Model, model_file: Path | None = None
    ) -> None:
        """Raise ValueError when the dynamics cannot serve this model.

        Args:
            model: The MJX model to plan for.
            model_file: The MJCF file it came from, when known.
        """

    @abstractmethod
    def init_carry(
        self, model: mjx.Model, state: mjx.Data, history: jax.Array | None
    ) -> Carry:
        """The carry at the start of a rollout.

        Args:
            model: The MJX model.
            state: The current measured state.
            history: The measured rows before it, (history_length - 1,
                nq + nv + nu) as (qpos, qvel, ctrl), oldest first, or None.

        Returns:
            The initial carry (shared by all samples of a replanning).
        """

    def sample_carry(self, carry: Carry, index: jax.Array) -> Carry:
        """The carry of the rollout of sample ``index`` (default: ``carry``).

        Args:
            carry: The carry of ``init_carry``.
            index: The sample's index in the replanning, an int32 scalar.
        """
        return carry

    def particle_carry(self, carry: Carry, particle: jax.Array) -> Carry:
        """The carry of particle ``particle`` (default: ``carry``).

        Called before ``sample_carry`` when ``num_particles > 1``.

        Args:
            carry: The carry of ``init_carry``.
            particle: The particle's index, an int32 scalar.
        """
        return carry

    @abstractmethod
    def step(
        self,
        model: mjx.Model,
        state: mjx.Data,
        carry: Carry,
        control: jax.Array,
    ) -> tuple[mjx.Data, Carry]:
        """Advance one timestep under ``control``; kinematics up to date."""

    def step_with_penalty(
        self,
        model: mjx.Model,
        state: mjx.Data,
        carry: Carry,
        control: jax.Array,
    ) -> tuple[mjx.Data, Carry, jax.Array]:
        """``step``, and a penalty the controller adds to the running cost.

        The penalty is zero unless a model overrides this (an ensemble's
        disagreement); the controller scales it by dt like the running cost.
        """
        state, carry = self.step(model, state, carry, control)
        return state, carry, jnp.zeros(())


class PhysicsDynamics(Dynamics):
    """MJX physics: ``mjx.step``. The default when a task has no custom one."""

    def init_carry(
        self, model: mjx.Model, state: mjx.Data, history: jax.Array | None
    ) -> Carry:
        """Physics carries nothing."""
        return jnp.zeros(())

    def step(
        self,
        model: mjx.Model,
        state: mjx.Data,
        carry: Carry,
        control: jax.Array,
    ) -> tuple[mjx.Data, Carry]:
        """One ``mjx.step`` with ``ctrl = control``, then kinematics.

        ``mjx.step`` leaves sites and bodies at the state before the step;
        recomputing the kinematics makes a cost that reads them see the new
        state, exactly as after a learned step.
        """
        state = mjx.step(model, state.replace(ctrl=control))
        return mjx.kinematics(model, state), carry
