"""The log format's owner: manifest, atomic writes, start-up history."""

import json
import os
import stat

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hydrax.atomic import write_json_atomic
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.windows import gather_windows
from hydrax.logs import (
    DataError,
    Manifest,
    read_manifest,
    read_trajectory_csv,
    startup_history,
    write_manifest,
    write_trajectory_csv,
)


def _log(path, n=40, seed=0):
    rng = np.random.default_rng(seed)
    t = 0.01 * np.arange(n)
    return write_trajectory_csv(
        path,
        t,
        rng.normal(size=(n, 1)),
        rng.normal(size=(n, 1)),
        rng.uniform(-1, 1, (n, 1)),
    )


def test_manifest_round_trip_keeps_unknown_fields(tmp_path):
    """A hand-written manifest reads, types and writes back unchanged."""
    data = {"angle_indices": [0], "dt": 0.01, "nq": 1, "mine": {"a": [1]}}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    m = read_manifest(tmp_path)
    assert m.angle_indices == [0] and m.dt == 0.01 and m.nu is None
    write_manifest(tmp_path / "out", m)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == data


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nq", "3", "'nq' must be an integer >= 0"),
        ("angle_indices", [1, "2"], "'angle_indices' must be a list of int"),
        ("dt", -0.01, "'dt' must be a positive number"),
    ],
)
def test_manifest_field_of_wrong_type_is_named(tmp_path, field, value, message):
    """A manifest field of the wrong type is a DataError naming file and key."""
    (tmp_path / "manifest.json").write_text(json.dumps({field: value}))
    with pytest.raises(DataError, match=message) as e:
        read_manifest(tmp_path)
    assert str(tmp_path / "manifest.json") in str(e.value)


def test_closed_loop_manifest_counts_rows_and_trains(tmp_path):
    """The closed loop's manifest lists episodes and rows; training reads
    its indices."""
    from hydrax.simulation.run_logs import write_manifest as describe
    from hydrax.tasks import get_task

    task = get_task("pendulum")
    for i, n in enumerate((40, 55, 61)):
        _log(tmp_path / f"seed_{i:03d}.csv", n, seed=i)
    describe(task, tmp_path)
    m = read_manifest(tmp_path)
    assert (m.episodes, m.rows) == (3, 40 + 55 + 61)
    assert m.angle_indices == [0] and m.coordinate_indices == []
    assert m.collection == [{"policy": "closed-loop MPC"}]
    assert sorted(p.name for p in tmp_path.glob(".*")) == []
    ds = DynamicsDataset(
        tmp_path, history_length=3, prediction_horizon=2, val_fraction=0.0
    )
    assert ds.layout.angle_indices == (0,)
    assert ds.manifest["rows"] == 156


def test_appended_manifest_continues_totals():
    """with_run adds episodes, rows and a run record to the previous ones."""
    m = Manifest(episodes=2, rows=10, collection=[{"policy": "lqr"}])
    m = m.with_run({"policy": "random"}, episodes=3, rows=7)
    assert (m.episodes, m.rows) == (5, 17)
    assert [r["policy"] for r in m.collection] == ["lqr", "random"]


def test_atomic_write_leaves_no_temporary_and_usual_permissions(tmp_path):
    """An atomic write leaves only the target, readable as usual (umask)."""
    umask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        _log(tmp_path / "b.csv")
    finally:
        os.umask(umask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.csv"]
    for name in ("a.json", "b.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "a.json", {"x": object()})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.csv"]


def test_startup_history_is_one_convention():
    """numpy and JAX give the same start-up rows, and the training windows
    before a file's first row are exactly those rows."""
    state = np.array([0.5, -1.0, 2.0], np.float32)
    rows = startup_history(state, 4, 2)
    assert isinstance(rows, np.ndarray) and rows.shape == (4, 5)
    assert np.array_equal(rows[:, :3], np.tile(state, (4, 1)))
    assert not rows[:, 3:].any()
    jitted = jax.jit(startup_history, static_argnums=(1, 2))
    assert np.array_equal(np.asarray(jitted(jnp.asarray(state), 4, 2)), rows)

    data = np.arange(30, dtype=np.float32).reshape(6, 5) + 1.0
    win = gather_windows(
        data, np.array([1]), np.array([0]), np.arange(-3, 2), 3
    )
    expect = startup_history(data[0, :3], 2, 2)
    np.testing.assert_array_equal(np.asarray(win[0, :2]), expect)
    np.testing.assert_array_equal(np.asarray(win[0, 2:]), data[:3])


def test_dataset_construction_prints_nothing(tmp_path, capsys):
    """The constructor prints nothing (CLIs print ``summary()``)."""
    for i in range(3):
        _log(tmp_path / f"e{i}.csv", seed=i)
    ds = DynamicsDataset(
        tmp_path,
        angle_indices=[0],
        coordinate_indices=[],
        history_length=3,
        prediction_horizon=2,
    )
    assert capsys.readouterr().out == ""
    assert ds.summary().startswith("dataset: 3 files (2 train, 1 val)")


def test_reader_checks_expected_dims(tmp_path):
    """read_trajectory_csv with dims refuses a header of other dims."""
    path = _log(tmp_path / "a.csv")
    traj = read_trajectory_csv(path, 1, 1, 1)
    assert np.array_equal(traj["qpos"], traj.qpos) and traj.ctrl.shape == (
        40,
        1,
    )
    with pytest.raises(DataError, match="the header has nq=1, expected 2"):
        read_trajectory_csv(path, 2, 1, 1)
    # Printed, a log is its file and shape, not 40 rows of values.
    assert (
        repr(traj)
        == f"Trajectory('{path}', 40 rows, nq=1 nv=1 nu=1, dt={traj.timestep():g})"
    )


TWO_FREE_BODIES_XML = """
<mujoco>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body pos="0 0 0.5"><freejoint/><geom type="sphere" size="0.1"/></body>
    <body pos="1 0 0.5">
      <joint name="s" type="slide" axis="1 0 0"/>
      <geom type="box" size="0.1 0.1 0.1"/>
    </body>
    <body pos="0 1 0.5"><freejoint/><geom type="sphere" size="0.1"/></body>
  </worldbody>
  <actuator><motor joint="s"/></actuator>
</mujoco>
"""


def test_manifest_keeps_a_free_joints_height_absolute(tmp_path):
    """A free joint's x, y are suggested as coordinates, its z is not (the
    height above the floor); training's layout follows the manifest."""
    import mujoco

    from hydrax.simulation.collect import collect

    xml = tmp_path / "two_free.xml"
    xml.write_text(TWO_FREE_BODIES_XML)
    mj_model = mujoco.MjModel.from_xml_path(str(xml))
    # qpos: free 0..6 (x y z, quaternion 3-6), slide 7, free 8..14.
    m = Manifest.for_model(mj_model, "two_free", xml)
    assert m.coordinate_indices == [0, 1, 7, 8, 9]
    assert m.angle_indices == []
    assert m.quat_indices == [3, 11]
    assert "z " in m.notes and "absolute" in m.notes
    out = collect(
        xml, tmp_path / "data", episodes=1, duration=0.1, progress=False
    )
    assert read_manifest(out).coordinate_indices == [0, 1, 7, 8, 9]
    ds = DynamicsDataset(
        out, history_length=3, prediction_horizon=2, val_fraction=0.0
    )
    assert ds.layout.coordinate_indices == (0, 1, 7, 8, 9)
    assert {2, 10}.isdisjoint(ds.layout.coordinate_indices)
