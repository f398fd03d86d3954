"""Where a collection writes: the output directory, overwrite and append.

A dataset directory holds ``episode_<NNNNN>.csv`` files (or ``.parquet``
ones, converted) and a
``manifest.json``. A new collection refuses a directory that holds one
unless it overwrites it or appends to it; appending needs the manifest and
the same model (by the sha256 of its file) and numbers the new episodes
after the last one. `write_episodes` writes a batch's episodes and records
them in a `Progress`; an episode MuJoCo reported unstable is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hydrax import ROOT
from hydrax.atomic import sigint_deferred
from hydrax.logs import LOG_SUFFIXES, Manifest, read_manifest
from hydrax.logs.manifest import model_sha256
from hydrax.logs.writer import write_trajectory_csv
from hydrax.simulation.model_source import ModelSource
from hydrax.simulation.runners import Rollouts


def existing_files(out_dir: Path) -> list[Path]:
    """The dataset files in ``out_dir``: episode logs, then the manifest."""
    if not out_dir.is_dir():
        return []
    files = sorted(
        p for p in out_dir.glob("episode_*") if p.suffix in LOG_SUFFIXES
    )
    manifest = out_dir / "manifest.json"
    return files + ([manifest] if manifest.exists() else [])


@dataclass
class OutputTarget:
    """Where a collection writes, and what is there already.

    Attributes:
        out_dir: The output directory.
        existing: Its dataset files (episode logs, manifest) before the run.
        sha: The sha256 of the model file.
        first: The number of the run's first episode.
        old: The existing manifest when appending, else None.
    """

    out_dir: Path
    existing: list[Path]
    sha: str
    first: int
    old: Manifest | None


def resolve_output(
    source: ModelSource,
    out_dir: str | Path | None,
    *,
    overwrite: bool,
    append: bool,
) -> OutputTarget:
    """The output directory checked against overwrite / append.

    Args:
        source: The model the episodes come from.
        out_dir: Where to write; default ``hydrax/data_csv/<name>/``.
        overwrite: An existing dataset will be replaced.
        append: Episodes will be added to an existing dataset of the same
            model (numbered after its last one).

    Returns:
        The directory, its dataset files, the model's hash, the first
        episode number and the existing manifest (when appending).

    Raises:
        ValueError: The directory holds a dataset and neither option is
            set, or appending to a dataset of another model or without a
            manifest.
    """
    out_dir = Path(out_dir) if out_dir else ROOT / "data_csv" / source.name
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a directory")
    existing = existing_files(out_dir)
    sha = model_sha256(source.model_file)
    first = 0
    old: Manifest | None = None
    if existing and append:
        old = read_manifest(out_dir)
        if old is None:
            raise ValueError(
                f"{out_dir} has episode logs but no manifest.json; cannot "
                "append (use --overwrite)"
            )
        if old.model_sha256 != sha:
            theirs = f"{old.task} " if old.task else ""
            raise ValueError(
                f"cannot append: {out_dir} was collected from a different "
                f"model ({theirs}sha256 {old.model_sha256}, this one "
                f"{source.name} sha256 {sha})"
            )
        numbers = [
            int(p.stem.split("_")[1])
            for p in existing
            if p.suffix in LOG_SUFFIXES
        ]
        for run in old.collection or []:  # dropped: not their numbers again
            dropped = run.get("unstable_episodes_dropped") or {}
            numbers += [int(Path(n).stem.split("_")[1]) for n in dropped]
        first = max(numbers, default=-1) + 1
    elif existing and not overwrite:
        logs = sum(p.suffix in LOG_SUFFIXES for p in existing)
        raise ValueError(
            f"{out_dir} already holds a dataset ({logs} episode logs); "
            "pass --overwrite to replace it or --append to add to it"
        )

    return OutputTarget(out_dir, existing, sha, first, old)


def drop_if_empty(out_dir: Path, created: bool) -> None:
    """Remove the output folder a run ``created`` if it holds nothing."""
    if created and out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()


@dataclass
class Progress:
    """The files this run has written (complete ones only) and their rows."""

    written: list[Path]
    rows: int = 0
    start_time: float = 0.0
    unstable: dict[str, str] = field(default_factory=dict)  # dropped


def write_episodes(
    out_dir: Path,
    indices: range,
    batch: Rollouts,
    dt: float,
    progress: Progress,
) -> None:
    """Write one CSV per episode of ``batch`` and record each in ``progress``.

    Writing a file and recording it is one step that Ctrl-C cannot split
    (`sigint_deferred`): the manifest written on Ctrl-C then lists exactly
    the complete files on disk.
    """
    for j, i in enumerate(indices):
        n = int(batch.lengths[j])
        path = out_dir / f"episode_{i:05d}.csv"
        if j in batch.unstable:
            progress.unstable[path.name] = batch.unstable[j]
            continue
        with sigint_deferred():
            write_trajectory_csv(
                path,
                dt * np.arange(n),
                batch.qpos[j, :n],
                batch.qvel[j, :n],
                batch.ctrl[j, :n],
            )
            progress.written.append(path)
            progress.rows += n


class UnstableEpisodes(UserWarning):
    """Episodes dropped because MuJoCo reported the simulation unstable."""


def unstable_note(
    unstable: dict[str, str],
    episodes: int,
    advice: str = "a smaller init_spread, control range or timestep",
) -> str:
    """The warning for episodes dropped as unstable."""
    names = list(unstable)
    shown = "; ".join(f"{n}: {unstable[n]}" for n in names[:3])
    return (
        f"dropped {len(names)} of {episodes} episodes whose simulation "
        f"became unstable, not written ({shown}"
        f"{'; ...' * (len(names) > 3)}); {advice} keeps the plant stable"
    )
