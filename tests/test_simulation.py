"""Tests of logging, the closed loop, LQR and data collection."""

import json
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest
from conftest import replay_error

from hydrax.control.lqr import LQRController
from hydrax.simulation.collect import (
    collect,
    main,
    resolve_source,
    suggested_indices,
)
from hydrax.simulation.logging import (
    csv_header,
    read_trajectory_csv,
    write_trajectory_csv,
)
from hydrax.simulation.loop import HistoryBuffer

SLIDE_HINGE_XML = """
<mujoco model="slide_hinge">
  <option timestep="0.005"/>
  <worldbody>
    <body name="cart">
      <joint name="x" type="slide" axis="1 0 0"/>
      <geom type="box" size="0.1 0.1 0.1" mass="1"/>
      <body name="pole">
        <joint name="theta" type="hinge" axis="0 1 0" damping="0.01"/>
        <geom type="capsule" fromto="0 0 0 0 0 0.5" size="0.03" mass="0.1"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" gear="5" ctrllimited="true" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""

FREE_BALL_XML = """
<mujoco model="free_ball">
  <option><flag contact="disable"/></option>
  <worldbody>
    <body name="base">
      <joint name="root" type="free"/>
      <geom type="sphere" size="0.1" mass="1"/>
      <body name="arm" pos="0 0 0.2">
        <joint name="shoulder" type="ball"/>
        <geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.03"/>
        <body name="fore" pos="0 0 0.3">
          <joint name="elbow" type="hinge" axis="0 1 0"/>
          <joint name="lift" type="slide" axis="0 0 1"/>
          <geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.03"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="elbow"/>
  </actuator>
</mujoco>
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_round_trip_is_exact(tmp_path):
    """Logged float64 values read back bit for bit, header as specified."""
    rng = np.random.default_rng(0)
    t = 0.01 * np.arange(50)
    q, v, u = (
        rng.standard_normal((50, n)) * 1e3 ** rng.standard_normal()
        for n in (3, 2, 1)
    )
    q[0, 0] = np.pi
    q[1, 1] = 1e-300
    path = write_trajectory_csv(tmp_path / "a.csv", t, q, v, u)
    assert path.read_text().splitlines()[0] == ",".join(csv_header(3, 2, 1))
    assert csv_header(1, 1, 1) == ["timestamp", "qpos_0", "qvel_0", "ctrl_0"]
    log = read_trajectory_csv(path, 3, 2, 1)
    for name, a in (("times", t), ("qpos", q), ("qvel", v), ("ctrl", u)):
        assert np.array_equal(log[name], a), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_write_rejects_mismatched_rows(tmp_path):
    """A shape mismatch is a ValueError and leaves no file."""
    with pytest.raises(ValueError, match="qvel"):
        write_trajectory_csv(
            tmp_path / "b.csv",
            np.arange(3.0),
            np.zeros((3, 1)),
            np.zeros((2, 1)),
            np.zeros((3, 1)),
        )
    assert not list(tmp_path.iterdir())


def test_history_buffer_starts_from_measured_state():
    """Before H-1 rows exist, missing rows are the first state, zero ctrl."""
    buf = HistoryBuffer(3, nq=2, nv=1, nu=1)
    buf.reset(np.array([1.0, 2.0]), np.array([3.0]))
    assert np.array_equal(buf.array(), np.tile([1.0, 2.0, 3.0, 0.0], (3, 1)))
    buf.push(np.array([1.0, 2.0]), np.array([3.0]), np.array([0.5]))
    buf.push(np.array([4.0, 5.0]), np.array([6.0]), np.array([-0.5]))
    rows = buf.array()
    assert rows.dtype == np.float32 and rows.shape == (3, 4)
    assert np.array_equal(rows[0], [1.0, 2.0, 3.0, 0.0])
    assert np.array_equal(rows[1], [1.0, 2.0, 3.0, 0.5])
    assert np.array_equal(rows[2], [4.0, 5.0, 6.0, -0.5])
    for k in range(5):
        buf.push(np.full(2, k), np.full(1, k), np.full(1, k))
    assert np.array_equal(buf.array()[:, 0], [2.0, 3.0, 4.0])
    assert HistoryBuffer(0, 2, 1, 1).array() is None


