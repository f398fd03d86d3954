"""Evaluation: the printed table, files and plots, baselines, refusals."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import write_dcp_logs
from flax import nnx

from hydrax.dynamics_model_training.baselines import ConstantVelocityModel
from hydrax.dynamics_model_training.data_loader import DataError
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.evaluate import (
    DEFAULT_NUM_EXAMPLES,
    build_parser,
    evaluate_model,
    format_value,
    main,
)
from hydrax.dynamics_model_training.evaluation_metrics import (
    bootstrap_interval,
    bootstrap_weights,
)
from hydrax.dynamics_model_training.evaluation_plots import PLOT_FILES
from hydrax.dynamics_model_training.evaluation_windows import select_windows
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    rollout,
    rollout_deltas,
)
from hydrax.dynamics_model_training.train import load_trained_model
from hydrax.dynamics_model_training.transforms import StateLayout

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLI_HORIZON = 6


@pytest.fixture(scope="module")
def cli_run(tiny_model, dcp_data, tmp_path_factory):
    """The evaluation CLI run once on the tiny model: (process, out dir)."""
    out = tmp_path_factory.mktemp("eval_cli")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hydrax.dynamics_model_training.evaluate",
            "--checkpoint",
            str(tiny_model[0]),
            "--data-dir",
            str(dcp_data),
            "--output-dir",
            str(out),
            "--num-examples",
            "40",
            "--horizon",
            str(CLI_HORIZON),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, out


@pytest.fixture(scope="module")
def long_eval(tiny_model, dcp_data):
    """An evaluation past the training horizon (4 → 15 steps), no files."""
    return evaluate_model(
        tiny_model[0],
        dcp_data,
        num_examples=60,
        horizon=15,
        seed=3,
        log=None,
    )


def test_cli_prints_the_seed_table(cli_run):
    """The CLI prints the MSE/MAE blocks, the units line and the ratios."""
    proc, _ = cli_run
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    lines = out.splitlines()
    i = lines.index("Average MSE per step:")
    assert "standardized units" in lines[i - 1]
    for k in range(1, CLI_HORIZON + 1):
        assert re.fullmatch(rf"  Step {k}: \d+\.\d{{6}}", lines[i + k])
    assert lines[i + CLI_HORIZON + 1] == "Average MAE per step:"
    units = next(line for line in lines if "qpos_0 [m]" in line)
    for label in ("qpos_1 [rad]", "qpos_2 [rad]", "qvel_0 [m/s]"):
        assert label in units
    assert "qvel_1 [rad/s]" in units
    assert "Model / baseline error ratio" in out
    assert "zero-delta" in out and "const-vel" in out and "linear" in out


def test_cli_writes_metrics_json_and_csv(cli_run):
    """metrics.json and metrics.csv parse and agree with each other."""
    _, out = cli_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["horizon"] == CLI_HORIZON
    assert metrics["num_examples"] == 40
    assert isinstance(metrics["data_dir"], str)  # one directory: a path
    assert set(metrics["predictors"]) == {
        "model",
        "zero_delta",
        "constant_velocity",
        "linear",
    }
    assert len(metrics["mse"]) == CLI_HORIZON
    assert "ensemble" not in metrics  # a single model: no ensemble block
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * CLI_HORIZON
    model_rows = [r for r in rows if r["predictor"] == "model"]
    csv_mse = [float(r["mse_std"]) for r in model_rows]
    np.testing.assert_allclose(csv_mse, metrics["mse"], rtol=1e-12)
    assert float(model_rows[0]["mse_qpos_1"]) > 0.0
    assert {"mae_qvel_2", "ratio_mse_std"} <= set(rows[0])


def test_cli_writes_four_png_plots(cli_run):
    """The four plots exist and are non-trivial PNG files."""
    _, out = cli_run
    for name in PLOT_FILES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        assert len(data) > 10_000, name


def test_zero_delta_matches_raw_csv(long_eval, dcp_data):
    """Zero-delta physical MSE = mean (s_{t+k} - s_t)^2 from the raw CSVs."""
    k_max = long_eval["horizon"]
    sq = []
    for ex in long_eval["examples"]:
        raw = np.loadtxt(dcp_data / ex["file"], delimiter=",", skiprows=1)
        s = raw[:, 1:7]
        t = ex["row"]
        err = s[t + 1 : t + k_max + 1] - s[t]
        err[:, 1:3] = np.angle(np.exp(1j * err[:, 1:3]))
        sq.append(np.square(err))
    expected = np.mean(sq, axis=0)  # (K, 6)
    zero = long_eval["predictors"]["zero_delta"]["phys_mse"]
    names = [d["name"] for d in long_eval["dims"]]
    got = np.stack([zero[n] for n in names], axis=-1)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-10)


def test_examples_come_from_the_validation_files(long_eval, tiny_model):
    """By default the examples are distinct windows of the val files."""
    _, config = load_trained_model(tiny_model[0])
    assert long_eval["split"] == "val"
    assert long_eval["num_examples"] == 60
    files = {ex["file"] for ex in long_eval["examples"]}
    assert files <= set(config["val_files"])
    keys = {(ex["file"], ex["row"]) for ex in long_eval["examples"]}
    assert len(keys) == 60


def test_error_grows_along_the_horizon(long_eval):
    """Open-loop error compounds: step 15 is far worse than step 1."""
    model = long_eval["predictors"]["model"]
    assert model["phys_mse_sum"][-1] > 10 * model["phys_mse_sum"][0]
    assert model["mse"][-1] > 10 * model["mse"][0]


def test_model_beats_zero_delta(long_eval):
    """The tiny model is well below the zero-delta baseline."""
    ratios = long_eval["ratios"]["zero_delta"]
    model = long_eval["predictors"]["model"]
    zero = long_eval["predictors"]["zero_delta"]
    assert np.mean(model["mse"]) < 0.5 * np.mean(zero["mse"])
    assert max(ratios["phys_mse_sum"]) < 0.6


def test_linear_baseline_beats_zero_delta_one_step(long_eval):
    """The ridge fit works: one step ahead it is far better than no change."""
    linear = long_eval["predictors"]["linear"]
    zero = long_eval["predictors"]["zero_delta"]
    assert linear["mse"][0] < 0.2 * zero["mse"][0]
    assert long_eval["linear_fit"]["files"] == "the checkpoint's training files"


@pytest.mark.parametrize("mode", ["window", "recurrent"])
def test_rollout_deltas_matches_the_training_loss(mode):
    """rollout_deltas gives model.rollout's states and per-step errors."""
    layout = StateLayout.create(3, 3, 1, [1, 2], [0])
    try:
        net = DynamicsNetwork(
            layout,
            hidden_size=16,
            history_length=4,
            rngs=nnx.Rngs(0),
            mode=mode,
        )
    except TypeError:
        pytest.skip(f"DynamicsNetwork has no {mode} mode")
    rng = np.random.default_rng(0)
    net.set_statistics(
        {
            "in_mean": rng.normal(size=net.feature_dim),
            "in_std": rng.uniform(0.5, 2.0, net.feature_dim),
            "out_mean": rng.normal(scale=0.01, size=layout.state_dim),
            "out_std": rng.uniform(0.01, 0.1, layout.state_dim),
        }
    )
    rows = jnp.asarray(rng.normal(size=(8, 9, 7)), jnp.float32)
    window, controls, targets = rows[:, :4], rows[:, 4:, 6:], rows[:, 4:, :6]
    states, errs = rollout(net, window, controls, targets)
    states2, pred_std, true_std = rollout_deltas(net, window, controls, targets)
    np.testing.assert_allclose(states2, states, rtol=1e-5, atol=1e-6)
    mse = jnp.mean(jnp.square(pred_std - true_std), axis=-1)
    np.testing.assert_allclose(mse, errs, rtol=1e-5, atol=1e-7)


