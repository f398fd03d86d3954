"""One step of a rollout, defined once, in both modes.

The parts :func:`start_memory`, :func:`push_row`, :func:`predict_delta`
(with :func:`integrated` for the structured delta), :func:`drop_oldest`
and :func:`scored_step` make :func:`learned_step` (the planner's dynamics
seam) here and ``model.rollout_deltas`` (the evaluation, validation and
the recurrent training loss). They take a network or a baseline predictor
alike (anything with the network's surface); ``model`` re-exports them.
A window network's training loss feeds the same rows in another order
(``window_rollout``) through :func:`feed_windows` and :func:`scored_step`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from hydrax.dynamics_model_training.transforms import (
    apply_delta,
    integrated_delta,
    state_delta,
)

Memory = jax.Array | tuple[jax.Array, jax.Array]
"""What a rollout carries between steps. ``recurrent`` mode: (hidden state
(B, h), reference row (B, R)), coordinates staying relative to the
reference. A ``window``-mode network: the windows in flight, one started
at each of the last T rows, (hidden states (B, T, h), their first rows
(B, T, R)): every new row is fed to all of them in one GRU cell call, and
the oldest, which then holds H rows, predicts (H cell evaluations per step
as before, but one call of T·B rows instead of a chain of H). A baseline
predictor: the most recent raw rows, (B, T, R)."""


def is_recurrent(model: Any) -> bool:  # noqa: ANN401
    """Whether a predictor carries a hidden state (``recurrent`` mode)."""
    return getattr(model, "mode", "window") == "recurrent"


def feeds_windows(model: Any) -> bool:  # noqa: ANN401
    """Whether a predictor's memory is its windows in flight (see Memory)."""
    return hasattr(model, "gru") and not is_recurrent(model)


def start_memory(
    model: Any,  # noqa: ANN401 (a network or a baseline predictor)
    rows: jax.Array,
    reference: jax.Array,
) -> Memory:
    """The memory after some rows.

    Args:
        model: A network, or a baseline predictor (always ``window``).
        rows: Raw rows, oldest first, (B, T, R); T may be 0.
        reference: The row coordinates stay relative to in ``recurrent``
            mode, (B, R): the first row of the initial window.

    Returns:
        The rows themselves (a baseline), the windows started at each row
        (a ``window``-mode network), or the hidden state after them (zeros
        when T = 0) and the reference (``recurrent``).
    """
    if feeds_windows(model):
        b, h = rows.shape[0], model.gru.hidden_size
        memory = (jnp.zeros((b, 0, h), rows.dtype), rows[:, :0])
        for t in range(rows.shape[1]):
            memory = push_row(model, memory, rows[:, t])
        return memory
    if not is_recurrent(model):
        return rows
    return model.gru(model.features(rows, reference)), reference


def push_row(
    model: Any,  # noqa: ANN401 (a network or a baseline predictor)
    memory: Memory,
    row: jax.Array,
    probe: jax.Array | None = None,
) -> Memory:
    """Feed one raw row (B, R): appended, or one GRU cell step.

    A recurrent cell takes the ``probe`` (see
    :func:`gru.deferred_recurrent_grad`).
    """
    if is_recurrent(model):
        h, reference = memory
        return model.advance(h, row, reference, probe), reference
    if feeds_windows(model):  # a window starts at the row; all take it
        h, firsts = memory
        fresh = jnp.zeros((row.shape[0], 1, h.shape[-1]), h.dtype)
        h = jnp.concatenate([h, fresh], axis=1)
        firsts = jnp.concatenate([firsts, row[:, None]], axis=1)
        return feed_windows(model, h, firsts, row), firsts
    return jnp.concatenate([memory, row[:, None]], axis=1)


