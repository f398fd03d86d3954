"""The jitted training and validation steps, and the optimizer.

:func:`train_step` and :func:`eval_step` are module-level and compiled once
per run: what they hold fixed (the network's structure, the optimizer, the
window offsets, the output placement) travels in a :class:`StepSpec`, a
static argument hashed by identity, and every batch has one shape (the last
one of a block is padded with weight 0), so nothing recompiles per batch.
The loss is ``model.multi_step_loss``; a batch of more than
:data:`MICRO_BATCH` windows takes its loss and gradient as sums over
micro-batches of that size (one compiled ``lax.scan``): the same loss, to
float rounding, with a working set that stays in a CPU's caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from hydrax.dynamics_model_training.data_loader import (
    DynamicsDataset,
    gather_windows,
)
from hydrax.dynamics_model_training.model import (
    multi_step_errors,
    multi_step_loss,
    weight_total,
    weighted_error_sum,
)
from hydrax.dynamics_model_training.parallel import DataParallel


def make_optimizer(
    learning_rate: float,
    weight_decay: float,
    total_steps: int,
    lr_schedule: str = "cosine",
    grad_clip: float | None = 1.0,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """AdamW with a learning-rate schedule and global-norm clipping.

    Returns:
        The optimizer and its schedule (learning rate per step).
    """
    if lr_schedule == "cosine":
        warmup = max(1, min(200, total_steps // 20))
        schedule = optax.warmup_cosine_decay_schedule(
            init_value=0.1 * learning_rate,
            peak_value=learning_rate,
            warmup_steps=warmup,
            decay_steps=max(total_steps, warmup + 1),
            end_value=0.02 * learning_rate,
        )
    elif lr_schedule == "constant":
        schedule = optax.constant_schedule(learning_rate)
    else:
        raise ValueError(
            f"lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}"
        )
    parts = []
    if grad_clip:
        parts.append(optax.clip_by_global_norm(grad_clip))
    parts.append(optax.adamw(schedule, weight_decay=weight_decay))
    return optax.chain(*parts), schedule


def padded_batches(
    indices: np.ndarray, batch_size: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split indices into full batches; the last is padded with weight 0."""
    out = []
    for lo in range(0, len(indices), batch_size):
        part = indices[lo : lo + batch_size]
        weights = np.ones(batch_size, np.float32)
        if len(part) < batch_size:
            weights[len(part) :] = 0.0
            part = np.concatenate(
                [part, np.full(batch_size - len(part), part[0])]
            )
        out.append((part, weights))
    return out


@dataclass(frozen=True, eq=False)
class StepSpec:
    """What the jitted steps hold fixed (a static argument, by identity).

    Attributes:
        graphdef: The network's structure (``nnx.split``).
        tx: The optimizer.
        offsets: Row offsets of a window relative to its current row.
        state_size: nq + nv (the state part of a row).
        replicated: Where the steps' outputs live (every device).
    """

    graphdef: nnx.GraphDef
    tx: optax.GradientTransformation
    offsets: tuple[int, ...]
    state_size: int
    replicated: jax.sharding.Sharding

    @classmethod
    def create(
        cls,
        graphdef: nnx.GraphDef,
        tx: optax.GradientTransformation,
        dataset: DynamicsDataset,
        dp: DataParallel,
    ) -> StepSpec:
        """The spec of a network's steps on a dataset's windows."""
        return cls(
            graphdef,
            tx,
            tuple(int(o) for o in dataset.window_offsets()),
            dataset.layout.nq + dataset.layout.nv,
            dp.replicated,
        )

    def windows(self, batch: Batch) -> jax.Array:
        """The batch's example rows, (B, H + K, R)."""
        return gather_windows(
            batch.data,
            batch.rows,
            batch.starts,
            jnp.asarray(self.offsets),
            self.state_size,
        )


class Batch(NamedTuple):
    """A batch of windows into a block of rows on the devices."""

    data: jax.Array  # (N, R) the block's rows, replicated
    rows: jax.Array  # (B,) each window's current row, sharded
    starts: jax.Array  # (B,) the first row of its file, sharded
    weights: jax.Array  # (B,) 1, or 0 for batch padding, sharded


MICRO_BATCH = 256
"""The largest batch whose gradient is taken in one pass (see the module's
docstring). Measured on 2 CPU cores (window mode, hidden 128, H = 11,
K = 9): batch 1024 in micro-batches of 256 trained 1.7x faster than in one
pass (``benchmarks/bench_learning.py``); batches up to 256 run whole."""


