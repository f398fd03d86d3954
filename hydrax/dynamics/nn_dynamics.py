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

An ensemble's checkpoint (trained with ``num_models > 1``) rolls out with
one of three strategies (``strategy=``):

- ``"ts"`` (PETS's trajectory sampling, TS-∞, with one particle per
  plan): sample i of a replanning follows member ``i mod M`` for its whole
  rollout; the mean plan (sample 0) follows member 0. Each plan is scored
  under one member, so the controller's update compares plans scored by
  different members and can favour the member that predicts the lowest
  cost; ``"members"`` or ``"mean"`` with a disagreement weight is the
  cautious choice.
- ``"members"`` (PETS's TS-∞ with one particle per member): every plan is
  rolled out once by each member, each member from its own predictions,
  and the controller combines a plan's M costs with its risk strategy (the
  average by default: PETS's expected cost; ``WorstCase`` takes the
  highest member cost at every step). M times the rollouts of ``"ts"``.
- ``"mean"`` (the default; the steadier balance in ``bench_control.py``):
  every sample steps with the members' mean predicted delta; with
  ``disagreement_weight > 0`` the members' disagreement (the variance of
  their standardized deltas, summed over the state) times the weight is
  added to the running cost, steering plans away from where they disagree.

A recurrent ensemble of the plain delta steps through its members' weights
side by side (``wide_members``). ``matmul_dtype="bfloat16"`` takes the
recurrent products in bfloat16 with float32 sums (see ``gru``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx
from mujoco import mjx

from hydrax.dynamics.base import Carry, Dynamics
from hydrax.dynamics.compatibility import check_model
from hydrax.dynamics.prediction import predict
from hydrax.dynamics.wide_members import WideMembers
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.gru import with_matmul_dtype
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    learned_step,
    start_memory,
)
from hydrax.dynamics_model_training.model_io import ensemble_from_checkpoint
from hydrax.dynamics_model_training.transforms import TransformFn, apply_delta
from hydrax.logs import startup_history

EnsembleStrategy = Literal["ts", "mean", "members"]
"""How an ensemble rolls out (see the module's docstring)."""

STRATEGIES = ("ts", "mean", "members")


