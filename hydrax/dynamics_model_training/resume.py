"""Resuming a training run from its ``last.pkl``.

A resumed run must share its configuration with the checkpoint
(:data:`RESUME_KEYS`); its weights, optimizer state, history and epoch come
back from the file, and the shuffles need no saved state (each epoch's is
drawn from the seed and the epoch number).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.layout import FEATURE_FIELDS
from hydrax.dynamics_model_training.model import Statistic
from hydrax.dynamics_model_training.model_io import ensemble_from_checkpoint
from hydrax.dynamics_model_training.trainer import TrainState
from hydrax.dynamics_model_training.transforms import TransformFn
from hydrax.logs import RecordedSplit

RESUME_KEYS = (
    "mode",
    "nq",
    "nv",
    "nu",
    *FEATURE_FIELDS,
    "hidden_size",
    "history_length",
    "prediction_horizon",
    "columns",
    "hyperparameters",
    "num_models",
)
"""The configuration a resumed run must share with its ``last.pkl``; the
split (``train_files``, ``val_files``) too, compared by
`hydrax.logs.RecordedSplit`."""


def check_resume(saved: dict, current: dict, path: Path) -> None:
    """Refuse to resume ``path`` with another configuration, naming the key.

    Raises:
        CheckpointError: if a key of :data:`RESUME_KEYS` or the split
            differs.
    """
    for field in RESUME_KEYS:
        key, old, new = field, saved.get(field), current.get(field)
        if key == "quat_indices":  # absent from older checkpoints
            old, new = old or [], new or []
        if key == "heading_frame":
            old, new = bool(old), bool(new)
        if key == "num_models":  # absent: one model
            old, new = old or 1, new or 1
        if key == "delta":  # absent: the plain delta
            old, new = old or "state", new or "state"
        if isinstance(old, dict) and isinstance(new, dict):
            # An option absent on one side counts as its default, None; the
            # first that differs is named.
            keys = list(new) + [k for k in old if k not in new]
            diff = [k for k in keys if old.get(k) != new.get(k)]
            key, old, new = (
                (diff[0], old.get(diff[0]), new.get(diff[0]))
                if diff
                else (field, None, None)
            )
        if old != new:
            hint = (
                "; resume=True finishes the run it started: to train on "
                f"from it, start a new run with init_from={path.parent}/"
                "best_model.pkl and another task_name (its own folder)"
                if key == "num_epochs"
                else ""
            )

            def said(v: object) -> str:
                return "not given" if v is None else repr(v)

            raise CheckpointError(
                f"{path}: cannot resume, {key} differs (checkpoint "
                f"{said(old)}, now {said(new)}){hint}"
            )
    split = RecordedSplit.of(saved).mismatch(RecordedSplit.of(current))
    if split is not None:
        key, what = split
        raise CheckpointError(f"{path}: cannot resume, {key} differs ({what})")


def restore_optimizer(
    saved: list, template: optax.OptState, path: Path
) -> optax.OptState:
    """The optimizer state of ``last.pkl`` in the structure of ``template``.

    Raises:
        CheckpointError: if the saved state does not fit the optimizer.
    """
    leaves, treedef = jax.tree.flatten(template)
    if len(saved) != len(leaves) or any(
        jnp.shape(x) != jnp.shape(t) for x, t in zip(saved, leaves, strict=True)
    ):
        raise CheckpointError(f"{path}: optimizer state does not match")
    return jax.tree.unflatten(treedef, [jnp.asarray(x) for x in saved])


def _stacked_params(
    ckpt: dict, path: Path, transform_fn: TransformFn | None
) -> tuple[nnx.State, nnx.State]:
    """A checkpoint's weights (members stacked) and statistics."""
    members = ensemble_from_checkpoint(ckpt, path, transform_fn)
    parts = [nnx.split(m, nnx.Param, Statistic) for m in members]
    params = parts[0][1]
    if len(parts) > 1:
        params = jax.tree.map(
            lambda *x: jnp.stack(x), *(p for _, p, _ in parts)
        )
    return params, parts[0][2]


def resume_state(
    state: TrainState,
    last: Path,
    config: dict,
    transform_fn: TransformFn | None,
) -> nnx.State:
    """Load ``last.pkl`` into ``state``; returns its statistics.

    The shuffles need no saved state: each epoch's is drawn from the seed
    and the epoch number, which ``last.pkl`` records. The best weights so
    far come back from ``best_model.pkl`` beside it when it holds the
    history's best epoch (what the run returns if no later epoch improves
    on them), and the epochs since the best from the history, so
    ``patience`` counts on.

    Raises:
        CheckpointError: if ``last.pkl`` or ``best_model.pkl`` was written
            with another configuration.
    """
    if not last.exists():
        raise CheckpointError(
            f"{last}: nothing to resume, the folder holds no last.pkl (a "
            "run writes it after each epoch); without resume=True a new run "
            "starts"
        )
    ckpt = read_checkpoint(last)
    check_resume(ckpt["config"], config, last)
    state.params, stats = _stacked_params(ckpt, last, transform_fn)
    state.opt_state = restore_optimizer(
        ckpt["optimizer"], state.opt_state, last
    )
    state.history = ckpt["history"]
    state.epoch = int(ckpt["epoch"])
    state.best_val = float(ckpt.get("best_val", math.inf))
    best_epoch = state.history.get("best_epoch")
    if best_epoch is None:
        return stats
    state.epochs_since_best = state.epoch - int(best_epoch)
    best_path = last.parent / "best_model.pkl"
    best = read_checkpoint(best_path) if best_path.exists() else {}
    # A run stopped between writing best_model.pkl and last.pkl left a best
    # of an epoch last.pkl does not know: that epoch runs again, gives the
    # same weights and saves them; until then the last weights stand in.
    if best.get("epoch") == best_epoch:
        check_resume(best["config"], config, best_path)
        state.best_params = _stacked_params(best, best_path, transform_fn)[0]
    return stats
