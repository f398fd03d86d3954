"""Several directories of logs pooled into one dataset: their manifests.

`read_common_manifest` returns the first directory's manifest once every
other agrees with it on what both state.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from hydrax.logs.format import DT_RTOL, DataError
from hydrax.logs.manifest import Manifest, read_manifest


def read_common_manifest(
    dirs: Sequence[str | Path], given: Mapping[str, object] | None = None
) -> Manifest | None:
    """The first directory's manifest; the others' must agree with it.

    Each field two manifests both state must agree: nq, nv, nu, dt and the
    indices (an error), the model file's hash (a warning: the same robot
    from another file, e.g. a scene that includes it, is legitimate).

    Args:
        dirs: The directories.
        given: Fields the caller states itself (not None): the manifests
            need not agree on those.

    Raises:
        DataError: naming the directory whose manifest disagrees.
    """
    dirs = [Path(d) for d in dirs]
    first = read_manifest(dirs[0])
    for d in dirs[1:]:
        other = read_manifest(d)
        if not (first and other):
            continue
        for key in POOLED_FIELDS:
            if (given or {}).get(key) is not None:
                continue
            mine, theirs = getattr(first, key), getattr(other, key)
            if None not in (mine, theirs) and not _same(key, mine, theirs):
                raise DataError(
                    f"{d}: manifest {key}={theirs} differs from "
                    f"{dirs[0]}'s {mine}; logs pooled for one model "
                    "must describe one robot the same way"
                    + f" (or pass {key})"
                    * key.endswith("indices")
                )
        if None not in (first.model_sha256, other.model_sha256) and (
            first.model_sha256 != other.model_sha256
        ):
            warnings.warn(
                f"{d}: its logs were collected from another model file than "
                f"{dirs[0]}'s (sha256 {other.model_sha256[:12]}… against "
                f"{first.model_sha256[:12]}…); pooling them as one robot",
                stacklevel=3,
            )
    return first


POOLED_FIELDS = (
    "nq",
    "nv",
    "nu",
    "dt",
    "angle_indices",
    "coordinate_indices",
    "quat_indices",
)
"""Manifest fields that directories pooled into one dataset must share."""


def _same(key: str, mine: object, theirs: object) -> bool:
    """One field of two manifests agrees (dt to DT_RTOL; indices as sets)."""
    if key == "dt":
        return abs(mine - theirs) <= DT_RTOL * abs(mine)
    if key.endswith("indices"):
        return sorted(mine) == sorted(theirs)
    return mine == theirs
