"""Fine-tuning a checkpoint on its data plus new logs, its split kept.

A round of data aggregation (`hydrax.simulation.aggregate`) fine-tunes the
last round's model on every log so far. The files that model validated on
stay validation files and the ones it trained on stay training files; the
new logs are split by the checkpoint's validation share. So a round's
validation loss, which picks its best epoch, is never measured on a file
the model has already fitted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hydrax.dynamics_model_training.blocks import split_by_file
from hydrax.dynamics_model_training.checkpoint import read_checkpoint
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.dynamics_model_training.windows import rows_for_a_window
from hydrax.logs import DataError
from hydrax.logs.scan import count_rows, list_logs, scan_logs
from hydrax.logs.split import RecordedSplit, log_keys


def carried_split(
    config: dict, dirs: Sequence[str | Path], new: int, seed: int
) -> list[str]:
    """The validation keys of fine-tuning ``config``'s model on ``dirs``.

    The files of all but the last ``new`` directories, those the checkpoint
    trained on, keep its split: those it validated on validate, those it
    trained on train (a file that matches both a training and a validation
    name of an older checkpoint, which named files without their
    directory, trains).
    The other files, the last ``new`` directories' and any the split does
    not name (logs added since, or a directory the checkpoint did not train
    on, with a printed note), are split with the checkpoint's
    ``val_fraction`` and ``seed`` (those long enough for a window; two
    at least, a single one trains). A checkpoint with fingerprints is
    matched by content (`hydrax.logs.RecordedSplit`), so a log copied,
    moved or converted keeps its side and a new log of an old name is new;
    an older one by keys, which match path endings, so there a directory
    whose file names repeat the bare names of a checkpoint trained on one
    directory counts as trained on.

    Args:
        config: The configuration of the checkpoint fine-tuned from.
        dirs: Every directory the fine-tuning reads.
        new: How many of the last ``dirs`` hold new logs.
        seed: Seeds the new files' split.

    Returns:
        Keys (`hydrax.logs.log_keys` over the files of ``dirs``) of the
        validation files; none where the checkpoint validated on nothing and
        fewer than two new files came (training then runs without
        validation rather than on files the model trained on).
    """
    per_dir = [list_logs([d]) for d in dirs]
    files = [f for listed in per_dir for f in listed]
    in_dir = np.repeat(np.arange(len(dirs)), [len(f) for f in per_dir])
    known = in_dir < len(dirs) - new
    recorded = RecordedSplit.of(config)
    old = [f for f, k in zip(files, known, strict=True) if k]
    fingerprints = (
        scan_logs(old, keep_rows=False).fingerprints
        if recorded.by_content and old
        else []
    )
    was_train, was_val = np.zeros((2, len(files)), bool)
    was_train[known], was_val[known] = recorded.sides(old, fingerprints)
    named = was_val | was_train
    for d in range(len(dirs) - new):
        if not named[in_dir == d].any():
            print(
                f"note: the checkpoint's split names none of the files of "
                f"{dirs[d]} (it recorded its data directories as "
                f"{list(config.get('data_dirs') or [])}); they are split as "
                "new logs"
            )
    if (both := was_val & was_train).any():
        # Bare names from directories that repeat them (checkpoints of
        # before 2026-12-06), or a log there twice: never validate on what
        # may be trained on.
        print(
            f"note: {int(both.sum())} files match both a training and a "
            "validation file of the checkpoint (its directories repeat "
            "file names, or a log is there twice); they stay training files"
        )
    val = was_val & ~was_train
    hp = config["hyperparameters"]
    need = rows_for_a_window(
        config["history_length"],
        config["prediction_horizon"],
        hp.get("pad_start", True),
    )
    fresh = [i for i in np.flatnonzero(~named) if count_rows(files[i]) >= need]
    val_fraction = hp.get("val_fraction", 0.2)
    if len(fresh) > 1 and val_fraction > 0:
        fresh_files = [files[i] for i in fresh]
        with contextlib.suppress(DataError):  # too few to hold one out
            val[fresh] = split_by_file(fresh_files, val_fraction, seed, None)
    return [k for k, v in zip(log_keys(files), val, strict=True) if v]


def fine_tune_rate(config: dict, learning_rate: float | None) -> float:
    """A round's learning rate.

    ``learning_rate``, or a third of the rate the model of ``config``
    (aggregation's first) was trained at.
    """
    if learning_rate is not None:
        return learning_rate
    return config["hyperparameters"]["learning_rate"] / 3


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
    new: int = 1,
) -> Path:
    """Fine-tune ``init_from`` on all of ``dirs``; the new best checkpoint.

    The architecture, layout, delta (plain or structured), ensemble size
    (each member fine-tunes from its own weights) and hyperparameters are
    ``config``'s (aggregation passes its first model's, so each round's
    learning rate is ``learning_rate``, by default a third of that model's);
    ``dirs[n_original:]`` (the closed-loop logs) weigh ``fresh_weight``
    each. The split is ``init_from``'s own, carried over by
    :func:`carried_split`: ``init_from`` was trained on all but the last
    ``new`` of ``dirs`` (the new logs' share seeded with ``seed + it``).
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
        learning_rate=fine_tune_rate(config, learning_rate),
        weight_decay=hp["weight_decay"],
        seed=seed + it,
        mode=config.get("mode", "window"),
        delta=config.get("delta", "state"),
        num_models=config.get("num_models") or 1,
        val_fraction=hp.get("val_fraction", 0.2),
        val_files=carried_split(start, dirs, new, seed + it),
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
