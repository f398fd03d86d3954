"""Setting a training run up: its arguments, network, configuration, trainer.

What :func:`~hydrax.dynamics_model_training.train.train_dynamics_model`
needs before the trainer runs: argument checks that name the parameter, the
network
(fresh, or starting from a trained one), where epoch lines go, the
configuration every checkpoint of the run records, and the trainer with its
optimizer and (resumed) state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from hydrax.dynamics_model_training.checkpoint import earlier_run
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.model import DynamicsNetwork, Statistic
from hydrax.dynamics_model_training.model_io import (
    ModelConfig,
    qualified_name,
    stacked_members,
)
from hydrax.dynamics_model_training.parallel import DataParallel
from hydrax.dynamics_model_training.resume import resume_state
from hydrax.dynamics_model_training.train_steps import StepSpec, make_optimizer
from hydrax.dynamics_model_training.trainer import (
    Trainer,
    TrainState,
)
from hydrax.dynamics_model_training.transforms import TransformFn
from hydrax.dynamics_model_training.warm_start import start_from
from hydrax.dynamics_model_training.windows import (
    directory_file_weights,
)
from hydrax.logs import (
    MANIFEST_IDENTITY,
    read_manifest,
)


def check_arguments(
    hyper: dict[str, Any],
    *,
    hidden_size: int,
    history_length: int,
    prediction_horizon: int,
    num_models: int,
    save_every: int = 1,
    task_name: str = "task",
) -> None:
    """ValueErrors naming the parameter."""
    sizes = {
        "hidden_size": hidden_size,
        "history_length": history_length,
        "prediction_horizon": prediction_horizon,
        "batch_size": hyper["batch_size"],
        "num_epochs": hyper["num_epochs"],
        "num_models": num_models,
    }
    for name, value in sizes.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | np.integer)
            or value < 1
        ):
            raise ValueError(
                f"{name} must be a positive integer, got {value!r}"
            )
    if not 0 < hyper["learning_rate"] < float("inf"):
        raise ValueError(
            f"learning_rate must be > 0 and finite, got "
            f"{hyper['learning_rate']}"
        )
    if not 0 <= hyper["weight_decay"] < float("inf"):
        raise ValueError(
            f"weight_decay must be >= 0 and finite, got {hyper['weight_decay']}"
        )
    seed = hyper["seed"]
    if isinstance(seed, bool) or not (
        isinstance(seed, int | np.integer) and seed >= 0
    ):
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if hyper["patience"] is not None and hyper["patience"] < 1:
        raise ValueError(f"patience must be >= 1, got {hyper['patience']}")
    if isinstance(save_every, bool) or not (
        isinstance(save_every, int | np.integer) and save_every >= 0
    ):
        raise ValueError(
            f"save_every must be an integer >= 0 (0: no model_epoch_<N>.pkl),"
            f" got {save_every!r}"
        )
    clip = hyper["grad_clip"]
    if clip is not None and not 0 <= clip < float("inf"):
        # A negative bound would flip every clipped gradient (uphill).
        raise ValueError(f"grad_clip must be >= 0 (0: no clipping), got {clip}")
    if (
        not isinstance(task_name, str)
        or task_name in ("", ".", "..")
        or any(sep in task_name for sep in ("/", "\\"))
    ):
        raise ValueError(
            "task_name names the checkpoint folder inside checkpoint_dir: "
            f"one folder name, not empty or a path, got {task_name!r}"
        )


def new_history() -> dict[str, Any]:
    """An empty training history."""
    return {
        "train_loss": [],
        "val_loss": [],
        "val_loss_per_step": [],
        "epoch_seconds": [],
        "learning_rate": [],
        "best_epoch": None,
        "best_val_loss": None,
    }


def epoch_logger(
    log: Callable[[str], None] | None, progress: bool
) -> Callable[[str], None]:
    """Where epoch lines go: ``log``, or above the bar (first process only)."""
    if jax.process_index() != 0:
        return lambda s: None
    return log or (lambda s: tqdm.write(s) if progress else print(s))


def new_network(
    dataset: DynamicsDataset,
    hidden_size: int,
    seed: int,
    transform_fn: TransformFn | None,
    mode: str,
    init_from: str | Path | DynamicsNetwork | None,
    delta: str = "state",
) -> DynamicsNetwork:
    """The network to train: seeded weights, the dataset's statistics.

    ``delta`` is what it predicts (``layout.DELTAS``): ``velocity`` makes
    the structured delta, integrated over the logs' dt. The statistics are
    the plain delta's either way (the velocity part's standardize Δqvel).
    With ``init_from`` (a network or a checkpoint path) its weights and
    statistics are copied in instead (transfer learning).
    """
    network = DynamicsNetwork(
        dataset.layout.with_delta(delta, dataset.dt),
        hidden_size=hidden_size,
        history_length=dataset.history_length,
        rngs=nnx.Rngs(seed),
        transform_fn=transform_fn,
        mode=mode,
    )
    network.set_statistics(dataset.statistics)
    return start_from(network, init_from, transform_fn)


def model_config(
    dataset: DynamicsDataset,
    network: DynamicsNetwork,
    prediction_horizon: int,
    task_name: str,
    hyperparameters: dict[str, Any],
    num_models: int = 1,
) -> ModelConfig:
    """The checkpoints' configuration of a network trained on a dataset."""
    manifest = dataset.manifest or {}
    identity = {k: manifest[k] for k in MANIFEST_IDENTITY if k in manifest}
    pooled = {
        m.model_sha256 for m in map(read_manifest, dataset.data_dirs) if m
    }
    if len(pooled - {None}) > 1:  # several model files: any of them plans
        identity["pooled_model_sha256"] = sorted(pooled - {None})
    keys, val = dataset.file_names, dataset.val_file_mask
    name = qualified_name(network.transform_fn)
    if name is not None and "<" in name:  # <lambda>, <locals>
        warnings.warn(
            f"transform_fn is recorded by its name, {name!r}, which another "
            "function can share (any lambda of the module, or of the "
            "function that made it): loading asks for a function of that "
            "name and cannot tell them apart; a def at a module's top level "
            "has a name of its own",
            stacklevel=3,
        )
    return ModelConfig(
        layout=network.layout,
        hidden_size=network.hidden_size,
        history_length=network.history_length,
        mode=network.mode,
        prediction_horizon=prediction_horizon,
        feature_dim=network.feature_dim,
        dt=dataset.dt,
        columns=tuple(dataset.columns),
        transform_fn=name,
        task_name=task_name,
        data_dirs=tuple(str(d) for d in dataset.data_dirs),
        manifest_identity=identity or None,
        train_files=tuple(k for k, v in zip(keys, val, strict=True) if not v),
        val_files=tuple(k for k, v in zip(keys, val, strict=True) if v),
        file_fingerprints=dict(zip(keys, dataset.fingerprints, strict=True)),
        hyperparameters=hyperparameters,
        num_models=num_models,
    )


