"""Model-based controllers that run on the MuJoCo C model (NumPy).

- `hydrax.control.lqr`: the one-step linearization of ``mj_step`` for every
  MuJoCo integrator, and an LQR about a goal state.
"""

from hydrax.control.lqr import LQRController, hinge_dofs, linearize

__all__ = ["LQRController", "hinge_dofs", "linearize"]
