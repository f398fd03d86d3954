"""Starting a training run from a trained model: transfer, fine-tuning.

What may be copied from a checkpoint (or a network) into a new run's
network, and the checks that refuse weights that would load and mean
something else: another robot, mode, hidden size or state features.
"""

from __future__ import annotations

import math
from pathlib import Path

from flax import nnx

from hydrax.dynamics_model_training.checkpoint import read_checkpoint
from hydrax.dynamics_model_training.layout import FEATURE_FIELDS
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.model_io import (
    install_params,
    member_checkpoint,
    network_from_checkpoint,
    network_statistics,
    num_models,
)
from hydrax.dynamics_model_training.transforms import StateLayout, TransformFn


def start_from(
    network: DynamicsNetwork,
    init_from: str | Path | DynamicsNetwork | None,
    transform_fn: TransformFn | None,
) -> DynamicsNetwork:
    """``network`` with the weights and statistics of ``init_from`` copied in.

    Args:
        network: The run's fresh network.
        init_from: A checkpoint path or a network (None: ``network`` as is).
        transform_fn: The run's custom feature map, which the checkpoint
            must have been trained with.

    Raises:
        ValueError: the starting model is of another robot, or of other
            settings (:func:`check_same_model`).
        CheckpointError: the file cannot be read.
    """
    if init_from is None:
        return network
    if isinstance(init_from, DynamicsNetwork):
        source = init_from
    else:  # the robot first: another's nq can fail its transform_fn's check
        ckpt = read_checkpoint(init_from)
        config = ckpt.get("config") or {}
        dims = tuple(config.get(k) for k in ("nq", "nv", "nu"))
        if None not in dims:
            _check_same_robot(dims, network.layout, init_from)
        source = network_from_checkpoint(  # member 0, as load_trained_model
            member_checkpoint(ckpt, 0, init_from), init_from, transform_fn
        )
    check_same_model(source, network, init_from)
    params = nnx.to_pure_dict(nnx.state(source, nnx.Param))
    install_params(network, params, init_from)
    network.set_statistics(network_statistics(source))
    return network


def check_same_model(
    source: DynamicsNetwork, network: DynamicsNetwork, where: object
) -> None:
    """Refuse weights learned on other features or for another output.

    The robot's dimensions (nq, nv, nu) are compared first, then the mode,
    the hidden size and what the layout makes of the state (angles,
    coordinates, quaternions, heading frame, delta): weights of the same
    shapes would otherwise load and mean something else.

    Raises:
        ValueError: naming the first setting that differs.
    """
    old, new = source.layout, network.layout
    _check_same_robot((old.nq, old.nv, old.nu), new, where)
    pairs = [
        ("mode", source.mode, network.mode),
        ("hidden_size", source.hidden_size, network.hidden_size),
    ] + [(k, getattr(old, k), getattr(new, k)) for k in FEATURE_FIELDS]
    for key, a, b in pairs:
        if key == "delta_dt" and a and b and math.isclose(a, b, rel_tol=1e-6):
            continue  # the same step, read from other logs
        if a != b:
            raise ValueError(
                f"init_from {where}: {key} is {a!r} there and {b!r} in this "
                "run; fine-tune with the checkpoint's settings"
            )


def _check_same_robot(
    dims: tuple[int, int, int], layout: StateLayout, where: object
) -> None:
    """Refuse a starting model of another robot's (nq, nv, nu)."""
    if tuple(dims) != (layout.nq, layout.nv, layout.nu):
        (q, v, u), (q2, v2, u2) = dims, (layout.nq, layout.nv, layout.nu)
        raise ValueError(
            f"init_from {where}: a model of another robot, nq={q} nv={v} "
            f"nu={u} there and nq={q2} nv={v2} nu={u2} in this run's logs"
        )


def check_not_own_folder(
    init_from: str | Path | DynamicsNetwork | None, folder: Path
) -> None:
    """Refuse to start from a checkpoint that this run's would replace."""
    if isinstance(init_from, str | Path) and (
        Path(init_from).resolve().parent == Path(folder).resolve()
    ):
        raise ValueError(
            f"init_from {init_from} lies in this run's own checkpoint folder "
            f"{folder}, whose checkpoints would replace it; give the run "
            "another task_name or checkpoint_dir"
        )


def members_to_start_from(
    init_from: str | Path | DynamicsNetwork | None, wanted: int
) -> dict | None:
    """The stacked weights an ensemble fine-tunes from, or None.

    A single model (``wanted == 1``) starts from one network's weights,
    which ``start_from`` copies in: None here. An ensemble
    starts member m from member m of an ensemble checkpoint with as many
    members (its ``params``, stacked along the member axis); the
    statistics are shared and come in through member 0.

    Raises:
        ValueError: if the checkpoint's number of members is not
            ``wanted`` (the run's ``num_models``), or an ensemble is to
            start from a network.
        CheckpointError: if the file cannot be read.
    """
    if init_from is None:
        return None
    if isinstance(init_from, DynamicsNetwork):
        if wanted > 1:
            raise ValueError(
                f"init_from: a network is one model; an ensemble of "
                f"num_models={wanted} starts from an ensemble checkpoint "
                "with as many members"
            )
        return None
    ckpt = read_checkpoint(init_from)
    members = num_models(ckpt)
    if members != wanted:
        raise ValueError(
            f"init_from {init_from}: the checkpoint holds {members} "
            f"model(s) and num_models is {wanted}; fine-tune with "
            f"num_models={members}"
        )
    return ckpt["params"] if members > 1 else None
