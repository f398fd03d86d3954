"""The structured delta: the network predicts Δqvel, positions are integrated.

``StateLayout.delta == "velocity"``: ``apply_delta`` moves the positions
from the new velocity as MuJoCo's semi-implicit Euler step does; training,
checkpoints and planning honour it; the plain delta stays the default.
"""

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx

from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics
from hydrax.dynamics_model_training.layout import StateLayout
from hydrax.dynamics_model_training.model import rollout, rollout_deltas
from hydrax.dynamics_model_training.model_io import (
    ModelConfig,
    load_trained_model,
)
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.dynamics_model_training.training_cli import train_parser
from hydrax.dynamics_model_training.transforms import (
    apply_delta,
    state_delta,
)
from hydrax.task_base import model_path
from hydrax.tasks.double_cart_pole import DoubleCartPole

# A free body with a hinged arm and a ball-jointed tip: a free joint's
# quaternion and world-frame position, a hinge angle and a ball joint's
# quaternion, all stepped by MuJoCo's semi-implicit Euler integrator.
FREE_XML = """
<mujoco model="free_arm">
  <option timestep="0.01" integrator="Euler" gravity="0 0 -9.81">
    <flag contact="disable"/>
  </option>
  <worldbody>
    <body name="base" pos="0 0 1">
      <freejoint name="root"/>
      <geom type="box" size="0.2 0.1 0.05" mass="2"/>
      <body name="arm" pos="0.2 0 0">
        <joint name="hinge" type="hinge" axis="0 1 0" damping="0.05"/>
        <geom type="capsule" fromto="0 0 0 0.4 0 0" size="0.03" mass="0.3"/>
        <body name="tip" pos="0.4 0 0">
          <joint name="ball" type="ball" damping="0.01"/>
          <geom type="capsule" fromto="0 0 0 0 0 -0.3" size="0.02"
                mass="0.2"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="hinge" gear="1" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


def _euler_steps(m, d, steps, rng):
    """Rows of (state, next state) of ``steps`` MuJoCo steps, float64."""
    pairs = []
    for _ in range(steps):
        d.ctrl[:] = rng.uniform(-1, 1, m.nu)
        s0 = np.r_[d.qpos, d.qvel]
        mujoco.mj_step(m, d)
        pairs.append((s0, np.r_[d.qpos, d.qvel]))
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _check_reproduces(layout, s0, s1):
    """With the true Δqvel, structured apply_delta gives MuJoCo's next qpos."""
    plain = layout.with_delta("state")
    with jax.enable_x64(True):
        delta = np.asarray(state_delta(layout, s0, s1))
        only_dv = delta.copy()
        only_dv[:, : layout.state_dim - layout.nv] = 0.0  # position part gone
        got = np.asarray(apply_delta(layout, s0, only_dv))
        # The plain delta needs the position part: without it qpos stays.
        stale = np.asarray(apply_delta(plain, s0, only_dv))
    np.testing.assert_allclose(got, s1, rtol=0, atol=1e-6)
    assert np.abs(stale[:, : layout.nq] - s1[:, : layout.nq]).max() > 1e-4


def test_structured_apply_delta_is_mujocos_euler_step_double_cart_pole():
    """Double cart pole (Euler in its MJCF): slide and hinges to 1e-6."""
    m = mujoco.MjModel.from_xml_path(str(model_path("double_cart_pole")))
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    d.qpos[:] = [0.1, np.pi - 0.3, 0.4]
    d.qvel[:] = rng.uniform(-2, 2, 3)
    s0, s1 = _euler_steps(m, d, 300, rng)
    layout = StateLayout.create(
        3, 3, 1, [1, 2], [0], delta="velocity", delta_dt=m.opt.timestep
    )
    _check_reproduces(layout, s0, s1)


@pytest.mark.parametrize("heading_frame", [False, True])
def test_structured_apply_delta_is_mujocos_euler_step_free_joint(
    heading_frame,
):
    """A free joint (quaternion, world position), a hinge and a ball joint."""
    m = mujoco.MjModel.from_xml_string(FREE_XML)
    d = mujoco.MjData(m)
    rng = np.random.default_rng(1)
    d.qvel[:] = rng.uniform(-3, 3, m.nv)  # spinning and flying
    s0, s1 = _euler_steps(m, d, 200, rng)
    assert m.nq == 12 and m.nv == 10
    layout = StateLayout.create(
        m.nq,
        m.nv,
        m.nu,
        angle_indices=[7],
        coordinate_indices=[0, 1, 2],
        quat_indices=[3, 8],
        heading_frame=heading_frame,
        delta="velocity",
        delta_dt=m.opt.timestep,
    )
    assert layout.free_joints == ((3, 0, 0),)
    _check_reproduces(layout, s0, s1)


