"""Starts a plant can be in, episodes MuJoCo reports unstable, and logs of
free joints checked before training: quaternions declared and unit."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import polars as pl
import pytest
from conftest import BOUNCE_XML

from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.initial_states import PENETRATION_TOLERANCE, spread_qpos
from hydrax.logs import DataError, read_manifest
from hydrax.simulation.collect import main as collect_main
from hydrax.simulation.collection import collect
from hydrax.simulation.output_dir import Progress, unstable_note, write_episodes
from hydrax.simulation.runners import run_batch
from hydrax.task_base import Task, model_path

# A rod on a stiff spring: explicit Euler at 0.01 s diverges at once.
STIFF_XML = """
<mujoco model="stiff">
  <option timestep="0.01" integrator="Euler"/>
  <worldbody>
    <body name="rod">
      <joint name="hinge" type="hinge" axis="0 1 0" stiffness="1e6"/>
      <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.1"/>
    </body>
  </worldbody>
  <actuator><motor joint="hinge" ctrlrange="-1 1"/></actuator>
</mujoco>
"""

# A ball on a slide joint between two facing planes (half-spaces) it
# touches: any move pushes it into one of them.
WEDGED_XML = """
<mujoco model="wedged">
  <worldbody>
    <geom type="plane" pos="-0.1 0 0" zaxis="1 0 0" size="1 1 0.1"/>
    <geom type="plane" pos="0.1 0 0" zaxis="-1 0 0" size="1 1 0.1"/>
    <body>
      <joint name="slide" type="slide" axis="1 0 0"/>
      <geom type="sphere" size="0.1"/>
    </body>
  </worldbody>
</mujoco>
"""


def _deepest(m: mujoco.MjModel, qpos: np.ndarray) -> float:
    d = mujoco.MjData(m)
    d.qpos[:] = qpos
    mujoco.mj_forward(m, d)
    return min((float(d.contact.dist[i]) for i in range(d.ncon)), default=0.0)


def test_spread_keeps_a_free_body_unit_and_out_of_the_floor():
    m = mujoco.MjModel.from_xml_string(BOUNCE_XML)
    resting = m.qpos0.copy()
    resting[2] = 0.1  # the ball on the floor: half of all z moves go down
    rng = np.random.default_rng(0)
    starts = [spread_qpos(m, rng, resting, 0.3) for _ in range(100)]
    norms = [np.linalg.norm(q[3:7]) for q in starts]
    np.testing.assert_allclose(norms, 1.0, atol=1e-12)
    assert min(_deepest(m, q) for q in starts) >= -PENETRATION_TOLERANCE
    heights = np.array([q[2] for q in starts])
    assert heights.max() > 0.3 and heights.min() < 0.1 + 1e-9  # still spread


def test_spread_of_hinges_and_slides_is_the_plain_uniform_draw():
    # Built-in tasks without contacts start exactly as they always did.
    m = mujoco.MjModel.from_xml_path(str(model_path("double_cart_pole")))
    q0 = np.array([0.0, np.pi, 0.0])
    got = spread_qpos(m, np.random.default_rng(5), q0, 0.1)
    want = q0 + np.random.default_rng(5).uniform(-0.1, 0.1, 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


def test_a_spread_that_always_penetrates_is_refused():
    m = mujoco.MjModel.from_xml_string(WEDGED_XML)
    with pytest.raises(ValueError, match=r"init_spread=10000\.0: none of 1000"):
        spread_qpos(m, np.random.default_rng(0), m.qpos0, 1e4, "init_spread")


class _BounceTask(Task):
    """The free ball as a user's own task with a goal."""

    def __init__(self, xml: str):
        super().__init__(mujoco.MjModel.from_xml_string(xml))

    def running_cost(self, state, control):
        return 0.0

    def terminal_cost(self, state):
        return 0.0

    def goal(self):
        qpos = self.mj_model.qpos0.copy()
        qpos[2] = 0.1
        return qpos, np.zeros(self.nv)


def test_a_tasks_trial_starts_are_unit_and_out_of_the_floor():
    task = _BounceTask(BOUNCE_XML)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        for mode in ("balance", "swingup"):
            qpos, _ = task.sample_initial_state(rng, mode)
            assert abs(np.linalg.norm(qpos[3:7]) - 1) < 1e-12
            assert _deepest(task.mj_model, qpos) >= -PENETRATION_TOLERANCE


