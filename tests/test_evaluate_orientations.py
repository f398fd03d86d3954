"""Evaluation of floating-base models: orientations in degrees, positions in
metres, and the constant-velocity baseline with quaternions."""

import csv
import math

import numpy as np
from scipy.spatial.transform import Rotation

from hydrax.dynamics_model_training.evaluate import evaluate_model
from hydrax.dynamics_model_training.evaluation_metrics import (
    error_dimensions,
    state_dimensions,
    state_errors,
)
from hydrax.dynamics_model_training.transforms import StateLayout

# A free joint (qpos 0..6, dofs 0..5), then a hinge (qpos 7, dof 6).
LAYOUT = StateLayout.create(8, 7, 1, angle_indices=[7], quat_indices=[3])


def _wxyz(r: Rotation) -> np.ndarray:
    x, y, z, w = r.as_quat()
    return np.array([w, x, y, z])


def test_error_rows_are_one_orientation_per_quaternion():
    """A quaternion is one row in degrees; the free joint's position in m."""
    dims = {d["name"]: d for d in error_dimensions(LAYOUT)}
    assert list(dims) == [
        "qpos_0",
        "qpos_1",
        "qpos_2",
        "orientation_3",
        "qpos_7",
        *[f"qvel_{i}" for i in range(7)],
    ]
    assert dims["orientation_3"]["unit"] == "deg"
    assert [dims[f"qpos_{i}"]["unit"] for i in range(3)] == ["m"] * 3
    assert dims["qpos_7"]["unit"] == "rad"
    units = [dims[f"qvel_{i}"]["unit"] for i in range(7)]
    assert units == ["m/s"] * 3 + ["rad/s"] * 4
    raw = state_dimensions(LAYOUT)
    assert len(raw) == LAYOUT.nq + LAYOUT.nv
    assert [d["kind"] for d in raw[3:7]] == ["quaternion"] * 4


def test_orientation_error_is_the_geodesic_angle_in_degrees():
    """Rotating the truth by a known angle gives that angle, whatever q's sign."""
    rng = np.random.default_rng(0)
    n = 64
    true = np.zeros((n, LAYOUT.nq + LAYOUT.nv))
    pred = np.zeros_like(true)
    angles = rng.uniform(0.0, 179.0, n)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    for i in range(n):
        base = Rotation.random(random_state=i)
        turn = Rotation.from_rotvec(np.radians(angles[i]) * axes[i])
        true[i, 3:7] = _wxyz(base)
        pred[i, 3:7] = _wxyz(base * turn) * (-1.0 if i % 2 else 1.0)
    true[:, :3] = rng.normal(size=(n, 3))
    pred[:, :3] = true[:, :3] + [0.1, -0.2, 0.3]
    true[:, 7], pred[:, 7] = math.pi - 0.05, -math.pi + 0.05  # wraps
    err = state_errors(LAYOUT, pred, true)
    assert err.shape == (n, len(error_dimensions(LAYOUT)))
    np.testing.assert_allclose(err[:, 3], angles, atol=1e-3)
    np.testing.assert_allclose(err[:, :3], [[0.1, -0.2, 0.3]] * n, atol=1e-9)
    np.testing.assert_allclose(err[:, 4], 0.1, atol=1e-9)


def test_free_body_evaluation_reports_orientation_in_degrees(
    free_body_run, tmp_path
):
    """The bouncing body's evaluation: constant velocity is a baseline, the
    report, metrics.csv and the per-dimension plot have orientation rows."""
    lines = []
    metrics = evaluate_model(
        free_body_run.checkpoint,
        free_body_run.data,
        num_examples=200,
        horizon=10,
        output_dir=tmp_path / "eval",
        log=lines.append,
    )
    names = [d["name"] for d in metrics["dims"]]
    assert names[:4] == ["qpos_0", "qpos_1", "qpos_2", "orientation_3"]
    assert len(names) == 4 + 6
    predictors = metrics["predictors"]
    assert set(predictors) == {
        "model",
        "zero_delta",
        "constant_velocity",
        "linear",
    }
    for res in predictors.values():
        rmse = np.sqrt(res["phys_mse"]["orientation_3"])
        assert np.all((rmse >= 0) & (rmse <= 180)), rmse
    # The ball moves and spins: holding the velocity beats holding the state.
    zero, cv = predictors["zero_delta"], predictors["constant_velocity"]
    for name in ("qpos_2", "orientation_3"):
        assert cv["phys_mse"][name][0] < 0.5 * zero["phys_mse"][name][0], name
    assert zero["phys_mse"]["orientation_3"][0] > 0.0
    report = "\n".join(lines)
    assert "orientation_3 [deg]" in report
    assert "geodesic angle in degrees" in report
    assert "qpos_0 [m]" in report
    with open(tmp_path / "eval" / "metrics.csv") as f:
        header = next(csv.reader(f))
    assert "mse_orientation_3" in header
    assert not any(h.startswith("mse_qpos_3") for h in header)
    assert (tmp_path / "eval" / "per_dimension_error.png").stat().st_size > 0


def test_the_hoppers_height_rows_get_units_from_the_manifest():
    """A root height is in neither index list, so the layout leaves its
    unit open; the manifest's slide joint gives m and m/s."""
    from hydrax.dynamics_model_training.evaluation_metrics import (
        error_dimensions,
        with_joint_units,
    )
    from hydrax.dynamics_model_training.layout import StateLayout
    from hydrax.logs.manifest import joint_table, suggested_indices
    from hydrax.tasks import get_task

    m = get_task("hopper").mj_model
    angles, coords = suggested_indices(m)
    layout = StateLayout.create(
        m.nq, m.nv, m.nu, angle_indices=angles, coordinate_indices=coords
    )
    bare = {d["name"]: d["unit"] for d in error_dimensions(layout)}
    assert bare["qpos_1"] == "" and bare["qvel_1"] == ""
    dims = with_joint_units(error_dimensions(layout), joint_table(m))
    units = {d["name"]: d["unit"] for d in dims}
    assert units["qpos_1"] == "m" and units["qvel_1"] == "m/s"
    assert all(units.values())  # every row has its unit now
    assert units["qpos_2"] == "rad" and units["qpos_0"] == "m"
    odd = [{"type": "slide"}, {"type": "slide", "qpos_adr": "1", "dof_adr": 1}]
    assert with_joint_units(error_dimensions(layout), odd)[1]["unit"] == ""
