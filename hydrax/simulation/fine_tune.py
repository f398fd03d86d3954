"""Fine-tuning a checkpoint on its data plus new logs, its split kept.

A round of data aggregation (`hydrax.simulation.aggregate`) fine-tunes the
last round's model on every log so far. The files that model validated on
stay validation files and the ones it trained on stay training files; the
new logs are split by the checkpoint's validation share. So a round's
validation loss, which picks its best epoch, is never measured on a file
the model has already fitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hydrax.dynamics_model_training.blocks import split_by_file
from hydrax.dynamics_model_training.checkpoint import read_checkpoint
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.logs.scan import list_logs, log_keys, match_logs


def carried_split(
    config: dict, dirs: Sequence[str | Path], seed: int
) -> list[str]:
    """The validation keys of fine-tuning ``config``'s model on ``dirs``.

    Files in the checkpoint's own data directories keep its split (a file
    that matches both a training and a validation name of an older
    checkpoint, which named files without their directory, stays a
    training file); the other files (new logs) are split with its
    ``val_fraction`` and ``seed``.

    Args:
        config: The configuration of the checkpoint fine-tuned from.
        dirs: Every directory the fine-tuning reads.
        seed: Seeds the new files' split.

    Returns:
        Keys (`hydrax.logs.log_keys` over the files of ``dirs``) of the
        validation files; none where the checkpoint validated on nothing and
        fewer than two new files came (training then runs without
        validation rather than validate on files the model trained on).
    """
    trained_on = {Path(d).resolve() for d in config.get("data_dirs", ())}
    files = list_logs(dirs)
    known = np.array([f.parent.resolve() in trained_on for f in files], bool)
    val = np.zeros(len(files), bool)
    if known.any():
        known_files = [f for f, k in zip(files, known, strict=True) if k]
        was_val = match_logs(known_files, config.get("val_files") or [])
        was_train = match_logs(known_files, config.get("train_files") or [])
        if (both := was_val & was_train).any():
            # Bare names from directories that repeat them (checkpoints of
            # before 2026-12-06): never validate on what may be trained on.
            print(
                f"note: {int(both.sum())} files match both a training and a "
                "validation file name of the checkpoint (its directories "
                "repeat file names); they stay training files"
            )
        val[known] = was_val & ~was_train
    new = np.flatnonzero(~known)
    val_fraction = config["hyperparameters"].get("val_fraction", 0.2)
    if len(new) > 1 and val_fraction > 0:
        new_files = [files[i] for i in new]
        val[new] = split_by_file(new_files, val_fraction, seed, None)
    return [k for k, v in zip(log_keys(files), val, strict=True) if v]


def fine_tune(
    task_name: str,
    it: int,
    dirs: list[Path],
    config: dict,
    *,
    init_from: Path,
    epochs: int,
    seed: int,
    out_dir: Path,
    fresh_weight: int = 1,
    n_original: int = 1,
    learning_rate: float | None = None,
) -> Path:
    """Fine-tune ``init_from`` on all of ``dirs``; the new best checkpoint.

    The architecture, layout, delta (plain or structured), ensemble size
    (each member fine-tunes from its own weights) and hyperparameters are
    ``config``'s (aggregation passes its first model's, so each round's
    learning rate is ``learning_rate``, by default a third of that model's);
    ``dirs[n_original:]`` (the closed-loop logs) weigh ``fresh_weight``
    each. The split is ``init_from``'s own, carried over by
    :func:`carried_split` (the new logs' share seeded with ``seed + it``).
    """
    start = read_checkpoint(init_from)["config"]
    hp = config["hyperparameters"]
    name = f"{task_name}_aggregate_{it}"
    train_dynamics_model(
        dirs,
        name,
        angle_indices=config["angle_indices"],
        coordinate_indices=config["coordinate_indices"],
        quat_indices=config.get("quat_indices"),
        heading_frame=config.get("heading_frame", False),
        hidden_size=config["hidden_size"],
        history_length=config["history_length"],
        prediction_horizon=config["prediction_horizon"],
        batch_size=hp["batch_size"],
        num_epochs=epochs,
        learning_rate=hp["learning_rate"] / 3
        if learning_rate is None
        else learning_rate,
        weight_decay=hp["weight_decay"],
        seed=seed + it,
        mode=config.get("mode", "window"),
        delta=config.get("delta", "state"),
        num_models=config.get("num_models") or 1,
        val_fraction=hp.get("val_fraction", 0.2),
        val_files=carried_split(start, dirs, seed + it),
        grad_clip=hp.get("grad_clip", 1.0),
        lr_schedule=hp.get("lr_schedule", "cosine"),
        pad_start=hp.get("pad_start", True),
        max_rows_in_memory=hp.get("max_rows_in_memory"),
        init_from=init_from,
        checkpoint_dir=out_dir / f"iter_{it}",
        progress=False,
        data_weights=[1] * n_original
        + [fresh_weight] * (len(dirs) - n_original),
    )
    return out_dir / f"iter_{it}" / name / "best_model.pkl"
