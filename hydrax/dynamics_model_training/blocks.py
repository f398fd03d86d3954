"""Where a dataset's windows come from: block sources, in memory or streamed.

A source hands out each split's windows as ``(RowBlock, window ids)`` pairs.
:class:`InMemorySource` keeps every row in one block, read once.
:class:`StreamedSource` keeps no rows: it packs each split's files into
blocks of whole files of at most ``max_rows`` rows and reads one block at a
time, the next in a background thread, so a dataset larger than memory
trains in bounded memory.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hydrax.dynamics_model_training.transforms import StateLayout
from hydrax.dynamics_model_training.windows import (
    RowBlock,
    first_window_row,
    make_block,
)
from hydrax.logs import (
    DataError,
    Trajectory,
    match_logs,
    read_trajectory,
    unmatched_keys,
)

SPLITS = ("train", "val")


def check_split(split: str) -> str:
    """``split`` if it is ``train`` or ``val``, else a ValueError."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return split


def split_by_file(
    files: Sequence[Path],
    val_fraction: float,
    seed: int,
    val_files: Sequence[str] | None,
) -> np.ndarray:
    """Which files validate: those named, or a seeded share of them.

    Windows overlap, so a split by window would leak; files are split
    instead, deterministically from the seed.

    Args:
        files: The files, in dataset order.
        val_fraction: Share of files to validate on (at least one when > 0).
        seed: Seed of the permutation.
        val_files: Keys of the files to validate on instead (a
            checkpoint's split, as ``hydrax.logs.log_keys`` names them; a
            key names every file whose path ends with it; ``[]``: none).

    Returns:
        The validation mask, (F,) bool.
    """
    n = len(files)
    if val_files is not None:
        unmatched = unmatched_keys(files, val_files)
        if unmatched:
            shown = ", ".join(map(repr, unmatched[:5]))
            more = (
                f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
            )
            raise DataError(
                f"val_files: {len(unmatched)} of the {len(val_files)} keys "
                f"name no log of the dataset long enough for a window: "
                f"{shown}{more}"
            )
        return match_logs(files, val_files)
    n_val = int(round(val_fraction * n))
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if val_fraction > 0 and n < 2:
        raise DataError(
            f"{n} usable file(s): a split by file needs at least 2 "
            "(pass val_fraction=0 to train without validation)"
        )
    if val_fraction > 0 and n - n_val < 1:
        raise DataError(
            f"val_fraction={val_fraction:g} of {n} usable files leaves no "
            f"file to train on; below {math.floor(1000 * (n - 0.5) / n) / 1000}"
            " keeps one"
        )
    order = np.random.default_rng(seed).permutation(n)
    val = np.zeros(n, bool)
    val[order[:n_val]] = True
    return val


class BlockSource(abc.ABC):
    """A split's windows, block by block.

    Attributes:
        val_file_mask: Which of the dataset's files validate, (F,).
    """

    streaming: bool
    """Whether rows are read per block instead of kept in memory."""

    def __init__(self, val_file_mask: np.ndarray) -> None:
        """Set the file split."""
        self.val_file_mask = np.asarray(val_file_mask, bool)

    def split_files(self, split: str) -> np.ndarray:
        """The split's file ids, in file order."""
        return np.flatnonzero(
            self.val_file_mask == (check_split(split) == "val")
        )

    @property
    def block_rows(self) -> int | None:
        """Rows of every streamed block (None: one block holds all rows)."""
        return None

    @abc.abstractmethod
    def num_blocks(self, split: str) -> int:
        """How many blocks :meth:`blocks` yields for a split."""

    @abc.abstractmethod
    def block_windows(
        self, split: str, file_weights: np.ndarray | None = None
    ) -> list[int]:
        """The split's windows in each of its blocks, in block order.

        With ``file_weights`` (F,), each window counts its file's weight
        times, as a weighted epoch takes it (``windows.weighted_windows``).
        """

    @abc.abstractmethod
    def blocks(
        self, split: str, order: Sequence[int] | None = None
    ) -> Iterator[tuple[RowBlock, np.ndarray]]:
        """(block, window ids into ``block.example_rows``) per block.

        Args:
            split: ``train`` or ``val``.
            order: The order of the blocks (a permutation of
                ``range(num_blocks(split))``); None keeps file order.
        """

    @abc.abstractmethod
    def memory_block(self, what: str) -> RowBlock:
        """The one block of all rows; ``what`` names the caller in errors."""

    @abc.abstractmethod
    def split_windows(self, split: str, what: str) -> np.ndarray:
        """The split's window ids into :meth:`memory_block`."""

    def describe(self) -> str:
        """How rows are held, for a dataset's summary ('' in memory)."""
        return ""


