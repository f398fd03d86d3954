"""Quaternions of free and ball joints: features, deltas, MuJoCo's convention."""

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hydrax.dynamics_model_training.rotations import (
    geodesic_angle,
    quat_exp,
    quat_log,
    quat_mul,
    quat_to_6d,
    quat_to_matrix,
    rotation_6d_to_matrix,
)
from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    apply_delta,
    state_delta,
    transform_state,
    velocity_delta,
    window_features,
)

# qpos: free joint 0..6 (position 0-2, quaternion 3-6), ball 7..10, hinge 11;
# qvel: free 0..5 (linear 0-2 world, angular 3-5 local), ball 6..8, hinge 9.
FREE_BALL_XML = """
<mujoco>
  <option timestep="0.01" integrator="Euler" gravity="0 0 -9.81"/>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body name="base" pos="0 0 1">
      <freejoint/>
      <geom type="box" size="0.2 0.1 0.05" mass="2"/>
      <body name="arm" pos="0.2 0 0">
        <joint name="ball" type="ball" damping="0.01"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="0.3"/>
        <body name="tip" pos="0.3 0 0">
          <joint name="hinge" type="hinge" axis="0 1 0"/>
          <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02"
                mass="0.1"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="hinge" gear="1"/>
  </actuator>
</mujoco>
"""

LAYOUT = StateLayout.create(
    12,
    10,
    1,
    angle_indices=[11],
    coordinate_indices=[0, 1, 2],
    quat_indices=[3, 7],
)
_delta = jax.jit(lambda a, b: state_delta(LAYOUT, a, b))
_apply = jax.jit(lambda s, d: apply_delta(LAYOUT, s, d))

unit_quats = arrays(
    np.float64, (4,), elements=st.floats(-1.0, 1.0, allow_nan=False)
).filter(lambda q: np.linalg.norm(q) > 0.1)
rotvecs = arrays(
    np.float64, (3,), elements=st.floats(-1.8, 1.8, allow_nan=False)
).filter(lambda r: np.linalg.norm(r) < np.pi - 0.01)


