"""prediction_horizon="auto": the training horizon of the task's planner."""

import json

import pytest

from hydrax.dynamics_model_training.auto_horizon import (
    FALLBACK_HORIZON,
    resolve_prediction_horizon,
)
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.dynamics_model_training.training_cli import (
    add_training_arguments,
    train_parser,
    training_kwargs,
)
from hydrax.simulation.controllers import default_controller
from hydrax.tasks import get_task


def test_auto_is_the_default_controllers_horizon_in_model_steps(dcp_data):
    """double_cart_pole plans 0.8 s at 0.01 s: K = 80, and it says why."""
    controller = default_controller(get_task("double_cart_pole"))
    k, why = resolve_prediction_horizon("auto", "double_cart_pole", [dcp_data])
    assert k == controller.ctrl_steps == 80
    assert "80 steps" in why and "0.8 s" in why and "manifest dt" in why


def test_auto_counts_steps_of_the_logs_timestep(tmp_path):
    """Logs at 0.02 s: 0.8 s is 40 model steps (and the planner, at 0.01 s,
    would refuse such a model); no manifest: the task's timestep."""
    coarse = tmp_path / "coarse"
    coarse.mkdir()
    manifest = {"dt": 0.02, "nq": 3, "nv": 3, "nu": 1}
    (coarse / "manifest.json").write_text(json.dumps(manifest))
    k, why = resolve_prediction_horizon("auto", "double_cart_pole", [coarse])
    assert k == 40
    assert "0.02 s per model step" in why and "refuses" in why
    bare = tmp_path / "bare"
    bare.mkdir()
    k, why = resolve_prediction_horizon("auto", "double_cart_pole", [bare])
    assert k == 80 and "no manifest dt" in why


@pytest.fixture
def unnamed(tmp_path):
    """Logs whose manifest names no task (hand-written: dt alone)."""
    (tmp_path / "manifest.json").write_text(json.dumps({"dt": 0.01}))
    return tmp_path


def test_auto_falls_back_for_unknown_tasks(unnamed):
    """A task that is not built in, or has no default controller: 9."""
    k, why = resolve_prediction_horizon("auto", "my_robot", [unnamed])
    assert (k, FALLBACK_HORIZON) == (9, 9)
    assert "'my_robot' is not a built-in task" in why and "9" in why
    k, why = resolve_prediction_horizon("auto", "particle", [unnamed])
    assert k == 9 and "no default controller" in why


@pytest.mark.parametrize(
    ("name", "steps"), [("hopper", 50), ("quadruped", 50), ("cart_pole", 100)]
)
def test_auto_follows_the_named_tasks_controller(unnamed, name, steps):
    """The contact tasks look 0.5 s ahead, the cart pole 1 s (at 0.01 s)."""
    k, why = resolve_prediction_horizon("auto", name, [unnamed])
    assert k == steps and f"{name} default controller" in why


def test_the_robot_the_manifest_names_wins_over_the_folder_name(dcp_data):
    """A checkpoint folder named after a built-in task does not lend its
    horizon to logs of another robot (the manifest's task)."""
    k, why = resolve_prediction_horizon("auto", "quadruped", [dcp_data])
    assert k == 80 and "double_cart_pole default controller" in why


def test_an_int_is_kept_and_a_bad_value_named(dcp_data):
    assert resolve_prediction_horizon(40, "double_cart_pole", [dcp_data]) == (
        40,
        None,
    )
    with pytest.raises(ValueError, match="prediction_horizon must be a "):
        resolve_prediction_horizon("eighty", "double_cart_pole", [dcp_data])
    with pytest.raises(ValueError, match="prediction_horizon must be a "):
        train_dynamics_model(dcp_data, "t", prediction_horizon="long")
    with pytest.raises(ValueError, match="prediction_horizon must be a "):
        train_dynamics_model(dcp_data, "t", prediction_horizon=0)


def test_cli_defaults_to_auto_and_rejects_bad_values(capsys):
    """train: auto by default; the task commands' shared flags keep 9."""
    base = ["--data-dir", "d", "--task-name", "double_cart_pole"]
    parse = train_parser().parse_args
    assert training_kwargs(parse(base))["prediction_horizon"] == "auto"
    assert parse([*base, "--prediction-horizon", "40"]).prediction_horizon == 40
    for bad in ("0", "-3", "eighty", "4.5"):
        with pytest.raises(SystemExit):
            parse([*base, "--prediction-horizon", bad])
        err = capsys.readouterr().err
        assert "--prediction-horizon" in err
        assert f"expected a positive integer or 'auto', got {bad!r}" in err
    import argparse

    task_parser = argparse.ArgumentParser()
    add_training_arguments(task_parser)
    assert task_parser.parse_args([]).prediction_horizon == 9
    args = task_parser.parse_args(["--prediction-horizon", "auto"])
    assert args.prediction_horizon == "auto"


def test_training_with_auto_records_the_chosen_horizon(dcp_data, tmp_path):
    """From Python, "auto" with a built-in task trains with K = 80."""
    lines = []
    _, history = train_dynamics_model(
        dcp_data,
        "double_cart_pole",
        hidden_size=8,
        history_length=3,
        prediction_horizon="auto",
        batch_size=512,
        num_epochs=1,
        mode="recurrent",
        checkpoint_dir=tmp_path,
        progress=False,
        log=lines.append,
    )
    assert lines[0].startswith("auto prediction horizon: 80 steps")
    assert "windows of 3+80 rows" in lines[1]
    from hydrax.dynamics_model_training.model_io import load_trained_model

    _, config = load_trained_model(
        tmp_path / "double_cart_pole" / "best_model.pkl"
    )
    assert config["prediction_horizon"] == 80
    assert len(history["val_loss_per_step"]) == 80


def test_a_task_name_lends_no_horizon_to_logs_of_another_robot(
    dcp_data, tmp_path
):
    """Logs without a manifest under ``--task-name quadruped``: the log
    header's nq, nv, nu (3, 3, 1) are not the quadruped's (15, 14, 8)."""
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for log in sorted(dcp_data.glob("*.csv"))[:2]:
        shutil.copy(log, bare)
    k, why = resolve_prediction_horizon("auto", "quadruped", [bare])
    assert k == FALLBACK_HORIZON
    assert "has nq, nv, nu = 15, 14, 8, the logs have 3, 3, 1" in why
    k, why = resolve_prediction_horizon("auto", "double_cart_pole", [bare])
    assert k == 80 and "no manifest dt" in why
