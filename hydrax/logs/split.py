"""Which logs a checkpoint trained and validated on: keys and fingerprints.

A checkpoint records its split twice:

- by **key** (:func:`log_keys`): the file name, or ``<directory>/<file>``
  where several directories repeat names. A key names every file whose
  path ends with it, and the same log converted to the other format.
- by **content** (:func:`log_fingerprint`): a hash of the header and of
  every value of the log, as read. A copy, a move, or a conversion to the
  other format keeps a log's fingerprint; a new log that happens to have
  the same name (every collection counts from ``episode_00000.csv``) has
  another one.

:class:`RecordedSplit` matches files against a checkpoint's split by
content where the checkpoint holds fingerprints (those written since
2026-12-07), and by key for older ones.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hydrax.logs.format import LOG_SUFFIXES, DataError


def log_fingerprint(
    times: np.ndarray, rows: np.ndarray, columns: Sequence[str]
) -> str:
    """A log's content fingerprint: 32 hex digits of SHA-256.

    Hashes the header's column names, then the timestamps and the rows as
    little-endian float64, so a log has one fingerprint in either format
    (``convert`` is lossless) and wherever it lies.

    Args:
        times: Timestamps, (T,).
        rows: (qpos, qvel, ctrl) per row, (T, nq + nv + nu).
        columns: The header's column names.
    """
    digest = hashlib.sha256(",".join(columns).encode())
    for values in (times, rows):
        digest.update(np.ascontiguousarray(values, "<f8").data)
    return digest.hexdigest()[:32]


def _tail_parts(path: str | Path) -> tuple[str, ...]:
    """A path's components, absolute and normalized, without the root."""
    return Path(os.path.abspath(path)).parts[1:]


def check_distinct(
    files: Sequence[str | Path], fingerprints: Sequence[str]
) -> None:
    """Refuse two logs of the same content (a copy, or one log converted).

    Their windows would count twice, and a split by file could put one
    copy on each side.

    Raises:
        DataError: naming the first two files that hold the same log.
    """
    first: dict[str, str | Path] = {}
    for path, fp in zip(files, fingerprints, strict=True):
        if fp in first:
            raise DataError(
                f"{path} holds the same log as {first[fp]} (the same rows; a"
                " copy, or the log in the other format): its windows would "
                "count twice and could fall on both sides of the train/"
                "validation split; remove one (to weigh logs more: "
                "data_weights)"
            )
        first[fp] = path


def log_keys(files: Sequence[str | Path]) -> list[str]:
    """Names that tell the logs apart: the last components of their paths.

    One directory's logs are named by their file names alone; logs from
    several directories that share file names (each directory counts from
    ``episode_00000.csv``) by ``<directory>/<file>`` (all of them, so the
    keys have one form), deeper where that still repeats. Paths are made
    absolute first, so ``data`` beside ``old/data`` gives ``<parent>/data/...``
    and ``old/data/...``. A checkpoint records its split by these keys.
    """
    parts = [_tail_parts(f) for f in files]
    longest = max(map(len, parts), default=0)
    for depth in range(1, longest + 1):
        keys = ["/".join(p[-depth:]) for p in parts]
        if len(set(keys)) == len(keys):
            return keys
    return ["/".join(p) for p in parts]  # the same file twice


def _without_log_suffix(parts: tuple[str, ...]) -> tuple[str, ...]:
    """Path components with the file's ``.csv`` / ``.parquet`` dropped.

    A log converted to the other format keeps its place in a split.
    """
    if not parts:
        return parts
    name = Path(parts[-1])
    if name.suffix in LOG_SUFFIXES:
        return (*parts[:-1], name.stem)
    return parts