def _loss_and_grads(
    spec: StepSpec, params: nnx.State, stats: nnx.State, batch: Batch
) -> tuple[jax.Array, nnx.State]:
    """The batch's loss and its gradient, in micro-batches when large."""
    rows, weights = spec.windows(batch), batch.weights
    size = rows.shape[0]
    one_device = len(spec.replicated.device_set) == 1
    if size <= MICRO_BATCH or size % MICRO_BATCH or not one_device:

        def loss_fn(params: nnx.State) -> jax.Array:
            net = nnx.merge(spec.graphdef, params, stats)
            return multi_step_loss(net, rows, weights)

        return jax.value_and_grad(loss_fn)(params)

    def weighted_sum(params: nnx.State, part: tuple) -> jax.Array:
        net = nnx.merge(spec.graphdef, params, stats)
        return weighted_error_sum(net, *part)

    def add(total: tuple, part: tuple) -> tuple[tuple, None]:
        out = jax.value_and_grad(weighted_sum)(params, part)
        return jax.tree.map(jnp.add, total, out), None

    parts = (
        rows.reshape(-1, MICRO_BATCH, *rows.shape[1:]),
        weights.reshape(-1, MICRO_BATCH),
    )
    zero = (jnp.zeros(()), jax.tree.map(jnp.zeros_like, params))
    (loss, grads), _ = jax.lax.scan(add, zero, parts)
    scale = 1.0 / weight_total(weights)  # multi_step_loss's, whole batch
    return loss * scale, jax.tree.map(lambda g: g * scale, grads)


def _train_step(
    spec: StepSpec,
    params: nnx.State,
    stats: nnx.State,
    opt_state: optax.OptState,
    batch: Batch,
) -> tuple[nnx.State, optax.OptState, jax.Array]:
    loss, grads = _loss_and_grads(spec, params, stats, batch)
    updates, opt_state = spec.tx.update(grads, opt_state, params)
    out = (optax.apply_updates(params, updates), opt_state, loss)
    return out


def _eval_step(
    spec: StepSpec, params: nnx.State, stats: nnx.State, batch: Batch
) -> jax.Array:
    net = nnx.merge(spec.graphdef, params, stats)
    errs = multi_step_errors(net, spec.windows(batch))
    total = jnp.sum(batch.weights[:, None] * errs, axis=0)
    return total


@partial(jax.jit, static_argnums=0)
def train_step(
    spec: StepSpec,
    params: nnx.State,
    stats: nnx.State,
    opt_state: optax.OptState,
    batch: Batch,
) -> tuple[nnx.State, optax.OptState, jax.Array]:
    """One optimizer step on the multi-step loss; returns the batch's loss."""
    return _train_step(spec, params, stats, opt_state, batch)


@partial(jax.jit, static_argnums=0)
def eval_step(
    spec: StepSpec, params: nnx.State, stats: nnx.State, batch: Batch
) -> jax.Array:
    """The weighted sum over the batch of per-step errors, (K,)."""
    return _eval_step(spec, params, stats, batch)


# An ensemble's members are one network's states stacked along a leading
# axis (params and optimizer states); its batch shares the block's rows
# (``data``) and gives every member its own windows, (M, B). One compiled
# step trains all members.


@partial(jax.jit, static_argnums=0)
def ensemble_train_step(
    spec: StepSpec,
    params: nnx.State,
    stats: nnx.State,
    opt_state: optax.OptState,
    batch: Batch,
) -> tuple[nnx.State, optax.OptState, jax.Array]:
    """One optimizer step of every member; returns their losses, (M,)."""

    def member(p: nnx.State, o: optax.OptState, b: Batch) -> tuple:
        return _train_step(spec, p, stats, o, b)

    batch_axes = Batch(None, 0, 0, 0)  # type: ignore[arg-type]
    return jax.vmap(member, in_axes=(0, 0, batch_axes))(
        params, opt_state, batch
    )


@partial(jax.jit, static_argnums=0)
def ensemble_eval_step(
    spec: StepSpec, params: nnx.State, stats: nnx.State, batch: Batch
) -> jax.Array:
    """Every member's weighted per-step error sums on one batch, (M, K)."""
    return jax.vmap(lambda p: _eval_step(spec, p, stats, batch))(params)