def feed_windows(
    model: Any,  # noqa: ANN401 (a window-mode network)
    hidden: jax.Array,
    firsts: jax.Array,
    row: jax.Array,
) -> jax.Array:
    """One GRU cell call: a raw row fed to every window in flight.

    Args:
        model: A ``window``-mode network.
        hidden: The windows' hidden states, (B, n, h).
        firsts: Their first rows, (B, n, R): each window sees the row's
            coordinates relative to its own first row.
        row: The row, (B, R).

    Returns:
        The windows' hidden states after the row, (B, n, h).
    """
    rows = jnp.broadcast_to(row[:, None], firsts.shape)
    x = model.features(rows[:, :, None], firsts)[:, :, 0]
    return model.gru.cell(hidden, model.gru.project(x))


def scored_step(
    model: Any,  # noqa: ANN401 (a network or a baseline predictor)
    current: jax.Array,
    pred_std: jax.Array,
    target: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A rollout step's deltas and next state, from its prediction.

    A structured delta's loss compares the whole delta, its position part
    integrated from the predicted velocity, not Δqvel alone: from a
    rolled-out state the true position part holds the position error so
    far, which Δqvel cannot show, and the loss (and the evaluation's
    standardized errors) stay those of the plain delta, same statistics.

    Args:
        model: The predictor.
        current: Its current state, (B, nq + nv).
        pred_std: Its standardized prediction (``predict_delta``), (B, D).
        target: The true next state, (B, nq + nv).

    Returns:
        The standardized predicted (integrated) and target deltas, (B, D)
        each, and the next state, (B, nq + nv).
    """
    pred_std = integrated(model, current, pred_std)
    true_std = model.standardize(state_delta(model.layout, current, target))
    nxt = apply_delta(model.layout, current, model.unstandardize(pred_std))
    return pred_std, true_std, nxt


def drop_oldest(model: Any, memory: Memory) -> Memory:  # noqa: ANN401
    """Forget the oldest row, or window, of a memory (a hidden state stays)."""
    if is_recurrent(model):
        return memory
    if feeds_windows(model):
        return memory[0][:, 1:], memory[1][:, 1:]
    return memory[:, 1:]


def predict_delta(model: Any, memory: Memory) -> jax.Array:  # noqa: ANN401
    """The standardized delta after the memory's last row, (B, D)."""
    if is_recurrent(model):
        return model.head_delta(memory[0])
    if feeds_windows(model):  # the oldest window holds H rows now
        return model.head_delta(memory[0][:, 0])
    return model.predict_standardized(memory)


def integrated(
    model: Any,  # noqa: ANN401 (a network or a baseline predictor)
    current: jax.Array,
    pred_std: jax.Array,
) -> jax.Array:
    """The standardized delta with the position part ``apply_delta`` makes.

    With the structured delta (``layout.delta == "velocity"``) the predicted
    delta's position part is the one integrated from its velocity part at
    ``current`` (``transforms.integrated_delta``); as is otherwise.
    """
    if model.layout.delta != "velocity":
        return pred_std
    delta = integrated_delta(
        model.layout, current, model.unstandardize(pred_std)
    )
    return model.standardize(delta)


def learned_step(
    model: Any,  # noqa: ANN401 (a network or a baseline predictor)
    memory: Memory,
    row: jax.Array,
) -> tuple[Memory, jax.Array, jax.Array]:
    """One step of the dynamics seam: the current row in, the next state out.

    The row (current state, control applied now) enters the memory, the
    delta after it is predicted and applied to its state; a window memory
    keeps its H − 1 most recent rows (a baseline) or windows in flight (a
    network). ``model.rollout_deltas`` makes the same steps from the same
    parts.

    Args:
        model: A network, or a baseline predictor (with its ``layout``,
            ``mode``, ``predict_standardized`` and ``unstandardize``).
        memory: The memory before the row (see :data:`Memory`).
        row: The current raw row, (B, R).

    Returns:
        The memory after the row, the next raw state (B, nq + nv) and the
        standardized predicted delta (B, D).
    """
    layout = model.layout
    memory = push_row(model, memory, row)
    current = row[:, : layout.nq + layout.nv]
    pred_std = integrated(model, current, predict_delta(model, memory))
    nxt = apply_delta(layout, current, model.unstandardize(pred_std))
    return drop_oldest(model, memory), nxt, pred_std
