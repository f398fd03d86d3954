"""Checkpoint contents: the model's configuration and the network rebuilt.

A checkpoint (see ``checkpoint.py`` for the file codec) holds plain data:
``config`` (a :class:`ModelConfig` as a dict), ``params`` and
``statistics`` (pure dicts of arrays), ``history`` and, for ``last.pkl``,
the optimizer state. Loading rebuilds the network from the configuration
and installs the arrays into it; nothing in the file is executed.

An ensemble's checkpoint (``config["num_models"] > 1``) is the same record
with every parameter stacked along a leading member axis and one set of
statistics (the members share them); :func:`ensemble_from_checkpoint`
rebuilds its members. The
planner, evaluation and training all load models through this module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from hydrax import ROOT
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.model import DynamicsNetwork, Mode
from hydrax.dynamics_model_training.transforms import StateLayout, TransformFn

CHECKPOINT_ROOT = ROOT / "dynamics_model_training" / "checkpoints"
"""Default checkpoint directory (``checkpoints/<task_name>/`` below it)."""

STATISTIC_NAMES = ("in_mean", "in_std", "out_mean", "out_std")
"""The standardization statistics a checkpoint stores."""


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


def same_function(fn: Callable, recorded: str | None) -> bool:
    """Whether ``fn`` is the function a checkpoint recorded by name.

    A script's functions are named ``__main__.<name>``: such a name matches
    a module-level function of that name in any module (the script's
    function imported elsewhere), and a script's function matches that
    name in any module, so a model trained in a script loads in a notebook
    and back. Lambdas, nested functions and methods match only exactly.
    """
    given = qualified_name(fn)
    if given == recorded or recorded is None:
        return given == recorded
    name = fn.__qualname__
    if not name.isidentifier():  # "<lambda>", "f.<locals>.g", "A.f"
        return False
    main = "__main__."
    if recorded.startswith(main):
        return recorded[len(main) :] == name
    return fn.__module__ == "__main__" and recorded.rpartition(".")[2] == name


@dataclass(frozen=True)
class ModelConfig:
    """What a checkpoint records about its model and the data it saw.

    Stored in the file as :meth:`to_dict`'s plain dict, with the layout's
    fields at the top level (``nq``, ``nv``, ``nu``, ``angle_indices``,
    ``coordinate_indices``) as the seed's checkpoints have them.

    Attributes:
        layout: The state layout (dims, angles, coordinates, and what the
            network predicts: ``delta``/``delta_dt``, stored only for the
            structured delta, so a config without them is the plain one).
        hidden_size: The GRU's hidden size.
        history_length: Rows per input window (H).
        mode: ``window`` or ``recurrent`` (see ``model.Mode``).
        prediction_horizon: Autoregressive steps of the training loss (K).
        feature_dim: The network's input feature size.
        dt: The logs' timestep in seconds.
        columns: The logs' column names.
        transform_fn: ``module.qualname`` of the custom feature map, if any.
        task_name: Names the checkpoint folder.
        data_dirs: The training data's directories.
        manifest_identity: The data manifest's task and model fingerprint.
        train_files: Keys of the files trained on (`hydrax.logs.log_keys`).
        val_files: Keys of the files held out for validation.
        file_fingerprints: Each of those keys' content fingerprint
            (`hydrax.logs.RecordedSplit` matches logs by it; empty in
            checkpoints written before 2026-12-07).
        hyperparameters: The training settings (batch size, seed, ...).
        num_models: Ensemble members (1: a single model; the key is then
            left out of the stored dict, as before ensembles).
    """

    layout: StateLayout
    hidden_size: int
    history_length: int
    mode: Mode = "window"
    prediction_horizon: int | None = None
    feature_dim: int | None = None
    dt: float | None = None
    columns: tuple[str, ...] | None = None
    transform_fn: str | None = None
    task_name: str | None = None
    data_dirs: tuple[str, ...] = ()
    manifest_identity: dict | None = None
    train_files: tuple[str, ...] = ()
    val_files: tuple[str, ...] = ()
    file_fingerprints: dict[str, str] = field(default_factory=dict)
    hyperparameters: dict = field(default_factory=dict)
    num_models: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The plain dict a checkpoint stores (lists, not tuples)."""
        out: dict[str, Any] = {"model": "gru", "mode": self.mode}
        out |= self.layout.to_dict()
        for f in fields(self):
            if f.name in ("layout", "mode"):
                continue
            if f.name == "num_models" and self.num_models == 1:
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out["state_dim"] = self.layout.state_dim
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """The configuration of a checkpoint's ``config`` dict.

        Keys it does not know (``model``, ``state_dim``, ``history``, ...)
        are ignored; absent optional ones take their defaults, so older
        checkpoints load.

        Raises:
            ValueError: naming the key that is missing or invalid.
        """
        for key in ("hidden_size", "history_length"):
            if key not in data:
                raise ValueError(f"the model configuration lacks {key!r}")
        kwargs: dict[str, Any] = {"layout": StateLayout.from_dict(data)}
        for f in fields(cls):
            if f.name == "layout" or data.get(f.name) is None:
                continue
            value = data[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)


def build_network(
    config: ModelConfig | dict,
    transform_fn: TransformFn | None = None,
    seed: int = 0,
) -> DynamicsNetwork:
    """A freshly initialized network of a configuration (or its dict)."""
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    return DynamicsNetwork(
        config.layout,
        hidden_size=config.hidden_size,
        history_length=config.history_length,
        rngs=nnx.Rngs(seed),
        transform_fn=transform_fn,
        feature_dim=config.feature_dim,
        mode=config.mode,
    )


