"""The dynamics seam: every controller rollout steps through a `Dynamics`."""

from hydrax.dynamics.base import Dynamics, PhysicsDynamics

__all__ = ["Dynamics", "PhysicsDynamics"]
