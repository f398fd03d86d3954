"""Random initial states that a simulator can start from.

A state is spread by a random velocity-space step integrated on the
configuration (``mj_integratePos``), so a quaternion stays a unit rotation,
and a draw that pushes a body into another (a floating base into the floor,
a finger into the object it holds) is drawn again: MuJoCo's soft contacts
push such a start apart with a jolt of tens of m/s in the first steps,
which is neither what a robot does nor data worth learning from.
"""

from __future__ import annotations

import mujoco
import numpy as np

PENETRATION_TOLERANCE = 0.005
"""How deep (m) a spread start's contacts may penetrate."""

MAX_DRAWS = 1000
"""Draws tried before a spread is refused as always penetrating."""


def deepest_contact(
    mj_model: mujoco.MjModel, data: mujoco.MjData, qpos: np.ndarray
) -> tuple[float, int]:
    """The smallest contact distance at ``qpos`` and its contact's index.

    (0, -1) when nothing touches. Runs the kinematics and collision only.
    """
    data.qpos[:] = qpos
    mujoco.mj_kinematics(mj_model, data)
    mujoco.mj_collision(mj_model, data)
    if data.ncon == 0:
        return 0.0, -1
    dist = data.contact.dist[: data.ncon]
    index = int(np.argmin(dist))
    return float(min(dist[index], 0.0)), index


def spread_qpos(
    mj_model: mujoco.MjModel,
    rng: np.random.Generator,
    qpos: np.ndarray,
    spread: float,
    what: str = "spread",
    advice: str | None = None,
) -> np.ndarray:
    """``qpos`` moved by U(−spread, spread) in every dof, out of contact.

    The first draw is ``rng.uniform(-spread, spread, nv)``, so a model
    without contacts starts exactly as a plain uniform spread of its joints
    would. A draw whose deepest contact penetrates more than
    ``PENETRATION_TOLERANCE`` is drawn again (also when ``qpos`` itself
    does, e.g. a body placed inside the floor: the spread must lift it out).

    Args:
        mj_model: The model.
        rng: The random generator (advanced by each draw).
        qpos: The pose to spread about, (nq,).
        spread: Half width of the uniform spread per dof (>= 0).
        what: The parameter's name for the error message.
        advice: What the error suggests (default: a smaller ``what``).

    Returns:
        The spread pose, (nq,).

    Raises:
        ValueError: No draw in ``MAX_DRAWS`` kept the bodies apart.
    """
    base = np.array(qpos, dtype=np.float64)
    data = mujoco.MjData(mj_model)
    for _ in range(MAX_DRAWS):
        moved = base.copy()
        step = rng.uniform(-spread, spread, mj_model.nv)
        mujoco.mj_integratePos(mj_model, moved, step, 1.0)
        depth, index = deepest_contact(mj_model, data, moved)
        if depth >= -PENETRATION_TOLERANCE:
            return moved
    last = f"{_geoms(mj_model, data, index)} {-depth * 1000:.0f} mm"
    depth, index = deepest_contact(mj_model, data, base)
    pose = (
        f"; the pose itself pushes {_geoms(mj_model, data, index)} "
        f"{-depth * 1000:.0f} mm into each other (a body placed inside "
        "another?)"
        if depth < -PENETRATION_TOLERANCE
        else ""
    )
    raise ValueError(
        f"{what}={spread}: none of {MAX_DRAWS} random starts kept the bodies "
        f"apart (the last pushed {last} into each other{pose}); "
        + (advice or f"use a smaller {what}")
    )


def _geoms(mj_model: mujoco.MjModel, data: mujoco.MjData, index: int) -> str:
    """The two geoms of contact ``index`` of ``data``, by name."""
    contact = data.contact[index]
    return " and ".join(
        mujoco.mj_id2name(mj_model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"#{g}"
        for g in (contact.geom1, contact.geom2)
    )
