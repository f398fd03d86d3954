"""The task zoo: upstream hydrax's tasks, their tests, and closed loops.

The model tests are upstream's task tests rewritten for this project's
MJCF; the closed loops run ``run_interactive`` headless against the MuJoCo
plant with the planner on MJX and assert the task got done.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx

from hydrax.algs import PredictiveSampling
from hydrax.simulation.deterministic import run_interactive
from hydrax.tasks import TASK_NAMES, get_task
from hydrax.tasks.crane import Crane
from hydrax.tasks.cube import CubeRotation
from hydrax.tasks.particle import Particle
from hydrax.tasks.pusht import PushT
from hydrax.tasks.walker import Walker

ZOO = {
    "particle": Particle,
    "pusht": PushT,
    "walker": Walker,
    "crane": Crane,
    "cube": CubeRotation,
}


def test_zoo_is_registered_beside_the_other_tasks():
    """get_task builds every zoo task; the earlier tasks stay registered."""
    for name in ("hopper", "quadruped", "double_cart_pole", *ZOO):
        assert name in TASK_NAMES
    for name, cls in ZOO.items():
        assert isinstance(get_task(name), cls)


# --- upstream's task tests ---------------------------------------------------


def test_particle():
    """The costs see the distance to the target."""
    task = Particle(impl="jax")
    assert task.pointmass_id >= 0
    state = task.make_data().replace(mocap_pos=jnp.array([[0.0, 0.1, 0.0]]))
    assert state.site_xpos.shape == (1, 3)
    state = jax.jit(mjx.forward)(task.model, state)
    assert not jnp.all(state.site_xpos == 0.0)
    ell = task.running_cost(state, jnp.zeros(2))
    assert ell.shape == ()
    # 5 · (0.1² + 0.01²): the target 10 cm away in y, 1 cm lower.
    assert float(ell) == pytest.approx(5.0 * (0.01 + 1e-4), rel=1e-4)
    assert float(task.terminal_cost(state)) == pytest.approx(float(ell))


def test_pusht():
    """Pose errors are relative to the goal; a half turn is π."""
    task = PushT(impl="jax")
    state = task.make_data().replace(
        mocap_quat=jnp.array([[0.0, 1.0, 0.0, 0.0]])
    )
    state = jax.jit(mjx.forward)(task.model, state)
    assert task._get_position_err(state).shape == (3,)
    ori = task._get_orientation_err(state)
    assert ori.shape == (3,)
    assert float(jnp.linalg.norm(ori)) == pytest.approx(math.pi, abs=1e-5)
    assert task.running_cost(state, jnp.zeros(2)).shape == ()
    assert float(task.terminal_cost(state)) > math.pi**2 - 1e-3


def test_walker():
    """Standing still and upright: only height and speed cost."""
    task = Walker(impl="jax")
    assert (
        min(
            task.torso_position_sensor,
            task.torso_velocity_sensor,
            task.torso_zaxis_sensor,
        )
        >= 0
    )
    state = jax.jit(mjx.forward)(task.model, task.make_data())
    assert float(task._get_torso_height(state)) == pytest.approx(1.3)
    assert float(task._get_torso_velocity(state)) == 0.0
    assert float(task._get_torso_deviation_from_upright(state)) == 0.0
    expected = 10.0 * 0.1**2 + 1.5**2
    assert float(task.terminal_cost(state)) == pytest.approx(expected)
    ell = task.running_cost(state, jnp.zeros(task.nu))
    assert float(ell) == pytest.approx(expected)


def test_crane():
    """The payload's sensors read relative to the (moved) target."""
    task = Crane(impl="jax")
    assert task.payload_pos_sensor_adr >= 0
    assert task.payload_vel_sensor_adr >= 0
    state = task.make_data().replace(
        qpos=jnp.asarray(task.mj_model.qpos0),
        mocap_pos=jnp.array([[0.1, 0.1, 0.1]]),
        mocap_quat=jnp.array([[1.0, 0.0, 0.0, 0.0]]),
    )
    state = jax.jit(mjx.forward)(task.model, state)
    pos = task._get_payload_position(state)
    # The payload's end hangs at (0, 2.32, 0.15) below the boom's tip.
    np.testing.assert_allclose(pos, [-0.1, 2.22, 0.05], atol=1e-5)
    assert task._get_payload_velocity(state).shape == (3,)
    assert float(task.running_cost(state, jnp.zeros(3))) > 4.9
    assert float(task.terminal_cost(state)) > 4.9