def test_layout_switch_is_validated_and_stored_only_when_set():
    """Unknown deltas, a missing dt, nv ≠ nq − quaternions are refused."""
    plain = StateLayout.create(3, 3, 1, [1, 2], [0])
    assert plain.delta == "state" and plain.output_dim == plain.state_dim
    assert "delta" not in plain.to_dict()  # stored as before the option
    with pytest.raises(ValueError, match="delta must be one of"):
        plain.with_delta("position")
    with pytest.raises(ValueError, match="dt > 0"):
        plain.with_delta("velocity")
    with pytest.raises(ValueError, match="one dof per qpos"):
        StateLayout.create(3, 2, 1, delta="velocity", delta_dt=0.01)
    structured = plain.with_delta("velocity", 0.01)
    assert structured.output_dim == 3
    assert StateLayout.from_dict(structured.to_dict()) == structured
    assert StateLayout.from_dict(plain.to_dict()) == plain


@pytest.fixture(scope="module")
def structured_run(dcp_data, tmp_path_factory):
    """A tiny recurrent structured model on the double cart pole logs."""
    out = tmp_path_factory.mktemp("structured")
    _, history = train_dynamics_model(
        dcp_data,
        "sdcp",
        hidden_size=16,
        history_length=4,
        prediction_horizon=4,
        num_epochs=4,
        learning_rate=3e-3,
        mode="recurrent",
        delta="velocity",
        checkpoint_dir=out,
        progress=False,
        log=lambda s: None,
    )
    return out / "sdcp" / "best_model.pkl", history


def test_structured_model_trains_and_its_rollout_is_euler(structured_run):
    """The loss falls; rolled-out positions follow the new velocities."""
    path, history = structured_run
    assert history["val_loss"][-1] < 0.9 * history["val_loss"][0]
    assert history["train_loss"][-1] < history["train_loss"][0]
    net, _ = load_trained_model(path)
    assert net.layout.delta == "velocity"
    assert net.head.kernel[...].shape == (16, 3)  # Δqvel only
    rng = np.random.default_rng(2)
    window = rng.normal(0, 0.3, (4, 4, 7)).astype(np.float32)
    window[..., 1] += np.pi
    window = jnp.asarray(window)
    controls = jnp.asarray(rng.uniform(-1, 1, (4, 6, 1)).astype(np.float32))
    targets = jnp.zeros((4, 6, 6))
    states, pred_std, _ = rollout_deltas(net, window, controls, targets)
    prev = jnp.concatenate([window[:, -1:, :6], states[:, :-1]], axis=1)
    # q' = q + dt·qvel' for the slide and both hinges.
    np.testing.assert_allclose(
        states[..., :3], prev[..., :3] + 0.01 * states[..., 3:], atol=2e-5
    )
    # The loss's predicted delta is the whole delta of the step it made.
    made = net.standardize(state_delta(net.layout, prev, states))
    np.testing.assert_allclose(pred_std, made, atol=2e-3)


def test_checkpoint_keeps_the_option_and_old_configs_load_plain(
    structured_run, tiny_model
):
    """The config records delta and dt; a config without them is plain."""
    path, _ = structured_run
    net, cfg = load_trained_model(path)
    assert cfg["delta"] == "velocity" and cfg["delta_dt"] == pytest.approx(0.01)
    typed = ModelConfig.from_dict(cfg)
    assert typed.layout == net.layout
    assert typed.to_dict()["delta"] == "velocity"
    old = {k: v for k, v in cfg.items() if k not in ("delta", "delta_dt")}
    assert ModelConfig.from_dict(old).layout == net.layout.with_delta("state")
    plain_net, plain_cfg = load_trained_model(tiny_model[0])
    assert "delta" not in plain_cfg and plain_net.layout.delta == "state"
    assert plain_net.head.kernel[...].shape[-1] == plain_net.layout.state_dim


def test_train_flag_defaults_to_the_plain_delta():
    """--delta state|velocity, default state, shown in the help."""
    parser = train_parser()
    args = parser.parse_args(["--data-dir", "x", "--task-name", "t"])
    assert args.delta == "state"
    assert "(default: state)" in " ".join(parser.format_help().split())
    args = parser.parse_args(
        ["--data-dir", "x", "--task-name", "t", "--delta", "velocity"]
    )
    assert args.delta == "velocity"


