"""Linearization and LQR collection for every MuJoCo integrator.

Each test writes its own MJCF: a cart on a limited rail with a hinged pole,
the cart's motor with or without ``ctrlrange``. A user's `Task` with a goal
gets LQR collection; the logs replay exactly in MuJoCo.
"""

import json

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from conftest import replay_error
from mujoco import mjx

from hydrax.control.lqr import LQRController, linearize
from hydrax.logs import read_manifest
from hydrax.simulation.collect import main
from hydrax.simulation.collection import collect
from hydrax.simulation.logging import read_trajectory_csv
from hydrax.task_base import Task

INTEGRATORS = ("Euler", "implicit", "implicitfast", "RK4")

CART_POLE_XML = """
<mujoco model="rail_pole">
  <option timestep="0.01" integrator="{integrator}"/>
  <worldbody>
    <body name="cart">
      <joint name="x" type="slide" axis="1 0 0" range="-2 2" damping="0.1"/>
      <geom type="box" size="0.1 0.1 0.1" mass="1"/>
      <body name="pole">
        <joint name="theta" type="hinge" axis="0 1 0" damping="0.01"/>
        <geom type="capsule" fromto="0 0 0 0 0 0.6" size="0.03" mass="0.2"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" gear="10" {ctrlrange}/>
  </actuator>
</mujoco>
"""

# Every joint type, a filtered actuator (an activation state, na = 1) and a
# plain motor: the linearization's tangent space and act columns.
ALL_JOINTS_XML = """
<mujoco model="all_joints">
  <option timestep="0.005" integrator="{integrator}">
    <flag contact="disable"/>
  </option>
  <worldbody>
    <body name="base" pos="0 0 1">
      <joint name="root" type="free"/>
      <geom type="sphere" size="0.1" mass="1"/>
      <body name="arm" pos="0 0 0.2">
        <joint name="shoulder" type="ball" damping="0.05"/>
        <geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.03"/>
        <body name="fore" pos="0 0 0.3">
          <joint name="elbow" type="hinge" axis="0 1 0" damping="0.05"/>
          <joint name="lift" type="slide" axis="0 0 1" damping="0.05"/>
          <geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.03"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <general joint="elbow" dyntype="filter" dynprm="0.05" gear="0.5"/>
    <motor joint="lift" gear="2" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


class RailPole(Task):
    """A user's task on a written MJCF: keep the pole up (theta = 0)."""

    def __init__(self, path):
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(mj_model, model_file=path)

    def running_cost(self, state: mjx.Data, control: jax.Array) -> jax.Array:
        return jnp.square(state.qpos[1]) + 0.01 * jnp.sum(control**2)

    def terminal_cost(self, state: mjx.Data) -> jax.Array:
        return jnp.square(state.qpos[1])

    def goal(self):
        return np.zeros(2), np.zeros(2)


def _write(tmp_path, integrator, ctrlrange=True, xml=CART_POLE_XML):
    limits = 'ctrlrange="-1 1"' if ctrlrange else ""
    path = tmp_path / f"model_{integrator}.xml"
    path.write_text(xml.format(integrator=integrator, ctrlrange=limits))
    return path


def _random_state(mj_model, seed=0):
    rng = np.random.default_rng(seed)
    qpos = mj_model.qpos0.copy()
    mujoco.mj_integratePos(
        mj_model, qpos, rng.uniform(-0.3, 0.3, mj_model.nv), 1.0
    )
    return qpos, rng.uniform(-0.3, 0.3, mj_model.nv)


@pytest.mark.parametrize("integrator", ["Euler", "implicit", "implicitfast"])
def test_central_differences_match_mujoco(tmp_path, integrator):
    """Central differences of mj_step agree with mjd_transitionFD."""
    path = _write(tmp_path, integrator, xml=ALL_JOINTS_XML)
    mj_model = mujoco.MjModel.from_xml_path(str(path))
    assert mj_model.na == 1
    qpos, qvel = _random_state(mj_model)
    ctrl = np.array([0.3, -0.2])
    a_ref, b_ref = linearize(mj_model, qpos, qvel, ctrl, method="mujoco")
    a, b = linearize(mj_model, qpos, qvel, ctrl, method="central")
    assert a.shape == (2 * mj_model.nv + 1,) * 2
    assert b.shape == (2 * mj_model.nv + 1, 2)
    assert np.abs(a - a_ref).max() <= 1e-6
    assert np.abs(b - b_ref).max() <= 1e-6
    # Not trivially equal: the dynamics couple the joints.
    assert np.abs(a - np.eye(len(a))).max() > 1e-3


def test_rk4_jacobians_predict_the_step(tmp_path):
    """RK4 (refused by mjd_transitionFD): A, B predict mj_step's change."""
    path = _write(tmp_path, "RK4", xml=ALL_JOINTS_XML)
    mj_model = mujoco.MjModel.from_xml_path(str(path))
    qpos, qvel = _random_state(mj_model, seed=1)
    a, b = linearize(mj_model, qpos, qvel)  # auto: central for RK4
    with pytest.raises(ValueError, match="RK4"):
        linearize(mj_model, qpos, qvel, method="mujoco")

    def step(dx, du):
        data = mujoco.MjData(mj_model)
        data.qpos[:] = qpos
        mujoco.mj_integratePos(mj_model, data.qpos, dx[: mj_model.nv], 1.0)
        data.qvel[:] = qvel + dx[mj_model.nv : 2 * mj_model.nv]
        data.act[:] = dx[2 * mj_model.nv :]
        data.ctrl[:] = du
        mujoco.mj_step(mj_model, data)
        dq = np.zeros(mj_model.nv)
        mujoco.mj_differentiatePos(mj_model, dq, 1.0, qpos, data.qpos)
        return np.concatenate([dq, data.qvel, data.act])

    rng = np.random.default_rng(2)
    dx = 1e-4 * rng.standard_normal(len(a))
    du = 1e-4 * rng.standard_normal(mj_model.nu)
    actual = step(dx, du) - step(np.zeros(len(a)), np.zeros(mj_model.nu))
    predicted = a @ dx + b @ du
    assert np.linalg.norm(actual - predicted) <= 1e-3 * np.linalg.norm(actual)