@pytest.mark.slow
def test_cube_model_steps_in_mjx():
    """16 actuators, hand + free cube; 100 random MJX steps stay finite."""
    task = CubeRotation(impl="jax")
    m = task.mj_model
    assert (m.nu, m.nq, m.nv) == (16, 16 + 7, 16 + 6)

    @jax.jit
    def step(data: mjx.Data, rng: jax.Array) -> tuple[mjx.Data, jax.Array]:
        rng, key = jax.random.split(rng)
        u = jax.random.uniform(key, (m.nu,), minval=-1.0, maxval=1.0)
        return mjx.step(task.model, data.replace(ctrl=u)), rng

    data = task.make_data().replace(qpos=jnp.asarray(m.qpos0))
    rng = jax.random.key(0)
    for _ in range(100):
        data, rng = step(data, rng)
    assert bool(jnp.all(jnp.isfinite(data.qpos)))
    assert bool(jnp.all(jnp.isfinite(data.qvel)))


def test_cube_errors():
    """At rest the cube sits on the grasp site; a flipped goal is π away."""
    task = CubeRotation(impl="jax")
    state = task.make_data().replace(
        qpos=jnp.asarray(task.mj_model.qpos0),
        mocap_quat=jnp.array([[0.0, 1.0, 0.0, 0.0]]),
    )
    state = jax.jit(mjx.forward)(task.model, state)
    np.testing.assert_allclose(
        task._get_cube_position_err(state), 0.0, atol=1e-7
    )
    err = task._get_cube_orientation_err(state)
    np.testing.assert_allclose(jnp.abs(err), [math.pi, 0.0, 0.0], atol=1e-5)
    # Flat on the palm but upside down: only the orientation costs.
    ell = task.running_cost(state, jnp.zeros(16))
    assert float(ell) == pytest.approx(math.pi**2, rel=1e-4)
    assert float(task.terminal_cost(state)) == pytest.approx(0.0, abs=1e-9)


def test_domain_randomization_models():
    """Upstream's test_dr: randomized gains are stacked per domain."""
    task = Particle()
    one = PredictiveSampling(
        task, num_samples=10, noise_level=0.1, num_randomizations=1
    )
    two = PredictiveSampling(
        task, num_samples=10, noise_level=0.1, num_randomizations=2
    )
    shape = task.model.actuator_gainprm.shape
    assert one.model.actuator_gainprm.shape == shape
    assert two.model.actuator_gainprm.shape == (2, *shape)
    assert not jnp.allclose(
        two.model.actuator_gainprm[0], task.model.actuator_gainprm
    )
    assert jnp.allclose(one.model.actuator_gainprm, task.model.actuator_gainprm)
    for cls in (PushT, Crane, CubeRotation):
        other = cls()
        fields = other.domain_randomize_model(jax.random.key(0))
        assert fields
        for name, value in fields.items():
            original = getattr(other.model, name)
            assert value.shape == original.shape, name
            assert not jnp.allclose(value, original), name
        state = other.make_data()
        noisy = other.domain_randomize_data(state, jax.random.key(1))
        assert all(v.shape == getattr(state, k).shape for k, v in noisy.items())


# --- closed loops: the plant under MPC on MJX --------------------------------


def _closed_loop(task, mj_data, duration, frequency=50.0, **ctrl_kwargs):
    ctrl = PredictiveSampling(task, spline_type="zero", **ctrl_kwargs)
    run_interactive(
        ctrl,
        task.mj_model,
        mj_data,
        frequency=frequency,
        headless=True,
        duration=duration,
        verbose=False,
    )
    mujoco.mj_forward(task.mj_model, mj_data)
    return mj_data


