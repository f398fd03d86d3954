"""The contact tasks (hopper, quadruped): models, plant stability, trials."""

import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx

from hydrax.simulation.collect import suggested_indices, suggested_quat_indices
from hydrax.tasks import TASK_NAMES, get_task


@pytest.mark.parametrize("name", ["hopper", "quadruped"])
def test_plant_is_stable_under_random_control(name):
    """10 s of random targets: finite, no MuJoCo instability warning."""
    task = get_task(name)
    m = task.mj_model
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    lo, hi = m.actuator_ctrlrange.T
    for episode in range(3):
        q, v = task.sample_initial_state(rng, "balance")
        d.qpos[:], d.qvel[:] = q, v
        for k in range(1000):
            if k % 20 == 0:
                d.ctrl[:] = rng.uniform(lo, hi)
            mujoco.mj_step(m, d)
        assert np.all(np.isfinite(d.qpos)), (name, episode)
        assert d.warning.number[mujoco.mjtWarning.mjWARN_BADQACC] == 0
        assert np.max(np.abs(d.qvel)) < 100.0


@pytest.mark.parametrize("name", ["hopper", "quadruped"])
def test_standing_start_is_up_and_stays_up_without_pushing(name):
    """The trial start stands; with zero targets it still stands after 2 s."""
    task = get_task(name, target_distance=0.0)
    m = task.mj_model
    d = mujoco.MjData(m)
    q, v = task.sample_initial_state(np.random.default_rng(1), "swingup")
    d.qpos[:], d.qvel[:] = q, v
    mujoco.mj_forward(m, d)
    assert task.success(d.qpos, d.site_xpos)
    for _ in range(200):
        mujoco.mj_step(m, d)
    assert task.success(d.qpos, d.site_xpos)
    # Forward progress is part of success with a target distance.
    far = get_task(name, target_distance=1.0)
    assert not far.success(d.qpos, d.site_xpos)
    moved = d.qpos.copy()
    moved[0] += 1.5
    assert far.success(moved, d.site_xpos)


def test_manifest_layout_of_the_contact_tasks():
    """Hopper: slides + hinges, its root height (rootz, along gravity)
    absolute; quadruped: x, y coordinates, free joint quaternion at qpos 3."""
    assert {"hopper", "quadruped"} <= set(TASK_NAMES)
    hopper, quad = get_task("hopper"), get_task("quadruped")
    assert suggested_indices(hopper.mj_model) == ([2, 3, 4, 5], [0])
    assert suggested_quat_indices(hopper.mj_model) == []
    assert suggested_indices(quad.mj_model) == (list(range(7, 15)), [0, 1])
    assert suggested_quat_indices(quad.mj_model) == [3]
    assert quad.goal() is None and hopper.goal() is not None


def _hopper_state(task, qpos, qvel):
    """MJX data of the hopper at (qpos, qvel), its kinematics computed."""
    data = task.make_data().replace(
        qpos=jnp.asarray(qpos, jnp.float32), qvel=jnp.asarray(qvel, jnp.float32)
    )
    return mjx.kinematics(task.model, data)


def test_hopper_cost_prefers_hopping_forward_upright():
    """Moving forward at the target speed, crouched inside the band or in a
    low hop, costs less than standing still; leaning (|pitch| 0.6, still
    "up" for success), sagging below the band or a tall hop costs more."""
    task = get_task("hopper")
    v = task.target_velocity
    u = jnp.zeros(task.nu)

    def cost(qpos, qvel):
        state = _hopper_state(task, qpos, qvel)
        return float(task.running_cost(state, u)), float(
            task.terminal_cost(state)
        )

    stand = cost(np.zeros(6), np.zeros(6))
    crouch = cost([0, -0.05, 0, -0.3, 0.6, -0.3], [v, 0, 0, 0, 0, 0])
    flight = cost([0, 0.05, 0, 0, 0.3, 0], [v, 0.1, 0, 0, 0, 0])
    tall = cost([0, 0.05, 0, 0, 0.3, 0], [v, 1.0, 0, 0, 0, 0])
    lean = cost([0, 0, 0.6, -0.6, 0, 0], [v, 0, 0, 0, 0, 0])
    sag = cost([0, -0.2, 0, -0.7, 1.4, -0.7], [v, 0, 0, 0, 0, 0])
    for k in range(2):  # running, terminal
        assert crouch[k] < stand[k] and flight[k] < stand[k]
        assert lean[k] > stand[k]
    assert sag[1] > stand[1] and tall[0] > stand[0]
    # The pitch rate counts: the same pose tipping over costs more.
    tipping = cost([0, 0, 0.3, -0.3, 0, 0], [v, 0, 3.0, 0, 0, 0])
    still = cost([0, 0, 0.3, -0.3, 0, 0], [v, 0, 0, 0, 0, 0])
    assert tipping[0] > still[0]


