"""Tests of the energy swing-up law and the ``energy`` collection policy."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest
from conftest import replay_error

from hydrax.simulation.collect import collect, resolve_source
from hydrax.simulation.logging import read_trajectory_csv
from hydrax.simulation.policies import (
    episode_kind,
    exploration_lqr,
    mix_energy_fraction,
)
from hydrax.simulation.runners import run_batch
from hydrax.tasks import get_task

SWINGUP_TASKS = ("pendulum", "cart_pole")


@pytest.mark.parametrize("name", SWINGUP_TASKS)
def test_energy_matches_mujoco(name):
    """The law's pole energy changes as MuJoCo's total energy does.

    With the cart at rest, the pole's energy is the system's (up to a
    constant), so m, l and I read from the model are the right ones.
    """
    task = get_task(name)
    m = task.mj_model
    law = task.energy_swingup()
    model = mujoco.MjModel.from_xml_path(str(task.model_file))
    model.opt.enableflags |= mujoco.mjtEnableBit.mjENBL_ENERGY
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for _ in range(5):
        data.qpos[:] = 0.0
        data.qvel[:] = 0.0
        data.qpos[law.hinge_qpos] = rng.uniform(-np.pi, np.pi)
        data.qvel[law.hinge_dof] = rng.uniform(-5, 5)
        mujoco.mj_forward(model, data)
        theirs.append(data.energy.sum())
        ours.append(law.energy(data.qpos, data.qvel))
    assert m.nu == 1
    np.testing.assert_allclose(
        np.diff(ours), np.diff(theirs), rtol=1e-6, atol=1e-9
    )
    data.qpos[:] = 0.0
    data.qpos[law.hinge_qpos] = np.pi
    data.qvel[:] = 0.0
    mujoco.mj_forward(model, data)
    top = data.energy.sum()
    data.qpos[law.hinge_qpos] = 0.0
    mujoco.mj_forward(model, data)
    assert np.isclose(top - data.energy.sum(), law.goal_energy, rtol=1e-6)


@pytest.mark.parametrize("name", SWINGUP_TASKS)
def test_energy_law_swings_up_the_plant(name):
    """Without noise the law swings up from hanging and stays upright.

    Judged as the swing-up trial judges: every state of the last 2 s of 10 s
    upright (``task.success``), the cart never at its rail limit.
    """
    task = get_task(name)
    source = resolve_source(task)
    m = task.mj_model
    starts = [
        task.sample_initial_state(np.random.default_rng(s), "swingup")
        for s in range(4)
    ]
    steps = 1000
    out = run_batch(
        m,
        starts=starts,
        noise=np.zeros((len(starts), steps, m.nu)),
        lqr_mask=np.zeros(len(starts), bool),
        lqr=exploration_lqr(source),
        steps=steps,
        stop_at_limit=True,
        energy_mask=np.ones(len(starts), bool),
        energy=task.energy_swingup(),
    )
    assert (out.lengths == steps).all()
    data = mujoco.MjData(m)
    for b in range(len(starts)):
        upright = []
        for k in range(steps - 200, steps):
            data.qpos[:] = out.qpos[b, k]
            mujoco.mj_kinematics(m, data)
            upright.append(task.success(data.qpos, data.site_xpos))
        assert all(upright), (name, b)
        # It started hanging: the tip was below the hinge or the rail.
        data.qpos[:] = out.qpos[b, 0]
        mujoco.mj_kinematics(m, data)
        assert data.site_xpos[task.tip_id][2] < -0.9


def test_collect_energy_writes_valid_logs(tmp_path):
    """``energy`` logs replay exactly and reach upright in most rows."""
    out = collect(
        "cart_pole",
        tmp_path / "e",
        episodes=3,
        duration=8.0,
        policy="energy",
        seed=2,
        progress=False,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    run = manifest["collection"][-1]
    assert run["policy"] == "energy" and run["energy_fraction"] == 1.0
    task = get_task("cart_pole")
    data = mujoco.MjData(task.mj_model)
    for path in sorted(out.glob("episode_*.csv")):
        log = read_trajectory_csv(path, 2, 2, 1)
        assert len(log["times"]) == 800
        assert np.all(np.abs(log["ctrl"]) <= 1.0)
        assert replay_error(task.mj_model, log) <= 1e-9
        upright = []
        for q in log["qpos"]:
            data.qpos[:] = q
            mujoco.mj_kinematics(task.mj_model, data)
            upright.append(task.success(q, data.site_xpos))
        assert not upright[0] and np.mean(upright) > 0.4


def test_mix_shares_and_defaults():
    """Exact running shares; no energy episodes where a task has no law."""
    kinds = [episode_kind("mix", i, 0.8, 0.5) for i in range(20)]
    assert kinds.count("energy") == 10
    assert kinds.count("lqr") == 8 and kinds.count("random") == 2
    # Without energy episodes mix picks the LQR episodes it always did.
    old = [int((i + 1) * 0.8) > int(i * 0.8) for i in range(20)]
    new = [episode_kind("mix", i, 0.8, 0.0) == "lqr" for i in range(20)]
    assert new == old
    pendulum = resolve_source("pendulum")
    double = resolve_source("double_cart_pole")
    assert mix_energy_fraction(pendulum, "mix", None) == 0.5
    assert mix_energy_fraction(double, "mix", None) == 0.0
    assert mix_energy_fraction(pendulum, "lqr", None) == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"policy": "energy"}, "energy swing-up law"),
        ({"policy": "mix", "energy_fraction": 0.3}, "energy swing-up law"),
    ],
)
def test_energy_needs_a_law(tmp_path, kwargs, message):
    """A task without an energy law is refused, and nothing is written."""
    with pytest.raises(ValueError, match=message):
        collect(
            "double_cart_pole",
            tmp_path / "x",
            episodes=1,
            duration=0.1,
            progress=False,
            **kwargs,
        )
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_learned_model_swings_up_the_pendulum(tmp_path):
    """Energy-policy logs, a tiny recurrent GRU, the learned-model MPC.

    The planner, rolling out only the learned model, swings the MuJoCo
    pendulum up and holds it (the swing-up trial) in at least 2 of 3 seeds.
    """
    from hydrax.dynamics_model_training.train import train_dynamics_model
    from hydrax.simulation.controllers import default_controller, learned_task
    from hydrax.simulation.trials import swingup_trial

    data = collect(
        "pendulum",
        tmp_path / "data",
        episodes=30,
        duration=10.0,
        seed=0,
        progress=False,
    )
    train_dynamics_model(
        data,
        "pendulum",
        hidden_size=32,
        prediction_horizon=40,
        batch_size=64,
        num_epochs=6,
        mode="recurrent",
        checkpoint_dir=tmp_path,
        progress=False,
        log=lambda s: None,
    )
    task = learned_task("pendulum", tmp_path / "pendulum" / "best_model.pkl")
    controller = default_controller(task, "swingup")
    wins = [swingup_trial(task, controller, seed).success for seed in range(3)]
    assert sum(wins) >= 2, wins
