"""LQR about a goal state, from a finite-difference linearization of MuJoCo.

The discrete-time linearization is of one ``mj_step`` at (goal qpos, goal
qvel, u = 0). Its state is the tangent-space error (``mj_differentiatePos``
of the positions, qvel, act), of size 2·nv + na, so free and ball joints are
handled in their tangent space. The gain solves the discrete algebraic
Riccati equation (``scipy.linalg.solve_discrete_are``).

Every integrator MuJoCo offers is supported: Euler, implicit and
implicitfast through MuJoCo's own ``mjd_transitionFD``; RK4, which
``mjd_transitionFD`` refuses, through central differences of ``mj_step``
itself on copies of the ``MjData`` (`step_jacobians`), so the Jacobians are
those of the plant that is actually simulated.
"""

from __future__ import annotations

import copy

import mujoco
import numpy as np
import scipy.linalg

from hydrax.utils import control_limits, wrap_angle

LINEARIZATIONS = ("auto", "mujoco", "central")
"""``auto``: MuJoCo's ``mjd_transitionFD`` unless the integrator is RK4, then
``central``; ``mujoco``: always ``mjd_transitionFD``; ``central``: central
differences of ``mj_step``."""


def _tangent_state(
    mj_model: mujoco.MjModel, data: mujoco.MjData, ref: np.ndarray
) -> np.ndarray:
    """(qpos ⊖ ref_qpos, qvel, act): a state in tangent coordinates."""
    dq = np.zeros(mj_model.nv)
    mujoco.mj_differentiatePos(mj_model, dq, 1.0, ref, data.qpos)
    return np.concatenate([dq, data.qvel, data.act])


