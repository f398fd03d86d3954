"""Setting a training run up: its arguments, network and configuration.

What :func:`~hydrax.dynamics_model_training.train.train_dynamics_model`
needs before the trainer runs: argument checks that name the parameter, the
network (fresh, or starting from a trained one), where epoch lines go, and
the configuration every checkpoint of the run records.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.model_io import (
    ModelConfig,
    install_params,
    load_trained_model,
    network_statistics,
    qualified_name,
)
from hydrax.dynamics_model_training.transforms import TransformFn
from hydrax.logs import MANIFEST_IDENTITY


def check_arguments(
    hyper: dict[str, Any],
    *,
    hidden_size: int,
    history_length: int,
    prediction_horizon: int,
    num_models: int,
    init_from: object,
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
    if not hyper["learning_rate"] > 0:
        raise ValueError(
            f"learning_rate must be > 0, got {hyper['learning_rate']}"
        )
    if hyper["weight_decay"] < 0:
        raise ValueError(
            f"weight_decay must be >= 0, got {hyper['weight_decay']}"
        )
    if hyper["patience"] is not None and hyper["patience"] < 1:
        raise ValueError(f"patience must be >= 1, got {hyper['patience']}")
    if num_models > 1 and init_from is not None:
        raise ValueError("init_from is not supported with num_models > 1")


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
    if init_from is None:
        return network
    source = (
        init_from
        if isinstance(init_from, DynamicsNetwork)
        else load_trained_model(init_from, transform_fn)[0]
    )
    params = nnx.to_pure_dict(nnx.state(source, nnx.Param))
    install_params(network, params, init_from)
    network.set_statistics(network_statistics(source))
    return network


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
    return ModelConfig(
        layout=network.layout,
        hidden_size=network.hidden_size,
        history_length=network.history_length,
        mode=network.mode,
        prediction_horizon=prediction_horizon,
        feature_dim=network.feature_dim,
        dt=dataset.dt,
        columns=tuple(dataset.columns),
        transform_fn=qualified_name(network.transform_fn),
        task_name=task_name,
        data_dirs=tuple(str(d) for d in dataset.data_dirs),
        manifest_identity=identity or None,
        train_files=tuple(p.name for p in dataset.train_files),
        val_files=tuple(p.name for p in dataset.val_files),
        hyperparameters=hyperparameters,
        num_models=num_models,
    )
