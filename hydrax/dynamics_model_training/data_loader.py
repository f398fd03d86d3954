"""Read trajectory logs (CSV or Parquet) into windows for training.

A log holds one trajectory: ``timestamp,qpos_0,...,qvel_0,...,ctrl_0,...``,
one row per simulation step, the state before the step and the control
applied during it. It is a CSV file, or a Parquet file with the same
columns (``python -m hydrax.dynamics_model_training.convert`` converts
either way). A :class:`DynamicsDataset` reads every log in a directory,
checks it, keeps the rows once in memory, and indexes windows of
``history_length + prediction_horizon`` rows into them; with
``max_rows_in_memory`` it instead streams blocks of whole files, so a
dataset larger than memory trains in bounded memory.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl

from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    TransformFn,
    state_delta,
    window_features,
)

MANIFEST = "manifest.json"
STD_EPS = 1e-6
"""Floor of every standardization std (a constant column stays finite)."""

_READ_THREADS = 8
"""Logs read at once. Reading a small log is mostly fixed latency (opening,
the parser's thread pool), not CPU, so even 2 cores gain from 8 threads:
with 1000-row logs, 1.2x over one by one on a quiet machine, 5x on a busy
one."""
_GROUP = re.compile(r"^(qpos|qvel|ctrl)_(\d+)$")
_DT_RTOL = 1e-4


class DataError(ValueError):
    """A data file or directory that cannot be used, with where and why."""


@dataclass(frozen=True)
class Trajectory:
    """One CSV log.

    Attributes:
        path: The file.
        times: Timestamps, (T,).
        rows: (qpos, qvel, ctrl) per row, float64, (T, nq + nv + nu).
        columns: The header's column names.
    """

    path: Path
    times: np.ndarray
    rows: np.ndarray
    columns: list[str]


def parse_header(columns: Sequence[str], path: Path) -> tuple[int, int, int]:
    """Check a log's header and return (nq, nv, nu).

    The header must be ``timestamp`` then the qpos, qvel and ctrl groups,
    each numbered from 0 without gaps, in that order.
    """
    columns = list(columns)
    if not columns or columns[0].strip() != "timestamp":
        first = columns[0] if columns else "(nothing)"
        raise DataError(
            f"{path}: the first column must be 'timestamp', found {first!r}"
        )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears twice")
        seen.add(name)
    counts = {"qpos": 0, "qvel": 0, "ctrl": 0}
    order = []
    for col, name in enumerate(columns[1:], start=2):
        m = _GROUP.match(name.strip())
        if m is None:
            raise DataError(
                f"{path}: column {col} {name!r} is not qpos_<i>, qvel_<i> "
                "or ctrl_<i>"
            )
        group, idx = m.group(1), int(m.group(2))
        if idx != counts[group]:
            raise DataError(
                f"{path}: column {col} is {name!r} but {group}_{counts[group]}"
                f" was expected there (a gap or a wrong order in the {group} "
                "columns)"
            )
        counts[group] += 1
        if not order or order[-1] != group:
            order.append(group)
    for group in ("qpos", "qvel", "ctrl"):
        if counts[group] == 0:
            raise DataError(f"{path}: the header has no {group}_0.. columns")
    if order != ["qpos", "qvel", "ctrl"]:
        raise DataError(
            f"{path}: column groups must come as qpos, qvel, ctrl; found "
            f"{', '.join(order)}"
        )
    return counts["qpos"], counts["qvel"], counts["ctrl"]


def _first_bad_cell(path: Path, columns: list[str]) -> str:
    """Locate the first cell that is not a number (slow path, errors only)."""
    df = pl.read_csv(path, infer_schema=False)
    for col in columns:
        raw = df[col]
        num = raw.cast(pl.Float64, strict=False)
        bad = (num.is_null()).arg_true()
        if len(bad):
            i = int(bad[0])
            value = raw[i]
            what = "an empty cell" if value in (None, "") else repr(value)
            return (
                f"{path}: line {i + 2}, column {col!r}: {what} is not a number"
            )
    return f"{path}: could not be parsed as numbers"


def read_header(path: Path) -> list[str]:
    """The column names of a log's first line (a BOM is dropped)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline()
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e})") from None
    if not first.strip():
        raise DataError(f"{path}: the file is empty (no header line)")
    return [c.strip() for c in next(csv.reader([first]))]


def read_trajectory_csv(path: str | Path) -> Trajectory:
    """Read and check one log (BOM and CRLF line endings are fine).

    Raises:
        DataError: naming the file, line and column of the first problem:
            a bad header, a non-numeric or empty cell, NaN or Inf,
            timestamps that do not increase or are unevenly spaced.
    """
    path = Path(path)
    columns = read_header(path)
    parse_header(columns, path)
    schema = dict.fromkeys(columns, pl.Float64)
    try:
        df = pl.read_csv(
            path,
            has_header=False,
            skip_rows=1,
            new_columns=columns,
            schema=schema,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError) as e:
        raise DataError(_first_bad_cell(path, columns)) from e
    return _checked(path, df, columns, _csv_line)