def install_params(
    network: DynamicsNetwork,
    params: dict,
    path: Any,  # noqa: ANN401 (a file or a network, named in errors)
) -> None:
    """Copy a pure dict of arrays into the network's Params, checking shapes.

    Raises:
        CheckpointError: if the names or shapes differ from the network's.
    """
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


def network_statistics(network: DynamicsNetwork) -> dict[str, jax.Array]:
    """A network's standardization statistics, by name."""
    return {k: getattr(network, k)[...] for k in STATISTIC_NAMES}


def network_from_checkpoint(
    ckpt: dict,
    path: Any,  # noqa: ANN401 (named in errors)
    transform_fn: TransformFn | None = None,
) -> DynamicsNetwork:
    """Rebuild the network of a decoded checkpoint dict.

    Raises:
        CheckpointError: if the configuration is incomplete, the parameters
            do not fit it, or ``transform_fn`` is not the one recorded.
    """
    try:
        config = ModelConfig.from_dict(ckpt["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: {e}") from None
    recorded = config.transform_fn
    if recorded is not None and transform_fn is None:
        raise CheckpointError(
            f"{path}: the model was trained with transform_fn {recorded!r}; "
            "pass the same function as transform_fn= (nothing is imported "
            "on the file's say-so)"
        )
    if transform_fn is not None and not same_function(transform_fn, recorded):
        raise CheckpointError(
            f"{path}: transform_fn {qualified_name(transform_fn)!r} given, "
            f"but the model was trained with {recorded!r}"
        )
    network = build_network(config, transform_fn)
    install_params(network, ckpt["params"], path)
    network.set_statistics(ckpt["statistics"])
    return network


def num_models(ckpt: dict) -> int:
    """The ensemble members of a decoded checkpoint (1: a single model)."""
    return int(ckpt["config"].get("num_models") or 1)


def member_checkpoint(ckpt: dict, member: int, path: Any) -> dict:  # noqa: ANN401
    """The single-model checkpoint of one member of an ensemble's.

    Raises:
        CheckpointError: if ``member`` is not one of its members.
    """
    n = num_models(ckpt)
    if n == 1 and member == 0:
        return ckpt
    if not 0 <= member < n:
        raise CheckpointError(
            f"{path}: member must be in 0..{n - 1}, got {member}"
        )
    out = dict(ckpt)
    out["params"] = jax.tree.map(
        lambda x: np.asarray(x)[member], ckpt["params"]
    )
    out["config"] = {**ckpt["config"], "num_models": 1}
    return out


def ensemble_from_checkpoint(
    ckpt: dict,
    path: Any,  # noqa: ANN401 (named in errors)
    transform_fn: TransformFn | None = None,
) -> list[DynamicsNetwork]:
    """Every member's network of a decoded checkpoint (one for a single model).

    Raises:
        CheckpointError: as :func:`network_from_checkpoint`.
    """
    return [
        network_from_checkpoint(
            member_checkpoint(ckpt, m, path), path, transform_fn
        )
        for m in range(num_models(ckpt))
    ]


def load_trained_model(
    path: str | Path,
    transform_fn: TransformFn | None = None,
    member: int = 0,
) -> tuple[DynamicsNetwork, dict]:
    """Load a checkpoint: the network (statistics included) and its config.

    Loading never executes code from the file (see ``checkpoint.py``).

    Args:
        path: A ``.pkl`` written by training.
        transform_fn: The custom feature map the model was trained with,
            if any (it is recorded by name only and must be passed again).
        member: For an ensemble's checkpoint, the member to load (0 is the
            one trained on the single model's seed and shuffles). Planning
            with the whole ensemble is ``NeuralNetworkDynamics.load_params``;
            every member's network is :func:`load_ensemble`.

    Returns:
        The network and the checkpoint's configuration dict (with its
        ``history`` under ``config["history"]``; an ensemble's keeps
        ``num_models``); ``ModelConfig.from_dict(config)`` gives it typed.
    """
    ckpt = read_checkpoint(path)
    network = network_from_checkpoint(
        member_checkpoint(ckpt, member, path), path, transform_fn
    )
    config = dict(ckpt["config"])
    config["history"] = ckpt.get("history", {})
    return network, config


def load_ensemble(
    path: str | Path, transform_fn: TransformFn | None = None
) -> list[DynamicsNetwork]:
    """Every member of a checkpoint's ensemble (one for a single model).

    Raises:
        CheckpointError: as :func:`load_trained_model`.
    """
    return ensemble_from_checkpoint(read_checkpoint(path), path, transform_fn)


def stacked_members(
    network: DynamicsNetwork, params: nnx.State, seed: int, num_models: int
) -> nnx.State:
    """The members' initial weights (seeds seed .. seed + M - 1), stacked."""
    members = [params] + [
        nnx.state(
            DynamicsNetwork(
                network.layout,
                hidden_size=network.hidden_size,
                history_length=network.history_length,
                rngs=nnx.Rngs(seed + m),
                transform_fn=network.transform_fn,
                feature_dim=network.feature_dim,
                mode=network.mode,
            ),
            nnx.Param,
        )
        for m in range(1, num_models)
    ]
    return jax.tree.map(lambda *x: jnp.stack(x), *members)
