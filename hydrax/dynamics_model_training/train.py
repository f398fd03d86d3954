"""Train GRU dynamics models with the multi-step autoregressive loss.

Entry points: :func:`train_dynamics_model` (the seed's API) and the command
``python -m hydrax.dynamics_model_training.train --data-dir ... --task-name
...`` (``hydrax-train``). Checkpoints go to ``checkpoints/<task_name>/``:
``best_model.pkl`` (best validation loss), ``model_epoch_<N>.pkl`` (every
``save_every`` epochs) and ``last.pkl`` (every epoch, with the optimizer
state, so that ``resume=True`` continues exactly).

This module sets a run up (data, network, configuration, resume) and hands
it to ``trainer.Trainer``; loading checkpoints is ``model_io``'s job and
the flags are ``training_cli``'s. The names once defined here are
re-exported.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from hydrax.dynamics_model_training.auto_horizon import (
    resolve_prediction_horizon,
)
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
)
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.model_io import (
    CHECKPOINT_ROOT,
    ModelConfig,
    build_network,
    library_versions,
    load_ensemble,
    load_trained_model,
    network_from_checkpoint,
    qualified_name,
)
from hydrax.dynamics_model_training.parallel import initialize_distributed
from hydrax.dynamics_model_training.resume import (
    check_resume as _check_resume,  # noqa: F401 (re-exported for tests)
)
from hydrax.dynamics_model_training.train_steps import make_optimizer
from hydrax.dynamics_model_training.trainer import (
    EVAL_BATCH,
    TrainingDiverged,
    TrainingInterrupted,
)
from hydrax.dynamics_model_training.training_cli import (
    add_training_arguments,
    train_parser,
    training_kwargs,
)
from hydrax.dynamics_model_training.training_setup import (
    check_arguments,
    epoch_logger,
    model_config,
    new_network,
    prepare_trainer,
)
from hydrax.dynamics_model_training.transforms import TransformFn
from hydrax.dynamics_model_training.warm_start import (
    check_not_own_folder,
    members_to_start_from,
)
from hydrax.dynamics_model_training.windows import directory_file_weights
from hydrax.logs.split import check_distinct
from hydrax.utils import (
    command_error,
    command_warnings,
    in_flags,
    interrupted_exit,
)

__all__ = [
    "CHECKPOINT_ROOT",
    "EVAL_BATCH",
    "ModelConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "add_training_arguments",
    "build_network",
    "library_versions",
    "load_ensemble",
    "load_trained_model",
    "main",
    "make_optimizer",
    "network_from_checkpoint",
    "prepare_trainer",
    "qualified_name",
    "run_training_cli",
    "train_dynamics_model",
    "training_kwargs",
]


def train_dynamics_model(
    data_dir: str | Path | Sequence[str | Path],
    task_name: str,
    coordinate_indices: Sequence[int] | None = None,
    angle_indices: Sequence[int] | None = None,
    hidden_size: int = 128,
    history_length: int = 11,
    prediction_horizon: int | str = 9,
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
    num_models: int = 1,
    delta: str = "state",
    data_weights: Sequence[int] | None = None,
    val_files: Sequence[str] | None = None,
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
        prediction_horizon: Autoregressive steps in the loss (K);
            ``"auto"``: the planning horizon of ``task_name``'s default
            controller in model steps (9 when the task is not built in).
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
        save_every: Write ``model_epoch_<N>.pkl`` every this many epochs (0:
            never).
        pad_start: Train on start-of-file windows padded as at run time.
        transform_fn: Custom qpos feature map (see README).
        mode: ``window`` (the seed's model: the GRU re-runs over the window
            at every step) or ``recurrent`` (the hidden state is carried;
            much cheaper to train and to plan with).
        resume: Continue from ``last.pkl`` in the checkpoint folder.
        init_from: A checkpoint path or network to start from (transfer
            learning); its statistics are kept. An ensemble
            (``num_models > 1``) starts from an ensemble checkpoint of as
            many members, member by member.
        progress: Show a progress bar.
        log: Where epoch lines go (default: print above the bar).
        max_rows_in_memory: Stream the data in blocks of whole files of at
            most this many rows (for datasets larger than memory); windows
            are shuffled within a block and the blocks' order per epoch.
            None keeps every row in memory.
        quat_indices: First qpos index of each free/ball joint's quaternion
            (from the manifest when None).
        heading_frame: Express free joints in their heading (yaw) frame, so
            the model does not depend on where the robot faces.
        num_models: Train an ensemble of this many members at once (one
            vmapped step): member m starts from the weights of seed
            ``seed + m`` and draws its own shuffle; the split and the
            standardization statistics are shared. All are saved in one
            checkpoint; the best epoch is the one of the best mean
            validation loss.
        delta: What the network predicts: ``state`` (the whole delta of
            the next state) or ``velocity`` (the structured delta: only
            Δqvel, the positions integrated from the new velocity as
            MuJoCo's semi-implicit Euler step does; see README).
        data_weights: One positive integer per data directory: an epoch
            takes each training window of a directory's files that many
            times (None: once each; validation is never weighted).
        val_files: Keys (``hydrax.logs.log_keys``: file names, or
            ``<directory>/<file>`` where names repeat) of the files to
            validate on, instead of a seeded ``val_fraction`` of them
            (``[]``: no validation). A key names every file whose path ends
            with it, so a bare name names that file in every directory;
            keys that name no file are an error.
            ``hydrax.simulation.fine_tune.carried_split`` carries a
            checkpoint's split over to grown data.

    Returns:
        The best network (by validation loss; an ensemble's member 0) and
        the history: per-epoch ``train_loss``, ``val_loss`` (an ensemble's:
        the members' mean, each member's in ``train_loss_members`` and
        ``val_loss_members``), ``epoch_seconds``, ``learning_rate``, plus
        ``best_epoch``, ``best_val_loss``, ``val_loss_per_step`` (the last
        epoch's, per prediction step), ``samples_per_second`` and
        ``checkpoint_dir``.
    """
    # Long for its docstring (the seed's API, every argument documented);
    # the work is in check_arguments, new_network, model_config and _fit.
    progress = progress and jax.process_index() == 0
    say = epoch_logger(log, progress)
    dirs = [data_dir] if isinstance(data_dir, str | Path) else list(data_dir)
    prediction_horizon, why = resolve_prediction_horizon(
        prediction_horizon, task_name, [Path(d) for d in dirs]
    )
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
    if data_weights is not None:
        directory_file_weights([], dirs, data_weights)  # checks them
        if any(w != 1 for w in data_weights):
            hyper["data_weights"] = [int(w) for w in data_weights]
    check_arguments(
        hyper,
        hidden_size=hidden_size,
        history_length=history_length,
        prediction_horizon=prediction_horizon,
        num_models=num_models,
        save_every=save_every,
        task_name=task_name,
    )
    check_not_own_folder(
        init_from, Path(checkpoint_dir or CHECKPOINT_ROOT) / task_name
    )
    start_members = members_to_start_from(init_from, num_models)
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
        val_files=val_files,
        verbose=False,
        max_rows_in_memory=max_rows_in_memory,
        quat_indices=quat_indices,
        heading_frame=heading_frame,
    )
    check_distinct(dataset.files, dataset.fingerprints)  # no leak by copy
    if why:  # once the logs are known to be readable
        say(why)
    say(dataset.summary())
    network = new_network(
        dataset, hidden_size, seed, transform_fn, mode, init_from, delta
    )
    if num_models > 1:
        say(
            f"ensemble of {num_models} members, trained side by side in one "
            "vmapped step; the losses below are the members' mean"
        )
    config = model_config(
        dataset, network, prediction_horizon, task_name, hyper, num_models
    )
    return _fit(
        dataset,
        network,
        config,
        Path(checkpoint_dir or CHECKPOINT_ROOT) / task_name,
        resume=resume,
        save_every=save_every,
        progress=progress,
        say=say,
        start_members=start_members,
    )