def test_quadruped_walks_where_it_faces():
    """The cost asks for the target speed along the torso's heading,
    whichever way it faces: walking forward beats standing, walking
    sideways or backwards; success counts the distance from the start."""
    task = get_task("quadruped")
    v = task.target_velocity
    u = jnp.zeros(task.nu)

    def cost(psi, velocity_xy):
        qpos = task.stand_qpos.copy()
        qpos[3:7] = [np.cos(psi / 2), 0.0, 0.0, np.sin(psi / 2)]
        qvel = np.zeros(task.nv)
        qvel[:2] = velocity_xy
        data = task.make_data().replace(
            qpos=jnp.asarray(qpos, jnp.float32),
            qvel=jnp.asarray(qvel, jnp.float32),
        )
        return float(task.running_cost(data, u)), float(
            task.terminal_cost(data)
        )

    for psi in (0.0, 1.2, -2.5, np.pi):
        heading = np.array([np.cos(psi), np.sin(psi)])
        left = np.array([-heading[1], heading[0]])
        forward = cost(psi, v * heading)
        for other in (np.zeros(2), v * left, -v * heading):
            assert all(
                f < o - 0.1 * v**2
                for f, o in zip(forward, cost(psi, other), strict=True)
            )
        assert forward == pytest.approx(cost(0.0, [v, 0.0]), abs=1e-5)
    far = get_task("quadruped", target_distance=1.0)
    moved = task.stand_qpos.copy()
    moved[:2] += [-0.6, 0.7]  # 0.92 m away
    assert not far.success(moved, None)
    moved[:2] += [-0.1, 0.1]  # 1.06 m away
    assert far.success(moved, None)


@pytest.mark.parametrize("name", ["hopper", "quadruped"])
def test_contact_tasks_default_controllers(name):
    """Both have a default: predictive sampling, 0.5 s ahead."""
    from hydrax.algs import PredictiveSampling
    from hydrax.simulation.controllers import default_controller

    ctrl = default_controller(name)
    assert isinstance(ctrl, PredictiveSampling)
    assert ctrl.num_samples == 128 and ctrl.plan_horizon == 0.5


