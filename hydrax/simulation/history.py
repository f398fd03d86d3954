"""The measured rows a learned model conditions on: `HistoryBuffer`."""

from __future__ import annotations

import numpy as np

from hydrax.logs import startup_history


class HistoryBuffer:
    """The measured (qpos, qvel, ctrl) rows before the current state.

    A learned model conditions on the ``history_length - 1`` rows measured
    before the current state. Until that many rows have been measured, the
    missing ones are the *first measured state* with zero control, the same
    padding training sees at the start of each file, never zeros for the
    state.
    """

    def __init__(self, num_rows: int, nq: int, nv: int, nu: int) -> None:
        """Set up an empty buffer.

        Args:
            num_rows: Rows kept (``history_length - 1``; 0 keeps none).
            nq: Position dimension.
            nv: Velocity dimension.
            nu: Control dimension.
        """
        if num_rows < 0:
            raise ValueError(f"num_rows must be >= 0, got {num_rows}")
        self.num_rows = num_rows
        self.nq, self.nv, self.nu = nq, nv, nu
        self._rows = np.zeros((num_rows, nq + nv + nu), dtype=np.float64)
        self._started = False

    def reset(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Fill every row with the first measured state and zero control."""
        qpos, qvel = np.asarray(qpos), np.asarray(qvel)
        if qpos.shape != (self.nq,) or qvel.shape != (self.nv,):
            raise ValueError(
                f"expected qpos ({self.nq},) and qvel ({self.nv},), got "
                f"{qpos.shape} and {qvel.shape}"
            )
        self._rows[:] = startup_history(
            np.concatenate([qpos, qvel]), self.num_rows, self.nu
        )
        self._started = True

    def push(
        self, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray
    ) -> None:
        """Append one measured row (state before a step, control applied).

        The first push into a fresh buffer also pads it with that state.
        """
        if not self._started:
            self.reset(qpos, qvel)
        if self.num_rows == 0:
            return
        self._rows[:-1] = self._rows[1:]
        self._rows[-1] = np.concatenate([qpos, qvel, ctrl])

    def array(self) -> np.ndarray | None:
        """The rows, oldest first, (num_rows, nq + nv + nu) float32.

        None when the buffer keeps no rows (dynamics without history).
        """
        if self.num_rows == 0:
            return None
        if not self._started:
            raise ValueError("HistoryBuffer.array() before any state")
        return self._rows.astype(np.float32)