class InMemorySource(BlockSource):
    """Every row in one block, read once."""

    streaming = False

    def __init__(
        self,
        trajectories: Sequence[Trajectory],
        val_file_mask: np.ndarray,
        layout: StateLayout,
        history_length: int,
        prediction_horizon: int,
        pad_start: bool,
    ) -> None:
        """Keep the rows of ``trajectories`` (the dataset's files)."""
        super().__init__(val_file_mask)
        self.block = make_block(
            trajectories,
            np.arange(len(trajectories)),
            layout,
            history_length,
            prediction_horizon,
            pad_start,
        )
        is_val = self.val_file_mask[self.block.example_files]
        index = self.block.example_rows.dtype
        self._windows = {
            "train": np.flatnonzero(~is_val).astype(index),
            "val": np.flatnonzero(is_val).astype(index),
        }

    def num_blocks(self, split: str) -> int:
        """One block when the split has files, else none."""
        return 1 if len(self.split_files(split)) else 0

    def block_windows(
        self, split: str, file_weights: np.ndarray | None = None
    ) -> list[int]:
        """The split's windows, all in the one block."""
        ids = self._windows[check_split(split)]
        if not len(ids):
            return []
        if file_weights is None:
            return [len(ids)]
        files = self.block.file_ids[self.block.example_files[ids]]
        return [int(file_weights[files].sum())]

    def blocks(
        self, split: str, order: Sequence[int] | None = None
    ) -> Iterator[tuple[RowBlock, np.ndarray]]:
        """The one block and the split's window ids, once per entry of order."""
        count = self.num_blocks(split)
        for _ in range(count) if order is None else order:
            yield self.block, self._windows[split]

    def memory_block(self, what: str) -> RowBlock:
        """The block of all rows."""
        return self.block

    def split_windows(self, split: str, what: str) -> np.ndarray:
        """The split's window ids into the block."""
        return self._windows[check_split(split)]


class StreamedSource(BlockSource):
    """Blocks of whole files of at most ``max_rows`` rows, read per use."""

    streaming = True

    def __init__(
        self,
        files: Sequence[Path],
        file_rows: np.ndarray,
        columns: list[str],
        val_file_mask: np.ndarray,
        layout: StateLayout,
        history_length: int,
        prediction_horizon: int,
        pad_start: bool,
        max_rows: int,
    ) -> None:
        """Plan each split's blocks (no rows are read here).

        Raises:
            DataError: a file longer than ``max_rows`` (a block holds whole
                files).
        """
        super().__init__(val_file_mask)
        self.files = list(files)
        self.file_rows = np.asarray(file_rows, np.int64)
        self.columns = columns
        self.layout = layout
        self.history_length = history_length
        self.prediction_horizon = prediction_horizon
        self.pad_start = pad_start
        self.max_rows = max_rows
        longest = int(np.argmax(self.file_rows))
        if (most := int(self.file_rows[longest])) > max_rows:
            raise DataError(
                f"{self.files[longest]}: {most} rows, more than "
                f"max_rows_in_memory={max_rows}; a block holds whole files, "
                f"so raise it to at least {most} (the longest file's)"
            )
        self._plan = {split: self._pack(split) for split in SPLITS}
        self._block_rows = int(
            max(
                self.file_rows[ids].sum()
                for plan in self._plan.values()
                for ids in plan
            )
        )

    def _pack(self, split: str) -> list[np.ndarray]:
        """The split's files, in order, packed into blocks of whole files."""
        plan, current, rows = [], [], 0
        for f in self.split_files(split):
            n = int(self.file_rows[f])
            if current and rows + n > self.max_rows:
                plan.append(np.array(current))
                current, rows = [], 0
            current.append(f)
            rows += n
        if current:
            plan.append(np.array(current))
        return plan

    @property
    def block_rows(self) -> int:
        """Rows of every block (padded to one shape)."""
        return self._block_rows

    def num_blocks(self, split: str) -> int:
        """Blocks of whole files the split is packed into."""
        return len(self._plan[check_split(split)])

    def block_windows(
        self, split: str, file_weights: np.ndarray | None = None
    ) -> list[int]:
        """The split's windows in each block."""
        first = first_window_row(self.history_length, self.pad_start)
        windows = np.maximum(
            self.file_rows - self.prediction_horizon - first, 0
        )
        if file_weights is not None:
            windows = windows * file_weights
        return [
            int(windows[ids].sum()) for ids in self._plan[check_split(split)]
        ]

    def blocks(
        self, split: str, order: Sequence[int] | None = None
    ) -> Iterator[tuple[RowBlock, np.ndarray]]:
        """Read the blocks in order, each the next one ahead."""
        # Each block holds only the split's files, so every window in it
        # belongs to the split; the next block is read while this one is
        # used.
        plan = self._plan[check_split(split)]
        order = list(range(len(plan))) if order is None else list(order)
        pool = ThreadPoolExecutor(max_workers=1)
        pending = pool.submit(self._load, plan[order[0]]) if order else None
        try:
            for i in range(len(order)):
                block = pending.result()
                pending = (
                    pool.submit(self._load, plan[order[i + 1]])
                    if i + 1 < len(order)
                    else None
                )
                yield block, np.arange(len(block.example_rows))
        finally:  # a consumer that stops early stops the read-ahead too
            if pending is not None:
                pending.cancel()
            pool.shutdown(wait=False, cancel_futures=True)

    def _load(self, file_ids: np.ndarray) -> RowBlock:
        """Read a block's files again, checking they did not change."""
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
        return make_block(
            trajectories,
            file_ids,
            self.layout,
            self.history_length,
            self.prediction_horizon,
            self.pad_start,
            num_rows=self.block_rows,
        )

    def _not_in_memory(self, what: str) -> DataError:
        return DataError(
            f"{what} needs the rows in memory, but this dataset is "
            f"streamed (max_rows_in_memory={self.max_rows}); "
            "iterate dataset.blocks(split) instead"
        )

    def memory_block(self, what: str) -> RowBlock:
        """Refused: a streamed dataset holds no block of all rows."""
        raise self._not_in_memory(what)

    def split_windows(self, split: str, what: str) -> np.ndarray:
        """Refused: window ids exist per block only."""
        raise self._not_in_memory(what)

    def describe(self) -> str:
        """The block size and counts."""
        return (
            f", streamed in blocks of <= {self.block_rows} rows "
            f"({self.num_blocks('train')} train / {self.num_blocks('val')} "
            "val blocks)"
        )