def test_random_controls_about_zero_keep_the_quadruped_standing(tmp_path):
    """``random_centre="zero"`` varies the targets about the standing pose.

    About the middle of the ranges (the default) the knees aim at −1.1 rad
    and the quadruped crouches; about zero the median episode stays near
    standing height, and the manifest records the centre.
    """
    from hydrax.logs import read_manifest, read_trajectory
    from hydrax.simulation.collect import collect, main
    from hydrax.simulation.model_source import resolve_source
    from hydrax.simulation.policies import episode_inputs

    task = get_task("quadruped")
    knees = slice(task.nq + task.nv + 1, None, 2)  # ctrl columns of knees
    heights, knee_mean = {}, {}
    for centre in ("middle", "zero"):
        out = tmp_path / centre
        if centre == "middle":  # the function's default
            collect(
                task, out, episodes=4, duration=1.0, policy="random",
                random_std=0.2, progress=False,
            )  # fmt: skip
        else:  # the command line
            assert main([
                "--task", "quadruped", "--policy", "random",
                "--random-std", "0.2", "--random-centre", "zero",
                "--episodes", "4", "--duration", "1", "--out-dir", str(out),
                "--quiet",
            ]) == 0  # fmt: skip
        logs = [read_trajectory(f).rows for f in sorted(out.glob("*.csv"))]
        # The median episode's torso height over its second half.
        heights[centre] = np.median([r[len(r) // 2 :, 2].mean() for r in logs])
        knee_mean[centre] = np.concatenate(logs)[:, knees].mean()
        assert read_manifest(out).collection[-1]["random_centre"] == centre
    assert knee_mean["middle"] < -0.8 and knee_mean["zero"] > -0.3
    assert heights["zero"] > 0.9 * task.stand_height > heights["middle"]
    with pytest.raises(ValueError, match="random_centre must be one of"):
        episode_inputs(
            resolve_source(task), range(1), policy="random", seed=0,
            steps=2, lqr_fraction=0.0, noise_std=0.1, noise_smoothing=0.9,
            random_std=0.2, init_spread=0.1, random_centre="mean",
        )  # fmt: skip


def test_mpc_collects_the_quadruped_from_its_default_pose(tmp_path):
    """No goal: the MPC episodes start around qpos0 (the random ones' start).

    A bare MJCF, with no costs or controller, is refused in one line.
    """
    from hydrax.logs import read_trajectory
    from hydrax.simulation.collect import collect

    task = get_task("quadruped")
    out = collect(
        task, tmp_path / "q", episodes=1, duration=0.06, policy="mpc",
        init_spread=0.05, progress=False,
    )  # fmt: skip
    (log,) = sorted(out.glob("*.csv"))
    traj = read_trajectory(log)
    assert len(traj.rows) == 6
    qpos0 = task.mj_model.qpos0
    first = traj.rows[0, : task.nq]
    assert np.abs(first[:3] - qpos0[:3]).max() <= 0.05 + 1e-9
    assert abs(np.linalg.norm(first[3:7]) - 1.0) < 1e-6
    with pytest.raises(ValueError, match="'mpc' needs a task") as err:
        collect(task.model_file, tmp_path / "bare", episodes=1, policy="mpc")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "bare").exists()
    # Without a task, LQR's refusal does not point at MPC either.
    with pytest.raises(ValueError, match=r"\(use policy='random'\)$"):
        collect(task.model_file, tmp_path / "bare", episodes=1, policy="lqr")
    with pytest.raises(ValueError, match=r"\(use policy='random' or 'mpc'\)$"):
        collect(get_task("particle"), tmp_path / "p", episodes=1, policy="lqr")


_MANY_ROLLOUTS = """
import jax
from hydrax.algs import PredictiveSampling
from hydrax.tasks.quadruped import Quadruped

task = Quadruped()
ctrl = PredictiveSampling(task, num_samples=256, noise_level=0.2,
                          plan_horizon=0.3, num_knots=4)
params, _ = ctrl.optimize(task.make_data(), ctrl.init_params())
jax.block_until_ready(params)
print("planned")
"""


def test_mjx_plans_256_quadruped_rollouts_without_hanging():
    """With the dense Jacobian, MJX's batched Cholesky factorizations
    deadlocked in jaxlib's thread pool from 256 quadruped rollouts on 2
    cores (idle, forever); the task's sparse Jacobian plans them. Run in a
    subprocess, so a hang fails the test instead of stopping the suite."""
    import subprocess
    import sys

    from hydrax.tasks.cube import CubeRotation
    from hydrax.tasks.quadruped import Quadruped

    sparse = mujoco.mjtJacobian.mjJAC_SPARSE
    for task in (Quadruped(), CubeRotation()):
        assert task.mj_model.opt.jacobian == sparse
        assert task.model.opt.jacobian == sparse
    proc = subprocess.run(
        [sys.executable, "-c", _MANY_ROLLOUTS],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("planned")
