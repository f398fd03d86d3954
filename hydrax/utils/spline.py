"""Upstream's path to the control splines: ``hydrax.utils.spline``.

The splines live in :mod:`hydrax.spline`; this module gives them the names
upstream hydrax imports them by, so ``from hydrax.utils.spline import
get_interp_func`` works unchanged.
"""

from __future__ import annotations

from hydrax.spline import InterpFunc, SplineType, get_interp_func, interpolate

# Upstream's names for the two types and its three batched splines.
InterpMethodType = SplineType
InterpFuncType = InterpFunc
interp_zero = get_interp_func("zero")
interp_linear = get_interp_func("linear")
interp_cubic = get_interp_func("cubic")

__all__ = [
    "InterpFunc",
    "InterpFuncType",
    "InterpMethodType",
    "SplineType",
    "get_interp_func",
    "interp_cubic",
    "interp_linear",
    "interp_zero",
    "interpolate",
]
