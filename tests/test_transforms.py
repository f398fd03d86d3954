"""Features, deltas and apply_delta: the conventions every part shares."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    apply_delta,
    state_delta,
    transform_state,
    window_features,
)

LAYOUT = StateLayout.create(
    3, 3, 1, angle_indices=[1, 2], coordinate_indices=[0]
)
_delta = jax.jit(lambda a, b: state_delta(LAYOUT, a, b))
_apply = jax.jit(lambda s, d: apply_delta(LAYOUT, s, d))


def wrap(x):
    return np.remainder(np.asarray(x) + np.pi, 2 * np.pi) - np.pi


def test_delta_round_trip_across_pi_and_many_turns():
    """apply_delta(s, state_delta(s, t)) = t, angles crossing ±π and winding."""
    s = np.array(
        [
            [0.3, np.pi - 0.01, -40.0, 1.0, -2.0, 3.0],
            [-1.0, 25.0 * np.pi + 0.2, 0.0, 0.0, 0.0, 0.0],
            [5.0, -np.pi + 0.02, 7.0, 0.5, 0.5, -0.5],
        ],
        np.float32,
    )
    t = s + np.array(
        [
            [0.01, 0.03, -0.2, 0.1, 0.2, 0.3],
            [0.0, -0.4, 1.0, 0.0, 1.0, 0.0],
            [-0.1, -0.05, 0.3, 0.0, 0.0, 0.1],
        ],
        np.float32,
    )
    out = np.asarray(_apply(s, _delta(s, t)))
    np.testing.assert_allclose(
        out[:, [0, 3, 4, 5]], t[:, [0, 3, 4, 5]], atol=1e-5
    )
    np.testing.assert_allclose(wrap(out[:, 1:3] - t[:, 1:3]), 0.0, atol=1e-5)


def test_apply_delta_is_the_normalized_addition_formula():
    """The angle update equals rotating (cos θ, sin θ) and renormalizing."""
    theta = np.array([0.4, -3.0], np.float32)
    c, s = np.array([1.7, -0.2], np.float32), np.array([0.9, 0.05], np.float32)
    state = np.array([0.0, *theta, 0.0, 0.0, 0.0], np.float32)
    delta = np.array([c[0], s[0], c[1], s[1], 0.0, 0.0, 0.0, 0.0], np.float32)
    out = np.asarray(_apply(state, delta))
    rc = np.cos(theta) * c - np.sin(theta) * s
    rs = np.sin(theta) * c + np.cos(theta) * s
    norm = np.hypot(rc, rs)
    np.testing.assert_allclose(np.cos(out[1:3]), rc / norm, atol=1e-6)
    np.testing.assert_allclose(np.sin(out[1:3]), rs / norm, atol=1e-6)


def test_zero_norm_pair_leaves_angle_unchanged_with_finite_gradient():
    """A (0, 0) angle pair is guarded: no rotation, no NaN gradient."""
    state = jnp.array([0.0, 1.0, 2.0, 0.0, 0.0, 0.0])
    delta = jnp.zeros(8)
    out = apply_delta(LAYOUT, state, delta)
    assert np.allclose(out[1:3], [1.0, 2.0])
    g = jax.grad(lambda d: apply_delta(LAYOUT, state, d).sum())(delta)
    assert np.all(np.isfinite(g))


def test_window_features_reference_coordinates_to_first_row():
    """Coordinates become relative to the window's first row; angles cos/sin."""
    rows = np.array(
        [
            [2.0, 0.5, 0.1, 1.0, 2.0, 3.0, 0.7],
            [2.5, 0.6, 0.2, 1.5, 2.0, 3.0, -0.7],
        ],
        np.float32,
    )
    f = np.asarray(window_features(LAYOUT, rows))
    assert f.shape == (2, LAYOUT.state_dim + 1)
    np.testing.assert_allclose(f[:, 4], [0.0, 0.5])  # x − x_first
    np.testing.assert_allclose(
        f[:, 0:2], np.c_[np.cos(rows[:, 1]), np.sin(rows[:, 1])], atol=1e-6
    )
    np.testing.assert_allclose(f[:, -1], rows[:, -1])
    # Shifting the whole window along x changes nothing.
    shifted = rows.copy()
    shifted[:, 0] += 100.0
    np.testing.assert_allclose(window_features(LAYOUT, shifted), f, atol=1e-4)


@pytest.mark.parametrize(
    ("angles", "coords", "message"),
    [
        ([3], [0], "out of range"),
        ([-1], [0], "negative"),
        ([1, 1], [0], "duplicated"),
        ([1, 2], [1], "both"),
    ],
)
def test_bad_indices_are_refused(angles, coords, message):
    """Out-of-range, negative, duplicated and overlapping indices are refused."""
    with pytest.raises(ValueError, match=message):
        StateLayout.create(3, 3, 1, angles, coords)


finite = st.floats(-50.0, 50.0, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    s=arrays(np.float32, (8, 6), elements=finite),
    step=arrays(np.float32, (8, 6), elements=st.floats(-1.0, 1.0, width=32)),
)
def test_property_round_trip(s, step):
    """Property: the delta between two states takes the first to the second."""
    t = s + step
    out = np.asarray(_apply(s, _delta(s, t)))
    tol = 1e-5 * np.maximum(1.0, np.abs(t))
    assert np.all(
        np.abs(out[:, [0, 3, 4, 5]] - t[:, [0, 3, 4, 5]])
        <= 4 * tol[:, [0, 3, 4, 5]]
    )
    assert np.all(np.abs(wrap(out[:, 1:3] - t[:, 1:3])) <= 1e-4)


@settings(max_examples=40, deadline=None)
@given(s=arrays(np.float32, (8, 6), elements=finite))
def test_property_transformed_angles_on_unit_circle(s):
    """Property: transformed angle pairs lie on the unit circle."""
    x = np.asarray(jax.jit(lambda a: transform_state(LAYOUT, a))(s))
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.hypot(x[:, 2], x[:, 3]), 1.0, atol=1e-5)