LOG_SUFFIXES = (".csv", ".parquet")
"""File suffixes read as trajectory logs."""


def _csv_line(i: int) -> str:
    """Where data row i (0-based) of a CSV is: line i + 2 (after the header)."""
    return f"line {i + 2}"


def _parquet_row(i: int) -> str:
    """Where data row i (0-based) of a Parquet file is."""
    return f"row {i + 1}"


def _checked(
    path: Path,
    df: pl.DataFrame,
    columns: list[str],
    where: Callable[[int], str],
) -> Trajectory:
    """Check a parsed log's values; ``where(i)`` names data row i."""
    data = df.to_numpy()
    if data.shape[0] == 0:
        raise DataError(f"{path}: the file has a header but no rows")
    has_nulls = any(df.null_count().row(0))  # empty cells (rare: slow path)
    nulls = (
        np.argwhere(df.select(pl.all().is_null()).to_numpy())
        if has_nulls
        else ()
    )
    if len(nulls):
        i, j = nulls[0]
        raise DataError(
            f"{path}: {where(i)}, column {columns[j]!r}: an empty cell is "
            "not a number"
        )
    bad = np.argwhere(~np.isfinite(data))
    if len(bad):
        i, j = bad[0]
        raise DataError(
            f"{path}: {where(i)}, column {columns[j]!r}: {data[i, j]} "
            "(NaN or Inf) is not allowed"
        )
    times = data[:, 0]
    if len(times) > 1:
        dts = np.diff(times)
        nonpos = np.flatnonzero(dts <= 0)
        if len(nonpos):
            i = nonpos[0]
            raise DataError(
                f"{path}: {where(i + 1)}, column 'timestamp': "
                f"{times[i + 1]:.17g} does not increase (previous "
                f"{times[i]:.17g})"
            )
        dt = float(np.median(dts))
        off = np.flatnonzero(np.abs(dts - dt) > _DT_RTOL * dt)
        if len(off):
            i = off[0]
            raise DataError(
                f"{path}: {where(i + 1)}, column 'timestamp': spacing "
                f"{dts[i]:.6g} s differs from the file's step {dt:.6g} s"
            )
    return Trajectory(path, times, data[:, 1:], columns)


def read_trajectory_parquet(path: str | Path) -> Trajectory:
    """Read and check one Parquet log (the CSV log's columns, numeric).

    Raises:
        DataError: naming the file, row and column of the first problem,
            as for CSV logs; a column that is not numeric is named too.
    """
    path = Path(path)
    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from e
    columns = [str(c) for c in df.columns]
    parse_header(columns, path)
    for name, dtype in df.schema.items():
        if not dtype.is_numeric():
            raise DataError(
                f"{path}: column {name!r} has type {dtype}, not a number type"
            )
    return _checked(path, df.cast(pl.Float64), columns, _parquet_row)


