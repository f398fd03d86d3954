"""Control splines: knots at times tk, evaluated at query times tq."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import interpax
import jax
import jax.numpy as jnp

SplineType = Literal["zero", "linear", "cubic"]
InterpFunc = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def interpolate(
    tq: jax.Array, tk: jax.Array, knots: jax.Array, kind: SplineType
) -> jax.Array:
    """Evaluate a control spline at query times (clamped to the knots' span).

    Args:
        tq: The query times, (T,).
        tk: The knot times, increasing, (num_knots,).
        knots: The knot values, (num_knots, nu) or (num_knots,).
        kind: ``zero`` (hold the last knot), ``linear`` or ``cubic``.

    Returns:
        The controls at ``tq``, (T, nu) or (T,) as the knots.
    """
    tq = jnp.clip(tq, tk[0], tk[-1])
    if kind == "zero":
        idx = jnp.searchsorted(tk, tq, side="right") - 1
        return knots[jnp.clip(idx, 0, tk.shape[0] - 1)]
    if kind == "linear":
        if knots.ndim == 1:
            return jnp.interp(tq, tk, knots)
        return jax.vmap(jnp.interp, in_axes=(None, None, 1), out_axes=-1)(
            tq, tk, knots
        )
    if kind == "cubic":
        return interpax.interp1d(tq, tk, knots, method="cubic")
    raise ValueError(f"unknown spline type {kind!r}")


def get_interp_func(kind: SplineType) -> InterpFunc:
    """Upstream's batched spline: ``f(tq, tk, knots) -> controls``.

    Args:
        kind: ``zero``, ``linear`` or ``cubic``.

    Returns:
        A function of query times (T,) or a scalar, knot times (num_knots,)
        and knots (batch, num_knots, nu) giving controls (batch, T, nu)
        (or (batch, nu) for a scalar time), clamped to the knots' span;
        knots (batch, num_knots) give (batch, T), as upstream's tests use.
    """
    if kind not in ("zero", "linear", "cubic"):
        raise ValueError(
            f"spline_type must be zero, linear or cubic, got {kind!r}"
        )

    # A partial of a module-level function, so a controller pickles.
    return functools.partial(_batched, kind=kind)


def _batched(
    tq: jax.Array, tk: jax.Array, knots: jax.Array, kind: SplineType
) -> jax.Array:
    """:func:`interpolate` over a batch of knots (``get_interp_func``'s)."""
    tq = jnp.asarray(tq)
    out = jax.vmap(interpolate, in_axes=(None, None, 0, None))(
        jnp.atleast_1d(tq), tk, knots, kind
    )
    return out[:, 0] if tq.ndim == 0 else out
