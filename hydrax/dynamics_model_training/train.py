"""Train GRU dynamics models with the multi-step autoregressive loss.

Entry points: :func:`train_dynamics_model` (the seed's API) and the command
``python -m hydrax.dynamics_model_training.train --data-dir ... --task-name
...``. Checkpoints go to ``checkpoints/<task_name>/``: ``best_model.pkl``
(best validation loss), ``model_epoch_<N>.pkl`` (every ``save_every``
epochs) and ``last.pkl`` (every epoch, with the optimizer state, so that
``resume=True`` continues exactly).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from hydrax import ROOT
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
    write_checkpoint,
)
from hydrax.dynamics_model_training.data_loader import (
    MANIFEST_IDENTITY,
    DynamicsDataset,
    RowBlock,
    gather_windows,
)
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    Statistic,
    multi_step_errors,
)
from hydrax.dynamics_model_training.parallel import (
    DataParallel,
    initialize_distributed,
)
from hydrax.dynamics_model_training.transforms import StateLayout, TransformFn

CHECKPOINT_ROOT = ROOT / "dynamics_model_training" / "checkpoints"
"""Default checkpoint directory (``checkpoints/<task_name>/`` below it)."""

EVAL_BATCH = 512


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries a checkpoint depends on."""
    import flax
    import mujoco

    return {
        "hydrax": __import__("hydrax").__version__,
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "mujoco": mujoco.__version__,
        "python": sys.version.split()[0],
    }


def qualified_name(fn: Callable | None) -> str | None:
    """``module.qualname`` of a function, or None."""
    if fn is None:
        return None
    return f"{fn.__module__}.{fn.__qualname__}"


# --- networks from configs and checkpoints ---------------------------------


def build_network(
    config: dict, transform_fn: TransformFn | None = None, seed: int = 0
) -> DynamicsNetwork:
    """A freshly initialized network of a checkpoint's configuration."""
    layout = StateLayout.create(
        config["nq"],
        config["nv"],
        config["nu"],
        config["angle_indices"],
        config["coordinate_indices"],
        config.get("quat_indices"),
        config.get("heading_frame", False),
    )
    return DynamicsNetwork(
        layout,
        hidden_size=config["hidden_size"],
        history_length=config["history_length"],
        rngs=nnx.Rngs(seed),
        transform_fn=transform_fn,
        feature_dim=config.get("feature_dim"),
        mode=config.get("mode", "window"),
    )


def _install_params(network: DynamicsNetwork, params: dict, path: Any) -> None:  # noqa: ANN401
    """Copy a pure dict of arrays into the network's Params, checking shapes."""
    state = nnx.state(network, nnx.Param)
    expected = nnx.to_pure_dict(state)
    flat_e = dict(jax.tree_util.tree_flatten_with_path(expected)[0])
    flat_g = dict(jax.tree_util.tree_flatten_with_path(params)[0])
    if set(map(str, flat_e)) != set(map(str, flat_g)):
        raise CheckpointError(
            f"{path}: the parameters do not match this network "
            "(different architecture)"
        )
    by_name = {str(k): v for k, v in flat_g.items()}
    for k, v in flat_e.items():
        got = by_name[str(k)]
        if tuple(got.shape) != tuple(v.shape):
            raise CheckpointError(
                f"{path}: parameter {jax.tree_util.keystr(k)} has shape "
                f"{tuple(got.shape)}, the network expects {tuple(v.shape)}"
            )
    nnx.replace_by_pure_dict(state, jax.tree.map(jnp.asarray, params))
    nnx.update(network, state)


def network_from_checkpoint(
    ckpt: dict,
    path: Any,
    transform_fn: TransformFn | None = None,  # noqa: ANN401
) -> DynamicsNetwork:
    """Rebuild the network of a decoded checkpoint dict."""
    config = ckpt["config"]
    recorded = config.get("transform_fn")
    if recorded is not None and transform_fn is None:
        raise CheckpointError(
            f"{path}: the model was trained with transform_fn {recorded!r}; "
            "pass the same function: load_trained_model(path, "
            "transform_fn=...) (nothing is imported on the file's say-so)"
        )
    if transform_fn is not None and qualified_name(transform_fn) != recorded:
        raise CheckpointError(
            f"{path}: transform_fn {qualified_name(transform_fn)!r} given, "
            f"but the model was trained with {recorded!r}"
        )
    network = build_network(config, transform_fn)
    _install_params(network, ckpt["params"], path)
    network.set_statistics(ckpt["statistics"])
    return network


