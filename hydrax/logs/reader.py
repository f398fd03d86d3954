"""Read and check one trajectory log, CSV or Parquet, into :class:`Trajectory`.

Every problem is a :class:`DataError` that names the file and, where there is
one, the line (CSV) or row (Parquet) and the column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from hydrax.logs.format import (
    DT_RTOL,
    DataError,
    parse_header,
)
from hydrax.logs.split import log_fingerprint
from hydrax.utils import plural

_FIELDS = ("times", "qpos", "qvel", "ctrl")


@dataclass(frozen=True, repr=False)
class Trajectory:
    """One checked log.

    ``traj["qpos"]`` is ``traj.qpos`` (likewise ``times``, ``qvel``,
    ``ctrl``), the mapping form older code reads.

    Attributes:
        path: The file.
        times: Timestamps, (T,) float64.
        rows: (qpos, qvel, ctrl) per row, float64, (T, nq + nv + nu).
        columns: The header's column names.
        checked_step: The median spacing the timestamp check computed
            (None: not checked yet, or one row); ``timestep()`` returns it.
    """

    path: Path
    times: np.ndarray
    rows: np.ndarray
    columns: list[str]
    checked_step: float | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        """The file, its size and dimensions (not the values)."""
        (nq, nv, nu), dt = self.dims, self.timestep()
        return (
            f"Trajectory({str(self.path)!r}, {len(self.times)} rows, "
            f"nq={nq} nv={nv} nu={nu}, dt={'-' if dt is None else f'{dt:g}'})"
        )

    @property
    def dims(self) -> tuple[int, int, int]:
        """(nq, nv, nu) from the header."""
        return parse_header(self.columns, self.path)

    def fingerprint(self) -> str:
        """The log's content fingerprint (`hydrax.logs.split`)."""
        return log_fingerprint(self.times, self.rows, self.columns)

    @property
    def qpos(self) -> np.ndarray:
        """Positions, (T, nq)."""
        nq, _, _ = self.dims
        return self.rows[:, :nq]

    @property
    def qvel(self) -> np.ndarray:
        """Velocities, (T, nv)."""
        nq, nv, _ = self.dims
        return self.rows[:, nq : nq + nv]

    @property
    def ctrl(self) -> np.ndarray:
        """Applied controls, (T, nu)."""
        nq, nv, _ = self.dims
        return self.rows[:, nq + nv :]

    def __getitem__(self, name: str) -> np.ndarray:
        """``times``, ``qpos``, ``qvel`` or ``ctrl`` by name."""
        if name not in _FIELDS:
            raise KeyError(f"{name!r} is not one of {', '.join(_FIELDS)}")
        return getattr(self, name)

    def timestep(self) -> float | None:
        """The median spacing of the timestamps (None for one row)."""
        if len(self.times) < 2:
            return None
        if self.checked_step is not None:
            return self.checked_step
        return float(np.median(np.diff(self.times)))


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV log's first line (a BOM is dropped)."""
    path = Path(path)
    with open(path, "rb") as f:
        return _parse_header(path, f.readline())


def _parse_header(path: Path, first: bytes) -> list[str]:
    """The column names in a CSV log's first line, as bytes."""
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e})") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty (no header line)")
    return [c.strip() for c in next(csv.reader([text]))]