@pytest.mark.slow
def test_particle_reaches_the_target_with_worst_case_randomization():
    """Upstream's particle example: within 2 cm of the target in 1.5 s."""
    from hydrax.risk import WorstCase

    task = Particle()
    data = mujoco.MjData(task.mj_model)
    data.mocap_pos[0] = [0.2, -0.15, 0.01]
    _closed_loop(
        task,
        data,
        1.5,
        num_samples=16,
        noise_level=0.1,
        num_randomizations=4,
        risk_strategy=WorstCase(),
        plan_horizon=0.25,
        num_knots=11,
    )
    error = data.site_xpos[task.pointmass_id] - data.mocap_pos[0]
    assert float(np.linalg.norm(error)) < 0.02


@pytest.mark.slow
def test_pusht_pushes_the_block_to_the_goal():
    """From 14 cm and 75° off, the block ends within 1 cm and 0.1 rad."""
    task = PushT()
    data = mujoco.MjData(task.mj_model)
    data.qpos[:] = [0.1, 0.1, 1.3, 0.0, 0.0]
    _closed_loop(
        task,
        data,
        3.0,
        num_samples=64,
        noise_level=0.4,
        plan_horizon=0.5,
        num_knots=6,
    )
    assert float(np.linalg.norm(data.qpos[:2])) < 0.01
    assert abs(float(data.qpos[2])) < 0.1


@pytest.mark.slow
def test_walker_walks_forward_without_falling():
    """In 2 s the torso gets 0.8 m forward and stays above 1 m."""
    task = Walker()
    data = mujoco.MjData(task.mj_model)
    _closed_loop(
        task,
        data,
        2.0,
        num_samples=64,
        noise_level=0.5,
        plan_horizon=0.6,
        num_knots=5,
    )
    assert float(data.qpos[1]) > 0.8  # torso x
    assert 1.3 + float(data.qpos[0]) > 1.0  # torso height


@pytest.mark.slow
def test_cube_turns_towards_the_goal_and_stays_on_the_palm():
    """A goal 0.8 rad of yaw away: within 0.3 rad after 1 s, cube held."""
    task = CubeRotation()
    data = mujoco.MjData(task.mj_model)
    data.mocap_quat[0] = [math.cos(0.4), 0.0, 0.0, math.sin(0.4)]
    _closed_loop(
        task,
        data,
        1.0,
        frequency=25.0,
        # 32 samples dropped the cube off the palm on some machines (the
        # contact-rich rollouts are chaotic to the last float bit); 64 turn
        # it to 0.08 rad and keep it there.
        num_samples=64,
        noise_level=0.2,
        plan_horizon=0.25,
        num_knots=4,
    )
    m = task.mj_model
    adr = m.sensor_adr[task.cube_orientation_sensor]
    angle = 2.0 * math.acos(min(abs(float(data.sensordata[adr])), 1.0))
    assert angle < 0.3
    adr = m.sensor_adr[task.cube_position_sensor]
    pos = data.sensordata[adr : adr + 3]
    assert abs(float(pos[2])) < 0.01  # resting on the palm, not dropped
    assert float(np.linalg.norm(pos[:2])) < 0.05  # between the fingers


@pytest.mark.slow
def test_crane_brings_the_payload_towards_the_target():
    """Upstream's crane: 36 cm off at first, under 25 cm on average later."""
    task = Crane()
    m = task.mj_model
    data = mujoco.MjData(m)
    adr = task.payload_pos_sensor_adr
    mujoco.mj_forward(m, data)
    start = float(np.linalg.norm(data.sensordata[adr : adr + 3]))
    ctrl = PredictiveSampling(
        task,
        num_samples=16,
        noise_level=0.3,
        plan_horizon=0.8,
        spline_type="zero",
        num_knots=3,
    )
    run = run_interactive(
        ctrl,
        m,
        data,
        frequency=30.0,
        headless=True,
        duration=5.0,
        verbose=False,
    )
    replay = mujoco.MjData(m)
    distances = []
    for qpos in run.qpos[run.times >= 3.0]:
        replay.qpos[:] = qpos
        mujoco.mj_kinematics(m, replay)
        mujoco.mj_sensorPos(m, replay)
        distances.append(np.linalg.norm(replay.sensordata[adr : adr + 3]))
    assert start > 0.35
    assert float(np.mean(distances)) < 0.25
