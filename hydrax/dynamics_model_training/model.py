"""The GRU dynamics network (flax NNX) and its multi-step rollout and loss.

The network owns the model's data conventions: it holds the layout, the
standardization statistics (as non-trainable ``Statistic`` variables) and
maps a window of *raw* rows to a delta in physical units. Planners and
evaluation never see standardized numbers.

One step of a rollout is defined once, in both modes, by the parts in
``rollout_steps`` (re-exported here): :func:`rollout_deltas` (the training
loss and the evaluation) and ``learned_step`` (the planner's dynamics seam)
are made of them.
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import nnx

from hydrax.dynamics_model_training.gru import GRU, deferred_recurrent_grad
from hydrax.dynamics_model_training.rollout_steps import (  # noqa: F401
    Memory,  # re-exported, like learned_step
    drop_oldest,
    integrated,
    is_recurrent,
    learned_step,
    predict_delta,
    push_row,
    scored_step,
    start_memory,
)
from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    TransformFn,
    check_transform,
    integrated_delta,
    window_features,
)
from hydrax.dynamics_model_training.window_rollout import (
    window_rollout_deltas,
)

Mode = Literal["window", "recurrent"]
"""``window``: each prediction is the GRU's over the whole window from a zero
hidden state (H cell evaluations per step; computed with every row fed once
to all the windows holding it). ``recurrent``: the hidden
state is carried forward (one cell evaluation per step after warm-up) and
coordinates stay relative to the first row of the initial window."""


class Statistic(nnx.Variable):
    """A standardization statistic: saved with the model, never trained."""


class DynamicsNetwork(nnx.Module):
    """GRU over a window of (state, action) rows → the next state's delta.

    In ``window`` mode the GRU runs over the whole window from a zero hidden
    state at every prediction; in ``recurrent`` mode a rollout carries the
    hidden state forward instead (see :data:`Mode`).
    """

    def __init__(
        self,
        layout: StateLayout,
        hidden_size: int = 128,
        history_length: int = 11,
        *,
        rngs: nnx.Rngs,
        transform_fn: TransformFn | None = None,
        feature_dim: int | None = None,
        mode: Mode = "window",
    ):
        """Create the network with identity statistics.

        Args:
            layout: The state layout (dims, angles, coordinates).
            hidden_size: The GRU's hidden size.
            history_length: Rows per input window (H).
            rngs: Random streams for the initial weights.
            transform_fn: Optional custom qpos feature map.
            feature_dim: The input feature size (inferred when None).
            mode: ``window`` or ``recurrent``.
        """
        if mode not in ("window", "recurrent"):
            raise ValueError(f"mode must be window or recurrent, got {mode!r}")
        self.mode = mode
        self.layout = layout
        self.hidden_size = hidden_size
        self.history_length = history_length
        self.transform_fn = transform_fn
        check_transform(transform_fn, layout.nq)
        if feature_dim is None:
            probe = jnp.zeros((1, layout.row_dim))
            feature_dim = window_features(layout, probe, transform_fn).shape[-1]
        self.feature_dim = feature_dim
        d = layout.state_dim
        self.gru = GRU(feature_dim, hidden_size, rngs=rngs)
        self.head = nnx.Linear(
            hidden_size,
            layout.output_dim,
            kernel_init=nnx.initializers.variance_scaling(
                0.01, "fan_in", "normal"
            ),
            rngs=rngs,
        )
        self.in_mean = Statistic(jnp.zeros(feature_dim))
        self.in_std = Statistic(jnp.ones(feature_dim))
        self.out_mean = Statistic(jnp.zeros(d))
        self.out_std = Statistic(jnp.ones(d))

    def set_statistics(self, stats: dict[str, jax.Array]) -> None:
        """Install standardization statistics (in/out mean and std)."""
        for name in ("in_mean", "in_std", "out_mean", "out_std"):
            getattr(self, name)[...] = jnp.asarray(stats[name], jnp.float32)

    def features(
        self, rows: jax.Array, reference: jax.Array | None = None
    ) -> jax.Array:
        """Standardized input features of raw rows, (.., T, R) → (.., T, F)."""
        feats = window_features(self.layout, rows, self.transform_fn, reference)
        return (feats - self.in_mean[...]) / self.in_std[...]

    def head_delta(self, h: jax.Array) -> jax.Array:
        """The standardized delta of hidden states, (B, h) → (B, D).

        With ``layout.delta == "velocity"`` the head predicts only the
        standardized Δqvel (the velocity part's statistics); the position
        part is left at 0 here: ``apply_delta`` integrates it (and
        ``rollout_steps.integrated`` for the loss).
        """
        out = self.head(h)
        pad = self.layout.state_dim - out.shape[-1]
        if not pad:
            return out
        return jnp.concatenate([jnp.zeros((*out.shape[:-1], pad)), out], -1)

    def predict_standardized(self, window: jax.Array) -> jax.Array:
        """The standardized delta after a window, (B, H, R) → (B, D)."""
        return self.head_delta(self.gru(self.features(window)))

    def advance(
        self,
        h: jax.Array,
        row: jax.Array,
        reference: jax.Array,
        probe: jax.Array | None = None,
    ) -> jax.Array:
        """Recurrent mode: feed one raw row (B, R) to hidden state (B, h)."""
        x = self.features(row[:, None], reference)[:, 0]
        return self.gru.cell(h, self.gru.project(x), probe)

    def unstandardize(self, delta_std: jax.Array) -> jax.Array:
        """A standardized delta in physical units."""
        return self.out_mean[...] + self.out_std[...] * delta_std

    def standardize(self, delta: jax.Array) -> jax.Array:
        """A physical delta in the network's standardized units."""
        return (delta - self.out_mean[...]) / self.out_std[...]

    def __call__(self, window: jax.Array) -> jax.Array:
        """The delta (physical units) of the state after a window of raw rows.

        Args:
            window: Raw rows (qpos, qvel, ctrl), (B, H, nq + nv + nu); the
                last row holds the current state and the control applied now.

        Returns:
            The delta in the transformed layout, (B, D); a structured
            delta's position part integrated at the last row's state.

        Raises:
            ValueError: for a window of another shape (a ``window``-mode
                network takes exactly ``history_length`` rows).
        """
        lay = self.layout
        width = lay.nq + lay.nv + lay.nu
        rows = self.history_length if self.mode == "window" else "H"
        if (
            jnp.ndim(window) != 3
            or window.shape[-1] != width
            or (self.mode == "window" and window.shape[1] != rows)
        ):
            raise ValueError(
                f"window must be (batch, {rows}, nq + nv + nu = {width}) raw "
                f"rows, got shape {tuple(jnp.shape(window))}"
            )
        delta = self.unstandardize(self.predict_standardized(window))
        if self.layout.delta != "velocity":
            return delta
        current = window[:, -1, : self.layout.nq + self.layout.nv]
        return integrated_delta(self.layout, current, delta)


def rollout_deltas(
    model: Any,  # noqa: ANN401 (a network or a baseline predictor)
    window: jax.Array,
    controls: jax.Array,
    targets: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Roll a predictor out autoregressively, keeping its standardized deltas.

    Each step predicts a delta after the memory, applies it to the model's
    current state, and feeds the row (predicted state, next control) to
    the memory: a baseline's window slides by one row; a ``window``-mode
    network feeds it to its windows in flight (its oldest window, which
    holds H rows, predicts); a ``recurrent`` network's GRU (run once over
    the initial window) makes one cell step, with coordinates relative to
    the initial window's first row. These are :func:`learned_step`'s parts
    in the order that predicts first, because the window already holds the
    current row. (A window network's training loss takes another order of
    the same steps: :func:`training_errors`.)

    Args:
        model: A network, or anything with its ``layout``,
            ``predict_standardized``, ``standardize`` and ``unstandardize``
            (the evaluation's baselines).
        window: The initial raw rows, (B, H, R).
        controls: The controls applied after the window, (B, K, nu):
            ``controls[:, k]`` is applied to the k-th predicted state (the
            last one only fills the final window, which is not used).
        targets: The true states, (B, K, nq + nv).

    Returns:
        The predicted states (B, K, nq + nv), and the standardized predicted
        and target deltas, each (B, K, D).
    """
    outs, _ = _rollout(model, window, controls, targets)
    return outs


def _rollout(
    model: Any,  # noqa: ANN401
    window: jax.Array,
    controls: jax.Array,
    targets: jax.Array,
    probes: jax.Array | None = None,
) -> tuple[tuple[jax.Array, jax.Array, jax.Array], jax.Array | None]:
    """:func:`rollout_deltas`, with a probe (K, B, 3h) per fed-back cell.

    Returns its outputs and, with probes, the hidden states the probed
    cells started from, (K, B, h) (see :func:`gru.deferred_recurrent_grad`).
    """
    ns = model.layout.nq + model.layout.nv
    xs = (jnp.swapaxes(controls, 0, 1), jnp.swapaxes(targets, 0, 1), probes)

    def step(carry: tuple, xs: tuple) -> tuple:
        memory, current = carry  # the memory holds the current row
        u_next, target, probe = xs
        pred_std, true_std, nxt = scored_step(
            model, current, predict_delta(model, memory), target
        )
        row = jnp.concatenate([nxt, u_next], axis=-1)
        h = memory[0] if probe is not None else None
        memory = push_row(model, drop_oldest(model, memory), row, probe)
        return (memory, nxt), ((nxt, pred_std, true_std), h)

    memory = start_memory(model, window, window[:, 0])
    _, (outs, hs) = jax.lax.scan(step, (memory, window[:, -1, :ns]), xs)
    return tuple(jnp.swapaxes(o, 0, 1) for o in outs), hs


def rollout(
    network: DynamicsNetwork,
    window: jax.Array,
    controls: jax.Array,
    targets: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Roll the network out autoregressively from a window.

    See :func:`rollout_deltas` for the steps, in window and recurrent mode.

    Args:
        network: The network.
        window: The initial raw rows, (B, H, R).
        controls: The controls applied after the window, (B, K, nu).
        targets: The true states (B, K, nq + nv) to score against, or None.

    Returns:
        The predicted states (B, K, nq + nv) and the per-step standardized
        squared errors (B, K) against the targets (zeros without targets).
    """
    ns = network.layout.nq + network.layout.nv
    if targets is None:
        targets = jnp.zeros((*controls.shape[:2], ns), window.dtype)
    states, pred_std, true_std = rollout_deltas(
        network, window, controls, targets
    )
    return states, jnp.mean(jnp.square(pred_std - true_std), axis=-1)


def split_rows(
    network: DynamicsNetwork, rows: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Split example rows (B, H + K, R) into window, controls and targets."""
    h = network.history_length
    ns = network.layout.nq + network.layout.nv
    # rows[:, h + k] is the true row at time t + k + 1: its state is the k-th
    # target and its control is applied to the k-th predicted state.
    return rows[:, :h], rows[:, h:, ns:], rows[:, h:, :ns]


def multi_step_errors(network: DynamicsNetwork, rows: jax.Array) -> jax.Array:
    """Per-sample, per-step standardized MSE of the rollout, (B, K)."""
    window, controls, targets = split_rows(network, rows)
    return rollout(network, window, controls, targets)[1]


def _probed_errors(
    network: DynamicsNetwork, probes: jax.Array, *rows: jax.Array
) -> tuple[jax.Array, jax.Array]:
    (_, pred_std, true_std), hs = _rollout(network, *rows, probes)
    return jnp.mean(jnp.square(pred_std - true_std), axis=-1), hs


def training_errors(network: DynamicsNetwork, rows: jax.Array) -> jax.Array:
    """:func:`multi_step_errors`, differentiated for training.

    In ``recurrent`` mode the gradient of the recurrent weight over the
    fed-back cells is one matmul over the horizon
    (:func:`gru.deferred_recurrent_grad`); the value is the same. In
    ``window`` mode the rollout is unrolled over its rows, each fed once
    to all the windows holding it (``window_rollout``): the same errors to
    float rounding, in H + K − 1 GRU cell calls.
    """
    if not isinstance(network, DynamicsNetwork):
        return multi_step_errors(network, rows)
    window, controls, targets = split_rows(network, rows)
    if not is_recurrent(network):
        _, pred, true = window_rollout_deltas(
            network, window, controls, targets
        )
        return jnp.mean(jnp.square(pred - true), axis=-1)
    shape = (controls.shape[1], controls.shape[0], 3 * network.hidden_size)
    return deferred_recurrent_grad(
        _probed_errors, network, shape, window, controls, targets
    )


def multi_step_loss(
    network: DynamicsNetwork,
    rows: jax.Array,
    weights: jax.Array | None = None,
) -> jax.Array:
    """The multi-step autoregressive loss of a batch of example rows.

    Loss = mean over samples, horizon steps and delta dimensions of the
    squared standardized error; gradients flow through the fed-back
    predictions.

    Args:
        network: The network.
        rows: Example rows, (B, H + K, nq + nv + nu).
        weights: Per-sample weights (B,), e.g. 0 for batch padding.

    Returns:
        The scalar loss.
    """
    if weights is None:
        return jnp.mean(jnp.mean(training_errors(network, rows), axis=-1))
    return weighted_error_sum(network, rows, weights) / weight_total(weights)


def weighted_error_sum(
    network: DynamicsNetwork, rows: jax.Array, weights: jax.Array
) -> jax.Array:
    """Σ weight × per-sample multi-step error (the loss before its mean)."""
    per_sample = jnp.mean(training_errors(network, rows), axis=-1)
    return jnp.sum(weights * per_sample)


def weight_total(weights: jax.Array) -> jax.Array:
    """What a weighted loss divides by: the weights' sum, at least 1."""
    return jnp.maximum(jnp.sum(weights), 1.0)