def _unit(q):
    q = np.asarray(q, np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _random_state(rng, n):
    """Random (qpos, qvel) rows of LAYOUT with random unit quaternions."""
    s = rng.normal(size=(n, 22))
    s[:, 3:7] = _unit(s[:, 3:7])
    s[:, 7:11] = _unit(s[:, 7:11])
    return s.astype(np.float32)


def _same_rotation(a, b):
    """|⟨a, b⟩| for unit quaternions: 1 when a = ±b."""
    return np.abs(np.sum(_unit(a) * _unit(b), axis=-1))


def test_layout_sizes_and_validation():
    """Delta: 2 per angle, 3 per quaternion; features: 6 per quaternion."""
    assert LAYOUT.state_dim == 2 + 3 + 3 + 3 + 10
    assert LAYOUT.other_indices == (0, 1, 2)
    assert LAYOUT.quat_dofs.tolist() == [[3, 4, 5], [6, 7, 8]]
    assert LAYOUT.dof_indices([11, 0]) == [9, 0]
    x = transform_state(LAYOUT, jnp.zeros((2, 22)).at[:, [3, 7]].set(1.0))
    assert x.shape == (2, 2 + 12 + 3 + 10)
    with pytest.raises(ValueError, match="need nv = nq - 2 = 10, got nv = 12"):
        StateLayout.create(12, 12, 1, quat_indices=[3, 7])
    with pytest.raises(ValueError, match="overlaps another"):
        StateLayout.create(12, 10, 1, quat_indices=[3, 5])
    with pytest.raises(ValueError, match="also angles or coordinates"):
        StateLayout.create(12, 10, 1, [11], [3], quat_indices=[3, 7])
    with pytest.raises(ValueError, match="needs qpos 10..13"):
        StateLayout.create(12, 11, 1, quat_indices=[10])
    # Old layouts (no quaternions) are unchanged.
    assert StateLayout(3, 3, 1, (1, 2), (0,)).quat_indices == ()


@settings(max_examples=60, deadline=None)
@given(rotvecs)
def test_exp_log_round_trip(r):
    """log(exp(r)) = r for angles below π, exp(r) unit norm (float32)."""
    q = np.asarray(quat_exp(r))
    assert abs(np.linalg.norm(q) - 1.0) < 1e-6
    np.testing.assert_allclose(np.asarray(quat_log(q)), r, atol=1e-5)
    np.testing.assert_allclose(np.asarray(quat_log(-q)), r, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(unit_quats)
def test_6d_feature_is_sign_free_and_invertible(q):
    """6D of q equals 6D of −q and Gram–Schmidt recovers the matrix."""
    q = _unit(q)
    f = np.asarray(quat_to_6d(q))
    np.testing.assert_allclose(np.asarray(quat_to_6d(-q)), f, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(rotation_6d_to_matrix(f)),
        np.asarray(quat_to_matrix(q)),
        atol=1e-5,
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_delta_round_trip_random_rotations(seed):
    """apply_delta(s, state_delta(s, t)) = t, quaternions up to sign."""
    rng = np.random.default_rng(seed)
    s, t = _random_state(rng, 8), _random_state(rng, 8)
    out = np.asarray(_apply(s, _delta(s, t)))
    for q in (3, 7):
        assert np.all(
            _same_rotation(out[:, q : q + 4], t[:, q : q + 4]) > 1 - 1e-6
        )
        np.testing.assert_allclose(
            np.linalg.norm(out[:, q : q + 4], axis=-1), 1.0, atol=1e-6
        )
    plain = [0, 1, 2, *range(12, 22)]
    np.testing.assert_allclose(out[:, plain], t[:, plain], atol=1e-5)
    wrap = np.remainder(out[:, 11] - t[:, 11] + np.pi, 2 * np.pi) - np.pi
    np.testing.assert_allclose(wrap, 0.0, atol=1e-5)
    # Features (6D) of the reached state equal those of the target.
    np.testing.assert_allclose(
        np.asarray(transform_state(LAYOUT, out)),
        np.asarray(transform_state(LAYOUT, t)),
        atol=1e-5,
    )


def test_predicted_rollout_stays_unit_norm_over_1000_steps():
    """1000 random (large) deltas applied in float32 keep ‖q‖ = 1."""
    rng = np.random.default_rng(0)
    state = _random_state(rng, 16)
    deltas = rng.normal(scale=0.5, size=(1000, 16, LAYOUT.state_dim))

    def step(s, d):
        s = apply_delta(LAYOUT, s, d)
        return s, s[:, [3, 4, 5, 6, 7, 8, 9, 10]]

    _, quats = jax.lax.scan(step, state, jnp.asarray(deltas, jnp.float32))
    quats = np.asarray(quats).reshape(1000, 16, 2, 4)
    assert np.max(np.abs(np.linalg.norm(quats, axis=-1) - 1.0)) < 1e-6


def test_zero_delta_gradients_are_finite():
    """Gradients of apply_delta and state_delta at the identity are finite."""
    s = _random_state(np.random.default_rng(1), 1)[0]
    d0 = jnp.zeros(LAYOUT.state_dim).at[0].set(1.0)
    g = jax.grad(lambda d: jnp.sum(apply_delta(LAYOUT, s, d)))(d0)
    assert np.all(np.isfinite(np.asarray(g)))
    g = jax.grad(lambda t: jnp.sum(state_delta(LAYOUT, s, t)))(jnp.asarray(s))
    assert np.all(np.isfinite(np.asarray(g)))


def _mujoco_steps(steps=60):
    """States (qpos, qvel) of an Euler-integrated free + ball + hinge body."""
    m = mujoco.MjModel.from_xml_string(FREE_BALL_XML)
    d = mujoco.MjData(m)
    rng = np.random.default_rng(3)
    d.qpos[3:7] = _unit(rng.normal(size=4))
    d.qpos[7:11] = _unit(rng.normal(size=4))
    d.qvel[:] = rng.normal(scale=2.0, size=m.nv)
    rows = []
    for _ in range(steps):
        rows.append(np.concatenate([d.qpos, d.qvel]))
        d.ctrl[:] = rng.normal()
        mujoco.mj_step(m, d)
    rows.append(np.concatenate([d.qpos, d.qvel]))
    return m, np.array(rows)


def test_true_delta_reproduces_mujoco_next_qpos():
    """The rotation delta and dt·qvel' (local ω) give MuJoCo's next qpos."""
    m, rows = _mujoco_steps()
    dt = m.opt.timestep
    s, t = rows[:-1].astype(np.float32), rows[1:]
    out = np.asarray(_apply(s, _delta(s, t.astype(np.float32))))
    np.testing.assert_allclose(out[:, :12], t[:, :12], atol=1e-6)
    # MuJoCo's convention: Euler's mj_integratePos uses the new velocity;
    # linear free-joint velocity in the world frame, angular in the local.
    vel = velocity_delta(LAYOUT, jnp.asarray(t[:, 12:], jnp.float32), dt)
    vel = vel.at[:, -10:].set(jnp.asarray(t[:, 12:] - s[:, 12:]))
    out = np.asarray(_apply(s, vel))
    np.testing.assert_allclose(out[:, :12], t[:, :12], atol=1e-6)
    # The rotation vector of state_delta is exactly dt·ω of the next step.
    rot = np.asarray(_delta(s, t.astype(np.float32)))[:, LAYOUT.quat_slots]
    np.testing.assert_allclose(rot, dt * t[:, 12 + LAYOUT.quat_dofs], atol=1e-6)
    # Rotating in the world frame instead (exp(r) ⊗ q) is measurably wrong.
    world = np.asarray(quat_mul(quat_exp(dt * t[:, 15:18]), rows[:-1, 3:7]))
    assert np.max(np.abs(world - t[:, 3:7])) > 1e-3


def test_window_features_orientation_and_coordinates():
    """Free-joint position relative to the first row; 6D orientation."""
    rng = np.random.default_rng(4)
    win = np.concatenate(
        [_random_state(rng, 5), rng.normal(size=(5, 1))], axis=-1
    ).astype(np.float32)
    f = np.asarray(window_features(LAYOUT, win))
    shifted = win.copy()
    shifted[:, :3] += np.array([10.0, -3.0, 0.5], np.float32)
    np.testing.assert_allclose(window_features(LAYOUT, shifted), f, atol=1e-5)
    np.testing.assert_allclose(
        f[:, 2:8], np.asarray(quat_to_6d(win[:, 3:7])), atol=1e-6
    )
    flipped = win.copy()
    flipped[:, 3:11] *= -1.0
    np.testing.assert_allclose(window_features(LAYOUT, flipped), f, atol=1e-6)


def test_geodesic_angle():
    """90° about z is 90; q and −q are 0; symmetric."""
    q = np.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])
    one = np.array([1.0, 0.0, 0.0, 0.0])
    assert float(geodesic_angle(one, q)) == pytest.approx(90.0, abs=1e-4)
    assert float(geodesic_angle(q, -q)) == pytest.approx(0.0, abs=1e-3)
    assert float(geodesic_angle(q, one, degrees=False)) == pytest.approx(
        np.pi / 2, abs=1e-6
    )
    rng = np.random.default_rng(5)
    a, b = _unit(rng.normal(size=(50, 4))), _unit(rng.normal(size=(50, 4)))
    np.testing.assert_allclose(
        geodesic_angle(a, b), geodesic_angle(b, a), atol=1e-3
    )
    assert np.all(np.asarray(geodesic_angle(a, b)) <= 180.0)


HEADING = StateLayout.create(
    12,
    10,
    1,
    angle_indices=[11],
    coordinate_indices=[0, 1],
    quat_indices=[3, 7],
    heading_frame=True,
)


def _turn_world(rows, alpha):
    """Rotate the free body (position, linear velocity, orientation) by α."""
    rows = np.array(rows, np.float64)
    c, s = np.cos(alpha), np.sin(alpha)
    for p in (0, 12):  # position, linear velocity
        x, y = rows[..., p].copy(), rows[..., p + 1].copy()
        rows[..., p], rows[..., p + 1] = c * x - s * y, s * x + c * y
    turn = np.array([np.cos(alpha / 2), 0.0, 0.0, np.sin(alpha / 2)])
    rows[..., 3:7] = np.asarray(quat_mul(turn, rows[..., 3:7]))
    return rows.astype(np.float32)


def test_heading_frame_is_yaw_and_translation_invariant():
    """Features and deltas do not change when the world turns and shifts."""
    assert HEADING.free_joints == ((3, 0, 0),)  # the ball joint is not free
    _, rows = _mujoco_steps(12)
    win = np.concatenate([rows, np.zeros((len(rows), 1))], axis=-1)
    win = win.astype(np.float32)
    moved = _turn_world(win, 2.5)
    moved[:, :2] += np.array([3.0, -7.0], np.float32)
    np.testing.assert_allclose(
        window_features(HEADING, moved),
        window_features(HEADING, win),
        atol=2e-5,
    )
    # Without the heading frame the features do depend on the yaw.
    plain = np.abs(
        window_features(LAYOUT, moved) - window_features(LAYOUT, win)
    )
    assert plain.max() > 0.5
    s, t = win[:-1, :22], win[1:, :22]
    d = np.asarray(state_delta(HEADING, s, t))
    np.testing.assert_allclose(
        state_delta(HEADING, moved[:-1, :22], moved[1:, :22]), d, atol=2e-5
    )
    out = np.asarray(apply_delta(HEADING, moved[:-1, :22], d))
    np.testing.assert_allclose(out[:, :12], moved[1:, :12], atol=1e-5)
    np.testing.assert_allclose(out[:, 12:], moved[1:, 12:22], atol=1e-4)


def test_heading_frame_true_delta_reproduces_mujoco():
    """With the heading frame, the true and Euler deltas still give MuJoCo."""
    m, rows = _mujoco_steps()
    dt = m.opt.timestep
    s, t = rows[:-1].astype(np.float32), rows[1:]
    out = np.asarray(apply_delta(HEADING, s, state_delta(HEADING, s, t)))
    np.testing.assert_allclose(out[:, :12], t[:, :12], atol=1e-6)
    vel = velocity_delta(HEADING, t[:, 12:], dt, qpos=s[:, :12])
    out = np.asarray(apply_delta(HEADING, s, vel))
    np.testing.assert_allclose(out[:, :12], t[:, :12], atol=1e-6)
    with pytest.raises(ValueError, match="needs qpos with heading_frame"):
        velocity_delta(HEADING, t[:, 12:], dt)
    with pytest.raises(ValueError, match="heading_frame needs a free joint"):
        StateLayout.create(4, 3, 1, quat_indices=[0], heading_frame=True)


def test_a_layout_describes_its_quaternions_and_frame():
    """The dataset line shows that a manifest's quaternion was picked up."""
    assert HEADING.describe() == (
        "angles [11], coordinates [0, 1], quaternions [3, 7] (heading frame)"
    )
    plain = StateLayout.create(
        3, 3, 1, angle_indices=[1, 2], coordinate_indices=[0]
    )
    assert plain.describe() == "angles [1, 2], coordinates [0]"
