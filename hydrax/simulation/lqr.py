"""Moved to `hydrax.control.lqr`; this name is kept for existing imports."""

from hydrax.control.lqr import LQRController, hinge_dofs, linearize
from hydrax.utils import wrap_angle

__all__ = ["LQRController", "hinge_dofs", "linearize", "wrap_angle"]
