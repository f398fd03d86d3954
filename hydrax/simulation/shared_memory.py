"""The state the plant and the controller share across processes.

Upstream hydrax's shared arrays (``hydrax.simulation.asynchronous``
re-exports them): multiprocessing shared memory, passed to a process when
it starts, behind one lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess


class SharedMemoryNumpyArray:
    """A numpy array of fixed shape and dtype shared between processes.

    Pass it to a process as an argument when the process starts (shared
    memory travels by inheritance). Reads return copies; reads and writes
    hold the lock, which several arrays may share.
    """

    def __init__(
        self,
        arr: np.ndarray,
        ctx: BaseContext,
        lock: Any = None,  # noqa: ANN401
    ) -> None:
        """Copy ``arr`` into new shared memory.

        Args:
            arr: The initial values; they fix the shape and dtype.
            ctx: The multiprocessing context of the processes that share it.
            lock: A lock (of ``ctx``) to share with other arrays; None
                makes one.
        """
        arr = np.asarray(arr)
        self.shape, self.dtype = arr.shape, arr.dtype
        self.lock = ctx.RLock() if lock is None else lock
        self._raw = ctx.RawArray("b", max(arr.nbytes, 1))
        self.view()[...] = arr

    def view(self) -> np.ndarray:
        """The shared memory itself (no copy, no lock: hold ``lock``)."""
        flat = np.frombuffer(self._raw, self.dtype, math.prod(self.shape))
        return flat.reshape(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:  # noqa: ANN401
        """A copy of the selected values."""
        with self.lock:
            return np.copy(self.view()[key])

    def __setitem__(self, key: Any, value: Any) -> None:  # noqa: ANN401
        """Write the selected values."""
        with self.lock:
            self.view()[key] = value

    def __str__(self) -> str:  # noqa: D105
        return str(self[...])


class SharedMemoryMujocoData:
    """The plant's state and the controller's plan, in shared memory.

    ``qpos``, ``qvel``, ``ctrl`` (the plan's first action), ``mocap_pos``
    and ``mocap_quat`` (models with mocap bodies) are upstream's; here also
    ``time`` (the plant's), ``history`` (the measured rows a learned model
    conditions on), ``plan`` (the actions at the plant's step times from
    ``plan_start``) and ``dt`` (the plant's timestep). All arrays share one
    lock, so a state and its history are read together.
    """

    def __init__(
        self,
        mj_data: mujoco.MjData,
        ctx: BaseContext,
        dt: float | None = None,
        history_rows: int = 0,
        plan_rows: int = 1,
    ) -> None:
        """Share ``mj_data``'s state; no plan yet.

        Args:
            mj_data: The plant's initial state.
            ctx: The multiprocessing context.
            dt: The spacing of the plan's rows (None: the plant's timestep).
            history_rows: Measured rows kept for a learned model.
            plan_rows: Plant steps of each published plan.
        """
        self.lock = ctx.RLock()
        self.dt = float(mj_data.model.opt.timestep if dt is None else dt)

        def share(values: Any) -> SharedMemoryNumpyArray:  # noqa: ANN401
            return SharedMemoryNumpyArray(
                np.array(values, np.float64), ctx, self.lock
            )

        nu = len(mj_data.ctrl)
        self.time = share([mj_data.time])
        self.qpos, self.qvel = share(mj_data.qpos), share(mj_data.qvel)
        self.ctrl = share(np.zeros(nu))
        if len(mj_data.mocap_pos) > 0:
            self.mocap_pos = share(mj_data.mocap_pos)
            self.mocap_quat = share(mj_data.mocap_quat)
        state = np.concatenate([mj_data.qpos, mj_data.qvel, np.zeros(nu)])
        self.history = share(np.tile(state, (history_rows, 1)))
        self.plan = share(np.zeros((max(plan_rows, 1), nu)))
        self.plan_start = share([math.nan])  # NaN: nothing published yet

    @contextmanager
    def held(
        self,
        other: BaseProcess | None = None,
        name: str = "the simulator process",
    ) -> Iterator[None]:
        """Hold the lock; give up if ``other``, the process sharing it, ends.

        A process killed while it held the lock (SIGKILL, out of memory)
        never releases it; waiting on it would block for good.

        Raises:
            RuntimeError: if ``other`` (called ``name``) has ended while the
                lock was taken.
        """
        while not self.lock.acquire(timeout=0.5):
            if other is not None and not other.is_alive():
                if self.lock.acquire(block=False):  # released as it ended
                    break
                raise RuntimeError(
                    f"{name} ended holding the shared state's lock"
                )
        try:
            yield
        finally:
            self.lock.release()