def load_trained_model(
    path: str | Path, transform_fn: TransformFn | None = None
) -> tuple[DynamicsNetwork, dict]:
    """Load a checkpoint: the network (statistics included) and its config.

    Loading never executes code from the file (see ``checkpoint.py``).

    Args:
        path: A ``.pkl`` written by training.
        transform_fn: The custom feature map the model was trained with,
            if any (it is recorded by name only and must be passed again).

    Returns:
        The network and the checkpoint's configuration dict (with its
        ``history`` under ``config["history"]``).
    """
    ckpt = read_checkpoint(path)
    network = network_from_checkpoint(ckpt, path, transform_fn)
    config = dict(ckpt["config"])
    config["history"] = ckpt.get("history", {})
    return network, config


# --- the training loop ------------------------------------------------


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


def _padded_batches(
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


def _check_args(**kw: Any) -> None:  # noqa: ANN401
    for name in (
        "hidden_size",
        "history_length",
        "prediction_horizon",
        "batch_size",
        "num_epochs",
    ):
        if not isinstance(kw[name], int | np.integer) or kw[name] < 1:
            raise ValueError(
                f"{name} must be a positive integer, got {kw[name]!r}"
            )
    if not kw["learning_rate"] > 0:
        raise ValueError(
            f"learning_rate must be > 0, got {kw['learning_rate']}"
        )
    if kw["weight_decay"] < 0:
        raise ValueError(f"weight_decay must be >= 0, got {kw['weight_decay']}")
    if kw["patience"] is not None and kw["patience"] < 1:
        raise ValueError(f"patience must be >= 1, got {kw['patience']}")


def train_dynamics_model(
    data_dir: str | Path | Sequence[str | Path],
    task_name: str,
    coordinate_indices: Sequence[int] | None = None,
    angle_indices: Sequence[int] | None = None,
    hidden_size: int = 128,
    history_length: int = 11,
    prediction_horizon: int = 9,
    batch_size: int = 32,
    num_epochs: int = 100,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-5,
    seed: int = 42,
    *,
    checkpoint_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    grad_clip: float | None = 1.0,
    lr_schedule: str = "cosine",
    patience: int | None = None,
    save_every: int = 10,
    pad_start: bool = True,
    transform_fn: TransformFn | None = None,
    mode: str = "window",
    resume: bool = False,
    init_from: str | Path | DynamicsNetwork | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    max_rows_in_memory: int | None = None,
    quat_indices: Sequence[int] | None = None,
    heading_frame: bool = False,
) -> tuple[DynamicsNetwork, dict]:
    """Train a GRU dynamics model on a directory of CSV logs.

    Args:
        data_dir: Directory of CSV logs (or several, pooled).
        task_name: Names the checkpoint folder ``<checkpoint_dir>/<task>``.
        coordinate_indices: qpos indices of Cartesian coordinates (from the
            data's manifest.json when None).
        angle_indices: qpos indices of angles (manifest when None).
        hidden_size: GRU hidden size.
        history_length: Rows per input window (H).
        prediction_horizon: Autoregressive steps in the loss (K).
        batch_size: Windows per step.
        num_epochs: Passes over the training windows.
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        seed: Seeds the split, the initial weights and the shuffles.
        checkpoint_dir: Root of checkpoint folders (default: the package's
            ``dynamics_model_training/checkpoints``).
        val_fraction: Share of files held out for validation.
        grad_clip: Global-norm gradient clipping (None or 0 switches it off).
        lr_schedule: ``cosine`` (warmup then cosine decay) or ``constant``.
        patience: Stop after this many epochs without a better validation
            loss (None: never).
        save_every: Write ``model_epoch_<N>.pkl`` every this many epochs.
        pad_start: Train on start-of-file windows padded as at run time.
        transform_fn: Custom qpos feature map (see README).
        mode: ``window`` (the seed's model: the GRU re-runs over the window
            at every step) or ``recurrent`` (the hidden state is carried;
            much cheaper to train and to plan with).
        resume: Continue from ``last.pkl`` in the checkpoint folder.
        init_from: A checkpoint path or network to start from (transfer
            learning); its statistics are kept.
        progress: Show a progress bar.
        log: Where epoch lines go (default: print above the bar).
        max_rows_in_memory: Stream the data in blocks of whole files of at
            most this many rows (for datasets larger than memory); windows
            are shuffled within a block and the blocks' order per epoch.
            None keeps every row in memory.
        quat_indices: First qpos index of each free/ball joint's quaternion
            (manifest when None).
        heading_frame: Express free joints in their heading (yaw) frame, so
            the model does not depend on where the robot faces.

    Returns:
        The best network (by validation loss) and the history: per-epoch
        ``train_loss``, ``val_loss``, ``epoch_seconds``, ``learning_rate``,
        plus ``best_epoch``, ``best_val_loss``, ``samples_per_second``.
    """
    _check_args(
        hidden_size=hidden_size,
        history_length=history_length,
        prediction_horizon=prediction_horizon,
        batch_size=batch_size,
        num_epochs=num_epochs,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        patience=patience,
    )
    progress = progress and jax.process_index() == 0
    main_process = jax.process_index() == 0
    say = log or (lambda s: tqdm.write(s) if progress else print(s))
    if not main_process:
        say = lambda s: None  # noqa: E731
    ckpt_dir = Path(checkpoint_dir or CHECKPOINT_ROOT) / task_name
    dataset = DynamicsDataset(
        data_dir,
        coordinate_indices=coordinate_indices,
        angle_indices=angle_indices,
        history_length=history_length,
        prediction_horizon=prediction_horizon,
        transform_fn=transform_fn,
        val_fraction=val_fraction,
        seed=seed,
        pad_start=pad_start,
        verbose=False,
        max_rows_in_memory=max_rows_in_memory,
        quat_indices=quat_indices,
        heading_frame=heading_frame,
    )
    say(dataset.summary())
    hyper = {
        "batch_size": batch_size,
        "num_epochs": num_epochs,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "seed": seed,
        "grad_clip": grad_clip,
        "lr_schedule": lr_schedule,
        "val_fraction": val_fraction,
        "patience": patience,
        "pad_start": pad_start,
        "max_rows_in_memory": max_rows_in_memory,
    }
    network = DynamicsNetwork(
        dataset.layout,
        hidden_size=hidden_size,
        history_length=history_length,
        rngs=nnx.Rngs(seed),
        transform_fn=transform_fn,
        mode=mode,
    )
    network.set_statistics(dataset.statistics)
    if init_from is not None:
        source = (
            init_from
            if isinstance(init_from, DynamicsNetwork)
            else load_trained_model(init_from, transform_fn)[0]
        )
        _install_params(
            network, nnx.to_pure_dict(nnx.state(source, nnx.Param)), init_from
        )
        network.set_statistics(
            {
                k: getattr(source, k)[...]
                for k in ("in_mean", "in_std", "out_mean", "out_std")
            }
        )
    manifest = dataset.manifest or {}
    config = {
        "model": "gru",
        "mode": mode,
        "nq": dataset.layout.nq,
        "nv": dataset.layout.nv,
        "nu": dataset.layout.nu,
        "angle_indices": list(dataset.layout.angle_indices),
        "coordinate_indices": list(dataset.layout.coordinate_indices),
        "quat_indices": list(dataset.layout.quat_indices),
        "heading_frame": dataset.layout.heading_frame,
        "hidden_size": hidden_size,
        "history_length": history_length,
        "prediction_horizon": prediction_horizon,
        "feature_dim": network.feature_dim,
        "state_dim": dataset.layout.state_dim,
        "dt": dataset.dt,
        "columns": dataset.columns,
        "transform_fn": qualified_name(transform_fn),
        "task_name": task_name,
        "data_dirs": [str(d) for d in dataset.data_dirs],
        "manifest_identity": {
            k: manifest[k] for k in MANIFEST_IDENTITY if k in manifest
        }
        or None,
        "train_files": [p.name for p in dataset.train_files],
        "val_files": [p.name for p in dataset.val_files],
        "hyperparameters": hyper,
    }

    graphdef, params, stats = nnx.split(network, nnx.Param, Statistic)
    dp = DataParallel()
    batch_size = dp.round_batch(batch_size)
    train_windows = dataset.block_windows("train")
    num_train = sum(train_windows)
    steps_per_epoch = sum(math.ceil(n / batch_size) for n in train_windows)
    tx, schedule_lr = make_optimizer(
        learning_rate,
        weight_decay,
        steps_per_epoch * num_epochs,
        lr_schedule,
        grad_clip,
    )
    opt_state = tx.init(params)
    history: dict[str, Any] = {
        "train_loss": [],
        "val_loss": [],
        "val_loss_per_step": [],
        "epoch_seconds": [],
        "learning_rate": [],
        "best_epoch": None,
        "best_val_loss": None,
    }
    start_epoch = 0
    best_val = math.inf
    key = jax.random.key(seed)

    if resume:
        last = ckpt_dir / "last.pkl"
        ckpt = read_checkpoint(last)
        _check_resume(ckpt["config"], config, last)
        restored = network_from_checkpoint(ckpt, last, transform_fn)
        graphdef, params, stats = nnx.split(restored, nnx.Param, Statistic)
        leaves, treedef = jax.tree.flatten(opt_state)
        saved = ckpt["optimizer"]
        if len(saved) != len(leaves):
            raise CheckpointError(f"{last}: optimizer state does not match")
        opt_state = jax.tree.unflatten(treedef, [jnp.asarray(x) for x in saved])
        history = ckpt["history"]
        start_epoch = int(ckpt["epoch"])
        best_val = float(ckpt.get("best_val", math.inf))
        say(f"resuming {last} after epoch {start_epoch}")

    # Data parallelism over all devices (one device: the same code path).
    # Every argument is placed explicitly: jit keys its cache on placement,
    # so implicitly placed first arguments would compile the step twice (and
    # a resumed run would take the other executable first, changing the
    # losses in the last bits).
    params, opt_state, stats = dp.replicate((params, opt_state, stats))
    offsets = jnp.asarray(dataset.window_offsets())
    ns = dataset.layout.nq + dataset.layout.nv
    placed: list = [None, None]  # the block on the device, and its array

    def block_data(block: RowBlock) -> jax.Array:
        # Each block is placed once, when its first batch comes: in memory
        # the one block once per run, streamed each block once per epoch.
        if placed[0] is not block:
            placed[:] = [block, dp.replicate(block.data)]
        return placed[1]

    def batch_rows(
        data: jax.Array, rows: jax.Array, starts: jax.Array
    ) -> jax.Array:
        return gather_windows(data, rows, starts, offsets, ns)

    def loss_fn(
        params: nnx.State, rows: jax.Array, weights: jax.Array
    ) -> jax.Array:
        net = nnx.merge(graphdef, params, stats)
        per_sample = jnp.mean(multi_step_errors(net, rows), axis=-1)
        return jnp.sum(weights * per_sample) / jnp.maximum(
            jnp.sum(weights), 1.0
        )

    @partial(jax.jit, out_shardings=dp.replicated)
    def train_step(params, opt_state, data, rows, starts, weights):  # noqa: ANN001, ANN202
        batch = batch_rows(data, rows, starts)
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, weights)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @partial(jax.jit, out_shardings=dp.replicated)
    def eval_step(params, data, rows, starts, weights):  # noqa: ANN001, ANN202
        net = nnx.merge(graphdef, params, stats)
        errs = multi_step_errors(net, batch_rows(data, rows, starts))
        return jnp.sum(weights[:, None] * errs, axis=0)

    def step_args(
        block: RowBlock, starts: np.ndarray, part: np.ndarray, w: np.ndarray
    ) -> tuple:
        return (
            block_data(block),
            dp.shard(block.example_rows[part]),
            dp.shard(starts[part]),
            dp.shard(w),
        )

    def evaluate(params: nnx.State) -> np.ndarray:
        total, count = np.zeros(prediction_horizon), 0
        for block, ids in dataset.blocks("val"):
            starts = block.window_starts()
            for part, w in _padded_batches(ids, dp.round_batch(EVAL_BATCH)):
                total += dp.fetch(
                    eval_step(params, *step_args(block, starts, part, w))
                )
            count += len(ids)
        return total / max(count, 1)

    def epoch_batches(
        epoch: int,
    ) -> Iterator[tuple[RowBlock, np.ndarray, np.ndarray, np.ndarray]]:
        # The blocks in a per-epoch order; the windows shuffled in each.
        epoch_key = jax.random.fold_in(key, epoch)
        order = np.random.default_rng([seed, epoch]).permutation(
            dataset.num_blocks("train")
        )
        for b, (block, ids) in enumerate(dataset.blocks("train", order)):
            if dataset.streaming:
                # numpy: a jitted permutation compiles per block length.
                perm = np.random.default_rng([seed, epoch, b]).permutation(
                    len(ids)
                )
            else:
                perm = np.asarray(jax.random.permutation(epoch_key, len(ids)))
            starts = block.window_starts()
            for part, w in _padded_batches(ids[perm], batch_size):
                yield block, starts, part, w

    def _write(path: Path, record: dict) -> None:
        if dp.is_main:  # one writer in a multi-host run
            write_checkpoint(path, record)

    def payload(kind: str, epoch: int, params: nnx.State) -> dict:
        return {
            "kind": kind,
            "epoch": epoch,
            "library_versions": library_versions(),
            "config": config,
            "params": dp.fetch(nnx.to_pure_dict(params)),
            "statistics": dp.fetch(nnx.to_pure_dict(stats)),
            "history": history,
        }

    best_params = params
    epochs_since_best = 0
    have_val = dataset.num_windows["val"] > 0
    step = start_epoch * steps_per_epoch
    t_start = time.perf_counter()
    samples_done = 0
    try:
        for epoch in range(start_epoch, num_epochs):
            t0 = time.perf_counter()
            losses = []
            # Closed on any exit, so a streamed read-ahead stops with it.
            with contextlib.closing(epoch_batches(epoch)) as batches:
                bar = tqdm(
                    batches,
                    total=steps_per_epoch,
                    desc=f"epoch {epoch + 1}/{num_epochs}",
                    leave=False,
                    disable=not progress,
                    unit="batch",
                )
                for i, (block, starts, part, w) in enumerate(bar):
                    params, opt_state, loss = train_step(
                        params, opt_state, *step_args(block, starts, part, w)
                    )
                    losses.append((loss, float(w.sum())))
                    if i > 0:  # check the previous step while this one runs
                        _check_finite(
                            dp.fetch(losses[-2][0]), epoch, i - 1, ckpt_dir
                        )
                    if progress and i % 20 == 0:
                        bar.set_postfix(loss=f"{float(dp.fetch(loss)):.4g}")
                    step += 1
            _check_finite(
                dp.fetch(losses[-1][0]), epoch, len(losses) - 1, ckpt_dir
            )
            train_loss = float(
                sum(float(dp.fetch(x)) * n for x, n in losses) / num_train
            )
            samples_done += num_train
            per_step = evaluate(params) if have_val else None
            val_loss = float(per_step.mean()) if have_val else train_loss
            if not math.isfinite(val_loss):
                raise TrainingDiverged(
                    f"the validation loss became {val_loss} after epoch "
                    f"{epoch + 1}; the checkpoints in {ckpt_dir} hold the "
                    "last good model. Try a lower learning_rate."
                )
            seconds = time.perf_counter() - t0
            history["train_loss"].append(train_loss)
            history["val_loss"].append(val_loss if have_val else None)
            history["val_loss_per_step"] = (
                per_step.tolist() if have_val else history["val_loss_per_step"]
            )
            history["epoch_seconds"].append(seconds)
            history["learning_rate"].append(float(schedule_lr(step)))
            improved = val_loss < best_val
            if improved:
                best_val = val_loss
                best_params = params
                epochs_since_best = 0
                history["best_epoch"] = epoch + 1
                history["best_val_loss"] = val_loss
                _write(
                    ckpt_dir / "best_model.pkl",
                    payload("best", epoch + 1, params),
                )
            else:
                epochs_since_best += 1
            if save_every and (epoch + 1) % save_every == 0:
                _write(
                    ckpt_dir / f"model_epoch_{epoch + 1}.pkl",
                    payload("epoch", epoch + 1, params),
                )
            last = payload("last", epoch + 1, params)
            last["optimizer"] = dp.fetch(jax.tree.leaves(opt_state))
            last["best_val"] = best_val
            last["rng"] = jax.random.key_data(key)
            _write(ckpt_dir / "last.pkl", last)
            val_text = f"val {val_loss:.5g}" if have_val else "val -"
            say(
                f"epoch {epoch + 1:3d}/{num_epochs}  train {train_loss:.5g}  "
                f"{val_text}  {seconds:5.1f} s"
                + ("  *best*" if improved else "")
            )
            if patience is not None and epochs_since_best >= patience:
                say(
                    "early stop: no better validation loss in "
                    f"{patience} epochs"
                )
                break
    except KeyboardInterrupt:
        say(
            f"interrupted; checkpoints in {ckpt_dir} are complete "
            "(continue with resume=True / --resume)"
        )
        raise
    elapsed = time.perf_counter() - t_start
    history["samples_per_second"] = samples_done / max(elapsed, 1e-9)
    history["checkpoint_dir"] = str(ckpt_dir)
    network = nnx.merge(graphdef, best_params, stats)
    return network, history


