"""Read and check a set of logs at once: :func:`list_logs`, :func:`scan_logs`.

A directory of logs is read with one multi-file scan of the polars engine
when every file is CSV (or every file Parquet) and the rows are kept: one
parse of all files, spread over the cores, then the same checks as one file
at a time (values finite, timestamps increasing and evenly spaced, per
file). Whenever that scan or its checks find anything wrong, the files are
read again one at a time, so the error is exactly the one that file's own
reader gives (file, line or row, column), and the first bad file in order
is the one named.

A caller may fold its own work into the reading (``on_file``): each checked
file is handed to it once, in file order, so nothing has to read the files a
second time (the dataset computes its standardization statistics there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from hydrax.logs.format import DT_RTOL, LOG_SUFFIXES, DataError, parse_header
from hydrax.logs.reader import (
    Trajectory,
    check_times,
    csv_line,
    parquet_row,
    read_columns,
    read_trajectory,
)

_READ_THREADS = 8
"""Logs read at once on the one-file-at-a-time path. Reading a small log is
mostly fixed latency (opening, the parser's thread pool), not CPU, so even
2 cores gain from 8 threads."""

_AHEAD = 2 * _READ_THREADS
"""Files read ahead of the one being handed on: memory holds at most this
many logs when the rows are not kept."""

OnFile = Callable[[int, Trajectory], None]
"""Called with (index in ``files``, checked log) for each file, in order."""

_FILE = "__hydrax_file__"
"""The column the multi-file scan adds: each row's file."""


def holds_logs(directory: str | Path) -> bool:
    """Whether a directory holds a CSV or Parquet log (False if absent)."""
    d = Path(directory)
    return d.is_dir() and any(p.suffix in LOG_SUFFIXES for p in d.iterdir())


def list_logs(dirs: str | Path | Sequence[str | Path]) -> list[Path]:
    """The CSV and Parquet logs of a directory or each of several, sorted.

    Raises:
        DataError: naming a directory that is missing, holds no log, or is
            given twice (its files would count twice, and could fall on
            both sides of a train/validation split).
    """
    files = []
    seen: set[Path] = set()
    for d in map(Path, [dirs] if isinstance(dirs, str | Path) else dirs):
        if not d.exists():
            raise DataError(
                f"{d}: the data directory does not exist" + _elsewhere(d)
            )
        if not d.is_dir():
            raise DataError(f"{d}: not a directory")
        if d.resolve() in seen:
            raise DataError(
                f"{d}: the data directory is given twice (both are "
                f"{d.resolve()}); its logs would count twice and could fall "
                "on both sides of the train/validation split (to weigh a "
                "directory more: data_weights)"
            )
        seen.add(d.resolve())
        found = sorted(p for p in d.iterdir() if p.suffix in LOG_SUFFIXES)
        if not found:
            raise DataError(
                f"{d}: no CSV or Parquet logs in the data directory"
            )
        files += found
    return files


def _elsewhere(d: Path) -> str:
    """A hint where a relative path exists from the checkout's root.

    Collection writes into the package (``hydrax/data_csv/<task>``,
    whatever the working directory), so the README's relative paths hold
    from the checkout's root only.
    """
    from hydrax import ROOT

    there = Path(ROOT).parent / d
    if d.is_absolute() or not there.is_dir():
        return ""
    return (
        f" in the working directory {Path.cwd()}; {there} does (a relative "
        "path is read from the working directory)"
    )


def count_rows(path: str | Path) -> int:
    """The number of data rows of a log, without checking its values."""
    path = Path(path)
    if path.suffix == ".parquet":
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    frame = pl.scan_csv(path, infer_schema=False)
    return int(frame.select(pl.len()).collect().item())


@dataclass(frozen=True)
class LogScan:
    """What reading a set of logs found, in file order.

    Attributes:
        files: The logs.
        trajectories: Each file's rows (None where they were not kept).
        lengths: Rows per file.
        timesteps: Each file's timestep (None for a one-row file).
        columns: The header all files share.
        dims: (nq, nv, nu) of that header.
        fingerprints: Each file's content fingerprint
            (`hydrax.logs.split.log_fingerprint`).
    """

    files: list[Path]
    trajectories: list[Trajectory | None]
    lengths: list[int]
    timesteps: list[float | None]
    columns: list[str]
    dims: tuple[int, int, int]
    fingerprints: list[str]

    def common_timestep(self) -> tuple[float, Path]:
        """The timestep every file shares, and the first file that has one.

        Raises:
            DataError: when no file has two rows, or files differ.
        """
        known = [
            (dt, p)
            for dt, p in zip(self.timesteps, self.files, strict=True)
            if dt
        ]
        if not known:
            raise DataError("no file has two rows to read a timestep from")
        dt, first = known[0]
        for other, path in known[1:]:
            if abs(other - dt) > DT_RTOL * dt:
                raise DataError(
                    f"{path}: timestep {other:.6g} s differs from {first}'s "
                    f"{dt:.6g} s"
                )
        return dt, first


def scan_logs(
    files: Sequence[Path],
    keep_rows: bool = True,
    at_once: bool = True,
    on_file: OnFile | None = None,
) -> LogScan:
    """Read and check every log; they must share one header.

    With ``keep_rows`` and files of one format, one multi-file scan reads
    them all (see the module's docstring); otherwise, and whenever that
    finds a problem, a pool of threads reads them one by one (the parser
    releases the GIL). Results, and the first error, come in file order.

    Args:
        files: The logs.
        keep_rows: Keep each file's rows; without, only the facts are kept
            and memory holds one file per reading thread.
        at_once: Try the multi-file scan first (False: one file at a time,
            as the benchmark compares).
        on_file: Called with (index, log) for each checked file, in file
            order, in the calling thread, once per file (a file after the
            first bad one is not handed on). Without ``keep_rows`` the rows
            are dropped after the call.

    Raises:
        DataError: the first bad file, or a header that differs from the
            first file's.
    """
    files = list(files)
    if not files:
        raise DataError("no logs to read")
    if at_once and keep_rows and len({p.suffix for p in files}) == 1:
        read = _read_at_once(files)
        if read is not None:
            trajectories, timesteps = read
            for i, traj in enumerate(trajectories if on_file else ()):
                on_file(i, traj)
            return LogScan(
                files,
                list(trajectories),
                [len(t.rows) for t in trajectories],
                timesteps,
                trajectories[0].columns,
                parse_header(trajectories[0].columns, files[0]),
                [t.fingerprint() for t in trajectories],
            )
    return _read_one_by_one(files, keep_rows, on_file)


def _read_at_once(
    files: list[Path],
) -> tuple[list[Trajectory], list[float | None]] | None:
    """Every file in one scan, checked, with its timestep; None: a problem.

    None sends the caller to the one-by-one reading, which names the
    problem exactly; this path only has to be right when it returns logs.
    """
    try:
        columns = read_columns(files[0])
        parse_header(columns, files[0])
        if any(read_columns(p) != columns for p in files[1:]):
            return None
        names = [str(p) for p in files]
        if files[0].suffix == ".parquet":
            frame = pl.scan_parquet(names, include_file_paths=_FILE)
            where = parquet_row
        else:
            frame = pl.scan_csv(
                names,
                has_header=False,
                skip_rows=1,
                new_columns=columns,
                schema=dict.fromkeys(columns, pl.Float64),
                include_file_paths=_FILE,
            )
            where = csv_line
        df = frame.collect()
    except (OSError, DataError, pl.exceptions.PolarsError):
        return None
    if any(not df.schema[c].is_numeric() for c in columns):
        return None
    counts = df.group_by(_FILE, maintain_order=True).len()
    if (
        counts[_FILE].to_list() != names
        or df.select(columns).null_count().sum_horizontal().item()
    ):
        return None  # an empty file, or an empty cell
    data = df.select(pl.col(columns).cast(pl.Float64)).to_numpy()
    if not np.isfinite(data).all():
        return None
    ends = np.cumsum(counts["len"].to_numpy())
    out, timesteps = [], []
    for path, lo, hi in zip(
        files, ends - counts["len"].to_numpy(), ends, strict=True
    ):
        times = data[lo:hi, 0]
        try:
            dt = check_times(path, times, where)
        except DataError:
            return None
        timesteps.append(dt)
        out.append(Trajectory(path, times, data[lo:hi, 1:], columns, dt))
    return out, timesteps


def _read_one_by_one(
    files: list[Path], keep_rows: bool, on_file: OnFile | None = None
) -> LogScan:
    """Read files with a pool of threads; the first error in file order.

    At most ``_AHEAD`` files are read ahead of the one handed on, so without
    ``keep_rows`` memory stays bounded however slow ``on_file`` is.
    """

    def read(path: Path) -> tuple:
        traj = read_trajectory(path)
        kept = traj if keep_rows or on_file else None
        facts = len(traj.rows), traj.timestep(), traj.fingerprint()
        return kept, facts, traj.columns

    trajectories, lengths, dts, fingerprints = [], [], [], []
    columns, dims, first = None, None, None
    pool = ThreadPoolExecutor(max_workers=_READ_THREADS)
    ahead: deque[Future] = deque()
    queue = iter(files)

    def top_up() -> None:
        while len(ahead) < _AHEAD and (path := next(queue, None)):
            ahead.append(pool.submit(read, path))

    try:
        top_up()
        for i, path in enumerate(files):
            traj, (n, dt, fingerprint), cols = ahead.popleft().result()
            top_up()
            if columns is None:
                columns, dims, first = cols, parse_header(cols, path), path
            elif cols != columns:
                raise DataError(_header_difference(path, cols, first, columns))
            if on_file is not None:
                on_file(i, traj)
            trajectories.append(traj if keep_rows else None)
            lengths.append(n)
            dts.append(dt)
            fingerprints.append(fingerprint)
    finally:
        pool.shutdown(cancel_futures=True)
    assert columns is not None and dims is not None
    return LogScan(
        files, trajectories, lengths, dts, columns, dims, fingerprints
    )


def _header_difference(
    path: Path, cols: list[str], first: Path, columns: list[str]
) -> str:
    """Where a file's header first differs from the first file's."""
    i = next(
        (
            j
            for j, (a, b) in enumerate(zip(cols, columns, strict=False))
            if a != b
        ),
        min(len(cols), len(columns)),
    )
    here = repr(cols[i]) if i < len(cols) else "missing"
    there = repr(columns[i]) if i < len(columns) else "missing"
    return (
        f"{path}: header differs from {first}'s ({len(cols)} vs "
        f"{len(columns)} columns): column {i + 1} is {here} here and "
        f"{there} there"
    )
