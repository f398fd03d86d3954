"""The task interface: a MuJoCo model, its costs, and its dynamics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from hydrax import ROOT
from hydrax.dynamics.base import Dynamics, PhysicsDynamics
from hydrax.initial_states import spread_qpos
from hydrax.utils import control_limits

_OWN = "override Task.sample_initial_state (spread_qpos with a smaller spread)"


def model_path(name: str) -> Path:
    """The MJCF file of a built-in task, e.g. ``model_path("pendulum")``."""
    return ROOT / "models" / name / f"{name}.xml"


def sparse_jacobian_on_cpu(mj_model: mujoco.MjModel) -> mujoco.MjModel:
    """``mj_model`` with MuJoCo's sparse Jacobian when JAX runs on a CPU.

    MJX's dense mass-matrix factorization (a batched LAPACK Cholesky)
    deadlocked beside its constraint solver's on 2 CPU cores (README, "MJX
    on a CPU: the sparse Jacobian"); the sparse one is the same physics. A
    task sets it on load, not in its MJCF, whose hash logs and checkpoints
    record. On a GPU the default stays.
    """
    if jax.default_backend() == "cpu":
        mj_model.opt.jacobian = mujoco.mjtJacobian.mjJAC_SPARSE
    return mj_model


class Task(ABC):
    """A control task: a MuJoCo model, running and terminal costs, dynamics.

    The optimal control problem is min_u ϕ(x_T) + Σₜ ℓ(xₜ₊₁, uₜ) subject to
    xₜ₊₁ = f(xₜ, uₜ). Rollouts pass through ``self.dynamics``: MJX physics
    by default, or the ``custom_dynamics`` given (for example a learned
    model, :class:`hydrax.dynamics.nn_dynamics.NeuralNetworkDynamics`).

    The signature is upstream hydrax's, ``Task(mj_model, trace_sites=None,
    impl="jax")``, plus ``custom_dynamics`` and ``model_file``. The older
    positional form ``Task(mj_model, custom_dynamics, model_file)`` keeps
    working: a :class:`~hydrax.dynamics.base.Dynamics` in the second place
    is taken as ``custom_dynamics`` and a path in the third as
    ``model_file``.
    """

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        trace_sites: Sequence[str] | Dynamics | None = None,
        impl: str | Path = "jax",
        custom_dynamics: Dynamics | None = None,
        model_file: str | Path | None = None,
    ) -> None:
        """Set up the task.

        Args:
            mj_model: The MuJoCo model (the plant and the planner's physics).
            trace_sites: Names of sites whose positions rollouts record
                (``Trajectory.trace_sites``), e.g. for drawing traces.
            impl: The MJX backend, ``"jax"`` (``"warp"`` needs MJX's Warp
                extra, which this project does not install).
            custom_dynamics: Dynamics to roll out with instead of MJX physics.
            model_file: The MJCF file the model came from, if any.
        """
        if isinstance(trace_sites, Dynamics):  # Task(mj_model, dynamics)
            if custom_dynamics is not None:
                raise ValueError(
                    "custom_dynamics given twice (second positional "
                    "argument and keyword)"
                )
            custom_dynamics, trace_sites = trace_sites, None
        if isinstance(impl, Path) or (
            isinstance(impl, str) and impl.endswith(".xml")
        ):  # Task(mj_model, dynamics, model_file)
            if model_file is not None:
                raise ValueError(f"impl must be a backend name, got {impl!r}")
            model_file, impl = impl, "jax"
        if not isinstance(mj_model, mujoco.MjModel):
            raise ValueError(
                f"mj_model must be a mujoco.MjModel, got {type(mj_model)}"
            )
        if mj_model.nu == 0:
            raise ValueError(
                f"{type(self).__name__}: the model has no actuators, so "
                "there is nothing to control"
            )
        if mj_model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICIT:
            raise ValueError(
                f"{type(self).__name__}: MJX, which runs the planner's "
                'rollouts, does not support integrator="implicit"; use '
                'integrator="implicitfast" (or "Euler", "RK4") in the '
                "MJCF's <option>"
            )
        if impl not in ("jax", "warp"):
            raise ValueError(f"impl must be 'jax' or 'warp', got {impl!r}")
        self.mj_model = mj_model
        self.model = mjx.put_model(mj_model, impl=impl)
        self.impl = impl
        self.model_file = Path(model_file) if model_file else None
        self.dt = float(mj_model.opt.timestep)
        self.nq, self.nv, self.nu = mj_model.nq, mj_model.nv, mj_model.nu

        lo, hi = control_limits(mj_model)
        self.u_min, self.u_max = jnp.asarray(lo), jnp.asarray(hi)

        names = list(trace_sites or [])
        for name in names:
            if mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_SITE, name) < 0:
                raise ValueError(f"trace_sites: the model has no site {name!r}")
        self.trace_site_ids = jnp.asarray(
            [mj_model.site(name).id for name in names], dtype=jnp.int32
        )

        if custom_dynamics is not None:
            custom_dynamics.check_compatible(self.model, self.model_file)
        self.custom_dynamics = custom_dynamics
        self.dynamics: Dynamics = custom_dynamics or PhysicsDynamics()

    @abstractmethod
    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        """The running cost ℓ(xₜ, uₜ)."""

    @abstractmethod
    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        """The terminal cost ϕ(x_T)."""

    def get_trace_sites(self, state: mjx.Data) -> jax.Array:
        """The positions of the trace sites in ``state``, (num_sites, 3)."""
        if self.trace_site_ids.shape[0] == 0:
            return jnp.zeros((0, 3), state.site_xpos.dtype)
        return state.site_xpos[self.trace_site_ids]

    def domain_randomize_model(self, rng: jax.Array) -> dict[str, jax.Array]:
        """Randomized model fields for one domain (none by default).

        A task overrides this to return e.g. ``{"geom_friction": ...}``; the
        controller vmaps it over ``num_randomizations`` keys and applies the
        result with ``mjx.Model.tree_replace``.

        Args:
            rng: A random key.

        Returns:
            Field names of ``mjx.Model`` mapped to their randomized values.
        """
        return {}

    def domain_randomize_data(
        self, data: mjx.Data, rng: jax.Array
    ) -> dict[str, jax.Array]:
        """Randomized state fields for one domain (none by default).

        Applied to the start state of every replanning with
        ``mjx.Data.tree_replace``, e.g. ``{"qpos": data.qpos + noise}``.

        Args:
            data: The current state.
            rng: A random key.

        Returns:
            Field names of ``mjx.Data`` mapped to their randomized values.
        """
        return {}

    def make_data(self, **kwargs: object) -> mjx.Data:
        """A fresh ``mjx.Data`` for this task's model and backend.

        Args:
            **kwargs: Passed to ``mjx.make_data`` (e.g. ``njmax``).

        Returns:
            The state with MuJoCo's defaults (qpos = 0, not ``qpos0``).
        """
        return mjx.make_data(self.mj_model, impl=self.impl, **kwargs)

    def goal(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The (qpos, qvel) the task stabilizes, used by LQR exploration."""
        return None

    def sample_initial_state(
        self, rng: np.random.Generator, mode: str = "balance"
    ) -> tuple[np.ndarray, np.ndarray]:
        """A random initial (qpos, qvel) for a trial.

        Args:
            rng: The random generator.
            mode: ``"balance"`` (near the goal) or ``"swingup"`` (at rest,
                near the model's default pose).

        Every dof moves by U(−0.1, 0.1) (swing-up: U(−0.05, 0.05)) through
        `hydrax.initial_states.spread_qpos`: quaternions stay unit, and a
        draw that pushes bodies into each other is drawn again.

        Returns:
            qpos of shape (nq,) and qvel of shape (nv,).
        """
        qpos = self.mj_model.qpos0.copy()
        qvel = np.zeros(self.nv)
        if mode == "balance" and self.goal() is not None:
            qpos, qvel = (np.array(a, dtype=float) for a in self.goal())
            qpos = spread_qpos(self.mj_model, rng, qpos, 0.1, advice=_OWN)
            qvel = qvel + rng.uniform(-0.1, 0.1, self.nv)
        elif mode == "swingup":
            qpos = spread_qpos(self.mj_model, rng, qpos, 0.05, advice=_OWN)
        return qpos, qvel

    def success(self, qpos: np.ndarray, site_xpos: np.ndarray) -> bool:
        """Whether one plant state counts as "upright" for trials."""
        raise NotImplementedError(f"{type(self).__name__} defines no success")
