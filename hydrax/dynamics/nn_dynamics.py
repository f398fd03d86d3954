"""A learned GRU dynamics model behind the controller's dynamics seam.

``NeuralNetworkDynamics.load_params(model=mjx_model, path=...)`` loads a
checkpoint written by ``hydrax.dynamics_model_training`` and is passed to a
task as ``custom_dynamics``; every rollout of the controller then steps
through the network instead of ``mjx.step``.

At plan time the window is the ``H - 1`` most recent measured rows (handed
over by the closed loop) plus (current state, candidate control); each
further step slides in one predicted row with its candidate control. After
each learned step the kinematics are recomputed, so costs that read sites
and bodies see the predicted state, and time advances by dt.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import nnx
from mujoco import mjx

from hydrax.dynamics.base import Carry, Dynamics
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    learned_step,
    rollout,
    start_memory,
)
from hydrax.dynamics_model_training.model_io import network_from_checkpoint
from hydrax.dynamics_model_training.transforms import TransformFn
from hydrax.logs import startup_history

_DT_RTOL = 1e-6


class NeuralNetworkDynamics(Dynamics):
    """Roll out with a trained GRU instead of physics."""

    def __init__(self, network: DynamicsNetwork, config: dict) -> None:
        """Wrap a trained network.

        Args:
            network: The network (statistics installed).
            config: Its checkpoint configuration (dt, dims, ...).
        """
        self.network = network
        self.config = config
        self.layout = network.layout
        self.history_length = network.history_length
        self.dt = float(config["dt"])
        self._graphdef, self._state = nnx.split(network)

    @classmethod
    def load_params(
        cls,
        model: mjx.Model,
        path: str | Path,
        transform_fn: TransformFn | None = None,
    ) -> NeuralNetworkDynamics:
        """Load a checkpoint for planning on ``model``.

        Args:
            model: The MJX model the controller plans for.
            path: A checkpoint written by training (e.g. best_model.pkl).
            transform_fn: The custom feature map the model was trained
                with, if any.

        Returns:
            The dynamics, ready for ``Task(custom_dynamics=...)``.

        Raises:
            CheckpointError: if the file is unsafe, broken, or was trained
                for another timestep or other nq/nv/nu.
        """
        ckpt = read_checkpoint(path)
        dynamics = cls(
            network_from_checkpoint(ckpt, path, transform_fn), ckpt["config"]
        )
        try:
            dynamics.check_compatible(model)
        except ValueError as e:
            raise CheckpointError(f"{path}: {e}") from None
        return dynamics

    def check_compatible(
        self, model: mjx.Model, model_file: Path | None = None
    ) -> None:
        """Refuse a model of another timestep, dimensions or MJCF file.

        The MJCF check compares the file's SHA-256 with the one the training
        data's manifest recorded (when both are known): a model edited since
        the data was logged, or another robot with the same dimensions, is
        refused.
        """
        cfg = self.config
        identity = cfg.get("manifest_identity") or {}
        recorded = identity.get("model_sha256")
        if model_file is not None and recorded and Path(model_file).exists():
            digest = hashlib.sha256(Path(model_file).read_bytes()).hexdigest()
            if digest != recorded:
                raise ValueError(
                    f"the learned model was trained on data from another "
                    f"MJCF (task {identity.get('task')!r}, sha256 "
                    f"{recorded[:12]}...) than {model_file} (sha256 "
                    f"{digest[:12]}...)"
                )
        dims = {"nq": model.nq, "nv": model.nv, "nu": model.nu}
        for key, value in dims.items():
            if int(cfg[key]) != int(value):
                raise ValueError(
                    f"the learned model has {key}={cfg[key]} but the MuJoCo "
                    f"model has {key}={value}"
                )
        timestep = float(model.opt.timestep)
        if abs(timestep - self.dt) > _DT_RTOL * self.dt:
            raise ValueError(
                f"the learned model was trained at dt={self.dt:g} s but the "
                f"MuJoCo model's timestep is {timestep:g} s"
            )

    @property
    def _net(self) -> DynamicsNetwork:
        return nnx.merge(self._graphdef, self._state)

    def init_carry(
        self, model: mjx.Model, state: mjx.Data, history: jax.Array | None
    ) -> Carry:
        """The carry of a rollout from the current state.

        Window mode: the H − 1 measured rows before the current state.
        Recurrent mode: (hidden state after those rows, their first row,
        which coordinates stay relative to).
        """
        n = self.history_length - 1
        current = jnp.concatenate([state.qpos, state.qvel]).astype(jnp.float32)
        if history is None:
            history = startup_history(current, n, self.layout.nu)
        history = jnp.asarray(history, jnp.float32)
        if history.shape != (n, self.layout.row_dim):
            raise ValueError(
                f"history must have shape ({n}, {self.layout.row_dim}), "
                f"got {history.shape}"
            )
        # Recurrent coordinates stay relative to the first row (the current
        # state when there is no history).
        nu = self.layout.nu
        reference = history[0] if n else startup_history(current, 1, nu)[0]
        memory = start_memory(self._net, history[None], reference[None])
        return jax.tree.map(lambda x: x[0], memory)

    def step(
        self,
        model: mjx.Model,
        state: mjx.Data,
        carry: Carry,
        control: jax.Array,
    ) -> tuple[mjx.Data, Carry]:
        """One learned step; kinematics recomputed, time advanced by dt."""
        nq = self.layout.nq
        row = jnp.concatenate([state.qpos, state.qvel, control]).astype(
            jnp.float32
        )
        memory = jax.tree.map(lambda x: x[None], carry)
        memory, nxt, _ = learned_step(self._net, memory, row[None])
        carry = jax.tree.map(lambda x: x[0], memory)
        nxt = nxt[0]
        state = state.replace(
            qpos=nxt[:nq].astype(state.qpos.dtype),
            qvel=nxt[nq:].astype(state.qvel.dtype),
            ctrl=control,
            time=state.time + self.dt,
        )
        return mjx.kinematics(model, state), carry

    def predict(
        self, history: jax.Array, state: jax.Array, controls: jax.Array
    ) -> jax.Array:
        """Open-loop prediction outside MPC, batched.

        Args:
            history: Measured rows before the current state, (B, n,
                nq + nv + nu), oldest first; fewer than H − 1 rows are
                padded as at start-up (n may be 0).
            state: The current (qpos, qvel), (B, nq + nv).
            controls: The controls to apply from now on, (B, K, nu).

        Returns:
            The predicted (qpos, qvel) after each control, (B, K, nq + nv).
        """
        n = self.history_length - 1
        history = jnp.asarray(history, jnp.float32)
        state = jnp.asarray(state, jnp.float32)
        controls = jnp.asarray(controls, jnp.float32)
        if history.shape[1] < n:
            first = (
                history[:, 0, : state.shape[-1]] if history.shape[1] else state
            )
            pad = startup_history(first, n - history.shape[1], self.layout.nu)
            history = jnp.concatenate([pad, history], axis=1)
        history = history[:, history.shape[1] - n :]
        row = jnp.concatenate([state, controls[:, 0]], axis=-1)
        window = jnp.concatenate([history, row[:, None]], axis=1)
        later = jnp.concatenate([controls[:, 1:], controls[:, -1:]], axis=1)
        return _predict_jit(self._graphdef, self._state, window, later)


@jax.jit
def _predict_jit(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    window: jax.Array,
    controls: jax.Array,
) -> jax.Array:
    return rollout(nnx.merge(graphdef, state), window, controls)[0]
