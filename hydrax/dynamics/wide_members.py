"""A recurrent ensemble's members side by side, for trajectory sampling.

With the ``"ts"`` strategy every sample of a replanning follows one member.
Stepping each sample with weights of its own is a matrix-vector product per
sample (the weights read once per sample and step); stepping it through
all members' weights side by side, ``x @ [W_1 … W_M]``, is one wide matmul
over the samples, of which each sample keeps its member's slice.

With ``"mean"`` every member steps every sample: the input projection of
the shared row is one wide matmul, the recurrent and head products one
batched matmul over the members (:meth:`WideMembers.step_all`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from hydrax.dynamics_model_training.gru import gru_gates, recurrent_product
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.transforms import apply_delta


class WideMembers:
    """The members' weights side by side: (in, M · out) and (M, out)."""

    def __init__(self, members: Sequence[DynamicsNetwork]) -> None:
        """Lay out recurrent members of one architecture and statistics.

        The recurrent products take the operands' type of the members'
        GRU (``gru.matmul_dtype``).
        """
        if any(m.mode != "recurrent" for m in members):
            raise ValueError("WideMembers needs recurrent members")
        self.network = members[0]  # features and units (shared statistics)
        self.num_models = len(members)
        self.dtype = self.network.gru.matmul_dtype

        def wide(f: Callable) -> jax.Array:
            w = jnp.stack([jnp.asarray(f(m)) for m in members], axis=1)
            return w.reshape(w.shape[0], -1)  # (in, M · out)

        def stacked(f: Callable) -> jax.Array:
            return jnp.stack([jnp.asarray(f(m)) for m in members])

        self.w_rec_stacked = stacked(lambda m: m.gru.w_rec[...])
        self.head_stacked = stacked(lambda m: m.head.kernel[...])
        self.w_in = wide(lambda m: m.gru.w_in[...])
        self.b_in = stacked(lambda m: m.gru.b_in[...])
        self.w_rec = wide(lambda m: m.gru.w_rec[...])
        self.b_rec = stacked(lambda m: m.gru.b_rec[...])
        self.head = wide(lambda m: m.head.kernel[...])
        self.bias = stacked(lambda m: m.head.bias[...])

    def step(
        self,
        member: jax.Array,
        memory: tuple[jax.Array, jax.Array],
        row: jax.Array,
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        """``model.learned_step`` of one sample with member ``member``.

        Args:
            member: The member's index, ().
            memory: Its hidden state (h,) and reference row (R,).
            row: The current raw row, (R,).

        Returns:
            The memory after the row and the next raw state (nq + nv,).
        """
        h, reference = memory
        net = self.network

        def pick(y: jax.Array, bias: jax.Array) -> jax.Array:
            return y.reshape(self.num_models, -1)[member] + bias[member]

        x = net.features(row[None, None], reference[None])[0, 0]
        x_proj = pick(x @ self.w_in, self.b_in)
        h_proj = recurrent_product(h, self.w_rec, self.dtype)
        h = gru_gates(h, x_proj, pick(h_proj, self.b_rec))
        delta = net.unstandardize(pick(h @ self.head, self.bias))
        current = row[: net.layout.nq + net.layout.nv]
        nxt = apply_delta(net.layout, current[None], delta[None])[0]
        return (h, reference), nxt

    def step_all(
        self, memories: tuple[jax.Array, jax.Array], row: jax.Array
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        """Every member's learned step on one sample's row.

        Args:
            memories: The members' hidden states (M, h) and reference rows
                (M, R), all the same (one history).
            row: The current raw row, (R,).

        Returns:
            The members' memories after the row and their standardized
            predicted deltas, (M, D).
        """
        h, reference = memories
        m = self.num_models
        x = self.network.features(row[None, None], reference[:1])[0, 0]
        x_proj = (x @ self.w_in).reshape(m, -1) + self.b_in
        h_proj = recurrent_product(
            h, self.w_rec_stacked, self.dtype, "mh,mhk->mk"
        )
        h_proj = h_proj + self.b_rec
        h = gru_gates(h, x_proj, h_proj)
        preds = jnp.einsum("mh,mhd->md", h, self.head_stacked) + self.bias
        return (h, reference), preds