def test_an_unstable_episode_is_dropped_and_the_others_kept(tmp_path):
    m = mujoco.MjModel.from_xml_string(BOUNCE_XML)
    calm = (m.qpos0.copy(), np.zeros(m.nv))
    wild = (m.qpos0.copy(), np.full(m.nv, 1e11))  # MuJoCo: huge QVEL
    out = run_batch(
        m,
        starts=[calm, wild],
        noise=np.zeros((2, 50, m.nu)),
        lqr_mask=np.zeros(2, bool),
        lqr=None,
        steps=50,
        stop_at_limit=False,
    )
    assert list(out.lengths) == [50, 0]
    assert list(out.unstable) == [1]
    assert "QVEL" in out.unstable[1] and "t = 0.000 s" in out.unstable[1]
    assert np.isfinite(out.qpos[0]).all() and abs(out.qpos[0, -1, 2]) < 0.6
    # Written: the calm one; the wild one recorded for the warning.
    progress = Progress(written=[])
    write_episodes(tmp_path, range(7, 9), out, 0.01, progress)
    assert [p.name for p in progress.written] == ["episode_00007.csv"]
    assert list(progress.unstable) == ["episode_00008.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode_00007.csv"]
    note = unstable_note(progress.unstable, 2)
    assert note.startswith("dropped 1 of 2 episodes") and "QVEL" in note


def test_collect_writes_no_unstable_episode(tmp_path, capsys):
    xml = tmp_path / "stiff.xml"
    xml.write_text(STIFF_XML)
    out = tmp_path / "data"
    assert collect_main(["--model", str(xml), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "dropped 100 of 100 episodes whose simulation became unstable" in err
    assert "QACC" in err and not out.exists()  # nothing half-written


def test_pooled_directories_must_describe_one_robot(tmp_path, free_body_run):
    other = tmp_path / "other"
    other.mkdir()
    for path in sorted(free_body_run.data.glob("episode_0000[0-4].csv")):
        (other / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((free_body_run.data / "manifest.json").read_text())
    manifest["coordinate_indices"] = [0, 1, 2]
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        DataError, match=r"manifest coordinate_indices=\[0, 1, 2\] differs"
    ):
        DynamicsDataset([free_body_run.data, other], verbose=False)
    # Indices the caller passes settle it.
    DynamicsDataset(
        [free_body_run.data, other], coordinate_indices=[0, 1], verbose=False
    )
    # A manifest of the indices alone pools with a collected one ...
    (other / "manifest.json").write_text(
        json.dumps(
            {k: manifest[k] for k in ("angle_indices", "quat_indices")}
        ).replace("}", ', "coordinate_indices": [0, 1]}')
    )
    DynamicsDataset([free_body_run.data, other], verbose=False)
    # ... and another model file's logs are pooled with a warning.
    manifest["coordinate_indices"] = read_manifest(
        free_body_run.data
    ).coordinate_indices
    manifest["model_sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="another model file"):
        DynamicsDataset([free_body_run.data, other], verbose=False)


FREE_BODY_INDICES = {
    "angle_indices": [],
    "coordinate_indices": [0, 1],
    "quat_indices": [3],
}


def _bare_logs(tmp_path, free_body_run, scale: float = 1.0):
    """The free body's logs without a manifest; one quaternion scaled."""
    out = tmp_path / "bare"
    out.mkdir()
    for path in sorted(free_body_run.data.glob("episode_0000[0-5].csv")):
        (out / path.name).write_bytes(path.read_bytes())
    first = out / "episode_00000.csv"
    df = pl.read_csv(first)
    quat = [f"qpos_{i}" for i in range(3, 7)]
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(pl.col(c) * scale)
        .otherwise(pl.col(c))
        .alias(c)
        for c in quat
    )
    df.write_csv(first)
    return out


def test_a_free_joint_without_quat_indices_is_refused(tmp_path, free_body_run):
    data = _bare_logs(tmp_path, free_body_run)
    with pytest.raises(
        DataError, match="no manifest.json.*and quat_indices: nq = 7, nv = 6"
    ):
        DynamicsDataset(data, verbose=False)
    with pytest.raises(
        DataError, match=r"nq = 7 and nv = 6: qpos holds 1 quaternion"
    ):
        DynamicsDataset(
            data, angle_indices=[], coordinate_indices=[0, 1], verbose=False
        )
    DynamicsDataset(data, **FREE_BODY_INDICES, verbose=False)
    # Said explicitly, none is allowed (with or without a joint table).
    DynamicsDataset(
        data, **{**FREE_BODY_INDICES, "quat_indices": []}, verbose=False
    )
    DynamicsDataset(free_body_run.data, quat_indices=[], verbose=False)


@pytest.mark.parametrize("scale", [1.3, 0.0])
@pytest.mark.parametrize("rows_in_memory", [None, 256])
def test_a_quaternion_that_is_not_unit_is_refused(
    tmp_path, free_body_run, scale, rows_in_memory
):
    data = _bare_logs(tmp_path, free_body_run, scale)
    with pytest.raises(
        DataError,
        match=r"episode_00000.csv: line 9, columns qpos_3, qpos_4, qpos_5, "
        rf"qpos_6: the quaternion's norm is {scale:g}, not 1",
    ):
        DynamicsDataset(
            data,
            **FREE_BODY_INDICES,
            verbose=False,
            max_rows_in_memory=rows_in_memory,
        )


def test_bad_indices_in_a_manifest_name_the_manifest(tmp_path, free_body_run):
    data = _bare_logs(tmp_path, free_body_run)
    manifest = json.loads((free_body_run.data / "manifest.json").read_text())
    manifest["quat_indices"] = [4]
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        DataError,
        match=r"manifest.json \(the indices not given are read from it\)",
    ):
        DynamicsDataset(data, verbose=False)


def test_quaternions_must_be_the_models_joints(tmp_path, free_body_run):
    """The manifest's joint table says where the quaternions are."""
    data = _bare_logs(tmp_path, free_body_run)
    manifest = json.loads((free_body_run.data / "manifest.json").read_text())
    manifest["joints"] = [
        {"name": "knob", "type": "ball", "qpos_adr": 0, "dof_adr": 0},
        *(
            {"name": f"s{i}", "type": "slide", "qpos_adr": i, "dof_adr": i - 1}
            for i in (4, 5, 6)
        ),
    ]
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        DataError,
        match=r"quat_indices \[3\] are not the quaternions of the model's "
        r"free and ball joints in .*manifest.json: 0 \('knob'\)",
    ):
        DynamicsDataset(data, verbose=False)