@pytest.mark.parametrize(
    "ctrlrange", [True, False], ids=["ctrlrange", "unlimited"]
)
@pytest.mark.parametrize("integrator", ["Euler", "implicitfast", "RK4"])
def test_lqr_collection_replays(tmp_path, integrator, ctrlrange):
    """A user's Task, any integrator: LQR holds the pole, logs replay."""
    task = RailPole(_write(tmp_path, integrator, ctrlrange))
    out = collect(
        task,
        tmp_path / "out",
        episodes=3,
        duration=2.0,
        policy="lqr",
        noise_std=0.05,
        init_spread=0.05,
        seed=4,
        progress=False,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["episodes"] == 3
    assert manifest["collection"][0]["policy"] == "lqr"
    files = sorted(out.glob("episode_*.csv"))
    assert len(files) == 3
    for path in files:
        log = read_trajectory_csv(path, 2, 2, 1)
        assert len(log["times"]) == 200
        assert replay_error(task.mj_model, log) <= 1e-9
        # LQR from this integrator's linearization keeps the pole up.
        assert np.abs(log["qpos"][:, 1]).max() < 0.3
        if ctrlrange:
            assert np.abs(log["ctrl"]).max() <= 1.0


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_bare_mjcf_collection_replays(tmp_path, integrator, capsys):
    """The CLI on a bare MJCF, every integrator: random logs replay."""
    path = _write(tmp_path, integrator, ctrlrange=False)
    code = main(
        [
            "--model",
            str(path),
            "--episodes",
            "2",
            "--duration",
            "0.5",
            "--out-dir",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    mj_model = mujoco.MjModel.from_xml_path(str(path))
    files = sorted((tmp_path / "out").glob("episode_*.csv"))
    assert len(files) == 2
    for p in files:
        log = read_trajectory_csv(p, 2, 2, 1)
        assert np.ptp(log["ctrl"]) > 0.1
        assert replay_error(mj_model, log) <= 1e-9


def test_implicit_integrator_lqr_and_task(tmp_path):
    """implicit: LQR stabilizes in MuJoCo; a Task is refused in one line."""
    path = _write(tmp_path, "implicit")
    mj_model = mujoco.MjModel.from_xml_path(str(path))
    lqr = LQRController(mj_model, np.zeros(2), np.zeros(2), 1.0, 10.0)
    data = mujoco.MjData(mj_model)
    data.qpos[:] = [0.05, 0.1]
    for _ in range(900):
        data.ctrl[:] = lqr(data.qpos, data.qvel)
        mujoco.mj_step(mj_model, data)
    assert np.abs(lqr.state_error(data.qpos, data.qvel)).max() < 1e-3
    with pytest.raises(ValueError, match="implicitfast") as err:
        RailPole(path)
    assert "\n" not in str(err.value)


class FloatingArm(RailPole):
    """A goal no actuator can hold: the free base drifts."""

    def goal(self):
        return self.mj_model.qpos0.copy(), np.zeros(self.nv)


def test_unstabilizable_goal_is_one_error_and_no_files(tmp_path):
    """LQR collection at a goal the actuators cannot hold: one line."""
    task = FloatingArm(_write(tmp_path, "RK4", xml=ALL_JOINTS_XML))
    with pytest.raises(ValueError, match="use policy='random'") as err:
        collect(task, tmp_path / "out", episodes=2, policy="lqr")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    # Left to choose, collection explores it with random controls instead.
    collect(task, tmp_path / "auto", episodes=2, duration=0.1, progress=False)
    assert read_manifest(tmp_path / "auto").collection[-1]["policy"] == "random"


def test_mpc_collection_of_ones_own_task_takes_its_controller(tmp_path):
    """A user's task has no default controller: collect says to pass one,
    before touching the output, and collects with the one passed."""
    from hydrax.algs import PredictiveSampling

    task = RailPole(_write(tmp_path, "Euler"))
    with pytest.raises(ValueError, match="pass collect a controller=$"):
        collect(task, tmp_path / "none", episodes=1, policy="mpc")
    assert not (tmp_path / "none").exists()
    controller = PredictiveSampling(
        task, num_samples=8, noise_level=0.3, plan_horizon=0.1, num_knots=2
    )
    with pytest.raises(ValueError, match="controller is for policy 'mpc'"):
        collect(task, tmp_path / "x", episodes=1, controller=controller)
    out = collect(
        task,
        tmp_path / "mpc",
        episodes=1,
        duration=0.1,
        policy="mpc",
        controller=controller,
        progress=False,
    )
    (log,) = out.glob("episode_*.csv")
    assert read_trajectory_csv(log)["qpos"].shape == (10, 2)