class NeuralNetworkDynamics(Dynamics):
    """Roll out with a trained GRU, or an ensemble of them, not physics."""

    def __init__(
        self,
        network: DynamicsNetwork | Sequence[DynamicsNetwork],
        config: dict,
        strategy: EnsembleStrategy = "mean",
        disagreement_weight: float = 0.0,
        matmul_dtype: str = "float32",
    ) -> None:
        """Wrap a trained network, or an ensemble's members.

        Args:
            network: The network (statistics installed), or the members of
                an ensemble (one architecture, shared statistics).
            config: Its checkpoint configuration (dt, dims, ...).
            strategy: How an ensemble rolls out: ``"ts"``, ``"mean"`` or
                ``"members"``.
            disagreement_weight: With ``"mean"``, the weight of the members'
                disagreement added to the running cost (0: none).
            matmul_dtype: The recurrent products' operands: ``"float32"``
                or ``"bfloat16"`` (float32 sums; faster on AVX512-BF16).
        """
        members = (
            [network] if isinstance(network, DynamicsNetwork) else list(network)
        )
        if not members:
            raise ValueError("network must be a network or a non-empty list")
        if strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {STRATEGIES}, got {strategy!r}"
            )
        if not 0 <= disagreement_weight < float("inf"):
            raise ValueError(
                "disagreement_weight must be >= 0 and finite, got "
                f"{disagreement_weight}"
            )
        if disagreement_weight and (len(members) == 1 or strategy != "mean"):
            raise ValueError(
                "disagreement_weight needs an ensemble and the 'mean' "
                f"strategy (got {len(members)} model(s), {strategy!r}): it "
                "would be ignored"
            )
        members = with_matmul_dtype(members, matmul_dtype)  # copies if needed
        self.network = members[0]
        self.config = config
        self.layout = self.network.layout
        self.history_length = self.network.history_length
        self.dt = float(config["dt"])
        self.num_models = len(members)
        self.strategy = strategy
        self.disagreement_weight = float(disagreement_weight)
        if strategy == "members":
            self.num_particles = self.num_models
        self._graphdef, self._state = nnx.split(self.network)
        # The members' states stacked along a leading axis (vmapped over).
        self._states = jax.tree.map(
            lambda *x: jnp.stack(x), *(nnx.split(m)[1] for m in members)
        )
        fused = self.num_models > 1 and self.network.mode == "recurrent"
        fused = fused and self.layout.delta == "state" and strategy != "members"
        self._wide = WideMembers(members) if fused else None

    @classmethod
    def load_params(
        cls,
        model: mjx.Model,
        path: str | Path,
        transform_fn: TransformFn | None = None,
        strategy: EnsembleStrategy = "mean",
        disagreement_weight: float = 0.0,
        matmul_dtype: str = "float32",
    ) -> NeuralNetworkDynamics:
        """Load a checkpoint (a single model or an ensemble) for ``model``.

        Args:
            model: The MJX model the controller plans for.
            path: A checkpoint written by training (e.g. best_model.pkl).
            transform_fn: The custom feature map of its training, if any.
            strategy: How an ensemble rolls out (``"ts"``, ``"mean"`` or
                ``"members"``; ignored for a single model).
            disagreement_weight: As for the constructor.
            matmul_dtype: As for the constructor.

        Returns:
            The dynamics, ready for ``Task(custom_dynamics=...)``.

        Raises:
            CheckpointError: if the file is unsafe, broken, or was trained
                for another timestep or other nq/nv/nu.
        """
        ckpt = read_checkpoint(path)
        dynamics = cls(
            ensemble_from_checkpoint(ckpt, path, transform_fn),
            ckpt["config"],
            strategy=strategy,
            disagreement_weight=disagreement_weight,
            matmul_dtype=matmul_dtype,
        )
        try:
            dynamics.check_compatible(model)
        except ValueError as e:
            raise CheckpointError(f"{path}: {e}") from None
        return dynamics

    def check_compatible(
        self, model: mjx.Model, model_file: Path | None = None
    ) -> None:
        """Refuse another timestep, dimensions or MJCF (``check_model``)."""
        check_model(self.config, self.dt, model, model_file)

    def init_carry(
        self, model: mjx.Model, state: mjx.Data, history: jax.Array | None
    ) -> Carry:
        """The carry of a rollout from the current state.

        Window mode: the windows in flight, one per measured row before it.
        Recurrent mode: (hidden state after those rows, their first row,
        which coordinates stay relative to). An ensemble's is a dict:
        ``memories`` (every member's, stacked) and, for ``"ts"`` and
        ``"members"``, the ``params`` and ``memory`` of the member this
        rollout follows (member 0 until ``sample_carry`` or
        ``particle_carry`` picks another).
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
        # Coordinates stay relative to the first row (or the current state).
        nu = self.layout.nu
        reference = history[0] if n else startup_history(current, 1, nu)[0]

        def start(state: nnx.State) -> Carry:
            net = nnx.merge(self._graphdef, state)
            memory = start_memory(net, history[None], reference[None])
            return jax.tree.map(lambda x: x[0], memory)

        if self.num_models == 1:
            return start(self._state)
        memories = jax.vmap(start)(self._states)
        if self.strategy == "mean":
            return {"memories": memories}
        return self._member_carry(memories, jnp.zeros((), jnp.int32))

    def _member_carry(self, memories: Carry, member: jax.Array) -> Carry:
        """Trajectory sampling's carry: memory and index (wide) or weights."""
        carry = {
            "memories": memories,
            "memory": jax.tree.map(lambda x: x[member], memories),
        }
        if self._wide is not None:
            return {**carry, "member": member}
        return {
            **carry,
            "params": jax.tree.map(lambda x: x[member], self._states),
        }

    def sample_carry(self, carry: Carry, index: jax.Array) -> Carry:
        """Trajectory sampling: sample ``index`` follows member index mod M.

        The identity for a single model and the other strategies.
        """
        if self.num_models == 1 or self.strategy != "ts":
            return carry
        return self._member_carry(carry["memories"], index % self.num_models)

    def particle_carry(self, carry: Carry, particle: jax.Array) -> Carry:
        """``"members"``: particle p follows member p (else the identity)."""
        if self.num_particles == 1:
            return carry
        return self._member_carry(carry["memories"], particle)

    def step(
        self,
        model: mjx.Model,
        state: mjx.Data,
        carry: Carry,
        control: jax.Array,
    ) -> tuple[mjx.Data, Carry]:
        """One learned step; kinematics recomputed, time advanced by dt."""
        state, carry, _ = self.step_with_penalty(model, state, carry, control)
        return state, carry

    def step_with_penalty(
        self,
        model: mjx.Model,
        state: mjx.Data,
        carry: Carry,
        control: jax.Array,
    ) -> tuple[mjx.Data, Carry, jax.Array]:
        """One learned step and the ensemble's disagreement penalty.

        The penalty is zero except with the ``"mean"`` strategy and a
        positive ``disagreement_weight``.
        """
        row = jnp.concatenate([state.qpos, state.qvel, control]).astype(
            jnp.float32
        )
        penalty = jnp.zeros((), jnp.float32)
        if self.num_models == 1:
            carry, nxt = self._member_step(self._state, carry, row)
        elif self.strategy != "mean":  # "ts" and "members": one member
            if self._wide is not None:  # recurrent: weights side by side
                memory, nxt = self._wide.step(
                    carry["member"], carry["memory"], row
                )
            else:
                memory, nxt = self._member_step(
                    carry["params"], carry["memory"], row
                )
            carry = {**carry, "memory": memory}
        else:
            nxt, memories, penalty = self._mean_step(carry["memories"], row)
            carry = {"memories": memories}
        return self._advance(model, state, nxt, control), carry, penalty

    def _member_step(
        self, params: nnx.State, memory: Carry, row: jax.Array
    ) -> tuple[Carry, jax.Array]:
        net = nnx.merge(self._graphdef, params)
        memory = jax.tree.map(lambda x: x[None], memory)
        memory, nxt, _ = learned_step(net, memory, row[None])
        return jax.tree.map(lambda x: x[0], memory), nxt[0]

    def _mean_step(
        self, memories: Carry, row: jax.Array
    ) -> tuple[jax.Array, Carry, jax.Array]:
        """Every member steps; the mean delta and their disagreement."""

        def member(params: nnx.State, memory: Carry) -> tuple:
            net = nnx.merge(self._graphdef, params)
            memory = jax.tree.map(lambda x: x[None], memory)
            memory, _, pred_std = learned_step(net, memory, row[None])
            return jax.tree.map(lambda x: x[0], memory), pred_std[0]

        if self._wide is not None:  # recurrent: the members side by side
            memories, preds = self._wide.step_all(memories, row)
        else:
            memories, preds = jax.vmap(member)(self._states, memories)
        # The members share the statistics: the mean of standardized deltas
        # is the standardized mean delta.
        mean = preds.mean(axis=0)
        current = row[None, : self.layout.nq + self.layout.nv]
        delta = self.network.unstandardize(mean[None])
        nxt = apply_delta(self.layout, current, delta)[0]
        disagreement = jnp.sum(jnp.var(preds, axis=0))
        return nxt, memories, self.disagreement_weight * disagreement

    def _advance(
        self,
        model: mjx.Model,
        state: mjx.Data,
        nxt: jax.Array,
        control: jax.Array,
    ) -> mjx.Data:
        nq = self.layout.nq
        state = state.replace(
            qpos=nxt[:nq].astype(state.qpos.dtype),
            qvel=nxt[nq:].astype(state.qvel.dtype),
            ctrl=control,
            time=state.time + self.dt,
        )
        return mjx.kinematics(model, state)

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
            The predicted (qpos, qvel) after each control, (B, K, nq + nv);
            an ensemble's members', (M, B, K, nq + nv).

        Raises:
            ValueError: an argument of another shape, named with the shape
                it must have.
        """
        one = self.num_models == 1
        return predict(
            self._graphdef,
            self._state if one else self._states,
            self.layout,
            self.history_length,
            (history, state, controls),
            stacked=not one,
        )