def test_constant_velocity_baseline_integrates_velocity():
    """Constant velocity: q_{t+k} = q_t + k*dt*qvel_t, angles unwrapped."""
    layout = StateLayout.create(3, 3, 1, [1, 2], [0])
    net = DynamicsNetwork(layout, 16, 3, rngs=nnx.Rngs(0))
    cv = ConstantVelocityModel.like(net, dt=0.01)
    row = np.array([0.5, 3.1, -0.2, 1.0, 4.0, -2.0, 0.3], np.float32)
    window = jnp.asarray(np.tile(row, (1, 3, 1)))
    controls = jnp.zeros((1, 10, 1))
    states, _, _ = rollout_deltas(cv, window, controls, jnp.zeros((1, 10, 6)))
    k = np.arange(1, 11)[:, None]
    expected_q = row[:3] + k * 0.01 * row[3:6]
    np.testing.assert_allclose(states[0, :, :3], expected_q, atol=1e-5)
    np.testing.assert_allclose(states[0, :, 3:], np.tile(row[3:6], (10, 1)))


def _write_csv(path: Path, header: list[str], rows: int) -> None:
    data = np.zeros((rows, len(header)))
    data[:, 0] = np.arange(rows) * 0.01
    np.savetxt(path, data, delimiter=",", header=",".join(header), comments="")