def _matches(
    files: Sequence[str | Path], keys: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Which files the keys name, (F,) bool, and the keys naming none.

    A key names the files whose path ends with it; a key that names no
    file so names those whose path ends with it once the format's suffix
    is dropped from both (a log ``convert`` wrote in the other format).
    """
    tails = [_tail_parts(f) for f in files]
    stems = [_without_log_suffix(t) for t in tails]
    wanted = [tuple(k.split("/")) for k in keys]
    lengths = {len(w) for w in wanted}

    def index(paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], list]:
        found: dict[tuple[str, ...], list[int]] = {}
        for i, t in enumerate(paths):
            for n in lengths:
                found.setdefault(t[-n:], []).append(i)
        return found

    exact, loose = index(tails), index(stems)
    hit = np.zeros(len(tails), bool)
    unmatched = []
    for key, parts in zip(keys, wanted, strict=True):
        named = exact.get(parts) or loose.get(_without_log_suffix(parts))
        if named:
            hit[named] = True
        else:
            unmatched.append(key)
    return hit, unmatched


def log_stem(key: str) -> str:
    """A split key without its log format's suffix: ``a/x.csv`` → ``a/x``.

    The same log in either format (``convert``'s output) has one stem.
    """
    return "/".join(_without_log_suffix(tuple(key.split("/"))))


def match_logs(files: Sequence[str | Path], keys: Sequence[str]) -> np.ndarray:
    """Which files a recorded split names, (F,) bool.

    A key names the files whose absolute path ends with it:
    ``data/episode_00003.csv`` one file of one directory; a bare file name
    (the only form before 2026-12-06) that file name in every directory
    given. A key that names no file names the same log in the other
    format: ``episode_00003.parquet`` (``convert``'s output) is the log
    ``episode_00003.csv`` was.
    """
    return _matches(files, keys)[0]


def unmatched_keys(
    files: Sequence[str | Path], keys: Sequence[str]
) -> list[str]:
    """The keys of a recorded split that name none of ``files``."""
    return _matches(files, keys)[1]


def _bare(keys: Sequence[str]) -> bool:
    """Whether keys are bare file names, which match in any directory.

    A checkpoint of one directory, or of before 2026-12-06, records them.
    """
    return not any("/" in k for k in keys)


@dataclass(frozen=True)
class RecordedSplit:
    """A checkpoint's split: the logs it trained on and validated on.

    Attributes:
        train: Keys (:func:`log_keys`) of the files trained on.
        val: Keys of the files held out for validation.
        fingerprints: Each key's content fingerprint
            (:func:`log_fingerprint`); empty in checkpoints written before
            2026-12-07, which are matched by key.
    """

    train: tuple[str, ...] = ()
    val: tuple[str, ...] = ()
    fingerprints: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Mapping) -> RecordedSplit:
        """The split a checkpoint's ``config`` records."""
        return cls(
            tuple(config.get("train_files") or ()),
            tuple(config.get("val_files") or ()),
            dict(config.get("file_fingerprints") or {}),
        )

    @property
    def by_content(self) -> bool:
        """Whether every recorded file has a fingerprint to match by."""
        keys = self.train + self.val
        return bool(keys) and all(k in self.fingerprints for k in keys)

    @property
    def by_bare_names(self) -> bool:
        """Whether files are matched by file name alone.

        Then any log of one of those names counts as the checkpoint's own,
        whatever its directory or content (a later collection's
        ``episode_00000.csv`` too).
        """
        return not self.by_content and _bare(self.train + self.val)

    def sides(
        self, files: Sequence[str | Path], fingerprints: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``files`` were trained on and which validated on.

        Args:
            files: The logs, in any order.
            fingerprints: Their content fingerprints, in the same order
                (used only when the split holds fingerprints).

        Returns:
            (trained on, validated on), each (F,) bool. A file can be on
            both sides: two directories that repeat the bare names of an
            older checkpoint, or two copies of one log.
        """
        if not self.by_content:
            return match_logs(files, self.train), match_logs(files, self.val)
        if len(fingerprints) != len(files):
            raise ValueError(
                f"{len(fingerprints)} fingerprints for {len(files)} files"
            )
        trained = {self.fingerprints[k] for k in self.train}
        validated = {self.fingerprints[k] for k in self.val}
        return (
            np.array([f in trained for f in fingerprints], bool),
            np.array([f in validated for f in fingerprints], bool),
        )

    def mismatch(self, other: RecordedSplit) -> tuple[str, str] | None:
        """Where another recording of a split differs from this one.

        By content where both hold fingerprints (the same logs in another
        folder or format are the same split); else by key, without the
        format's suffix, a bare file name compared with the other's file
        names (a checkpoint of one directory, or of before 2026-12-06).

        Returns:
            None when both name the same logs; else ``train_files`` or
            ``val_files``, and what differs there.
        """
        for name, mine, theirs in (
            ("train_files", self.train, other.train),
            ("val_files", self.val, other.val),
        ):
            if self.by_content and other.by_content:
                had = Counter(self.fingerprints[k] for k in mine)
                has = Counter(other.fingerprints[k] for k in theirs)
                if had != has:
                    gone = sum((had - has).values())
                    new = sum((has - had).values())
                    return name, (
                        f"by content: {gone} of the {len(mine)} recorded "
                        f"logs are missing, {new} of the {len(theirs)} logs "
                        "now are new"
                    )
                continue
            bare = _bare(mine)
            now = [k.rsplit("/", 1)[-1] if bare else k for k in theirs]
            if list(map(log_stem, mine)) != list(map(log_stem, now)):
                return name, f"recorded {list(mine)!r}, now {now!r}"
        return None
