"""The cart pole training command beside the double cart pole's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hydrax.dynamics_model_training import train_cart_pole


def test_help_lists_the_defaults():
    """python -m ...train_cart_pole --help works and names the defaults."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hydrax.dynamics_model_training.train_cart_pole",
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "coordinate_indices=[0], angle_indices=[1]" in out
    assert "(default: hydrax/data_csv/cart_pole)" in out
    assert "--collect-episodes COLLECT_EPISODES episodes" in out
    assert "(default: 128)" in out  # hidden size


@pytest.mark.slow
def test_tiny_run_collects_then_writes_a_checkpoint(tmp_path, capsys):
    """An empty data directory is filled first; one epoch checkpoints."""
    from hydrax.dynamics_model_training.model_io import load_trained_model

    data = tmp_path / "data"
    code = train_cart_pole.main(
        [
            "--data-dir",
            str(data),
            "--collect-episodes",
            "4",
            "--collect-duration",
            "1.0",
            "--epochs",
            "1",
            "--hidden-size",
            "8",
            "--history-length",
            "3",
            "--prediction-horizon",
            "2",
            "--checkpoint-dir",
            str(tmp_path / "ckpt"),
            "--no-progress",
        ]
    )
    assert code == 0
    assert "held no logs: collected 4 episodes" in capsys.readouterr().out
    assert len(list(data.glob("*.csv"))) == 4
    best = tmp_path / "ckpt" / "cart_pole" / "best_model.pkl"
    assert best.is_file()
    _, config = load_trained_model(best)
    assert list(config["angle_indices"]) == [1]
    assert list(config["coordinate_indices"]) == [0]
    assert config["hidden_size"] == 8


@pytest.mark.parametrize("name", ["episode_00000.csv", "episode_00000.parquet"])
def test_ensure_dataset_keeps_existing_logs(tmp_path, name):
    """A directory that holds logs, CSV or Parquet, is used as it is."""
    (tmp_path / name).write_text("timestamp\n")
    assert train_cart_pole.ensure_dataset(tmp_path) == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_bad_collection_prints_nothing_before_its_error(tmp_path, capsys):
    """A duration under the timestep is refused before anything is said
    of a collection, and nothing is written."""
    code = train_cart_pole.main(
        ["--data-dir", str(tmp_path / "d"), "--collect-duration", "0.001"]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert "collect" not in out
    assert "error: --collect-duration must be >= the timestep" in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("flag", ["--collect-episodes", "--epochs"])
def test_bad_numbers_are_refused(flag, tmp_path):
    """A non-number flag exits with argparse's usage error."""
    with pytest.raises(SystemExit) as done:
        train_cart_pole.main([flag, "many", "--data-dir", str(tmp_path)])
    assert done.value.code == 2


def test_another_tasks_logs_are_named_for_what_they_are(dcp_data, capsys):
    """The cart pole command on the double cart pole's logs: the manifest's
    task is named, not an index error blamed on the manifest."""
    assert train_cart_pole.main(["--data-dir", str(dcp_data)]) == 2
    err = capsys.readouterr().err
    assert (
        "its manifest says these logs are of the double_cart_pole task, not "
        "the cart_pole" in err
    )