def _check_finite(
    loss: jax.Array, epoch: int, step: int, ckpt_dir: Path
) -> None:
    value = float(loss)
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"the training loss became {value} at epoch {epoch + 1}, step "
            f"{step + 1}; the checkpoints in {ckpt_dir} hold the last good "
            "model. Try a lower learning_rate, keep grad_clip on, or check "
            "the data for extreme values."
        )


_RESUME_KEYS = (
    "mode",
    "nq",
    "nv",
    "nu",
    "angle_indices",
    "coordinate_indices",
    "quat_indices",
    "heading_frame",
    "hidden_size",
    "history_length",
    "prediction_horizon",
    "columns",
    "train_files",
    "val_files",
    "hyperparameters",
)


def _check_resume(saved: dict, current: dict, path: Path) -> None:
    for key in _RESUME_KEYS:
        old, new = saved.get(key), current.get(key)
        if key == "quat_indices":  # absent from older checkpoints
            old, new = old or [], new or []
        if key == "heading_frame":
            old, new = bool(old), bool(new)
        if isinstance(old, dict) and isinstance(new, dict):
            # An option added since the checkpoint was written counts as
            # its default, None.
            old = {k: old.get(k) for k in new} | old
        if old != new:
            raise CheckpointError(
                f"{path}: cannot resume, {key} differs (checkpoint "
                f"{old!r}, now {new!r})"
            )