def read_columns(path: str | Path) -> list[str]:
    """A log's column names, CSV or Parquet, without reading its rows."""
    path = Path(path)
    if path.suffix != ".parquet":
        return read_header(path)
    try:
        return list(pl.read_parquet_schema(path))
    except (OSError, pl.exceptions.PolarsError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from e


def read_trajectory(path: str | Path) -> Trajectory:
    """Read and check one log, CSV or Parquet by its suffix."""
    path = Path(path)
    if path.suffix == ".parquet":
        return read_trajectory_parquet(path)
    return read_trajectory_csv(path)


def read_manifest(data_dir: Path) -> dict | None:
    """The collection manifest beside the CSVs, or None when there is none."""
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from e


MANIFEST_IDENTITY = ("task", "model_sha256", "dt", "nq", "nv", "nu", "joints")
"""Manifest fields that identify the model the data came from."""


def list_logs(dirs: Sequence[Path]) -> list[Path]:
    """The CSV and Parquet logs of each directory, sorted by name."""
    files = []
    for d in map(Path, dirs):
        if not d.exists():
            raise DataError(f"{d}: the data directory does not exist")
        if not d.is_dir():
            raise DataError(f"{d}: not a directory")
        found = sorted(p for p in d.iterdir() if p.suffix in LOG_SUFFIXES)
        if not found:
            raise DataError(
                f"{d}: no CSV or Parquet logs in the data directory"
            )
        files += found
    return files


class Examples(Sequence):
    """Training windows that reference their datasets' rows (no copies).

    ``examples[i]`` is one window of ``history_length + prediction_horizon``
    raw rows; ``a + b`` combines the windows of two datasets of the same
    columns and layout into one sequence.
    """

    def __init__(self, parts: list[tuple[DynamicsDataset, np.ndarray]]):
        """Windows given as (dataset, example index array) parts."""
        self.parts = parts
        self._sizes = np.cumsum([0] + [len(ix) for _, ix in parts])

    def __len__(self) -> int:
        return int(self._sizes[-1])

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(f"example {i} out of range ({len(self)})")
        i %= len(self)
        p = int(np.searchsorted(self._sizes, i, side="right") - 1)
        ds, ix = self.parts[p]
        return ds.window_rows(np.array([ix[i - self._sizes[p]]]))[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def __add__(self, other: Examples) -> Examples:
        if not isinstance(other, Examples):
            return NotImplemented
        if self.parts and other.parts:
            a, b = self.parts[0][0], other.parts[0][0]
            a.check_compatible(b)
        return Examples(self.parts + other.parts)

    def batch(self, indices: np.ndarray) -> np.ndarray:
        """Windows for a batch of positions, (B, H + K, R) float32."""
        indices = np.asarray(indices)
        out = None
        for p, (ds, ix) in enumerate(self.parts):
            lo, hi = self._sizes[p], self._sizes[p + 1]
            sel = (indices >= lo) & (indices < hi)
            if not sel.any():
                continue
            rows = ds.window_rows(ix[indices[sel] - lo])
            if out is None:
                out = np.empty((len(indices), *rows.shape[1:]), rows.dtype)
            out[sel] = rows
        if out is None:
            raise IndexError("empty batch")
        return out


@dataclass(frozen=True)
class RowBlock:
    """The rows of whole files in memory, and the windows into them.

    Attributes:
        data: Rows, (N, R) float32, angles wrapped. A streamed block is
            padded with zero rows to the dataset's block size, which no
            window reads, so every block has one shape (no recompiles).
        file_offsets: First row of each file, then the end of the last,
            (F + 1,).
        example_rows: Each window's current row, (E,).
        example_files: Each window's file (its index in the block), (E,).
        files: The block's files.
    """

    data: np.ndarray
    file_offsets: np.ndarray
    example_rows: np.ndarray
    example_files: np.ndarray
    files: tuple[Path, ...]

    def window_starts(self) -> np.ndarray:
        """The first row of each window's file, (E,) int64."""
        return self.file_offsets[self.example_files].astype(np.int64)


def _first_window_row(history_length: int, pad_start: bool) -> int:
    """The first row of a file that can be a window's current row."""
    return 0 if pad_start else history_length - 1


def _make_block(
    trajectories: Sequence[Trajectory],
    layout: StateLayout,
    history_length: int,
    prediction_horizon: int,
    pad_start: bool,
    num_rows: int | None = None,
) -> RowBlock:
    """Rows of some files (angles wrapped) and the window index into them.

    ``num_rows`` pads the rows with zeros to a fixed count.
    """
    lengths = np.array([len(t.rows) for t in trajectories])
    file_offsets = np.concatenate([[0], np.cumsum(lengths)])
    total = int(file_offsets[-1])
    width = trajectories[0].rows.shape[1]
    rows = np.zeros((num_rows or total, width), np.float32)
    for t, lo in zip(trajectories, file_offsets, strict=False):
        rows[lo : lo + len(t.rows)] = t.rows
    angles = list(layout.angle_indices)
    if angles:
        a = np.concatenate([t.rows[:, angles] for t in trajectories])
        rows[:total, angles] = np.remainder(a + np.pi, 2 * np.pi) - np.pi
    first = _first_window_row(history_length, pad_start)
    starts, file_ids = [], []
    for f, n in enumerate(lengths):
        t = np.arange(first, n - prediction_horizon)
        starts.append(file_offsets[f] + t)
        file_ids.append(np.full(len(t), f))
    # int32 while it fits (JAX indexes in int32 anyway): the index arrays
    # stay small beside the float32 rows.
    index = np.int32 if len(rows) < 2**31 else np.int64
    return RowBlock(
        data=rows,
        file_offsets=file_offsets,
        example_rows=np.concatenate(starts).astype(index),
        example_files=np.concatenate(file_ids).astype(np.int32),
        files=tuple(t.path for t in trajectories),
    )


def _combine_moments(
    a: tuple[float, np.ndarray, np.ndarray],
    b: tuple[float, np.ndarray, np.ndarray],
) -> tuple[float, np.ndarray, np.ndarray]:
    """Chan et al.'s pairwise combination of (count, mean, centred M2)."""
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    total = n_a + n_b
    if total == 0:
        return a
    delta = mean_b - mean_a
    mean = mean_a + delta * n_b / total
    return total, mean, m2_a + m2_b + np.square(delta) * n_a * n_b / total


SPLITS = ("train", "val")


class DynamicsDataset:
    """Every log in a directory, checked, as windows for the GRU.

    Rows of all files are kept once (float32, angles wrapped to [-π, π):
    features and deltas only see angles through cos, sin and wrapped
    differences, so nothing is lost and float32 keeps its precision). A
    window of H + K rows is an index into them. Windows at the start of a
    file are also offered with the history before the first row padded by
    the first state with zero control, the start-up history planning uses.

    With ``max_rows_in_memory`` the dataset is *streamed*: construction
    reads each file once (to check it and count its rows), keeps no rows,
    and reads the training files once more for the statistics, combined
    block by block. :meth:`blocks` then reads whole files into blocks of at
    most that many rows, one block at a time (plus the next, read ahead).

    Files are split into training and validation *by file*, from the seed.
    Standardization statistics come from the training files only.
    """

    def __init__(
        self,
        data_dir: str | Path | Sequence[str | Path],
        coordinate_indices: Sequence[int] | None = None,
        angle_indices: Sequence[int] | None = None,
        history_length: int = 11,
        prediction_horizon: int = 9,
        transform_fn: TransformFn | None = None,
        val_fraction: float = 0.2,
        seed: int = 42,
        pad_start: bool = True,
        val_files: Sequence[str] | None = None,
        verbose: bool = True,
        max_rows_in_memory: int | None = None,
        quat_indices: Sequence[int] | None = None,
        heading_frame: bool = False,
    ):
        """Read, check and index the logs.

        Args:
            data_dir: A directory of CSV or Parquet logs, or several (their
                files are pooled; they must share columns).
            coordinate_indices: qpos indices of Cartesian coordinates; from
                the directory's manifest.json when None.
            angle_indices: qpos indices of angles; from the manifest when
                None.
            history_length: Rows per input window (H).
            prediction_horizon: Steps the loss rolls out (K).
            transform_fn: Optional custom qpos feature map (see README).
            val_fraction: Share of files held out for validation.
            seed: Seed of the file split.
            pad_start: Also offer start-of-file windows padded with the
                first state and zero control.
            val_files: File names to validate on, instead of a random split
                (e.g. a checkpoint's, to evaluate on its validation files).
            verbose: Print a summary and warnings.
            max_rows_in_memory: Stream: keep at most this many rows per
                block of whole files (None keeps every row in memory).
            quat_indices: First qpos index of each free/ball joint's
                quaternion; from the manifest when None (none without one).
            heading_frame: Free joints in their heading (yaw) frame (see
                ``StateLayout``).
        """
        if history_length < 1:
            raise ValueError(
                f"history_length must be >= 1, got {history_length}"
            )
        if prediction_horizon < 1:
            raise ValueError(
                f"prediction_horizon must be >= 1, got {prediction_horizon}"
            )
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(
                f"val_fraction must be in [0, 1), got {val_fraction}"
            )
        if max_rows_in_memory is not None and max_rows_in_memory < 1:
            raise ValueError(
                f"max_rows_in_memory must be >= 1, got {max_rows_in_memory}"
            )
        dirs = (
            [Path(data_dir)]
            if isinstance(data_dir, str | Path)
            else [Path(d) for d in data_dir]
        )
        if not dirs:
            raise ValueError("data_dir is an empty list")
        self.data_dirs = dirs
        self.history_length = history_length
        self.prediction_horizon = prediction_horizon
        self.transform_fn = transform_fn
        self.pad_start = pad_start
        self.max_rows_in_memory = max_rows_in_memory

        self.manifest = read_manifest(dirs[0])
        for d in dirs[1:]:
            other = read_manifest(d)
            if self.manifest and other:
                for key in ("nq", "nv", "nu"):
                    if self.manifest.get(key) != other.get(key):
                        raise DataError(
                            f"{d}: manifest {key}={other.get(key)} differs "
                            f"from {dirs[0]}'s {self.manifest.get(key)}"
                        )

        files = list_logs(dirs)
        trajectories, lengths, dts, columns, dims = self._read_all(
            files, keep_rows=not self.streaming
        )
        self.columns = columns
        nq, nv, nu = dims
        if angle_indices is None or coordinate_indices is None:
            if self.manifest is None:
                raise DataError(
                    f"{dirs[0]}: no {MANIFEST} to read angle_indices and "
                    "coordinate_indices from; pass both explicitly (e.g. "
                    "angle_indices=[1, 2], coordinate_indices=[0])"
                )
            if angle_indices is None:
                angle_indices = self.manifest.get("angle_indices", [])
            if coordinate_indices is None:
                coordinate_indices = self.manifest.get("coordinate_indices", [])
        if quat_indices is None:
            quat_indices = (self.manifest or {}).get("quat_indices", [])
        self.layout = StateLayout.create(
            nq,
            nv,
            nu,
            angle_indices,
            coordinate_indices,
            quat_indices,
            heading_frame,
        )
        self._check_manifest_dims(dims)
        self.dt = self._common_dt(files, dts)

        need = prediction_horizon + (1 if pad_start else history_length)
        kept = [i for i, n in enumerate(lengths) if n >= need]
        skipped = len(files) - len(kept)
        if skipped and verbose:
            warnings.warn(
                f"skipped {skipped} of {len(files)} files shorter than "
                f"{need} rows (history {history_length} + horizon "
                f"{prediction_horizon})",
                stacklevel=2,
            )
        if not kept:
            raise DataError(
                f"{', '.join(map(str, dirs))}: no file has the {need} rows a "
                f"window needs (history_length={history_length}, "
                f"prediction_horizon={prediction_horizon})"
            )
        self.skipped_files = skipped
        self.files = [files[i] for i in kept]
        self.file_rows = np.array([lengths[i] for i in kept], np.int64)
        if self.streaming:
            longest = int(np.argmax(self.file_rows))
            if self.file_rows[longest] > max_rows_in_memory:
                raise DataError(
                    f"{self.files[longest]}: {self.file_rows[longest]} rows, "
                    f"more than max_rows_in_memory={max_rows_in_memory}; a "
                    "block holds whole files, so raise it"
                )
            self._block = None
        else:
            self._block = _make_block(
                [trajectories[i] for i in kept],
                self.layout,
                history_length,
                prediction_horizon,
                pad_start,
            )
        self._split(val_fraction, seed, val_files)
        self._plan_blocks()
        self.statistics = self.compute_statistics()
        if verbose:
            print(self.summary())

    # --- reading --------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        """Whether rows are read per block instead of kept in memory."""
        return self.max_rows_in_memory is not None

    def _read_all(
        self, files: list[Path], keep_rows: bool
    ) -> tuple[
        list[Trajectory | None],
        list[int],
        list[float | None],
        list[str],
        tuple[int, int, int],
    ]:
        def read(path: Path) -> tuple:
            # Streamed, only the facts are kept: memory holds one file per
            # reading thread.
            traj = read_trajectory(path)
            dt = (
                float(np.median(np.diff(traj.times)))
                if len(traj.times) > 1
                else None
            )
            kept = traj if keep_rows else None
            return kept, len(traj.rows), dt, traj.columns

        trajectories, lengths, dts = [], [], []
        columns, dims = None, None
        # Small logs are dominated by per-file overhead; the parser releases
        # the GIL, so threads overlap it. Results (and the first error)
        # come in file order.
        pool = ThreadPoolExecutor(max_workers=_READ_THREADS)
        try:
            for path, (traj, n, dt, cols) in zip(
                files, pool.map(read, files), strict=True
            ):
                if columns is None:
                    columns, dims = cols, parse_header(cols, path)
                    first = path
                elif cols != columns:
                    raise DataError(
                        f"{path}: header differs from {first}'s "
                        f"({len(cols)} vs {len(columns)} columns: "
                        f"{','.join(cols[:6])}... vs "
                        f"{','.join(columns[:6])}...)"
                    )
                trajectories.append(traj)
                lengths.append(n)
                dts.append(dt)
        finally:  # on an error, the files not read yet are not read
            pool.shutdown(cancel_futures=True)
        assert columns is not None and dims is not None
        return trajectories, lengths, dts, columns, dims

    def _check_manifest_dims(self, dims: tuple[int, int, int]) -> None:
        if self.manifest is None:
            return
        for key, value in zip(("nq", "nv", "nu"), dims, strict=True):
            if key in self.manifest and self.manifest[key] != value:
                raise DataError(
                    f"{self.data_dirs[0] / MANIFEST}: {key}="
                    f"{self.manifest[key]} but the CSV header has {value}"
                )

    def _common_dt(self, files: list[Path], dts: list[float | None]) -> float:
        known = [(dt, path) for dt, path in zip(dts, files, strict=True) if dt]
        if not known:
            raise DataError("no file has two rows to read a timestep from")
        dt, first = known[0]
        for other, path in known[1:]:
            if abs(other - dt) > _DT_RTOL * dt:
                raise DataError(
                    f"{path}: timestep {other:.6g} s differs from {first}'s "
                    f"{dt:.6g} s"
                )
        if self.manifest and "dt" in self.manifest:
            m_dt = float(self.manifest["dt"])
            if abs(m_dt - dt) > _DT_RTOL * m_dt:
                raise DataError(
                    f"{first}: timestep {dt:.6g} s differs from the "
                    f"manifest's dt {m_dt:.6g} s"
                )
            dt = m_dt
        return dt

    def _split(
        self, val_fraction: float, seed: int, val_files: Sequence[str] | None
    ) -> None:
        names = [p.name for p in self.files]
        n = len(names)
        if val_files is not None:
            wanted = set(val_files)
            val = np.array([name in wanted for name in names])
        else:
            n_val = int(round(val_fraction * n))
            if val_fraction > 0:
                n_val = max(n_val, 1)
            if val_fraction > 0 and n - n_val < 1:
                raise DataError(
                    f"{n} usable file(s): a split by file needs at least 2 "
                    "(pass val_fraction=0 to train without validation)"
                )
            order = np.random.default_rng(seed).permutation(n)
            val = np.zeros(n, bool)
            val[order[:n_val]] = True
        self.val_file_mask = val
        self.train_files = [
            p for p, v in zip(self.files, val, strict=True) if not v
        ]
        self.val_files = [p for p, v in zip(self.files, val, strict=True) if v]
        windows = self.windows_per_file()
        self.num_windows = {
            "train": int(windows[~val].sum()),
            "val": int(windows[val].sum()),
        }
        if self.num_windows["train"] == 0:
            raise DataError("no training windows are left after the split")
        if self._block is not None:
            is_val = val[self._block.example_files]
            index = self._block.example_rows.dtype
            self._indices = {
                "train": np.flatnonzero(~is_val).astype(index),
                "val": np.flatnonzero(is_val).astype(index),
            }

    def windows_per_file(self) -> np.ndarray:
        """The number of windows each file offers, (F,)."""
        first = _first_window_row(self.history_length, self.pad_start)
        return np.maximum(self.file_rows - self.prediction_horizon - first, 0)

    # --- blocks ---------------------------------------------------------------

    def _plan_blocks(self) -> None:
        """Pack each split's files, in order, into blocks of whole files."""
        self._block_files: dict[str, list[np.ndarray]] = {}
        for split in SPLITS:
            ids = np.flatnonzero(self.val_file_mask == (split == "val"))
            if not self.streaming:
                self._block_files[split] = [ids] if len(ids) else []
                continue
            plan, current, rows = [], [], 0
            for f in ids:
                n = int(self.file_rows[f])
                if current and rows + n > self.max_rows_in_memory:
                    plan.append(np.array(current))
                    current, rows = [], 0
                current.append(f)
                rows += n
            if current:
                plan.append(np.array(current))
            self._block_files[split] = plan
        if self.streaming:
            self.block_rows = int(
                max(
                    self.file_rows[f].sum()
                    for plan in self._block_files.values()
                    for f in plan
                )
            )

    def num_blocks(self, split: str) -> int:
        """How many blocks :meth:`blocks` yields for a split."""
        return len(self._block_files[_check_split(split)])

    def block_windows(self, split: str) -> list[int]:
        """The split's windows in each of its blocks, in block order."""
        split = _check_split(split)
        if not self.streaming:
            n = len(self._indices[split])
            return [n] if n else []
        windows = self.windows_per_file()
        return [int(windows[f].sum()) for f in self._block_files[split]]

    def blocks(
        self, split: str, order: Sequence[int] | None = None
    ) -> Iterator[tuple[RowBlock, np.ndarray]]:
        """The split's windows, block by block.

        In memory there is one block (all rows); its windows of the split are
        the yielded example ids. Streamed, each block holds only the split's
        files and every window in it belongs to the split; the next block is
        read in a background thread while the caller works on this one.

        Args:
            split: ``train`` or ``val``.
            order: The order of the blocks (a permutation of
                ``range(num_blocks(split))``); None keeps file order.

        Yields:
            (block, example ids into ``block.example_rows``).
        """
        plan = self._block_files[_check_split(split)]
        order = list(range(len(plan))) if order is None else list(order)
        if not self.streaming:
            for _ in order:
                yield self._block, self._indices[split]
            return
        pool = ThreadPoolExecutor(max_workers=1)
        pending = (
            pool.submit(self._load_block, plan[order[0]]) if order else None
        )
        try:
            for i in range(len(order)):
                block = pending.result()
                pending = (
                    pool.submit(self._load_block, plan[order[i + 1]])
                    if i + 1 < len(order)
                    else None
                )
                yield block, np.arange(len(block.example_rows))
        finally:  # a consumer that stops early stops the read-ahead too
            if pending is not None:
                pending.cancel()
            pool.shutdown(wait=False, cancel_futures=True)

    def _load_block(self, file_ids: np.ndarray) -> RowBlock:
        trajectories = []
        for f in file_ids:
            traj = read_trajectory(self.files[f])
            if traj.columns != self.columns or len(traj.rows) != int(
                self.file_rows[f]
            ):
                raise DataError(
                    f"{self.files[f]}: changed since the dataset was indexed "
                    f"({len(traj.rows)} rows, {self.file_rows[f]} before)"
                )
            trajectories.append(traj)
        return _make_block(
            trajectories,
            self.layout,
            self.history_length,
            self.prediction_horizon,
            self.pad_start,
            num_rows=self.block_rows,
        )

    # --- in memory ------------------------------------------------------------

    def _memory_block(self, what: str) -> RowBlock:
        if self._block is None:
            raise DataError(
                f"{what} needs the rows in memory, but this dataset is "
                f"streamed (max_rows_in_memory={self.max_rows_in_memory}); "
                "iterate dataset.blocks(split) instead"
            )
        return self._block

    @property
    def data(self) -> np.ndarray:
        """All rows, (N, R) float32, angles wrapped (in memory only)."""
        return self._memory_block("dataset.data").data

    @property
    def file_offsets(self) -> np.ndarray:
        """First row of each file, then the end (in memory only)."""
        return self._memory_block("dataset.file_offsets").file_offsets

    @property
    def example_rows(self) -> np.ndarray:
        """Each window's current row (in memory only)."""
        return self._memory_block("dataset.example_rows").example_rows

    @property
    def example_files(self) -> np.ndarray:
        """Each window's file (in memory only)."""
        return self._memory_block("dataset.example_files").example_files

    @property
    def train_indices(self) -> np.ndarray:
        """Example ids of the training windows (in memory only)."""
        self._memory_block("dataset.train_indices")
        return self._indices["train"]

    @property
    def val_indices(self) -> np.ndarray:
        """Example ids of the validation windows (in memory only)."""
        self._memory_block("dataset.val_indices")
        return self._indices["val"]

    @property
    def examples(self) -> Examples:
        """All windows, as a sequence that ``+`` combines across datasets."""
        return Examples([(self, np.arange(len(self.example_rows)))])

    @property
    def train_examples(self) -> Examples:
        """The training split's windows."""
        return Examples([(self, self.train_indices)])

    @property
    def val_examples(self) -> Examples:
        """The validation split's windows."""
        return Examples([(self, self.val_indices)])

    def window_offsets(self) -> np.ndarray:
        """Row offsets of a window relative to its current row, (H + K,)."""
        return np.arange(-self.history_length + 1, self.prediction_horizon + 1)

    def window_rows(self, example_ids: np.ndarray) -> np.ndarray:
        """Raw rows of windows, (B, H + K, R), start-up padding applied."""
        return np.asarray(
            gather_windows(
                self.data,
                self.example_rows[example_ids],
                self.file_offsets[self.example_files[example_ids]],
                self.window_offsets(),
                self.layout.nq + self.layout.nv,
            )
        )

    def check_compatible(self, other: DynamicsDataset) -> None:
        """Raise when two datasets cannot be pooled (columns or layout)."""
        if self.columns != other.columns:
            raise DataError(
                f"cannot combine {other.data_dirs[0]} with "
                f"{self.data_dirs[0]}: their columns differ"
            )
        if self.layout != other.layout:
            raise DataError(
                f"cannot combine {other.data_dirs[0]} with "
                f"{self.data_dirs[0]}: angle/coordinate indices differ "
                f"({other.layout} vs {self.layout})"
            )
        if (self.history_length, self.prediction_horizon) != (
            other.history_length,
            other.prediction_horizon,
        ):
            raise DataError(
                "cannot combine datasets of different history_length or "
                "prediction_horizon"
            )

    # --- statistics -----------------------------------------------------------

    def compute_statistics(self, chunk: int = 16384) -> dict[str, np.ndarray]:
        """Standardization statistics over the training split.

        Inputs: mean and std per feature over all (window, row) pairs.
        Deltas: mean and std of one-step true deltas per additive dimension;
        each angle pair gets mean (1, 0) and std(sin Δθ) on both components.
        Every std is floored at ``STD_EPS``. Moments are combined per chunk
        and per block in float64 (Chan et al.), with fixed chunk shapes, so
        the functions compile once.
        """
        layout = self.layout
        ns = layout.nq + layout.nv
        static = {
            "layout": layout,
            "history_length": self.history_length,
            "transform_fn": self.transform_fn,
        }
        features = (0.0, np.float64(0.0), np.float64(0.0))
        steps = (0.0, np.float64(0.0), np.float64(0.0))
        for block, ids in self.blocks("train"):
            data = jnp.asarray(block.data)
            starts = block.window_starts()
            for lo in range(0, len(ids), chunk):
                part = ids[lo : lo + chunk]
                weight = np.ones(chunk, np.float32)
                weight[len(part) :] = 0.0
                part = np.resize(part, chunk)
                features = _combine_moments(
                    features,
                    tuple(
                        np.asarray(x, np.float64)
                        for x in _feature_moments(
                            data,
                            block.example_rows[part],
                            starts[part],
                            weight,
                            **static,
                        )
                    ),
                )
            # One-step deltas (row t → t + 1) within each training file.
            d = _step_deltas(data[:-1, :ns], data[1:, :ns], layout=layout)
            d = np.asarray(d, np.float64)
            d = d[self._delta_pairs(block)]
            mean = d.mean(0)
            steps = _combine_moments(
                steps, (float(len(d)), mean, np.square(d - mean).sum(0))
            )
        in_mean = np.asarray(features[1])
        in_std = np.sqrt(np.maximum(features[2] / features[0], 0.0))
        out_mean = np.array(steps[1])
        out_std = np.sqrt(np.maximum(steps[2] / max(steps[0], 1.0), 0.0))
        for c, s in layout.angle_slots:
            out_mean[c], out_mean[s] = 1.0, 0.0
            out_std[c] = out_std[s]
        return {
            "in_mean": in_mean.astype(np.float32),
            "in_std": np.maximum(in_std, STD_EPS).astype(np.float32),
            "out_mean": out_mean.astype(np.float32),
            "out_std": np.maximum(out_std, STD_EPS).astype(np.float32),
        }

    def _delta_pairs(self, block: RowBlock) -> np.ndarray:
        """Which (t, t + 1) row pairs of a block lie in one training file."""
        n = len(block.data)
        file_of = np.searchsorted(block.file_offsets, np.arange(n), "right") - 1
        real = np.arange(n) < block.file_offsets[-1]  # not padding
        same = (file_of[:-1] == file_of[1:]) & real[1:]
        if self.streaming:  # a streamed block holds one split's files
            return same
        return same & ~self.val_file_mask[file_of[1:]]

    def summary(self) -> str:
        """One paragraph: files, rows, windows, split, dims."""
        rows = int(self.file_rows.sum())
        stream = (
            f", streamed in blocks of <= {self.block_rows} rows "
            f"({self.num_blocks('train')} train / {self.num_blocks('val')} "
            "val blocks)"
            if self.streaming
            else ""
        )
        return (
            f"dataset: {len(self.files)} files ({len(self.train_files)} train,"
            f" {len(self.val_files)} val), {rows} rows, "
            f"{self.num_windows['train']} train / {self.num_windows['val']} "
            f"val windows of {self.history_length}+{self.prediction_horizon} "
            f"rows; nq={self.layout.nq} nv={self.layout.nv} "
            f"nu={self.layout.nu}, dt={self.dt:g} s, angles "
            f"{list(self.layout.angle_indices)}, coordinates "
            f"{list(self.layout.coordinate_indices)}{stream}"
        )


@partial(jax.jit, static_argnames=("layout", "history_length", "transform_fn"))
def _feature_moments(
    data: jax.Array,
    rows: jax.Array,
    starts: jax.Array,
    weight: jax.Array,
    *,
    layout: StateLayout,
    history_length: int,
    transform_fn: TransformFn | None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Count, mean and centred sum of squares of one chunk's input features.

    Module-level and keyed on static arguments, so every dataset of one
    layout shares one compiled program.
    """
    offsets = jnp.arange(-history_length + 1, 1)
    win = gather_windows(data, rows, starts, offsets, layout.nq + layout.nv)
    f = window_features(layout, win, transform_fn)
    w = jnp.broadcast_to(weight[:, None, None], f.shape[:-1] + (1,))
    n = jnp.sum(w)
    mean = jnp.sum(w * f, axis=(0, 1)) / jnp.maximum(n, 1.0)
    m2 = jnp.sum(w * jnp.square(f - mean), axis=(0, 1))
    return n, mean, m2


@partial(jax.jit, static_argnames=("layout",))
def _step_deltas(
    prev: jax.Array, nxt: jax.Array, *, layout: StateLayout
) -> jax.Array:
    """One-step deltas of consecutive rows (``state_delta``), jitted once."""
    return state_delta(layout, prev, nxt)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return split


def gather_windows(
    data: jax.Array | np.ndarray,
    rows: jax.Array | np.ndarray,
    file_starts: jax.Array | np.ndarray,
    offsets: jax.Array | np.ndarray,
    ns: int,
) -> jax.Array:
    """Gather windows of rows; rows before a file's start are padding.

    Padding rows hold the file's first state with zero control.

    Args:
        data: All rows, (N, R).
        rows: Each window's current row (global index), (B,).
        file_starts: The first global row of each window's file, (B,).
        offsets: Row offsets relative to the current row, (W,).
        ns: nq + nv (the state part of a row).

    Returns:
        Windows, (B, W, R).
    """
    idx = jnp.asarray(rows)[:, None] + jnp.asarray(offsets)[None, :]
    starts = jnp.asarray(file_starts)[:, None]
    pad = idx < starts
    win = jnp.asarray(data)[jnp.maximum(idx, starts)]
    ctrl_mask = (jnp.arange(win.shape[-1]) >= ns)[None, None, :]
    return jnp.where(pad[..., None] & ctrl_mask, 0.0, win)
