"""The GRU layer, and its recurrent weight's gradient as one matmul.

Autodiff through a recurrent rollout (``lax.scan``) computes the recurrent
weight's gradient one cell at a time: every step of the backward scan adds
``h_tᵀ @ g_t``, a (h, B) @ (B, 3h) product with a short contraction, and the
sum is carried through the loop. :func:`deferred_recurrent_grad` instead
adds a zero *probe* to each cell's recurrent product (``h_t @ W + p_t``,
with W held constant there): the probes' gradient is every step's ``g_t``,
stacked, and the weight's gradient is then one matmul over the whole
sequence, ``Σ_t h_tᵀ @ g_t`` (contraction T·B). The gradient is the same up
to float rounding; the tests compare it with plain autodiff.

A planner may take the recurrent product in bfloat16 (:data:`MATMUL_DTYPES`,
:func:`with_matmul_dtype`): the operands are rounded to bfloat16 and the
products accumulate in float32, which halves the product's time on a CPU
with AVX512-BF16. Training always multiplies in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

MATMUL_DTYPES = ("float32", "bfloat16")
"""Operand types of the recurrent product (accumulation is float32)."""


def recurrent_product(
    h: jax.Array, w: jax.Array, dtype: str, spec: str | None = None
) -> jax.Array:
    """``h @ w`` (or the einsum ``spec``) with operands of ``dtype``.

    ``"bfloat16"`` rounds both operands and accumulates in float32.
    """
    if dtype == "float32":
        return h @ w if spec is None else jnp.einsum(spec, h, w)
    spec = "...h,hk->...k" if spec is None else spec
    bf16, sums = jnp.bfloat16, jnp.promote_types(h.dtype, jnp.float32)
    return jnp.einsum(
        spec, h.astype(bf16), w.astype(bf16), preferred_element_type=sums
    )


def with_matmul_dtype(networks: list, dtype: str) -> list:
    """Copies of ``networks`` whose GRU cells multiply in ``dtype``.

    Raises:
        ValueError: for a dtype not in :data:`MATMUL_DTYPES`.
    """
    if dtype not in MATMUL_DTYPES:
        raise ValueError(
            f"matmul_dtype must be one of {MATMUL_DTYPES}, got {dtype!r}"
        )
    if all(n.gru.matmul_dtype == dtype for n in networks):
        return networks
    copies = [nnx.clone(n) for n in networks]
    for net in copies:
        net.gru.matmul_dtype = dtype
    return copies


def gru_gates(h: jax.Array, x_proj: jax.Array, h_proj: jax.Array) -> jax.Array:
    """The next hidden state from the projections of input and state.

    Args:
        h: The hidden state, (..., h).
        x_proj: ``x @ w_in + b_in``, (..., 3h).
        h_proj: ``h @ w_rec + b_rec``, (..., 3h).
    """
    x_r, x_z, x_n = jnp.split(x_proj, 3, axis=-1)
    h_r, h_z, h_n = jnp.split(h_proj, 3, axis=-1)
    r = jax.nn.sigmoid(x_r + h_r)
    z = jax.nn.sigmoid(x_z + h_z)
    n = jnp.tanh(x_n + r * h_n)
    return (1.0 - z) * n + z * h


class GRU(nnx.Module):
    """A GRU layer (PyTorch's gate convention) scanned over time.

    The input projections of all timesteps are one matmul; only the
    recurrent part runs inside ``lax.scan``.
    """

    def __init__(self, in_features: int, hidden_size: int, *, rngs: nnx.Rngs):
        """Create the weights (Glorot input, orthogonal recurrent)."""
        self.hidden_size = hidden_size
        self.matmul_dtype = "float32"  # the recurrent product's operands
        h = hidden_size
        self.w_in = nnx.Param(
            nnx.initializers.glorot_uniform()(
                rngs.params(), (in_features, 3 * h)
            )
        )
        self.w_rec = nnx.Param(
            jnp.concatenate(
                [
                    nnx.initializers.orthogonal()(rngs.params(), (h, h))
                    for _ in range(3)
                ],
                axis=1,
            )
        )
        self.b_in = nnx.Param(jnp.zeros((3 * h,)))
        self.b_rec = nnx.Param(jnp.zeros((3 * h,)))

    def project(self, x: jax.Array) -> jax.Array:
        """Input projections of every timestep: (..., T, F) → (..., T, 3h)."""
        return x @ self.w_in[...] + self.b_in[...]

    def cell(
        self, h: jax.Array, x_proj: jax.Array, probe: jax.Array | None = None
    ) -> jax.Array:
        """One GRU step from a projected input, (..., h) → (..., h).

        With a ``probe`` (..., 3h) the recurrent product is ``h @ W + probe``
        with W held constant (see :func:`deferred_recurrent_grad`).
        """
        w = self.w_rec[...]
        if probe is None:
            rec = recurrent_product(h, w, self.matmul_dtype)
        else:
            rec = h @ jax.lax.stop_gradient(w) + probe
        return gru_gates(h, x_proj, rec + self.b_rec[...])

    def __call__(self, x: jax.Array, h0: jax.Array | None = None) -> jax.Array:
        """Run over a sequence and return the last hidden state.

        Args:
            x: Inputs, (B, T, F).
            h0: The initial hidden state (B, h); zeros when None.

        Returns:
            The final hidden state, (B, h).
        """
        x_proj = jnp.swapaxes(self.project(x), 0, 1)  # (T, B, 3h)
        if h0 is None:
            h0 = jnp.zeros((x.shape[0], self.hidden_size), x.dtype)

        def step(h: jax.Array, xp: jax.Array) -> tuple[jax.Array, None]:
            return self.cell(h, xp), None

        h, _ = jax.lax.scan(step, h0, x_proj)
        return h


def deferred_recurrent_grad(
    run: Callable[..., tuple[Any, jax.Array]],
    network: nnx.Module,
    probe_shape: tuple[int, ...],
    *inputs: Any,  # noqa: ANN401
) -> Any:  # noqa: ANN401
    """``run``'s output, its recurrent weight's gradient one matmul.

    Args:
        run: ``run(network, probes, *inputs) -> (out, hs)``: passes probe
            ``probes[t]`` to the t-th probed cell of ``network.gru`` and
            returns the hidden states those cells started from, ``hs``
            (T, B, h). Cells without a probe keep plain autodiff.
        network: A module with a ``gru`` (a :class:`GRU`).
        probe_shape: The probes' shape, (T, B, 3h).
        *inputs: The rest of ``run``'s arguments (arrays or pytrees).

    Returns:
        ``out``, differentiable in the network's state and the inputs.
    """
    graphdef, state = nnx.split(network)
    w = network.gru.w_rec[...]

    def inner(w: jax.Array, state: nnx.State, inputs: tuple, probes: jax.Array):
        net = nnx.merge(graphdef, state)
        net.gru.w_rec[...] = w
        return run(net, probes, *inputs)

    def zeros() -> jax.Array:
        return jnp.zeros(probe_shape, w.dtype)

    @jax.custom_vjp
    def f(w: jax.Array, state: nnx.State, inputs: tuple) -> Any:  # noqa: ANN401
        return inner(w, state, inputs, zeros())[0]

    def fwd(w: jax.Array, state: nnx.State, inputs: tuple) -> tuple:
        out, vjp, hs = jax.vjp(inner, w, state, inputs, zeros(), has_aux=True)
        return out, (vjp, hs)

    def bwd(res: tuple, g: Any) -> tuple:  # noqa: ANN401
        vjp, hs = res
        dw, dstate, dinputs, dprobes = vjp(g)
        t, b = hs.shape[0], hs.shape[1]
        hs2 = hs.reshape(t * b, hs.shape[-1])
        dw = dw + hs2.T @ dprobes.reshape(t * b, dprobes.shape[-1])
        return dw, dstate, dinputs

    f.defvjp(fwd, bwd)
    return f(w, state, inputs)