def test_history_buffer_pads_with_first_push():
    """A buffer never reset pads with the first pushed state, not zeros."""
    buf = HistoryBuffer(2, nq=1, nv=1, nu=1)
    buf.push(np.array([7.0]), np.array([8.0]), np.array([1.0]))
    assert np.array_equal(buf.array(), [[7.0, 8.0, 0.0], [7.0, 8.0, 1.0]])


def test_lqr_stabilizes_double_cart_pole():
    """LQR from a 0.1 rad tilt keeps the tip up and brings it home."""
    from hydrax.tasks import get_task

    task = get_task("double_cart_pole")
    lqr = LQRController(task.mj_model, *task.goal(), 1.0, 10.0)
    data = mujoco.MjData(task.mj_model)
    data.qpos[:] = [0.0, np.pi + 0.1, -0.1]
    for _ in range(500):
        data.ctrl[:] = lqr(data.qpos, data.qvel)
        mujoco.mj_step(task.mj_model, data)
        assert data.site_xpos[task.tip_id][2] >= 1.8
    err = lqr.state_error(data.qpos, data.qvel)
    assert np.abs(err).max() < 0.05


def test_lqr_wraps_hinge_angles():
    """An angle 2π away from the goal gives the same error as the goal."""
    from hydrax.tasks import get_task

    task = get_task("pendulum")
    lqr = LQRController(task.mj_model, *task.goal())
    e = lqr.state_error(np.array([np.pi + 2 * np.pi + 0.1]), np.zeros(1))
    assert np.allclose(e, [0.1, 0.0])


