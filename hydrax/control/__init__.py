"""Model-based controllers that run on the MuJoCo C model (NumPy).

- `hydrax.control.lqr`: the one-step linearization of ``mj_step`` for every
  MuJoCo integrator, and an LQR about a goal state.
- `hydrax.control.swingup`: the energy-pumping swing-up law of the pendulum
  and the cart pole, handing over to the LQR near upright.
"""

from hydrax.control.lqr import LQRController, hinge_dofs, linearize

__all__ = ["LQRController", "hinge_dofs", "linearize"]