def test_dims_mismatch_is_refused(tiny_model, tmp_path, capsys):
    """Data of another model is refused, naming both dims, exit code 2."""
    header = ["timestamp", "qpos_0", "qpos_1", "qvel_0", "qvel_1", "ctrl_0"]
    for i in range(2):
        _write_csv(tmp_path / f"ep{i}.csv", header, 50)
    with pytest.raises(DataError, match=r"nq=3 nv=3 nu=1.*nq=2 nv=2 nu=1"):
        evaluate_model(tiny_model[0], tmp_path, log=None)
    code = main(
        [
            "--checkpoint",
            str(tiny_model[0]),
            "--data-dir",
            str(tmp_path),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    # One line, prefixed as argparse's own errors are.
    assert err.startswith(
        "python -m hydrax.dynamics_model_training.evaluate: error: "
    )
    assert "\n" not in err
    assert "nq=2" in err and str(tiny_model[0]) in err


def test_empty_data_dir_is_refused(tiny_model, tmp_path, capsys):
    """An empty data directory: one clear line and exit code 2."""
    code = main(
        ["--checkpoint", str(tiny_model[0]), "--data-dir", str(tmp_path)]
    )
    assert code == 2
    assert "no CSV or Parquet logs" in capsys.readouterr().err


def test_output_dir_that_is_a_file_is_refused_first(
    tiny_model, dcp_data, tmp_path, capsys
):
    """Refused before the windows are read and predicted, not after."""
    taken = tmp_path / "taken.csv"
    taken.write_text("x")
    code = main(
        [
            "--checkpoint", str(tiny_model[0]), "--data-dir", str(dcp_data),
            "--output-dir", str(taken),
        ]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 2
    assert "the output directory is a file" in out.err
    assert "evaluated" not in out.out


def test_files_too_short_for_the_horizon_are_refused(
    tiny_model, dcp_data, tmp_path
):
    """No file has history + horizon rows: a DataError saying so."""
    for src in sorted(dcp_data.glob("*.csv"))[:2]:
        lines = src.read_text().splitlines()[:30]
        (tmp_path / src.name).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="no file has the 55 rows"):
        evaluate_model(tiny_model[0], tmp_path, horizon=50, log=None)


def test_short_files_skipped_and_split_falls_back(
    tiny_model, dcp_data, tmp_path
):
    """Short files are counted; without the checkpoint's validation files
    the files it did not train on are evaluated, and files named as its
    training files only with a note saying so."""
    _, config = load_trained_model(tiny_model[0])
    for name in config["train_files"][:2]:
        shutil.copy(dcp_data / name, tmp_path / name)
    short = (dcp_data / config["train_files"][2]).read_text().splitlines()
    (tmp_path / "short.csv").write_text("\n".join(short[:8]) + "\n")
    said = []
    metrics = evaluate_model(
        tiny_model[0], tmp_path, num_examples=5, log=said.append
    )
    assert metrics["split"] == "all"
    assert "every one is one of its training logs" in "\n".join(said)
    assert "names its logs by file name alone" not in "\n".join(said)
    # A checkpoint without fingerprints (before 2026-12-07) matches names.
    h, k = config["history_length"], config["prediction_horizon"]
    ds = DynamicsDataset(
        tmp_path, [0], [1, 2], h, k, pad_start=False, verbose=False
    )
    by_name = {k: v for k, v in config.items() if k != "file_fingerprints"}
    notes = "\n".join(select_windows(ds, by_name, "val", 5, 0).notes)
    assert "names its logs by file name alone" in notes
    assert "every one is named as a training file" in notes
    unknown = {k: v for k, v in by_name.items() if "_files" not in k}
    notes = "\n".join(select_windows(ds, unknown, "val", 5, 0).notes)
    assert "the config names no split (with a network, pass the config" in (
        notes
    )
    fresh = write_dcp_logs(tmp_path / "fresh", 1, 300, seed=9)
    shutil.copy(fresh / "episode_00000.csv", tmp_path / "fresh.csv")
    said = []
    metrics = evaluate_model(
        tiny_model[0], tmp_path, num_examples=5, log=said.append
    )
    text = "\n".join(said)
    assert "skipped 1 of 4 files shorter than 9 rows" in text
    assert "evaluating on the 1 of 3 files the model did not train on" in text
    assert metrics["split"] == "unseen" and metrics["num_examples"] == 5


def test_several_data_directories_are_evaluated_together(
    tiny_model, dcp_data, tmp_path, capsys
):
    """--data-dir takes several directories, as train does: the
    checkpoint's validation files are found in whichever holds them."""
    _, config = load_trained_model(tiny_model[0])
    files = sorted(p.name for p in dcp_data.glob("*.csv"))
    for i, name in enumerate(files):
        folder = tmp_path / ("a" if i % 2 else "b")
        folder.mkdir(exist_ok=True)
        shutil.copy(dcp_data / name, folder / name)
    out = tmp_path / "out"
    code = main(
        [
            "--checkpoint", str(tiny_model[0]),
            "--data-dir", str(tmp_path / "a"), str(tmp_path / "b"),
            "--num-examples", "5", "--output-dir", str(out), "--no-plots",
        ]
    )  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "val"
    assert metrics["data_dir"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert f"split of {tmp_path / 'a'}, {tmp_path / 'b'}" in (
        capsys.readouterr().out
    )
    halves = {i % 2 for i, n in enumerate(files) if n in config["val_files"]}
    assert halves == {0, 1}  # validation files came from both directories


def test_format_value_never_prints_zero_for_tiny_values():
    """Values below 1e-6 switch to scientific notation."""
    assert format_value(0.000123) == "0.000123"
    assert format_value(3.2e-8) == "3.200e-08"
    assert format_value(12.5) == "12.500000"


def test_bootstrap_is_deterministic_for_a_seed():
    """Same seed: the same resamples and interval; another seed: others."""
    values = np.random.default_rng(0).lognormal(size=200)
    a = bootstrap_interval(values, bootstrap_weights(200, seed=4))
    b = bootstrap_interval(values, bootstrap_weights(200, seed=4))
    c = bootstrap_interval(values, bootstrap_weights(200, seed=5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    weights = bootstrap_weights(200, seed=4)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert weights.shape == (1000, 200)


def test_bootstrap_interval_contains_the_mean_and_narrows():
    """The interval holds the mean and shrinks ~1/sqrt(N) with N windows."""
    rng = np.random.default_rng(1)
    widths = {}
    for n in (50, 800):
        values = rng.lognormal(size=(n, 3))  # heavy-tailed, like errors
        lo, hi = bootstrap_interval(values, bootstrap_weights(n, seed=0)).T
        mean = values.mean(axis=0)
        assert np.all(lo < mean) and np.all(mean < hi)
        widths[n] = np.mean(hi - lo)
    assert widths[800] < 0.45 * widths[50]  # 1/sqrt(16) = 0.25


def test_bootstrap_interval_covers_the_true_mean_about_95_percent():
    """Over 200 samples of N(1, 1), the interval holds 1 about 95% of times."""
    rng = np.random.default_rng(2)
    hits = 0
    for s in range(200):
        values = rng.normal(1.0, 1.0, size=100)
        lo, hi = bootstrap_interval(values, bootstrap_weights(100, seed=s))
        hits += lo <= 1.0 <= hi
    assert 0.88 <= hits / 200 <= 0.99


def test_bootstrap_refuses_mismatched_weights():
    """Weights for another number of windows are refused."""
    with pytest.raises(ValueError, match="weights are for 10 windows"):
        bootstrap_interval(np.ones(5), bootstrap_weights(10, seed=0))


def test_metrics_hold_intervals_around_each_mean(long_eval):
    """Every per-step and horizon mean lies inside its interval."""
    for name, res in long_eval["predictors"].items():
        for key in ("mse", "mae", "phys_mse_sum"):
            ci = np.asarray(res[f"{key}_ci"])
            mean = np.asarray(res[key])
            assert ci.shape == (long_eval["horizon"], 2), (name, key)
            assert np.all(ci[:, 0] <= mean) and np.all(mean <= ci[:, 1])
            assert np.all(ci[:, 0] < ci[:, 1]), (name, key)
        for key in ("mse", "phys_mse_sum"):
            mean = res["horizon_mean"][key]
            assert mean["ci"][0] < mean["mean"] < mean["ci"][1], (name, key)
        np.testing.assert_allclose(
            res["horizon_mean"]["mse"]["mean"], np.mean(res["mse"])
        )
    model = long_eval["predictors"]["model"]
    train = model["training_horizon_mean"]
    assert train["steps"] == 4
    np.testing.assert_allclose(train["mse"]["mean"], np.mean(model["mse"][:4]))


def test_cli_prints_and_writes_the_intervals(cli_run):
    """The report has the interval block; the CSVs agree with the JSON."""
    proc, out = cli_run
    assert "95% intervals of the means (1000 bootstrap resamples" in proc.stdout
    line = next(
        x for x in proc.stdout.splitlines() if x.startswith("Mean MSE over")
    )
    assert re.search(r"steps: \S+ \[\S+, \S+\]", line), line
    metrics = json.loads((out / "metrics.json").read_text())
    with (out / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["predictor"] == "model"]
    ci = [
        [float(r["mse_std_ci_low"]), float(r["mse_std_ci_high"])] for r in rows
    ]
    np.testing.assert_allclose(ci, metrics["mse_ci"], rtol=1e-12)
    with (out / "summary.csv").open() as f:
        summary = {r["predictor"]: r for r in csv.DictReader(f)}
    assert set(summary) == set(metrics["predictors"])
    model = metrics["predictors"]["model"]["horizon_mean"]["mse"]
    got = summary["model"]
    np.testing.assert_allclose(
        [
            float(got["mean_mse_std"]),
            float(got["mean_mse_std_ci_low"]),
            float(got["mean_mse_std_ci_high"]),
        ],
        [model["mean"], *model["ci"]],
        rtol=1e-12,
    )


def test_help_shows_every_default():
    """--help: a help line for every option and the defaults shown."""
    parser = build_parser()
    text = " ".join(parser.format_help().split())
    assert f"(default: {DEFAULT_NUM_EXAMPLES})" in text
    assert "(default: results/evaluation)" in text
    assert "(default: val)" in text
    for action in parser._actions:
        assert action.help, action.option_strings


def test_position_panels_mark_the_goal_or_say_it_is_off_scale():
    """The manifest's goal is drawn when near the data's range (an angle's
    at its nearest 2π-multiple), else a note says where it is."""
    from hydrax.dynamics_model_training.evaluation_plot_style import figure
    from hydrax.dynamics_model_training.evaluation_plots import (
        _in_pi,
        _mark_goal,
    )

    near, far, second, cart = figure(8, 3).subplots(1, 4)
    near.plot([0.0, 1.0], [-2.7, -3.0])  # balancing, wrapped below 0
    _mark_goal(near, np.pi, angle=True)
    assert [line.get_ydata()[0] for line in near.lines[1:]] == [-np.pi]
    far.plot([0.0, 1.0], [-0.1, 0.1])  # hanging, goal π
    _mark_goal(far, np.pi, angle=True)
    assert len(far.lines) == 1
    assert far.texts[0].get_text() == "↑ goal π off scale"
    second.plot([0.0, 1.0], [-0.1, 0.1])  # the second pole: upright at 0
    _mark_goal(second, 0.0, angle=True)
    assert [line.get_ydata()[0] for line in second.lines[1:]] == [0.0]
    cart.plot([0.0, 1.0], [-0.1, 0.5])  # the cart about its origin
    _mark_goal(cart, 0.0, angle=False)
    assert cart.lines[1].get_ydata()[0] == 0.0
    assert [_in_pi(k * np.pi) for k in (0, 1, -1, 3)] == ["0", "π", "−π", "3π"]
    assert _in_pi(-1.5) == "−1.50"