def test_a_partial_joint_table_says_nothing_about_quaternions(
    tmp_path, free_body_run
):
    data = _bare_logs(tmp_path, free_body_run)
    manifest = json.loads((free_body_run.data / "manifest.json").read_text())
    manifest["joints"] = [{"name": "arm", "type": "hinge"}]  # hand-written
    (data / "manifest.json").write_text(json.dumps(manifest))
    DynamicsDataset(data, verbose=False)


def test_pooled_manifests_agree_up_to_rounding_and_order(
    tmp_path, free_body_run
):
    other = tmp_path / "other"
    other.mkdir()
    for path in sorted(free_body_run.data.glob("episode_0000[0-4].csv")):
        (other / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((free_body_run.data / "manifest.json").read_text())
    manifest["dt"] *= 1 + 1e-9
    manifest["coordinate_indices"] = manifest["coordinate_indices"][::-1]
    (other / "manifest.json").write_text(json.dumps(manifest))
    DynamicsDataset([free_body_run.data, other], verbose=False)


def test_a_model_trained_on_bare_free_body_logs_evaluates(
    tmp_path, free_body_run
):
    from hydrax.dynamics_model_training.evaluation_pipeline import (
        evaluate_model,
    )
    from hydrax.dynamics_model_training.train import train_dynamics_model

    data = _bare_logs(tmp_path, free_body_run)
    train_dynamics_model(
        data, "bare", **FREE_BODY_INDICES, hidden_size=8,
        history_length=3, prediction_horizon=2, num_epochs=1,
        checkpoint_dir=tmp_path / "ck", progress=False, log=lambda s: None,
    )  # fmt: skip
    result = evaluate_model(
        tmp_path / "ck" / "bare" / "best_model.pkl",
        data,
        num_examples=20,
        log=None,
    )
    assert "orientation_3" in result["predictors"]["model"]["phys_mse"]


def _collected(tmp_path, episodes=2):
    xml = tmp_path / "bounce.xml"
    xml.write_text(BOUNCE_XML)
    out = tmp_path / "data"
    collect(xml, out, episodes=episodes, duration=0.1, progress=False)
    return xml, out


def test_an_append_after_dropped_episodes_takes_new_numbers(tmp_path):
    xml, out = _collected(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["collection"][-1]["unstable_episodes_dropped"] = {
        "episode_00002.csv": "Nan, Inf or huge value in QACC (t = 0.050 s)"
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    collect(xml, out, episodes=1, duration=0.1, append=True, progress=False)
    assert sorted(p.name for p in out.glob("*.csv"))[-1] == "episode_00003.csv"


def test_an_overwrite_that_drops_every_episode_says_what_it_removed(tmp_path):
    _, out = _collected(tmp_path)
    stiff = tmp_path / "stiff.xml"
    stiff.write_text(STIFF_XML)
    with pytest.raises(ValueError, match="overwrite had removed the old"):
        collect(stiff, out, episodes=2, overwrite=True, progress=False)


class _StiffTask(Task):
    def __init__(self, path):
        path.write_text(STIFF_XML)
        mj_model = mujoco.MjModel.from_xml_path(str(path))
        super().__init__(mj_model, model_file=path)

    def running_cost(self, state, control):
        return 0.0

    def terminal_cost(self, state):
        return 0.0


def test_an_unstable_mpc_episode_is_dropped(tmp_path):
    from hydrax.algs import PredictiveSampling

    task = _StiffTask(tmp_path / "stiff.xml")
    controller = PredictiveSampling(
        task, num_samples=4, noise_level=0.1, plan_horizon=0.04, num_knots=2
    )
    with pytest.raises(ValueError, match=r"dropped 1 of 1 .*QACC"):
        collect(
            task, tmp_path / "out", episodes=1, duration=0.1, policy="mpc",
            controller=controller, progress=False,
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_the_auto_horizon_wants_the_built_in_tasks_own_model_file(tmp_path):
    from hydrax.dynamics_model_training.auto_horizon import (
        resolve_prediction_horizon,
    )

    manifest = {"dt": 0.01, "task": "double_cart_pole"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert resolve_prediction_horizon("auto", "x", [tmp_path])[0] == 80
    manifest["model_sha256"] = "0" * 64  # a user's double_cart_pole.xml
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    k, why = resolve_prediction_horizon("auto", "x", [tmp_path])
    assert k == 9 and "another model file" in why


def test_a_body_placed_inside_the_floor_is_spread_out_of_it():
    m = mujoco.MjModel.from_xml_string(BOUNCE_XML)
    sunk = m.qpos0.copy()
    sunk[2] = 0.05  # the ball's centre 5 cm above the floor: 5 cm inside
    rng = np.random.default_rng(1)
    for _ in range(20):
        assert _deepest(m, spread_qpos(m, rng, sunk, 0.2)) >= -0.005
    with pytest.raises(ValueError, match="the pose itself pushes .* 50 mm"):
        spread_qpos(m, rng, sunk, 0.0)


def test_a_model_of_two_pooled_model_files_plans_with_either(tmp_path, capsys):
    """Logs of two variants of one robot (another mass: another file)
    train one model, which plans with either file and no third."""
    from hydrax.dynamics.compatibility import check_model
    from hydrax.dynamics_model_training.model_io import load_trained_model
    from hydrax.dynamics_model_training.train import main as train_main

    dirs, xmls = [], []
    for name, mass in (("a", "1"), ("b", "1.5"), ("c", "2")):
        xml = tmp_path / f"{name}.xml"
        xml.write_text(BOUNCE_XML.replace('mass="1"', f'mass="{mass}"'))
        xmls.append(xml)
        dirs.append(tmp_path / name)
        collect(xml, dirs[-1], episodes=3, duration=0.2, progress=False)
    code = train_main(
        ["--data-dir", *map(str, dirs[:2]), "--task-name", "ab",
         "--hidden-size", "4", "--history-length", "2",
         "--prediction-horizon", "1", "--epochs", "1",
         "--checkpoint-dir", str(tmp_path / "ck"), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err  # the command's own one-line warning
    assert "train: warning: " in err and "another model file" in err
    _, config = load_trained_model(tmp_path / "ck" / "ab" / "best_model.pkl")
    for xml in xmls[:2]:
        mj = mujoco.MjModel.from_xml_path(str(xml))
        check_model(config, 0.01, mj, xml)
    with pytest.raises(ValueError, match="trained on data from another MJCF"):
        check_model(
            config, 0.01, mujoco.MjModel.from_xml_path(str(xmls[2])), xmls[2]
        )