def test_collect_double_cart_pole(tmp_path):
    """CSV headers, dt-spaced timestamps, exact replay, manifest."""
    out = collect(
        "double_cart_pole",
        tmp_path / "d",
        episodes=4,
        duration=1.0,
        policy="mix",
        lqr_fraction=0.5,
        seed=3,
        progress=False,
    )
    files = sorted(out.glob("episode_*.csv"))
    assert [p.name for p in files] == [f"episode_{i:05d}.csv" for i in range(4)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["angle_indices"] == [1, 2]
    assert manifest["coordinate_indices"] == [0]
    assert manifest["dt"] == 0.01
    assert manifest["goal_qpos"] == [0.0, np.pi, 0.0]  # evaluation marks it
    task = resolve_source("double_cart_pole")
    rows = 0
    for path in files:
        assert path.read_text().splitlines()[0] == ",".join(csv_header(3, 3, 1))
        log = read_trajectory_csv(path, 3, 3, 1)
        n = len(log["times"])
        rows += n
        assert n >= 10
        assert np.allclose(np.diff(log["times"]), 0.01, atol=1e-12)
        assert np.all(np.abs(log["ctrl"]) <= 1.0)
        assert replay_error(task.mj_model, log) <= 1e-9
    assert manifest["rows"] == rows and manifest["episodes"] == 4


def test_collect_bare_mjcf_and_replay(tmp_path):
    """A bare MJCF gets random controls; replay reproduces the states."""
    xml = _write(tmp_path, "slide_hinge.xml", SLIDE_HINGE_XML)
    out = collect(
        xml, tmp_path / "out", episodes=3, duration=0.5, seed=1, progress=False
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "slide_hinge"
    assert manifest["dt"] == 0.005
    assert manifest["columns"] == csv_header(2, 2, 1)
    assert manifest["angle_indices"] == [1]
    assert manifest["coordinate_indices"] == [0]
    assert manifest["collection"][0]["policy"] == "random"
    assert "goal_qpos" not in manifest  # no task, no goal
    mj_model = mujoco.MjModel.from_xml_path(str(xml))
    for path in sorted(out.glob("episode_*.csv")):
        log = read_trajectory_csv(path, 2, 2, 1)
        assert len(log["times"]) == 100
        assert np.allclose(np.diff(log["times"]), 0.005, atol=1e-12)
        assert np.ptp(log["ctrl"]) > 0.1
        assert replay_error(mj_model, log) <= 1e-9


def test_manifest_indices_free_and_ball(tmp_path):
    """Free: x, y coordinates (z absolute); ball, quaternions excluded."""
    xml = _write(tmp_path, "free_ball.xml", FREE_BALL_XML)
    mj_model = mujoco.MjModel.from_xml_path(str(xml))
    # qpos: free 0..6 (pos 0-2, quat 3-6), ball 7..10, hinge 11, slide 12.
    assert suggested_indices(mj_model) == ([11], [0, 1, 12])
    out = collect(
        xml, tmp_path / "fb", episodes=1, duration=0.05, progress=False
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert [j["type"] for j in manifest["joints"]] == [
        "free",
        "ball",
        "hinge",
        "slide",
    ]
    assert [j["qpos_adr"] for j in manifest["joints"]] == [0, 7, 11, 12]
    assert [j["dof_adr"] for j in manifest["joints"]] == [0, 6, 9, 10]
    assert manifest["angle_indices"] == [11]
    assert manifest["coordinate_indices"] == [0, 1, 12]
    assert manifest["quat_indices"] == [3, 7]
    assert "quaternion" in manifest["notes"].lower()
    assert set(manifest) == {
        "format",
        "format_version",
        "task",
        "model_file",
        "model_sha256",
        "dt",
        "nq",
        "nv",
        "nu",
        "joints",
        "angle_indices",
        "coordinate_indices",
        "quat_indices",
        "notes",
        "columns",
        "episodes",
        "rows",
        "collection",
    }


def test_collect_refuses_existing_then_overwrite_and_append(tmp_path):
    """Existing data: refuse; --overwrite replaces; --append continues."""
    xml = _write(tmp_path, "m.xml", SLIDE_HINGE_XML)
    out = tmp_path / "o"
    collect(xml, out, episodes=2, duration=0.1, progress=False)
    with pytest.raises(
        ValueError, match=r"\(2 episode logs\); pass --overwrite"
    ):
        collect(xml, out, episodes=1, duration=0.1, progress=False)
    collect(xml, out, episodes=1, duration=0.1, progress=False, overwrite=True)
    assert [p.name for p in sorted(out.glob("*.csv"))] == ["episode_00000.csv"]
    collect(xml, out, episodes=2, duration=0.1, progress=False, append=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["episodes"] == 3 and len(manifest["collection"]) == 2
    assert len(list(out.glob("episode_*.csv"))) == 3
    first = read_trajectory_csv(out / "episode_00000.csv", 2, 2, 1)
    third = read_trajectory_csv(out / "episode_00002.csv", 2, 2, 1)
    assert not np.array_equal(first["ctrl"], third["ctrl"])
    other = _write(tmp_path, "m2.xml", SLIDE_HINGE_XML.replace("0.005", "0.01"))
    with pytest.raises(ValueError, match="different model"):
        collect(
            other, out, episodes=1, duration=0.1, progress=False, append=True
        )
    assert len(list(out.iterdir())) == 4


def test_collect_counts_converted_logs_as_a_dataset(tmp_path):
    """A folder of Parquet logs (``convert``'s output) is a dataset:
    refused without --overwrite, replaced with it, continued by --append."""
    from hydrax.dynamics_model_training.convert import convert_logs

    xml = _write(tmp_path, "m.xml", SLIDE_HINGE_XML)
    collect(xml, tmp_path / "csv", episodes=2, duration=0.1, progress=False)
    out = tmp_path / "pq"
    convert_logs(tmp_path / "csv", out, progress=False)
    with pytest.raises(ValueError, match=r"\(2 episode logs\)"):
        collect(xml, out, episodes=1, duration=0.1, progress=False)
    collect(xml, out, episodes=1, duration=0.1, progress=False, append=True)
    assert (out / "episode_00002.csv").is_file()
    collect(xml, out, episodes=1, duration=0.1, progress=False, overwrite=True)
    assert sorted(p.name for p in out.glob("episode_*")) == [
        "episode_00000.csv"
    ]


@pytest.mark.parametrize(
    ("source", "kwargs", "message"),
    [
        ("missing.xml", {}, "not found"),
        ("bad.xml", {}, "invalid MJCF"),
        ("noact.xml", {}, "no actuators"),
        ("good.xml", {"episodes": -1}, "episodes"),
        ("good.xml", {"duration": 0.0}, "duration"),
        ("good.xml", {"policy": "lqr"}, "goal"),
        ("no_such_task", {}, "neither a built-in task"),
        ("double_cart_pole", {"noise_smoothing": 1.0}, "noise_smoothing"),
        ("good.xml", {"random_centre": "mean"}, "random_centre must be one"),
    ],
)
def test_collect_bad_inputs_leave_no_files(tmp_path, source, kwargs, message):
    """Each user mistake is a clear ValueError and writes nothing."""
    _write(tmp_path, "bad.xml", "<mujoco><worldbody><body></mujoco>")
    _write(
        tmp_path,
        "noact.xml",
        SLIDE_HINGE_XML.split("<actuator>", maxsplit=1)[0] + "</mujoco>",
    )
    _write(tmp_path, "good.xml", SLIDE_HINGE_XML)
    if source.endswith(".xml"):
        source = tmp_path / source
    before = sorted(tmp_path.iterdir())
    kwargs = {"duration": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        collect(source, tmp_path / "out", progress=False, **kwargs)
    assert sorted(tmp_path.iterdir()) == before


def test_cli_errors_are_one_line_and_leave_no_files(tmp_path):
    """The CLI exits 2 with one error line for a bad model or flag."""
    _write(tmp_path, "bad.xml", "<mujoco><worldbody><body></mujoco>")
    runs = [
        ["--model", str(tmp_path / "bad.xml")],
        ["--model", str(tmp_path / "nope.xml")],
        ["--task", "double_cart_pole", "--episodes", "-3"],
    ]
    for args in runs:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "hydrax.simulation.collect",
                *args,
                "--out-dir",
                str(tmp_path / "out"),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        lines = [
            line
            for line in proc.stderr.splitlines()
            if "error" in line and "warp" not in line
        ]
        assert len(lines) == 1, proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_argparse_rejects_unknown_task(tmp_path, capsys):
    """An unknown --task is an argparse error (exit code 2)."""
    with pytest.raises(SystemExit) as info:
        main(["--task", "unicycle", "--out-dir", str(tmp_path / "o")])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_default_controller_balances_double_cart_pole():
    """The default controller keeps the poles up (2.5 s balance trial)."""
    from hydrax.simulation.controllers import default_controller
    from hydrax.simulation.trials import balance_trial
    from hydrax.tasks import get_task

    task = get_task("double_cart_pole")
    result = balance_trial(task, default_controller(task), seed=0, duration=2.5)
    episode = result.episode
    assert result.success
    assert len(episode.times) == 250 and not episode.stopped_early
    assert len(episode.replan_seconds) == 125


def test_default_controller_adds_the_trials_configuration():
    """The double cart pole's swing-up samples 256; overrides still win."""
    from hydrax.simulation.controllers import default_controller

    def samples(*args, **kwargs):
        return default_controller(*args, **kwargs).num_samples

    assert samples("double_cart_pole") == 128
    assert samples("double_cart_pole", "balance") == 128
    assert samples("double_cart_pole", "swingup") == 256
    assert samples("double_cart_pole", "swingup", num_samples=64) == 64
    assert samples("cart_pole", "swingup") == 128
    with pytest.raises(ValueError, match="unknown trial 'hop'"):
        default_controller("double_cart_pole", "hop")


@pytest.mark.parametrize("horizon", [0.01, float("nan"), float("inf")])
def test_a_plan_horizon_that_cannot_be_planned_is_named(horizon):
    """One step or less, NaN or infinity: a ValueError naming the horizon
    (infinity crashed with an OverflowError, NaN named no parameter)."""
    from hydrax.algs import PredictiveSampling
    from hydrax.tasks.pendulum import Pendulum

    with pytest.raises(ValueError, match="plan_horizon must exceed"):
        PredictiveSampling(Pendulum(), 8, 0.1, plan_horizon=horizon)
