"""The learned model's data conventions: features, deltas, applying a delta.

Every part of the package (the dataset's statistics, the training loss,
evaluation, planning) goes through these functions, so training and
inference cannot disagree.

A raw row is ``(qpos, qvel, ctrl)`` as logged, angles unwrapped. The
*transformed state* replaces each angle θ by the pair (cos θ, sin θ) and
keeps every other qpos and all of qvel; its layout is

    [cos θ_a0, sin θ_a0, cos θ_a1, sin θ_a1, ..., other qpos ..., qvel ...]

with angles in ``angle_indices`` order and the other qpos in index order. A
*delta* has the same layout: a rotation (cos Δθ, sin Δθ) per angle and an
increment for everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

TransformFn = Callable[[jax.Array], jax.Array]
"""A custom qpos feature map: (..., nq) → (..., m), JAX-traceable."""

_NORM_EPS = 1e-12


def _as_indices(name: str, values: Sequence[int] | None, nq: int) -> tuple:
    """Validate a list of qpos indices; name the parameter in every error."""
    if values is None:
        return ()
    values = np.asarray(values).reshape(-1)
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got {values.tolist()}")
    out = tuple(int(v) for v in values)
    for v in out:
        if v < 0:
            raise ValueError(f"{name} holds a negative index {v}")
        if v >= nq:
            raise ValueError(
                f"{name} holds index {v}, out of range for nq = {nq} "
                f"(valid: 0..{nq - 1})"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"{name} holds a duplicated index: {list(out)}")
    return out


@dataclass(frozen=True)
class StateLayout:
    """Which qpos entries are angles and which are Cartesian coordinates.

    Attributes:
        nq: Generalized positions.
        nv: Generalized velocities.
        nu: Controls.
        angle_indices: qpos indices of angles (→ cos, sin).
        coordinate_indices: qpos indices of Cartesian coordinates (taken
            relative to the window's first row in the features).
    """

    nq: int
    nv: int
    nu: int
    angle_indices: tuple[int, ...] = ()
    coordinate_indices: tuple[int, ...] = ()

    @classmethod
    def create(
        cls,
        nq: int,
        nv: int,
        nu: int,
        angle_indices: Sequence[int] | None = None,
        coordinate_indices: Sequence[int] | None = None,
    ) -> StateLayout:
        """A validated layout (indices in range, unique, not overlapping)."""
        angles = _as_indices("angle_indices", angle_indices, nq)
        coords = _as_indices("coordinate_indices", coordinate_indices, nq)
        both = sorted(set(angles) & set(coords))
        if both:
            raise ValueError(
                f"qpos indices {both} are in both angle_indices and "
                "coordinate_indices; an entry is one or the other"
            )
        return cls(nq, nv, nu, angles, coords)

    @property
    def other_indices(self) -> tuple[int, ...]:
        """The qpos indices that are not angles, in index order."""
        return tuple(i for i in range(self.nq) if i not in self.angle_indices)

    @property
    def state_dim(self) -> int:
        """Size of the transformed state (and of a delta)."""
        return self.nq + len(self.angle_indices) + self.nv

    @property
    def row_dim(self) -> int:
        """Size of a raw row (qpos, qvel, ctrl)."""
        return self.nq + self.nv + self.nu

    @property
    def angle_slots(self) -> np.ndarray:
        """Positions of the (cos, sin) pairs in the transformed state."""
        return np.arange(2 * len(self.angle_indices)).reshape(-1, 2)

    @property
    def additive_slots(self) -> np.ndarray:
        """Positions of the additive entries in the transformed state."""
        return np.arange(2 * len(self.angle_indices), self.state_dim)

    def to_dict(self) -> dict:
        """The layout as plain data (index tuples as lists), for files."""
        from dataclasses import fields

        return {
            f.name: list(v) if isinstance(v, tuple) else v
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }

    @classmethod
    def from_dict(cls, data: dict) -> StateLayout:
        """A validated layout from :meth:`to_dict`'s output.

        Keys of other fields are ignored; an absent index list is empty.

        Raises:
            ValueError: if a dimension is missing or an index is invalid.
        """
        from dataclasses import MISSING, fields

        missing = [
            f.name
            for f in fields(cls)
            if f.default is MISSING and f.name not in data
        ]
        if missing:
            raise ValueError(f"the state layout lacks {missing}")
        return cls.create(
            **{f.name: data[f.name] for f in fields(cls) if f.name in data}
        )


def transform_state(layout: StateLayout, state: jax.Array) -> jax.Array:
    """Raw (qpos, qvel) → transformed state, (..., nq + nv) → (..., D)."""
    qpos, qvel = state[..., : layout.nq], state[..., layout.nq :]
    angles = qpos[..., list(layout.angle_indices)]
    pairs = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)
    pairs = pairs.reshape(*angles.shape[:-1], 2 * angles.shape[-1])
    other = qpos[..., list(layout.other_indices)]
    return jnp.concatenate([pairs, other, qvel], axis=-1)


def window_features(
    layout: StateLayout,
    window: jax.Array,
    transform_fn: TransformFn | None = None,
    reference: jax.Array | None = None,
) -> jax.Array:
    """The network's input features of a window of raw rows (unstandardized).

    Cartesian coordinates are taken relative to their value in the window's
    first row (or in ``reference``); then angles become (cos, sin); the
    control is appended.

    Args:
        layout: The state layout.
        window: Raw rows, (..., H, nq + nv + nu).
        transform_fn: Optional custom map of the (re-referenced) qpos to its
            features, replacing the (cos, sin) / as-is qpos features.
        reference: The row coordinates are taken relative to, (..., R);
            the window's first row when None.

    Returns:
        Features, (..., H, F).
    """
    nq, nv = layout.nq, layout.nv
    window = jnp.asarray(window)
    coords = list(layout.coordinate_indices)
    if coords:
        first = (
            window[..., :1, :] if reference is None else reference[..., None, :]
        )
        window = window.at[..., coords].add(-first[..., coords])
    if transform_fn is None:
        state = transform_state(layout, window[..., : nq + nv])
    else:
        q_feat = transform_fn(window[..., :nq])
        state = jnp.concatenate([q_feat, window[..., nq : nq + nv]], axis=-1)
    return jnp.concatenate([state, window[..., nq + nv :]], axis=-1)


def state_delta(
    layout: StateLayout, state: jax.Array, next_state: jax.Array
) -> jax.Array:
    """The delta that takes ``state`` to ``next_state`` (raw, (..., nq+nv)).

    Angles give (cos(θ' − θ), sin(θ' − θ)); everything else θ' − θ.
    """
    diff = jnp.asarray(next_state) - jnp.asarray(state)
    angle_diff = diff[..., list(layout.angle_indices)]
    pairs = jnp.stack([jnp.cos(angle_diff), jnp.sin(angle_diff)], axis=-1)
    pairs = pairs.reshape(*angle_diff.shape[:-1], 2 * angle_diff.shape[-1])
    other = diff[..., list(layout.other_indices)]
    return jnp.concatenate([pairs, other, diff[..., layout.nq :]], axis=-1)


def apply_delta(
    layout: StateLayout, state: jax.Array, delta: jax.Array
) -> jax.Array:
    """Apply a delta to a raw state: the one definition everything uses.

    Angles rotate by the delta's pair: by the addition formulas the new point
    on the unit circle is (cos θ·c − sin θ·s, sin θ·c + cos θ·s) normalized,
    which is exactly θ + atan2(s, c); the angle is returned in that unwrapped
    form, like the logs. A pair of zero norm leaves the angle unchanged.
    Everything else adds.

    Args:
        layout: The state layout.
        state: Raw (qpos, qvel), (..., nq + nv).
        delta: A delta in the transformed layout, (..., D).

    Returns:
        The new raw state, (..., nq + nv).
    """
    n_ang = len(layout.angle_indices)
    state, delta = jnp.asarray(state), jnp.asarray(delta)
    c = delta[..., 0 : 2 * n_ang : 2]
    s = delta[..., 1 : 2 * n_ang : 2]
    tiny = jnp.square(c) + jnp.square(s) < _NORM_EPS
    dtheta = jnp.arctan2(jnp.where(tiny, 0.0, s), jnp.where(tiny, 1.0, c))
    add = delta[..., 2 * n_ang :]
    nq = layout.nq
    qpos = state[..., :nq]
    qpos = qpos.at[..., list(layout.angle_indices)].add(dtheta)
    qpos = qpos.at[..., list(layout.other_indices)].add(add[..., : nq - n_ang])
    qvel = state[..., nq:] + add[..., nq - n_ang :]
    return jnp.concatenate([qpos, qvel], axis=-1)