def step_jacobians(
    mj_model: mujoco.MjModel, data: mujoco.MjData, eps: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference Jacobians of ``mj_step`` at ``data``'s state.

    Each column perturbs one tangent direction of the state (positions
    through ``mj_integratePos``, then qvel, then act) or one control by
    ±``eps`` on a fresh copy of ``data`` (so the solver's warm start is the
    same for every evaluation), takes one ``mj_step`` and differences the
    results in tangent coordinates about the unperturbed next state. It works
    for every integrator, RK4 included; ``data`` is not modified.

    Args:
        mj_model: The model.
        data: The state, control and warm start to linearize at.
        eps: The finite-difference step.

    Returns:
        A of shape (2nv + na, 2nv + na) and B of shape (2nv + na, nu).
    """
    nv, na, nu = mj_model.nv, mj_model.na, mj_model.nu
    nx = 2 * nv + na
    nominal = copy.copy(data)
    mujoco.mj_step(mj_model, nominal)
    ref = nominal.qpos.copy()

    def stepped(direction: int, sign: float) -> np.ndarray:
        trial = copy.copy(data)
        if direction < nv:
            dq = np.zeros(nv)
            dq[direction] = sign * eps
            mujoco.mj_integratePos(mj_model, trial.qpos, dq, 1.0)
        elif direction < 2 * nv:
            trial.qvel[direction - nv] += sign * eps
        elif direction < nx:
            trial.act[direction - 2 * nv] += sign * eps
        else:
            trial.ctrl[direction - nx] += sign * eps
        mujoco.mj_step(mj_model, trial)
        return _tangent_state(mj_model, trial, ref)

    columns = [
        (stepped(i, 1.0) - stepped(i, -1.0)) / (2.0 * eps)
        for i in range(nx + nu)
    ]
    jac = np.stack(columns, axis=1) if columns else np.zeros((nx, 0))
    return jac[:, :nx], jac[:, nx:]


def linearize(
    mj_model: mujoco.MjModel,
    qpos: np.ndarray,
    qvel: np.ndarray,
    ctrl: np.ndarray | None = None,
    eps: float = 1e-6,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """The one-step transition Jacobians at a state and control.

    Args:
        mj_model: The model (any integrator).
        qpos: Positions, (nq,).
        qvel: Velocities, (nv,).
        ctrl: Controls, (nu,); zero if None.
        eps: The finite-difference step.
        method: One of `LINEARIZATIONS`: ``auto`` (MuJoCo's
            ``mjd_transitionFD``, or central differences of ``mj_step`` for
            RK4, which it does not support), ``mujoco`` or ``central``.

    Returns:
        A of shape (2nv + na, 2nv + na) and B of shape (2nv + na, nu).
    """
    if method not in LINEARIZATIONS:
        raise ValueError(
            f"method must be one of {', '.join(LINEARIZATIONS)}, got {method!r}"
        )
    rk4 = mj_model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    if method == "mujoco" and rk4:
        raise ValueError(
            "method='mujoco': mjd_transitionFD does not support the RK4 "
            "integrator (use method='central' or 'auto')"
        )
    data = mujoco.MjData(mj_model)
    data.qpos[:] = qpos
    data.qvel[:] = qvel
    data.ctrl[:] = 0.0 if ctrl is None else ctrl
    mujoco.mj_forward(mj_model, data)
    if method == "central" or (method == "auto" and rk4):
        return step_jacobians(mj_model, data, eps)
    nx = 2 * mj_model.nv + mj_model.na
    a = np.zeros((nx, nx))
    b = np.zeros((nx, mj_model.nu))
    mujoco.mjd_transitionFD(mj_model, data, eps, True, a, b, None, None)
    return a, b


def hinge_dofs(mj_model: mujoco.MjModel) -> np.ndarray:
    """The dof indices of hinge joints (their errors are wrapped)."""
    hinge = mj_model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    return np.asarray(mj_model.jnt_dofadr[hinge], dtype=int)


class LQRController:
    """u = clip(u_goal − K (x − x_goal)), the hinge angle errors wrapped.

    Attributes:
        gain: K, (nu, 2nv + na).
        qpos_goal: The goal positions, (nq,).
        qvel_goal: The goal velocities, (nv,).
        ctrl_goal: The control at the goal (zero), (nu,).
    """

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        qpos_goal: np.ndarray,
        qvel_goal: np.ndarray,
        state_weights: np.ndarray | float = 1.0,
        control_weights: np.ndarray | float = 1.0,
    ) -> None:
        """Linearize at the goal and solve the Riccati equation.

        Args:
            mj_model: The model.
            qpos_goal: The goal positions, (nq,).
            qvel_goal: The goal velocities, (nv,).
            state_weights: Diagonal of Q (scalar or (2nv + na,)).
            control_weights: Diagonal of R (scalar or (nu,)).
        """
        nq, nv, na, nu = mj_model.nq, mj_model.nv, mj_model.na, mj_model.nu
        qpos_goal = np.asarray(qpos_goal, dtype=np.float64)
        qvel_goal = np.asarray(qvel_goal, dtype=np.float64)
        if qpos_goal.shape != (nq,) or qvel_goal.shape != (nv,):
            raise ValueError(
                f"the goal must be qpos ({nq},) and qvel ({nv},), got "
                f"{qpos_goal.shape} and {qvel_goal.shape}"
            )
        if nu == 0:
            raise ValueError("LQR needs a model with actuators (nu = 0)")
        nx = 2 * nv + na
        q = np.broadcast_to(np.asarray(state_weights, float), (nx,))
        r = np.broadcast_to(np.asarray(control_weights, float), (nu,))
        if np.any(q < 0) or np.any(r <= 0):
            raise ValueError("need state_weights >= 0 and control_weights > 0")
        a, b = linearize(mj_model, qpos_goal, qvel_goal)
        try:
            p = scipy.linalg.solve_discrete_are(a, b, np.diag(q), np.diag(r))
        except (np.linalg.LinAlgError, ValueError) as err:
            raise ValueError(
                f"no stabilizing LQR gain at this goal: {err}"
            ) from err
        self.gain = np.linalg.solve(np.diag(r) + b.T @ p @ b, b.T @ p @ a)
        self.value_matrix = p  # x^T P x: the infinite-horizon cost to go
        self.mj_model = mj_model
        self.qpos_goal = qpos_goal
        self.qvel_goal = qvel_goal
        self.ctrl_goal = np.zeros(nu)
        self._hinges = hinge_dofs(mj_model)
        # Models of slide and hinge joints only: qpos-diff is a subtraction.
        self._simple = nq == nv
        self.u_min, self.u_max = control_limits(mj_model)

    def state_error(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """X − x_goal in the linearization's coordinates (act omitted = 0).

        Args:
            qpos: Positions, (nq,) or a batch (B, nq).
            qvel: Velocities, (nv,) or (B, nv).

        Returns:
            The errors, (2nv + na,) or (B, 2nv + na).
        """
        qpos = np.asarray(qpos, dtype=np.float64)
        qvel = np.asarray(qvel, dtype=np.float64)
        nv, na = self.mj_model.nv, self.mj_model.na
        batch = qpos.reshape(-1, self.mj_model.nq)
        if self._simple:
            dq = batch - self.qpos_goal
        else:
            dq = np.zeros((batch.shape[0], nv))
            for i, row in enumerate(batch):
                mujoco.mj_differentiatePos(
                    self.mj_model, dq[i], 1.0, self.qpos_goal, row
                )
        dq[:, self._hinges] = wrap_angle(dq[:, self._hinges])
        dv = qvel.reshape(-1, nv) - self.qvel_goal
        dx = np.concatenate([dq, dv, np.zeros((dq.shape[0], na))], axis=1)
        return dx.reshape(*qpos.shape[:-1], 2 * nv + na)

    def __call__(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The clipped feedback control, (nu,) or (B, nu) for a batch."""
        u = self.ctrl_goal - self.state_error(qpos, qvel) @ self.gain.T
        return np.clip(u, self.u_min, self.u_max)
