"""Where a collection writes: the output directory, overwrite and append.

A dataset directory holds ``episode_<NNNNN>.csv`` files (or ``.parquet``
ones, converted) and a
``manifest.json``. A new collection refuses a directory that holds one
unless it overwrites it or appends to it; appending needs the manifest and
the same model (by the sha256 of its file) and numbers the new episodes
after the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hydrax import ROOT
from hydrax.logs import LOG_SUFFIXES, Manifest, read_manifest
from hydrax.logs.manifest import model_sha256
from hydrax.simulation.model_source import ModelSource


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
            raise ValueError(
                f"cannot append: {out_dir} was collected from a different "
                f"model (sha256 {old.model_sha256}, this one {sha})"
            )
        numbers = [
            int(p.stem.split("_")[1])
            for p in existing
            if p.suffix in LOG_SUFFIXES
        ]
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