def prepare_trainer(
    dataset: DynamicsDataset,
    network: DynamicsNetwork,
    config: ModelConfig,
    ckpt_dir: Path,
    *,
    resume: bool = False,
    progress: bool = False,
    say: Callable[[str], None] = lambda s: None,
    start_members: dict | None = None,
) -> tuple[Trainer, TrainState, nnx.GraphDef]:
    """The trainer of a run and its (resumed) state, placed on the devices.

    What ``train_dynamics_model`` fits with: the optimizer and schedule of
    ``config.hyperparameters``, an ensemble's stacked members, data
    parallelism over all devices (one device: the same code path), the
    per-directory sampling weights ``data_weights`` as per-file ones. An
    ensemble fine-tuned from an ensemble checkpoint starts from its members,
    ``start_members`` (``warm_start.members_to_start_from``). The benchmarks
    time its steps.

    Returns:
        The trainer, the state to train, and the network's graph (for
        ``nnx.merge`` with trained parameters and ``trainer.stats``).
    """
    hyper, num_models = config.hyperparameters, config.num_models
    dp = DataParallel()
    batch_size = dp.round_batch(hyper["batch_size"])
    if dp.num_devices > 1:
        say(
            f"data-parallel over {dp.num_devices} devices in "
            f"{jax.process_count()} process(es): batch {batch_size}"
        )
    graphdef, params, stats = nnx.split(network, nnx.Param, Statistic)
    if num_models > 1 and start_members is None:
        params = stacked_members(network, params, hyper["seed"], num_models)
    elif num_models > 1:  # fine-tuning an ensemble: each member's weights
        # (member 0's names and shapes were checked as new_network copied
        # them in; the members share them)
        params = jax.tree.map(lambda x: jnp.stack([x] * num_models), params)
        nnx.replace_by_pure_dict(
            params, jax.tree.map(jnp.asarray, start_members)
        )
    weights = hyper.get("data_weights")
    if weights is not None:
        weights = directory_file_weights(
            dataset.files, dataset.data_dirs, weights
        )
    counts = dataset.block_windows("train", weights)
    if weights is not None:
        say(
            f"data_weights {hyper['data_weights']}: {sum(counts)} training "
            "windows per epoch"
        )
    steps = sum(math.ceil(n / batch_size) for n in counts)
    tx, schedule = make_optimizer(
        hyper["learning_rate"],
        hyper["weight_decay"],
        steps * hyper["num_epochs"],
        hyper["lr_schedule"],
        hyper["grad_clip"],
    )
    init = jax.vmap(tx.init) if num_models > 1 else tx.init
    state = TrainState(params, init(params), new_history())
    config = config.to_dict()
    if resume:
        stats = resume_state(
            state, ckpt_dir / "last.pkl", config, network.transform_fn
        )
        say(f"resuming {ckpt_dir / 'last.pkl'} after epoch {state.epoch}")
    # Every argument is placed explicitly: jit keys its cache on placement,
    # so implicitly placed first arguments would compile the step twice (and
    # a resumed run would take the other executable first, changing the
    # losses in the last bits).
    state.params, state.opt_state, stats = dp.replicate(
        (state.params, state.opt_state, stats)
    )
    if state.best_params is not None:  # resumed
        state.best_params = dp.replicate(state.best_params)
    trainer = Trainer(
        dataset,
        StepSpec.create(graphdef, tx, dataset, dp),
        stats,
        schedule,
        dp,
        batch_size=batch_size,
        seed=hyper["seed"],
        config=config,
        ckpt_dir=ckpt_dir,
        progress=progress,
        say=say,
        num_models=num_models,
        file_weights=weights,
    )
    if not resume and dp.is_main:  # one writer in a multi-host run
        trainer.replaces = earlier_run(ckpt_dir)
    return trainer, state, graphdef
