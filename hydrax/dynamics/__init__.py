"""The dynamics seam: every controller rollout steps through a `Dynamics`.

``from hydrax.dynamics import NeuralNetworkDynamics`` works as in the fork
the learned-model module comes from; it is imported on first use, so
importing ``hydrax.dynamics`` alone does not load the training code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydrax.dynamics.base import Dynamics, PhysicsDynamics

if TYPE_CHECKING:
    from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics

__all__ = ["Dynamics", "NeuralNetworkDynamics", "PhysicsDynamics"]


def __getattr__(name: str) -> object:
    if name == "NeuralNetworkDynamics":
        from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics

        return NeuralNetworkDynamics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
