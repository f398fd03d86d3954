"""A window-mode rollout that feeds every row once to all windows holding it.

A ``window``-mode network re-runs its GRU over the whole window, from a zero
hidden state, at every prediction: K predictions of a K-step rollout make
K·H cell evaluations in a chain K·H cells deep, each a small product of
batch B. The same numbers come out of a different order. The rollout's rows
are E_0 … E_{H+K−2}: the initial window's H true rows, then the predicted
ones (E_{H+k} = (state predicted at step k, ``controls[:, k]``)). Window k
(step k's input) is E_k … E_{k+H−1}, with coordinates relative to E_k.
Taking the rows in order, row r is fed in *one* GRU cell call to every
window that holds it (windows max(0, r−H+1) … min(K−1, r), each with its
own reference row), and window k is complete, and predicts E_{H+k}, right
after row k+H−1. That is K·H cell evaluations again, but in H+K−1 calls of
up to min(H, K)·B rows, a chain H+K−1 cells deep; the recurrent weight's
gradient is likewise accumulated in H+K−1 products instead of K·H.

The first H-1 rows (windows starting) and the last H-1 (windows ending)
are unrolled when traced, since their calls' batch sizes differ; when K >=
H the rows between hold H windows each and run as one ``lax.scan``
(from ``STEADY_MIN`` of them), so the compiled graph grows with H, not
with K. The training loss takes this order (its steps are 1.2-1.7x
faster than the scan's), evaluation and planning the step-by-step scan of
``model.rollout_deltas`` (windows in flight, one call a step). Both
predict what the GRU over each whole window predicts, to float rounding
(the tests compare values and gradients).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from hydrax.dynamics_model_training.rollout_steps import (
    feed_windows,
    scored_step,
)

STEADY_MIN = 8
"""Rows in the steady phase (H windows in flight) from which it is a scan.

Unrolled, the graph grows with H + K: at H = 11 and K = 80 (the double
cart pole's auto horizon, window mode: the command line's defaults) a
one-epoch run took 124 s, mostly compiling, against 50 s with the scan
(same loss; 2 busy cores). At K = 40 the scan's step ran at 0.97x the
unrolled one's samples/s."""


def window_rollout_deltas(
    network: Any,  # noqa: ANN401 (a DynamicsNetwork in window mode)
    window: jax.Array,
    controls: jax.Array,
    targets: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``model.rollout_deltas`` of a window-mode network, row by row.

    Args:
        network: A ``DynamicsNetwork`` in ``window`` mode.
        window: The initial raw rows, (B, H, R).
        controls: The controls applied after the window, (B, K, nu).
        targets: The true states, (B, K, nq + nv).

    Returns:
        The predicted states (B, K, nq + nv), and the standardized predicted
        and target deltas, each (B, K, D).
    """
    ns = network.layout.nq + network.layout.nv
    # The weights' float32 at least: the scan's carry keeps one dtype.
    window = window.astype(jnp.promote_types(window.dtype, jnp.float32))
    h_len, k_len = window.shape[1], controls.shape[1]
    rows: list[Any] = [window[:, t] for t in range(h_len)]  # E_r, (B, R)
    hidden: list[Any] = []  # window w's hidden state, after its rows
    zero = jnp.zeros((window.shape[0], network.gru.hidden_size), window.dtype)
    current = window[:, -1, :ns]
    outs: list[tuple] = []  # (state, pred, true) per step, or stacked runs
    r = 0
    while r < h_len + k_len - 1:
        if r == h_len - 1 and k_len >= h_len + STEADY_MIN - 1:
            # Rows H-1 .. K-1: H windows in flight at every row, a scan.
            current, steady = _steady_rows(
                network, hidden, rows, current, controls, targets
            )
            outs.append(steady)
            r = k_len
            continue
        lo, hi = max(0, r - h_len + 1), min(k_len - 1, r)
        if r <= k_len - 1:
            hidden.append(zero)  # window r starts at row r
        h = feed_windows(
            network,
            jnp.stack(hidden[lo : hi + 1], axis=1),  # (B, n, h)
            jnp.stack(rows[lo : hi + 1], axis=1),  # their first rows
            rows[r],
        )
        hidden[lo : hi + 1] = list(jnp.moveaxis(h, 1, 0))
        k = r - h_len + 1  # window k has all its rows now
        r += 1
        if k < 0:
            continue
        pred_std, true_std, current = scored_step(
            network, current, network.head_delta(h[:, 0]), targets[:, k]
        )
        rows.append(jnp.concatenate([current, controls[:, k]], axis=-1))
        outs.append(tuple(o[:, None] for o in (current, pred_std, true_std)))
    return tuple(jnp.concatenate(o, axis=1) for o in zip(*outs, strict=True))


def _steady_rows(
    network: Any,  # noqa: ANN401
    hidden: list[Any],
    rows: list[Any],
    current: jax.Array,
    controls: jax.Array,
    targets: jax.Array,
) -> tuple[jax.Array, tuple]:
    """Rows H-1 .. K-1 in one ``lax.scan`` (K >= H), lists updated in place.

    At row r the windows r-H+1 .. r are in flight (window r starts with
    it) and window r-H+1 completes: the carry is the hidden states of
    windows r-H+1 .. r-1, rows r-H+1 .. r (the windows' first rows, the last
    one fed now) and the current state. ``hidden`` and ``rows`` come back
    indexed as the unrolled loop indexes them (windows and rows the later
    rows no longer need are None).
    """
    h_len, k_len = len(rows), controls.shape[1]

    def step(carry: tuple, x: tuple) -> tuple[tuple, tuple]:
        hid, firsts, cur = carry
        zero = jnp.zeros((hid.shape[0], 1, hid.shape[2]), hid.dtype)
        h = feed_windows(
            network, jnp.concatenate([hid, zero], axis=1), firsts, firsts[:, -1]
        )
        control, target = x
        pred_std, true_std, cur = scored_step(
            network, cur, network.head_delta(h[:, 0]), target
        )
        row = jnp.concatenate([cur, control], axis=-1)
        firsts = jnp.concatenate([firsts[:, 1:], row[:, None]], axis=1)
        return (h[:, 1:], firsts, cur), (cur, pred_std, true_std)

    size = (rows[0].shape[0], 0, network.gru.hidden_size)  # H = 1: none
    start = (
        jnp.stack(hidden, axis=1) if hidden else jnp.zeros(size, current.dtype),
        jnp.stack(rows, axis=1),
        current,
    )
    steps = slice(0, k_len - h_len + 1)  # predictions 0 .. K-H
    xs = (
        jnp.moveaxis(controls[:, steps], 1, 0),
        jnp.moveaxis(targets[:, steps], 1, 0),
    )
    (hid, firsts, current), outs = jax.lax.scan(step, start, xs)
    # Windows K-H+1 .. K-1 stay in flight; rows K-H+1 .. K are their first
    # rows and the next row to feed.
    hidden[:] = [None] * (k_len - h_len + 1) + list(jnp.moveaxis(hid, 1, 0))
    rows[:] = [None] * (k_len - h_len + 1) + list(jnp.moveaxis(firsts, 1, 0))
    return current, tuple(jnp.moveaxis(o, 0, 1) for o in outs)