def read_columns(path: str | Path) -> list[str]:
    """A log's column names, CSV or Parquet, without reading its rows."""
    path = Path(path)
    if path.suffix != ".parquet":
        return read_header(path)
    try:
        return list(pl.read_parquet_schema(path))
    except (OSError, pl.exceptions.PolarsError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from e


def _first_bad_cell(path: Path, columns: list[str]) -> str:
    """Locate the first cell that is not a number (slow path, errors only).

    A row of another number of fields than the header is named first.
    """
    text = path.read_bytes().decode("utf-8-sig")
    lines = csv.reader(io.StringIO(text, newline=""))
    for line, fields in enumerate(lines, start=1):
        if not fields:
            return (
                f"{path}: line {line} is blank (every line after the header "
                "is a row: delete it)"
            )
        if len(fields) != len(columns):
            return (
                f"{path}: line {line}: {plural(len(fields), 'field')}, but "
                f"the header has {len(columns)} columns"
            )
    df = pl.read_csv(  # the header's names as stripped, all as text
        io.BytesIO(text.encode()),
        has_header=False,
        skip_rows=1,
        new_columns=columns,
        infer_schema=False,
    )
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


def _check_dims(
    path: Path, columns: list[str], expected: tuple[int | None, ...]
) -> None:
    """Compare the header's (nq, nv, nu) with those expected (None: any)."""
    found = parse_header(columns, path)
    for name, want, got in zip(
        ("nq", "nv", "nu"), expected, found, strict=True
    ):
        if want is not None and want != got:
            raise DataError(
                f"{path}: the header has {name}={got}, expected {want}"
            )


def read_trajectory_csv(
    path: str | Path,
    nq: int | None = None,
    nv: int | None = None,
    nu: int | None = None,
) -> Trajectory:
    """Read and check one CSV log (BOM and CRLF line endings are fine).

    Args:
        path: The file.
        nq: The position dimension the header must have (None: any).
        nv: The velocity dimension expected (None: any).
        nu: The control dimension expected (None: any).

    Raises:
        DataError: naming the file, line and column of the first problem:
            a bad header, a non-numeric or empty cell, NaN or Inf,
            timestamps that do not increase or are unevenly spaced.
    """
    path = Path(path)
    # One read of the file: the header from its first line, then the rows
    # parsed from memory (faster for a log's size than a second open).
    raw = path.read_bytes()
    columns = _parse_header(path, raw[: raw.find(b"\n") + 1 or len(raw)])
    _check_dims(path, columns, (nq, nv, nu))
    schema = dict.fromkeys(columns, pl.Float64)
    try:
        df = pl.read_csv(
            io.BytesIO(raw),
            has_header=False,
            skip_rows=1,
            new_columns=columns,
            schema=schema,
        )
    except pl.exceptions.PolarsError as e:  # a ragged first row: Schema
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as bad:
            line = raw[: bad.start].count(b"\n") + 1
            raise DataError(
                f"{path}: line {line}: not UTF-8 text ({bad.reason})"
            ) from None
        raise DataError(_first_bad_cell(path, columns)) from e
    if any(df.null_count().row(0)):  # an empty cell, or a short row
        raise DataError(_first_bad_cell(path, columns))
    return checked_frame(path, df, columns, csv_line)


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
    return checked_frame(path, df.cast(pl.Float64), columns, parquet_row)


def read_trajectory(path: str | Path) -> Trajectory:
    """Read and check one log, CSV or Parquet by its suffix."""
    path = Path(path)
    if path.suffix == ".parquet":
        return read_trajectory_parquet(path)
    return read_trajectory_csv(path)


def csv_line(i: int) -> str:
    """Where data row i (0-based) of a CSV is: line i + 2 (after the header)."""
    return f"line {i + 2}"


def parquet_row(i: int) -> str:
    """Where data row i (0-based) of a Parquet file is."""
    return f"row {i + 1}"


def checked_frame(
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
    dt = check_times(path, data[:, 0], where)
    return Trajectory(path, data[:, 0], data[:, 1:], columns, dt)


def check_times(
    path: Path, times: np.ndarray, where: Callable[[int], str]
) -> float | None:
    """Timestamps must increase with an even spacing; the median spacing.

    Returns what ``Trajectory.timestep`` does (None for one row).
    """
    if len(times) < 2:
        return None
    dts = np.diff(times)
    nonpos = np.flatnonzero(dts <= 0)
    if len(nonpos):
        i = nonpos[0]
        raise DataError(
            f"{path}: {where(i + 1)}, column 'timestamp': "
            f"{float(times[i + 1])!r} does not increase (previous "
            f"{float(times[i])!r})"
        )
    dt = float(np.median(dts))
    off = np.flatnonzero(np.abs(dts - dt) > DT_RTOL * dt)
    if len(off):
        i = off[0]
        raise DataError(
            f"{path}: {where(i + 1)}, column 'timestamp': spacing "
            f"{dts[i]:.6g} s differs from the file's step {dt:.6g} s by "
            f"more than {DT_RTOL:g} of it (the model steps evenly: a log "
            "with timing jitter can be written with timestamps i * dt)"
        )
    return dt