def _fit(
    dataset: DynamicsDataset,
    network: DynamicsNetwork,
    config: ModelConfig,
    ckpt_dir: Path,
    *,
    resume: bool,
    save_every: int,
    progress: bool,
    say: Callable[[str], None],
    start_members: dict | None = None,
) -> tuple[DynamicsNetwork, dict]:
    """Run the trainer; the best network (member 0) and the history."""
    trainer, state, graphdef = prepare_trainer(
        dataset,
        network,
        config,
        ckpt_dir,
        resume=resume,
        progress=progress,
        say=say,
        start_members=start_members,
    )
    hyper = config.hyperparameters
    state = trainer.fit(
        state, hyper["num_epochs"], hyper["patience"], save_every
    )
    history = state.history
    history["samples_per_second"] = trainer.samples_per_second
    history["checkpoint_dir"] = str(ckpt_dir)
    best = state.best_params
    if config.num_models > 1:
        best = jax.tree.map(lambda x: x[0], best)
    return nnx.merge(graphdef, best, trainer.stats), history


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
        with command_warnings(parser):
            _, history = train_dynamics_model(**kwargs, **training_kwargs(args))
    except (ValueError, CheckpointError, TrainingDiverged, OSError) as e:
        return command_error(parser, e)
    except KeyboardInterrupt as stop:  # the trainer's says where it stood
        said = in_flags(str(stop), parser) or "training interrupted"
        print(f"{parser.prog}: {said}", file=sys.stderr)
        return interrupted_exit()
    folder = Path(history["checkpoint_dir"])
    where = (
        f"checkpoints in {folder} (best_model.pkl, last.pkl)"
        if jax.process_index() == 0
        else f"process 0 writes the checkpoints (in {folder} on its host)"
    )
    best = history["best_val_loss"]
    loss = (  # without validation files the best model is the training's
        "validation loss"
        if any(v is not None for v in history["val_loss"])
        else "training loss (no validation files)"
    )
    print(
        f"best {loss} {'-' if best is None else f'{best:.6g}'} at "
        f"epoch {history['best_epoch']}; {where}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hydrax.dynamics_model_training.train`` (``hydrax-train``)."""
    parser = train_parser()
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