def test_planning_with_a_structured_checkpoint(structured_run):
    """The MPC seam steps like the rollout; positions follow qvel'."""
    path, _ = structured_run
    task = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(model=task.model, path=path)
    rng = np.random.default_rng(3)
    history = rng.normal(0, 0.2, (3, 7)).astype(np.float32)
    history[:, 1] += np.pi
    qpos = jnp.asarray([0.1, np.pi + 0.05, -0.02], jnp.float32)
    qvel = jnp.asarray([0.2, -0.3, 0.1], jnp.float32)
    data = mjx.make_data(task.model).replace(qpos=qpos, qvel=qvel)
    carry = dyn.init_carry(task.model, data, jnp.asarray(history))
    us = jnp.asarray(rng.uniform(-1, 1, (5, 1)).astype(np.float32))
    seam = []
    for k in range(5):
        before = np.asarray(data.qpos)
        data, carry = dyn.step(task.model, data, carry, us[k])
        assert data.qpos.shape == (3,) and data.qvel.shape == (3,)
        np.testing.assert_allclose(
            data.qpos, before + 0.01 * np.asarray(data.qvel), atol=2e-5
        )
        seam.append(np.r_[data.qpos, data.qvel])
    pred = dyn.predict(
        jnp.asarray(history)[None], jnp.r_[qpos, qvel][None], us[None]
    )
    assert pred.shape == (1, 5, 6)
    np.testing.assert_allclose(np.array(seam), pred[0], atol=1e-5)
    net, _ = load_trained_model(path)
    window = jnp.concatenate(
        [jnp.asarray(history), jnp.r_[qpos, qvel, us[0]][None]]
    )[None]
    states, _ = rollout(net, window, us[None, 1:])
    np.testing.assert_allclose(states[0], pred[0, :4], atol=1e-5)


@pytest.mark.parametrize("strategy", ["mean", "ts", "members"])
def test_planning_with_a_structured_recurrent_ensemble(
    structured_run, strategy
):
    """Members of a structured delta step one by one (no wide weights)."""
    from hydrax.dynamics_model_training.model_io import (
        build_network,
        network_statistics,
    )

    path, _ = structured_run
    net, cfg = load_trained_model(path)
    other = build_network(cfg, seed=7)
    other.set_statistics(network_statistics(net))
    dyn = NeuralNetworkDynamics([net, other], cfg, strategy=strategy)
    assert dyn._wide is None
    task = DoubleCartPole()
    qpos = jnp.asarray([0.0, np.pi + 0.1, 0.0], jnp.float32)
    data = mjx.make_data(task.model).replace(qpos=qpos)
    carry = dyn.init_carry(task.model, data, None)
    # Member 1: sample 1's under "ts", particle 1's under "members".
    carry = dyn.particle_carry(dyn.sample_carry(carry, 1), 1)
    for _ in range(3):
        before = np.asarray(data.qpos)
        data, carry = dyn.step(task.model, data, carry, jnp.ones(1))
        assert data.qpos.shape == (3,) and np.all(np.isfinite(data.qvel))
        np.testing.assert_allclose(
            data.qpos, before + 0.01 * np.asarray(data.qvel), atol=2e-5
        )


def test_window_mode_structured_network_steps_like_its_rollout():
    """Window mode: network(window) is the integrated delta rollout applies."""
    from flax import nnx

    from hydrax.dynamics_model_training.model import DynamicsNetwork

    layout = StateLayout.create(
        3, 3, 1, [1, 2], [0], delta="velocity", delta_dt=0.01
    )
    net = DynamicsNetwork(layout, 8, 4, rngs=nnx.Rngs(0), mode="window")
    net.head.kernel[...] = net.head.kernel[...] * 100.0  # visible Δqvel
    rng = np.random.default_rng(4)
    window = jnp.asarray(rng.normal(0, 0.5, (3, 4, 7)).astype(np.float32))
    delta = net(window)
    current = window[:, -1, :6]
    expected = apply_delta(layout, current, delta)
    np.testing.assert_allclose(
        delta, state_delta(layout, current, expected), atol=1e-5
    )
    states, _ = rollout(net, window, window[:, :2, 6:])
    np.testing.assert_allclose(states[:, 0], expected, atol=1e-6)
    assert np.abs(expected[:, 3:] - current[:, 3:]).max() > 1e-3
    np.testing.assert_allclose(
        expected[:, :3], current[:, :3] + 0.01 * expected[:, 3:], atol=1e-6
    )


def test_evaluation_of_a_structured_model_explains_its_equal_baselines(
    structured_run, dcp_data, tmp_path
):
    """Zero velocity change is constant velocity: the report says why the
    two baselines' rows agree, and metrics.json records the delta."""
    from hydrax.dynamics_model_training.evaluate import evaluate_model

    said = []
    metrics = evaluate_model(
        structured_run[0], dcp_data, num_examples=20, horizon=5,
        output_dir=tmp_path, plots=False, log=said.append,
    )  # fmt: skip
    assert metrics["delta"] == "velocity"
    pred = metrics["predictors"]
    np.testing.assert_allclose(
        pred["zero_delta"]["mse"], pred["constant_velocity"]["mse"], rtol=1e-5
    )
    assert "zero-delta is constant velocity" in "\n".join(said)
