"""A directory of logs' state layout, and the logs checked against it.

`layout_from_manifest` builds the `StateLayout` of the logs' dimensions
from the indices given and, for those not given, the manifest's; a free
or ball joint's quaternion must be declared. `check_unit_quaternions`
refuses logs whose declared quaternions are not unit rotations.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hydrax.dynamics_model_training.layout import StateLayout
from hydrax.logs.format import DataError
from hydrax.logs.reader import Trajectory, csv_line, parquet_row

QUAT_NORM_TOLERANCE = 0.01
"""How far from 1 a logged quaternion's norm may be."""


def layout_from_manifest(
    dims: tuple[int, int, int],
    manifest: Any,
    manifest_path: Path,
    angle_indices: Sequence[int] | None,
    coordinate_indices: Sequence[int] | None,
    quat_indices: Sequence[int] | None,
    heading_frame: bool = False,
) -> StateLayout:
    """The layout of a log header's dims; unset indices from the manifest.

    Args:
        dims: (nq, nv, nu) of the logs' header.
        manifest: The logs' manifest record (``hydrax.logs``), or None.
        manifest_path: Where it is (or would be), for the errors.
        angle_indices: qpos indices of angles; None: the manifest's.
        coordinate_indices: qpos indices of coordinates; None: the
            manifest's (with either None a manifest is required).
        quat_indices: First qpos of each quaternion; None: the manifest's,
            or none without one.
        heading_frame: Free joints in their heading frame.

    Returns:
        The layout, checked against the manifest's dims.
    """
    nq, nv, _ = dims
    quaternions = nq - nv
    if angle_indices is None or coordinate_indices is None:
        if manifest is None:
            raise DataError(
                f"{manifest_path.parent}: no {manifest_path.name} to read "
                "angle_indices and coordinate_indices from; pass both "
                "explicitly (e.g. angle_indices=[1, 2], "
                "coordinate_indices=[0])"
                + (quaternions > 0)
                * f", and quat_indices: nq = {nq}, nv = {nv}, so qpos holds "
                f"{quaternions} quaternion(s) (free or ball joints)"
            )
    given = (angle_indices, coordinate_indices, quat_indices)
    if manifest is not None:
        manifest.check_dims(dims, manifest_path)
        angle_indices, coordinate_indices, quat_indices = (
            mine if mine is not None else theirs
            for mine, theirs in zip(
                given,
                (
                    manifest.angle_indices or [],
                    manifest.coordinate_indices or [],
                    manifest.quat_indices,
                ),
                strict=True,
            )
        )
    if quaternions and quat_indices is None:
        raise DataError(
            f"the logs have nq = {nq} and nv = {nv}: qpos holds {quaternions}"
            " quaternion(s) (free or ball joints), but quat_indices names "
            "none; give the first qpos of each (e.g. quat_indices=[3] for a "
            "free joint at qpos 0; an empty quat_indices adds to them as to "
            "plain numbers)"
        )
    quat_indices = quat_indices or []
    try:
        layout = StateLayout.create(
            *dims,
            angle_indices,
            coordinate_indices,
            quat_indices,
            heading_frame,
        )
    except ValueError as err:
        names = ("angle_indices", "coordinate_indices", "quat_indices")
        read = [n for n, v in zip(names, given, strict=True) if v is None]
        if manifest is None or not any(n in str(err) for n in read):
            raise  # the caller's own indices (or flags) are at fault
        raise DataError(
            f"{manifest_path} (the indices not given are read from it): {err}"
        ) from err
    if manifest is not None:
        _check_quaternions_of_joints(layout, manifest.joints, manifest_path)
        _warn_of_swapped_indices(given[:2], manifest.joints, manifest_path)
    return layout


def _warn_of_swapped_indices(
    given: tuple, joints: list[dict] | None, manifest_path: Path
) -> None:
    """Warn of indices given against the manifest's joint table.

    An angle index that is no hinge, or a coordinate index that is one,
    is most likely a swap.
    """
    kinds = {
        j["qpos_adr"]: (j.get("type"), j.get("name", ""))
        for j in joints or ()
        if type(j.get("qpos_adr")) is int
    }
    said = []
    for name, indices, wrong in zip(
        ("angle_indices", "coordinate_indices"),
        given,
        (lambda t: t in ("slide", "free", "ball"), lambda t: t == "hinge"),
        strict=True,
    ):
        for i in () if indices is None else map(int, indices):
            kind, joint = kinds.get(i, (None, ""))
            if wrong(kind):
                said.append(f"{name} holds {i}, the {kind} joint {joint!r}")
    if said:
        warnings.warn(
            f"{'; '.join(said)} in {manifest_path}'s joint table: are the "
            "angle and coordinate indices swapped? (angles are hinges)",
            stacklevel=4,
        )


def _check_quaternions_of_joints(
    layout: StateLayout, joints: list[dict] | None, manifest_path: Path
) -> None:
    """The declared quaternions are the model's (its manifest's joints).

    None declared (an explicit empty list) is left to the caller.
    """
    widths = {"free": 7, "ball": 4, "slide": 1, "hinge": 1}
    known = [
        j
        for j in joints or ()
        if j.get("type") in widths and type(j.get("qpos_adr")) is int
    ]
    covered = sum(widths[j["type"]] for j in known)
    if (
        not layout.quat_indices
        or len(known) < len(joints or ())
        or covered != layout.nq
    ):
        return  # no table, or a partial (hand-written) one: nothing to say
    starts = {
        j["qpos_adr"] + (3 if j["type"] == "free" else 0): j.get("name", "")
        for j in known
        if j["type"] in ("free", "ball")
    }
    if set(layout.quat_indices) != set(starts):
        named = ", ".join(f"{q} ({starts[q]!r})" for q in sorted(starts))
        raise DataError(
            f"quat_indices {list(layout.quat_indices)} are not the "
            f"quaternions of the model's free and ball joints in "
            f"{manifest_path}: {named or 'none'}"
        )


def check_unit_quaternions(layout: StateLayout, *trajs: Trajectory) -> None:
    """Refuse logs whose quaternions are not unit (±`QUAT_NORM_TOLERANCE`).

    Raises:
        DataError: naming the first bad file, its line (CSV) or row
            (Parquet) and the quaternion's columns.
    """
    for traj in trajs if layout.quat_indices else ():
        _check_unit_quaternions(layout, traj)


def _check_unit_quaternions(layout: StateLayout, traj: Trajectory) -> None:
    """`check_unit_quaternions` of one log."""
    blocks = np.add.outer(np.asarray(layout.quat_indices), np.arange(4))
    norms = np.linalg.norm(traj.rows[:, blocks], axis=-1)  # (T, quats)
    bad = ~(np.abs(norms - 1.0) <= QUAT_NORM_TOLERANCE)
    if not bad.any():
        return
    row, k = (int(i) for i in np.argwhere(bad)[0])
    where = parquet_row if traj.path.suffix == ".parquet" else csv_line
    names = ", ".join(traj.columns[1 + int(i)] for i in blocks[k])
    raise DataError(
        f"{traj.path}: {where(row)}, columns {names}: the quaternion's norm "
        f"is {norms[row, k]:.4g}, not 1 (a free or ball joint's orientation "
        f"is a unit quaternion; rows like it in this file: {int(bad.sum())})"
    )