# --- command line -----------------------------------------------------


def _int_list(text: str) -> list[int]:
    """Parse ``"1,2"`` (or ``""``) into a list of ints."""
    text = text.strip()
    if not text:
        return []
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The hyperparameter flags shared by the training commands."""
    g = parser.add_argument_group("model and training")
    g.add_argument(
        "--mode",
        choices=("window", "recurrent"),
        default="window",
        help="window: the seed's GRU over the window at every step; "
        "recurrent: carry the hidden state (faster to train and plan)",
    )
    g.add_argument("--hidden-size", type=int, default=128)
    g.add_argument("--history-length", type=int, default=11)
    g.add_argument("--prediction-horizon", type=int, default=9)
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--epochs", type=int, default=100, dest="num_epochs")
    g.add_argument("--learning-rate", type=float, default=1e-3)
    g.add_argument("--weight-decay", type=float, default=1e-5)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--val-fraction", type=float, default=0.2)
    g.add_argument(
        "--grad-clip",
        type=float,
        default=1.0,
        help="global-norm gradient clipping; 0 switches it off",
    )
    g.add_argument(
        "--lr-schedule", choices=("cosine", "constant"), default="cosine"
    )
    g.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early stopping: epochs without a better validation loss",
    )
    g.add_argument("--save-every", type=int, default=10)
    g.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=None,
        help=f"root of checkpoint folders (default {CHECKPOINT_ROOT})",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue from last.pkl in the checkpoint folder",
    )
    g.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start from a trained checkpoint (transfer learning)",
    )
    g.add_argument(
        "--max-rows-in-memory",
        type=int,
        default=None,
        help="stream the logs in blocks of whole files of at most this many "
        "rows, for datasets larger than memory (default: all in memory)",
    )
    g.add_argument("--no-progress", action="store_true")
    d = parser.add_argument_group(
        "multi-host data parallelism (jax.distributed); all local devices "
        "are always used"
    )
    d.add_argument("--coordinator-address", default=None, help="host:port")
    d.add_argument("--num-processes", type=int, default=None)
    d.add_argument("--process-id", type=int, default=None)


def training_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``train_dynamics_model`` keyword arguments from parsed flags."""
    return {
        "mode": args.mode,
        "hidden_size": args.hidden_size,
        "history_length": args.history_length,
        "prediction_horizon": args.prediction_horizon,
        "batch_size": args.batch_size,
        "num_epochs": args.num_epochs,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "seed": args.seed,
        "val_fraction": args.val_fraction,
        "grad_clip": args.grad_clip or None,
        "lr_schedule": args.lr_schedule,
        "patience": args.patience,
        "save_every": args.save_every,
        "checkpoint_dir": args.checkpoint_dir,
        "resume": args.resume,
        "init_from": args.init_from,
        "progress": not args.no_progress,
        "max_rows_in_memory": args.max_rows_in_memory,
    }


