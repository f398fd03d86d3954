"""Energy-pumping swing-up for one pole on a hinge, handing over to an LQR.

The pole's energy about its hinge, with θ = 0 hanging and θ = π upright, is

    E = ½ I θ̇² + m g l (1 − cos θ),    E_goal = 2 m g l (upright at rest),

with m the pole's mass, l the hinge-to-centre-of-mass distance and I the
pole's inertia about the hinge axis, all read from the MuJoCo model. A
torque on the hinge changes E at the rate u θ̇; a cart under the hinge,
accelerating at a along the rail, changes it at m l a θ̇ cos θ. The law
pushes E towards E_goal at full actuator effort,

    u = clip(k (E_goal − E) sign(θ̇)),               hinge torque (pendulum)
    u = clip(k (E_goal − E) sign(θ̇ cos θ) − k_x x − k_v ẋ),   cart force

(the cart terms keep it near the middle of the rail), and within
``switch_angle`` of upright with ``|θ̇| < switch_rate`` hands over to the
caller's stabilizer (the LQR at the task's goal). It is batched over states
and used by the ``energy`` collection policy (`hydrax.simulation.policies`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

Stabilizer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Controls (B, nu) for states qpos (B, nq), qvel (B, nv)."""


def _hinge_inertia(
    mj_model: mujoco.MjModel, body: int, axis: np.ndarray
) -> float:
    """The body's moment of inertia about a hinge axis through its origin."""
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, mj_model.body_iquat[body])
    rot = rot.reshape(3, 3)
    inertia = rot @ np.diag(mj_model.body_inertia[body]) @ rot.T
    com = mj_model.body_ipos[body]
    offset = com - np.dot(com, axis) * axis
    mass = float(mj_model.body_mass[body])
    return float(axis @ inertia @ axis + mass * np.dot(offset, offset))


@dataclass
class EnergySwingup:
    """The energy-pumping law of one pole (see the module docstring).

    Attributes:
        hinge_qpos: qpos index of the pole's hinge angle θ.
        hinge_dof: qvel index of θ̇.
        cart_qpos: qpos index of the cart's slide joint x, or None when the
            actuator is a torque on the hinge.
        cart_dof: qvel index of ẋ (None with ``cart_qpos``).
        mass: The pole's mass m.
        arm: Hinge to centre of mass, l.
        inertia: Inertia about the hinge axis, I.
        gravity: g (positive).
        gain: k, control units per joule.
        cart_gains: (k_x, k_v), control units per metre and per m/s.
        u_max: The actuator's limit (control units).
        pump_max: The pumping term's limit (control units, ≤ ``u_max``):
            a cart pushed at full force for half a swing leaves the rail.
        switch_angle: Hand over within this many radians of upright...
        switch_rate: ... while |θ̇| is below this (rad/s).
    """

    hinge_qpos: int
    hinge_dof: int
    cart_qpos: int | None
    cart_dof: int | None
    mass: float
    arm: float
    inertia: float
    gravity: float
    gain: float
    cart_gains: tuple[float, float]
    u_max: float
    pump_max: float
    switch_angle: float
    switch_rate: float

    @classmethod
    def from_model(
        cls,
        mj_model: mujoco.MjModel,
        *,
        pole: str,
        hinge: str,
        cart: str | None = None,
        gain: float = 1.0,
        cart_gains: tuple[float, float] = (0.0, 0.0),
        pump_fraction: float = 1.0,
        switch_angle: float = 0.5,
        switch_rate: float = 3.0,
    ) -> EnergySwingup:
        """The law for a model's pole body, hinge joint and optional cart.

        The model has one actuator: the hinge's torque, or the cart's force;
        the pumping term uses at most ``pump_fraction`` of its range.
        """
        body = mj_model.body(pole).id
        joint = mj_model.joint(hinge)
        axis = np.asarray(mj_model.jnt_axis[joint.id], dtype=np.float64)
        com = mj_model.body_ipos[body]
        arm = float(np.linalg.norm(com - np.dot(com, axis) * axis))
        lo, hi = mj_model.actuator_ctrlrange[0]
        limited = bool(mj_model.actuator_ctrllimited[0])
        slide = None if cart is None else mj_model.joint(cart).id
        u_max = float(min(-lo, hi)) if limited else np.inf
        return cls(
            hinge_qpos=int(mj_model.jnt_qposadr[joint.id]),
            hinge_dof=int(mj_model.jnt_dofadr[joint.id]),
            cart_qpos=(
                None if slide is None else int(mj_model.jnt_qposadr[slide])
            ),
            cart_dof=None if slide is None else int(mj_model.jnt_dofadr[slide]),
            mass=float(mj_model.body_mass[body]),
            arm=arm,
            inertia=_hinge_inertia(mj_model, body, axis),
            gravity=float(-mj_model.opt.gravity[2]),
            gain=gain,
            cart_gains=cart_gains,
            u_max=u_max,
            pump_max=pump_fraction * u_max,
            switch_angle=switch_angle,
            switch_rate=switch_rate,
        )

    @property
    def goal_energy(self) -> float:
        """E_goal = 2 m g l."""
        return 2.0 * self.mass * self.gravity * self.arm

    def energy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The pole's energy E, (B,)."""
        theta = qpos[..., self.hinge_qpos]
        rate = qvel[..., self.hinge_dof]
        potential = self.mass * self.gravity * self.arm * (1 - np.cos(theta))
        return 0.5 * self.inertia * rate**2 + potential

    def near_upright(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Where the stabilizer takes over, (B,) bool."""
        theta = qpos[..., self.hinge_qpos]
        off = np.abs(np.angle(np.exp(1j * (theta - np.pi))))
        slow = np.abs(qvel[..., self.hinge_dof]) < self.switch_rate
        return (off < self.switch_angle) & slow

    def pump(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The energy-pumping control alone, (B, 1)."""
        theta = qpos[..., self.hinge_qpos]
        rate = qvel[..., self.hinge_dof]
        deficit = self.goal_energy - self.energy(qpos, qvel)
        push = rate if self.cart_dof is None else rate * np.cos(theta)
        direction = np.where(push >= 0, 1.0, -1.0)
        u = np.clip(
            self.gain * deficit * direction, -self.pump_max, self.pump_max
        )
        if self.cart_dof is not None:
            k_x, k_v = self.cart_gains
            u = u - k_x * qpos[..., self.cart_qpos]
            u = u - k_v * qvel[..., self.cart_dof]
        return np.clip(u, -self.u_max, self.u_max)[..., None]

    def __call__(
        self,
        qpos: np.ndarray,
        qvel: np.ndarray,
        stabilizer: Stabilizer | None = None,
    ) -> np.ndarray:
        """Controls (B, 1): pumping, or ``stabilizer`` near upright."""
        u = self.pump(qpos, qvel)
        if stabilizer is None:
            return u
        near = self.near_upright(qpos, qvel)
        if near.any():
            u[near] = stabilizer(qpos[near], qvel[near])
        return u
