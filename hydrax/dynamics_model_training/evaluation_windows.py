"""What the evaluation runs on: the model, matching data, the windows.

- :func:`resolve_model`: a checkpoint path or a network, with its config
  and the longest training history found beside the checkpoint;
- :func:`check_data_matches`: refuse data logged from another model;
- :func:`select_windows`: the evaluated windows (a seeded choice from the
  requested split) and the files the linear baseline is fit on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.model_io import ensemble_from_checkpoint
from hydrax.dynamics_model_training.transforms import TransformFn
from hydrax.logs import (
    DataError,
    RecordedSplit,
    list_logs,
    parse_header,
    read_columns,
)


def check_data_matches(
    config: dict, data_dir: Path | list[Path], source: str = "the checkpoint"
) -> None:
    """Refuse data whose columns differ from the model's.

    Raises:
        DataError: naming both the checkpoint's and the data's dims and the
            file whose header differs.
    """
    dirs = data_dir if isinstance(data_dir, list) else [data_dir]
    first = list_logs(dirs)[0]
    cols = read_columns(first)
    nq, nv, nu = parse_header(cols, first)
    want = (config["nq"], config["nv"], config["nu"])
    want_cols = config.get("columns")
    if (nq, nv, nu) != want or (want_cols and list(want_cols) != cols):
        raise DataError(
            f"{source} was trained on nq={want[0]} nv={want[1]} nu={want[2]}"
            f" ({len(want_cols or [])} columns: "
            f"{','.join(want_cols or [])}) but {first} has nq={nq} nv={nv} "
            f"nu={nu} ({len(cols)} columns: {','.join(cols)}); use data "
            "logged from the model the network was trained on"
        )


def resolve_model(
    checkpoint_or_network: str | Path | DynamicsNetwork,
    config: dict | None,
    transform_fn: TransformFn | None,
) -> tuple[DynamicsNetwork, dict, str, list[DynamicsNetwork]]:
    """The network, its config, a name for messages and every member.

    Args:
        checkpoint_or_network: A checkpoint path, or a network.
        config: Settings of a passed network (split, dt, training curves);
            ignored for a checkpoint, whose own config is used.
        transform_fn: The custom feature map the checkpoint was trained with.

    Returns:
        The network (an ensemble's member 0), its config (with
        ``history``: the longest training curves found), the checkpoint's
        path or "the network", and the members' networks (the network
        alone unless the checkpoint is an ensemble's).
    """
    if isinstance(checkpoint_or_network, DynamicsNetwork):
        network = checkpoint_or_network
        lay = network.layout
        base = {
            "nq": lay.nq,
            "nv": lay.nv,
            "nu": lay.nu,
            "angle_indices": list(lay.angle_indices),
            "coordinate_indices": list(lay.coordinate_indices),
            "history_length": network.history_length,
            "train_files": [],
            "val_files": [],
            "history": {},
        }
        base.update(config or {})
        return network, base, "the network", [network]
    path = Path(checkpoint_or_network)
    ckpt = read_checkpoint(path)
    members = ensemble_from_checkpoint(ckpt, path, transform_fn)
    loaded = dict(ckpt["config"])
    loaded["history"] = _longest_history(
        path, loaded, ckpt.get("history") or {}
    )
    return members[0], loaded, str(path), members


def _longest_history(path: Path, config: dict, history: dict) -> dict:
    """The training curves, from ``last.pkl`` beside the checkpoint if longer.

    ``best_model.pkl`` holds the history up to its own epoch; the run's last
    checkpoint (same files, same settings) holds all of it.
    """
    last = path.parent / "last.pkl"
    if last.resolve() == path.resolve() or not last.is_file():
        return history
    try:
        other = read_checkpoint(last)
    except CheckpointError:
        return history
    same = all(
        other["config"].get(k) == config.get(k)
        for k in (
            "train_files",
            "val_files",
            "file_fingerprints",
            "hidden_size",
            "columns",
        )
    )
    longer = other.get("history") or {}
    n_this = len(history.get("train_loss") or [])
    if same and len(longer.get("train_loss") or []) > n_this:
        return longer
    return history


def load_windows(
    network: DynamicsNetwork,
    config: dict,
    data_dir: Path | list[Path],
    horizon: int,
    source: str,
) -> tuple[DynamicsDataset, float, list[str]]:
    """Every true window (no start-up padding) of the data directory.

    Args:
        network: Supplies the layout, history length and transform.
        config: The model's config (``dt``).
        data_dir: The logs' directory, or several.
        horizon: Steps each window holds after its history.
        source: The model's name in messages.

    Returns:
        The dataset, the timestep and notes for the report.

    Raises:
        DataError: mismatched columns or timestep, or no long enough file.
    """
    check_data_matches(config, data_dir, source)
    h = network.history_length
    layout = network.layout
    dataset = DynamicsDataset(
        data_dir,
        coordinate_indices=list(layout.coordinate_indices),
        angle_indices=list(layout.angle_indices),
        quat_indices=list(layout.quat_indices),
        heading_frame=layout.heading_frame,
        history_length=h,
        prediction_horizon=horizon,
        transform_fn=network.transform_fn,
        pad_start=False,  # evaluate on true histories only
        val_files=[],  # the split is by the checkpoint's file keys
        verbose=False,
    )
    dt = float(config.get("dt", dataset.dt))
    if abs(dataset.dt - dt) > 1e-4 * dt:
        raise DataError(
            f"{', '.join(map(str, dataset.data_dirs))}: timestep "
            f"{dataset.dt:g} s, but {source} was "
            f"trained at dt {dt:g} s"
        )
    notes = []
    if dataset.skipped_files:
        n = dataset.skipped_files + len(dataset.files)
        notes.append(
            f"note: skipped {dataset.skipped_files} of {n} files shorter "
            f"than {h + horizon} rows (history {h} + horizon {horizon})"
        )
    return dataset, dt, notes


@dataclass
class Selection:
    """The evaluation examples and where the linear baseline is fit."""

    indices: np.ndarray  # dataset example indices, sorted
    split: str  # the split actually evaluated
    fit_mask: np.ndarray  # files the linear baseline is fit on
    fit_note: str
    notes: list[str]


def _other_model_note(dataset: DynamicsDataset, config: dict) -> list[str]:
    """A note when the logs' model file is not the training data's."""
    identity = config.get("manifest_identity") or {}
    trained = identity.get("model_sha256")
    record = dataset.manifest_record
    logged = record.model_sha256 if record is not None else None
    if not (trained and logged) or logged in identity.get(
        "pooled_model_sha256", [trained]
    ):
        return []
    return [
        f"note: these logs were collected from another model file (sha256 "
        f"{logged[:12]}...) than the model's training data (task "
        f"{identity.get('task')!r}, sha256 {trained[:12]}...): another "
        "robot, or the same one edited"
    ]


def select_windows(
    dataset: DynamicsDataset,
    config: dict,
    split: str,
    num_examples: int,
    seed: int,
) -> Selection:
    """Choose the evaluated windows and the linear baseline's files.

    Args:
        dataset: Every window of the data directory (``pad_start=False``).
        config: The model's config (``train_files``, ``val_files``).
        split: ``val`` (the checkpoint's validation files; when none is
            present, the files it did not train on, split ``unseen``, or
            all files with a note), ``train`` or ``all``.
        num_examples: How many windows (all when fewer), drawn without
            replacement from ``seed``.
        seed: Seeds the draw.

    Returns:
        The selection: sorted window indices, the split used, the files
        the linear baseline is fit on and notes for the report.

    Raises:
        DataError: the split has no window, or no training file is present
            for split ``train``.
    """
    files = dataset.files
    recorded = RecordedSplit.of(config)
    is_train, is_val = recorded.sides(files, dataset.fingerprints)
    notes = _other_model_note(dataset, config)
    if (both := is_val & is_train).any():
        # Bare names from several directories that repeat them (the
        # checkpoints of before 2026-12-06), or two copies of one log:
        # never evaluate on training data.
        is_val &= ~is_train
        notes.append(
            f"note: {int(both.sum())} files match both a training and a "
            "validation file of the checkpoint (its directories repeat file "
            "names, or a log is there twice); they count as training files"
        )
    if split == "val":
        mask, used = is_val, "val"
        if not mask.any():  # e.g. held-out logs of another directory
            n_val = len(config.get("val_files") or [])
            known = bool(config.get("train_files"))  # a network: unknown
            why = (
                f"none of the checkpoint's {n_val} validation files is in "
                "the data directory (or long enough)"
                if n_val
                else "the model has no validation files"
                if known
                else "the config names no split (with a network, pass "
                "the config that load_trained_model returned with it)"
            )
            unseen = ~is_train & known
            if unseen.any():
                mask, used = unseen, "unseen"
                notes.append(
                    f"note: {why}; evaluating on the {int(mask.sum())} of "
                    f"{len(files)} files the model did not train on"
                )
            else:
                mask, used = np.ones(len(files), bool), "all"
                named = (
                    ", and every one is one of its training logs (by "
                    "content): the errors are in-sample"
                    if known and recorded.by_content
                    else ", and every one is named as a training file: if "
                    "they are those logs, the errors are in-sample"
                    if known
                    else ""
                )
                if known and recorded.by_bare_names:
                    named += (
                        " (the checkpoint names its logs by file name alone,"
                        " as one directory's are, so any log of one of those"
                        " names counts as its own: a later collection's"
                        " episode_00000.csv too)"
                    )
                notes.append(
                    f"note: {why}; evaluating on all {len(files)} files" + named
                )
    elif split == "train":
        mask, used = is_train, "train"
        if not mask.any():
            raise DataError(
                f"none of the checkpoint's {int(len(config['train_files']))}"
                " training files is in the data directory (or long enough)"
                "; use split 'all' or 'val'"
            )
    else:
        mask, used = np.ones(len(files), bool), "all"
    candidates = np.flatnonzero(mask[dataset.example_files])
    if len(candidates) == 0:
        raise DataError(f"the {used} split has no evaluation window")
    rng = np.random.default_rng(seed)
    if len(candidates) > num_examples:
        candidates = np.sort(rng.choice(candidates, num_examples, False))

    fit_mask, fit_note = is_train, "the checkpoint's training files"
    if not fit_mask.any():
        eval_files = np.zeros(len(files), bool)
        eval_files[dataset.example_files[candidates]] = True
        fit_mask, fit_note = ~eval_files, "the files not evaluated"
        if not fit_mask.any():
            fit_mask = eval_files
            fit_note = "the evaluated files themselves (in-sample)"
    return Selection(candidates, used, fit_mask, fit_note, notes)
