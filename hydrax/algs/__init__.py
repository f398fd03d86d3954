"""Sampling-based controllers.

``Evosax`` needs the optional ``evosax`` package and is imported on first
use, so the others work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydrax.algs.cem import CEM
from hydrax.algs.dial import DIAL
from hydrax.algs.mppi import MPPI
from hydrax.algs.predictive_sampling import PredictiveSampling

if TYPE_CHECKING:
    from hydrax.algs.evosax import Evosax

__all__ = ["CEM", "DIAL", "MPPI", "Evosax", "PredictiveSampling"]


def __getattr__(name: str) -> object:
    if name == "Evosax":
        try:
            from hydrax.algs.evosax import Evosax
        except ModuleNotFoundError as err:
            if err.name != "evosax":
                raise
            raise ImportError(
                "hydrax.algs.Evosax needs the optional evosax package: "
                "pip install 'hydrax[evosax]'"
            ) from err
        return Evosax
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