def run_training_cli(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    **kwargs: Any,  # noqa: ANN401
) -> int:
    """Run training from parsed flags; clear one-line errors, exit codes."""
    try:
        initialize_distributed(
            args.coordinator_address, args.num_processes, args.process_id
        )
        _, history = train_dynamics_model(**kwargs, **training_kwargs(args))
    except (ValueError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("training interrupted", file=sys.stderr)
        return 130
    folder = Path(history["checkpoint_dir"])
    print(
        f"best validation loss {history['best_val_loss']} at epoch "
        f"{history['best_epoch']}; checkpoints in {folder} "
        f"(best_model.pkl, last.pkl)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hydrax.dynamics_model_training.train``."""
    parser = argparse.ArgumentParser(
        prog="python -m hydrax.dynamics_model_training.train",
        description=(
            "Train a GRU dynamics model on a directory of CSV trajectory "
            "logs. Angle and coordinate indices come from the directory's "
            "manifest.json unless given."
        ),
    )
    parser.add_argument("--data-dir", type=Path, required=True, nargs="+")
    parser.add_argument(
        "--task-name",
        required=True,
        help="names the checkpoint folder <checkpoint-dir>/<task-name>",
    )
    parser.add_argument(
        "--angle-indices",
        type=_int_list,
        default=None,
        help='qpos indices of angles, e.g. "1,2"',
    )
    parser.add_argument(
        "--coordinate-indices",
        type=_int_list,
        default=None,
        help='qpos indices of Cartesian coordinates, e.g. "0"',
    )
    parser.add_argument(
        "--quat-indices",
        type=_int_list,
        default=None,
        help='first qpos of each free/ball joint quaternion, e.g. "3"',
    )
    parser.add_argument(
        "--heading-frame",
        action="store_true",
        help="free joints in their heading (yaw) frame",
    )
    add_training_arguments(parser)
    args = parser.parse_args(argv)
    data_dir = args.data_dir[0] if len(args.data_dir) == 1 else args.data_dir
    return run_training_cli(
        parser,
        args,
        data_dir=data_dir,
        task_name=args.task_name,
        angle_indices=args.angle_indices,
        coordinate_indices=args.coordinate_indices,
        quat_indices=args.quat_indices,
        heading_frame=args.heading_frame,
    )


if __name__ == "__main__":
    sys.exit(main())
