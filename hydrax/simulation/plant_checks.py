"""When a logged episode on the MuJoCo plant ends early.

- At a limited slide joint's range (a rail's end) or a non-finite state,
  when the caller asks for it (`LimitCheck`): the rows so far are kept.
- Always when MuJoCo reports the simulation unstable (``Nan, Inf or huge
  value in QACC``, ``QVEL`` or ``QPOS``; `unstable_warning`). MuJoCo then
  resets the state to the model's default pose and carries on, so the log
  would jump back to ``qpos0``, and the rows before the warning already
  diverge (thousands of m/s): such an episode is dropped whole and reported.
  MuJoCo's own print of that warning (and its ``MUJOCO_LOG.TXT`` in the
  working directory) is held back meanwhile (`instability_reported_here`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import mujoco
import numpy as np

UNSTABLE_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQACC,
)


@contextlib.contextmanager
def instability_reported_here() -> Iterator[None]:
    """Hold back MuJoCo's print and log file of its instability warnings.

    The episodes' runners report them (which episode, when); MuJoCo's other
    warnings still reach stderr. The previous handler is restored after.
    """
    previous = mujoco.get_mju_user_warning()

    def handler(message: str) -> None:
        if "simulation is unstable" in message:
            return
        if previous is not None:
            previous(message)
        else:
            print(f"MuJoCo warning: {message}", file=sys.stderr)

    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def unstable_warning(data: mujoco.MjData) -> str | None:
    """MuJoCo's instability warning since ``data`` was made, or None.

    (Its reset zeroes ``data.time``: the caller knows when it happened.)
    """
    numbers = data.warning.number
    for kind in UNSTABLE_WARNINGS:
        if numbers[kind]:
            info = data.warning[kind].lastinfo
            return mujoco.mju_warningText(kind, info).rstrip(".")
    return None


class LimitCheck:
    """Which states have a limited slide joint at its range, or non-finite.

    `stops` also ends a closed loop whose simulation became unstable, with
    ``limits=False`` only then; `unstable` then holds MuJoCo's warning.
    """

    def __init__(self, mj_model: mujoco.MjModel, limits: bool = True) -> None:
        slide = (mj_model.jnt_type == mujoco.mjtJoint.mjJNT_SLIDE) & (
            mj_model.jnt_limited.astype(bool)
        )
        self.adr = np.asarray(mj_model.jnt_qposadr[slide], dtype=int)
        self.lo, self.hi = mj_model.jnt_range[slide].T
        self.limits = limits
        self.unstable: str | None = None

    def hit(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """(B,) bool for states (B, nq), (B, nv)."""
        bad = ~(np.isfinite(qpos).all(-1) & np.isfinite(qvel).all(-1))
        if self.adr.size:
            x = qpos[..., self.adr]
            bad |= ((x <= self.lo) | (x >= self.hi)).any(-1)
        return bad

    def stops(self, data: mujoco.MjData) -> bool:
        """Whether a closed loop's plant state (after a step) hit."""
        self.unstable = unstable_warning(data)
        if self.unstable is not None:
            return True
        return self.limits and bool(
            self.hit(data.qpos[None], data.qvel[None])[0]
        )
