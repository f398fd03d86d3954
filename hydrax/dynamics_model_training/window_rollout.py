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

The loop is unrolled when traced (the calls' batch sizes differ), so the
compiled graph grows with H + K: the training loss takes this order (its
steps are 1.2-1.7x faster), evaluation and planning the step-by-step scan
of ``model.rollout_deltas`` (windows in flight, one call a step). Both
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


def window_rollout_deltas(
    network: Any,  # noqa: ANN401 (a DynamicsNetwork in window mode)
    window: jax.Array,
    controls: jax.Array,
    targets: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``model.rollout_deltas`` of a window-mode network, unrolled.

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
    h_len, k_len = window.shape[1], controls.shape[1]
    rows = [window[:, t] for t in range(h_len)]  # E_r, (B, R) each
    hidden: list[jax.Array] = []  # window w's hidden state, after its rows
    zero = jnp.zeros((window.shape[0], network.gru.hidden_size), window.dtype)
    current = window[:, -1, :ns]
    states, preds, trues = [], [], []
    for r in range(h_len + k_len - 1):
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
        if k < 0:
            continue
        pred_std, true_std, current = scored_step(
            network, current, network.head_delta(h[:, 0]), targets[:, k]
        )
        rows.append(jnp.concatenate([current, controls[:, k]], axis=-1))
        states.append(current)
        preds.append(pred_std)
        trues.append(true_std)
    return tuple(jnp.stack(o, axis=1) for o in (states, preds, trues))
