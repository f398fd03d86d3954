"""``DynamicsDataset``: every log of some directories, checked, as windows.

The dataset reads and checks the logs (:mod:`hydrax.logs`), splits them into
training and validation *by file*, indexes windows into their rows
(:mod:`.windows`), holds them in a block source, in memory or streamed
(:mod:`.blocks`), and computes the standardization statistics over the
training split (:mod:`.standardization`; streamed, in the one read per file).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from functools import cache, partial
from pathlib import Path

import numpy as np

from hydrax.dynamics_model_training import standardization
from hydrax.dynamics_model_training.blocks import (
    BlockSource,
    InMemorySource,
    StreamedSource,
    split_by_file,
)
from hydrax.dynamics_model_training.log_layout import layout_from_manifest
from hydrax.dynamics_model_training.transforms import (
    TransformFn,
    check_transform,
)
from hydrax.dynamics_model_training.windows import (
    Examples,
    RowBlock,
    check_poolable,
    first_window_row,
    gather_windows,
    rows_for_a_window,
    why_rows,
)
from hydrax.logs import (
    MANIFEST,
    DataError,
    LogScan,
    Trajectory,
    list_logs,
    log_keys,
    read_common_manifest,
)

_log = logging.getLogger(__name__)


def _check_arguments(
    history_length: int,
    prediction_horizon: int,
    val_fraction: float,
    max_rows_in_memory: int | None,
) -> None:
    """ValueErrors naming the parameter."""
    if history_length < 1:
        raise ValueError(f"history_length must be >= 1, got {history_length}")
    if prediction_horizon < 1:
        raise ValueError(
            f"prediction_horizon must be >= 1, got {prediction_horizon}"
        )
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if max_rows_in_memory is not None and max_rows_in_memory < 1:
        raise ValueError(
            f"max_rows_in_memory must be >= 1, got {max_rows_in_memory}"
        )


class DynamicsDataset:
    """Every log in a directory, checked, as windows for the GRU.

    Rows of all files are kept once (float32, angles wrapped to [-π, π):
    features and deltas only see angles through cos, sin and wrapped
    differences, so nothing is lost and float32 keeps its precision). A
    window of H + K rows is an index into them. Windows at the start of a
    file are also offered with the history before the first row padded by
    the first state with zero control, the start-up history planning uses.

    With ``max_rows_in_memory`` the dataset is *streamed*: construction
    reads each file once, to check it, count its rows and fold its moments
    into the statistics (``FileMoments``), and keeps no rows. :meth:`blocks`
    then reads whole files into blocks of at most that many rows, one block
    at a time (the next read ahead): each file once per pass over its split.

    The split is by file, from the seed; statistics come from training files.
    Construction prints nothing; :meth:`summary` says what was read.
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
            angle_indices: qpos indices of angles; None: the manifest's.
            history_length: Rows per input window (H).
            prediction_horizon: Steps the loss rolls out (K).
            transform_fn: Optional custom qpos feature map (see README).
            val_fraction: Share of files held out for validation.
            seed: Seed of the file split.
            pad_start: Also offer start-of-file windows padded with the
                first state and zero control.
            val_files: Keys (``file_names``) of the files to validate on,
                instead of a random split (e.g. a checkpoint's).
            verbose: Warn of skipped short files; log the summary (INFO).
            max_rows_in_memory: Stream: keep at most this many rows per
                block of whole files (None keeps every row in memory).
            quat_indices: First qpos index of each free/ball joint's
                quaternion; None: the manifest's (needed when nq != nv).
            heading_frame: Free joints in their heading (yaw) frame.
        """
        _check_arguments(
            history_length, prediction_horizon, val_fraction, max_rows_in_memory
        )
        one = isinstance(data_dir, str | Path)
        dirs = [Path(d) for d in ([data_dir] if one else data_dir)]
        if not dirs:
            raise ValueError("data_dir is an empty list")
        self.data_dirs = dirs
        self.history_length = history_length
        self.prediction_horizon = prediction_horizon
        self.transform_fn = transform_fn
        self.pad_start = pad_start
        self.max_rows_in_memory = max_rows_in_memory
        given = {
            "angle_indices": angle_indices,
            "coordinate_indices": coordinate_indices,
            "quat_indices": quat_indices,
        }  # the pooled manifests need not agree on these
        self.manifest_record = read_common_manifest(dirs, given)
        layout_of = cache(  # built once per dims: its warnings say once
            partial(
                layout_from_manifest,
                manifest=self.manifest_record,
                manifest_path=dirs[0] / MANIFEST,
                heading_frame=heading_frame,
                **given,
            )
        )
        scan, moments = standardization.scan_with_moments(
            list_logs(dirs),
            layout_of,
            (history_length, prediction_horizon, pad_start, transform_fn),
            max_rows_in_memory,
        )
        self.columns = scan.columns
        self.layout = layout_of(scan.dims)
        check_transform(transform_fn, self.layout.nq)
        self.dt = self._common_dt(scan)
        kept = self._keep_long_enough(scan, verbose)
        self.files = [scan.files[i] for i in kept]
        self.fingerprints = [scan.fingerprints[i] for i in kept]
        self.file_rows = np.array([scan.lengths[i] for i in kept], np.int64)
        self._split(split_by_file(self.files, val_fraction, seed, val_files))
        self._source = self._make_source([scan.trajectories[i] for i in kept])
        self.statistics = (
            self.compute_statistics()
            if moments is None
            else moments.statistics(np.array(kept)[~self.val_file_mask])
        )
        if verbose:
            _log.info("%s", self.summary())

    # --- reading --------------------------------------------------------------

    @property
    def manifest(self) -> dict | None:
        """The first directory's manifest.json as a dict (None: none)."""
        record = self.manifest_record
        return None if record is None else record.to_dict()

    @property
    def file_names(self) -> list[str]:
        """The kept files' keys: names, ``dir/name`` where names repeat."""
        return log_keys(self.files)

    @property
    def streaming(self) -> bool:
        """Whether rows are read per block instead of kept in memory."""
        return self.max_rows_in_memory is not None

    def _common_dt(self, scan: LogScan) -> float:
        """The files' timestep; the manifest's dt when it agrees."""
        dt, first = scan.common_timestep()
        if self.manifest_record is None:
            return dt
        return self.manifest_record.checked_dt(dt, first)

    def _keep_long_enough(self, scan: LogScan, verbose: bool) -> list[int]:
        """The files with the rows one window needs (a warning for others)."""
        h, k = self.history_length, self.prediction_horizon
        need = rows_for_a_window(h, k, self.pad_start)
        kept = [i for i, n in enumerate(scan.lengths) if n >= need]
        self.skipped_files = len(scan.files) - len(kept)
        self._skipped_note = (
            f"skipped {self.skipped_files} of {len(scan.files)} files "
            f"shorter than {need} rows ({why_rows(h, k, self.pad_start)})"
        )
        if self.skipped_files and verbose:
            warnings.warn(self._skipped_note, stacklevel=3)
        if not kept:
            raise DataError(
                f"{', '.join(map(str, self.data_dirs))}: no file has the "
                f"{need} rows a window needs ({why_rows(h, k, self.pad_start)})"
            )
        return kept

    def _split(self, val: np.ndarray) -> None:
        """Record the split by file and count each side's windows."""
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

    def _make_source(
        self, trajectories: list[Trajectory | None]
    ) -> BlockSource:
        """The rows in memory, or a plan of streamed blocks."""
        window = (
            self.layout,
            self.history_length,
            self.prediction_horizon,
            self.pad_start,
        )
        if self.max_rows_in_memory is None:
            return InMemorySource(trajectories, self.val_file_mask, *window)
        return StreamedSource(
            self.files,
            self.file_rows,
            self.columns,
            self.val_file_mask,
            *window,
            max_rows=self.max_rows_in_memory,
        )

    def windows_per_file(self) -> np.ndarray:
        """The number of windows each file offers, (F,)."""
        first = first_window_row(self.history_length, self.pad_start)
        return np.maximum(self.file_rows - self.prediction_horizon - first, 0)

    # --- blocks ---------------------------------------------------------------

    @property
    def block_rows(self) -> int | None:
        """Rows of every streamed block (None in memory)."""
        return self._source.block_rows

    def num_blocks(self, split: str) -> int:
        """How many blocks :meth:`blocks` yields for a split."""
        return self._source.num_blocks(split)

    def block_windows(
        self, split: str, file_weights: np.ndarray | None = None
    ) -> list[int]:
        """The split's windows per block (each its file's weight times)."""
        return self._source.block_windows(split, file_weights)

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
            order: A permutation of ``range(num_blocks(split))`` (None: as is).

        Yields:
            (block, example ids into ``block.example_rows``).
        """
        return self._source.blocks(split, order)

    # --- in memory ------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """All rows, (N, R) float32, angles wrapped (in memory only)."""
        return self._source.memory_block("dataset.data").data

    @property
    def file_offsets(self) -> np.ndarray:
        """First row of each file, then the end (in memory only)."""
        return self._source.memory_block("dataset.file_offsets").file_offsets

    @property
    def example_rows(self) -> np.ndarray:
        """Each window's current row (in memory only)."""
        return self._source.memory_block("dataset.example_rows").example_rows

    @property
    def example_files(self) -> np.ndarray:
        """Each window's file (in memory only)."""
        return self._source.memory_block("dataset.example_files").example_files

    @property
    def train_indices(self) -> np.ndarray:
        """Example ids of the training windows (in memory only)."""
        return self._source.split_windows("train", "dataset.train_indices")

    @property
    def val_indices(self) -> np.ndarray:
        """Example ids of the validation windows (in memory only)."""
        return self._source.split_windows("val", "dataset.val_indices")

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
        check_poolable(self, other)

    # --- statistics and summary ----------------------------------------------

    def compute_statistics(self, chunk: int = 16384) -> dict[str, np.ndarray]:
        """The statistics over the training split's blocks (read again)."""
        return standardization.compute_statistics(
            self.blocks("train"),
            self.val_file_mask,
            self.layout,
            self.history_length,
            self.transform_fn,
            chunk,
        )

    def summary(self) -> str:
        """One paragraph: files, rows, windows, split, dims, skipped files."""
        return (
            f"dataset: {len(self.files)} files ({len(self.train_files)} train,"
            f" {len(self.val_files)} val), {int(self.file_rows.sum())} rows, "
            f"{self.num_windows['train']} train / {self.num_windows['val']} "
            f"val windows of {self.history_length}+{self.prediction_horizon} "
            f"rows; nq={self.layout.nq} nv={self.layout.nv} "
            f"nu={self.layout.nu}, dt={self.dt:g} s, {self.layout.describe()}"
            + self._source.describe()
            + (f"; {self._skipped_note}" if self.skipped_files else "")
        )
