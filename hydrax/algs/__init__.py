"""Sampling-based controllers."""

from hydrax.algs.cem import CEM
from hydrax.algs.mppi import MPPI
from hydrax.algs.predictive_sampling import PredictiveSampling

__all__ = ["CEM", "MPPI", "PredictiveSampling"]
