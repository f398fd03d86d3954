"""Fine-tuning from a checkpoint: an ensemble member by member, aggregation
keeping the checkpoint's delta and ensemble size."""

import shutil

import jax
import numpy as np
import pytest

from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.simulation.collection import collect

SMALL = {
    "hidden_size": 8,
    "history_length": 3,
    "prediction_horizon": 2,
    "batch_size": 64,
    "num_epochs": 1,
    "mode": "recurrent",
    "progress": False,
    "log": lambda s: None,
}


@pytest.fixture(scope="module")
def ensemble_ckpt(dcp_data, tmp_path_factory):
    """Two members of the structured delta, one epoch."""
    out = tmp_path_factory.mktemp("ensemble")
    train_dynamics_model(
        dcp_data,
        "ens",
        **SMALL,
        num_models=2,
        delta="velocity",
        seed=1,
        checkpoint_dir=out,
        grad_clip=0.5,
        lr_schedule="constant",
        val_fraction=0.3,
        pad_start=False,
    )
    return out / "ens" / "best_model.pkl"


def _leaves(path):
    return jax.tree.leaves(read_checkpoint(path)["params"])


def test_an_ensemble_fine_tunes_each_member_from_its_own_weights(
    ensemble_ckpt, dcp_data, tmp_path
):
    """At a negligible learning rate every member stays its own start."""
    train_dynamics_model(
        dcp_data,
        "tuned",
        **SMALL,
        num_models=2,
        delta="velocity",
        seed=5,
        learning_rate=1e-12,
        init_from=ensemble_ckpt,
        checkpoint_dir=tmp_path,
    )
    before = _leaves(ensemble_ckpt)
    after = _leaves(tmp_path / "tuned" / "best_model.pkl")
    for b, a in zip(before, after, strict=True):
        assert a.shape == b.shape and a.shape[0] == 2
        np.testing.assert_allclose(a, b, atol=1e-6)
    # The two members are different networks (not member 0 twice).
    assert max(float(np.abs(b[0] - b[1]).max()) for b in before) > 1e-2


@pytest.mark.parametrize("num_models", [1, 3])
def test_fine_tuning_another_number_of_members_is_refused(
    ensemble_ckpt, dcp_data, tmp_path, num_models
):
    with pytest.raises(ValueError) as err:
        train_dynamics_model(
            dcp_data,
            "tuned",
            **SMALL,
            num_models=num_models,
            delta="velocity",
            init_from=ensemble_ckpt,
            checkpoint_dir=tmp_path,
        )
    assert str(err.value) == (
        f"init_from {ensemble_ckpt}: the checkpoint holds 2 model(s) and "
        f"num_models is {num_models}; fine-tune with num_models=2"
    )
    assert not (tmp_path / "tuned").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "window"}, "mode is 'recurrent' there and 'window'"),
        ({"delta": "state"}, "delta is 'velocity' there and 'state'"),
        ({"hidden_size": 16}, "hidden_size is 8 there and 16"),
    ],
)
def test_fine_tuning_with_other_settings_is_refused(
    ensemble_ckpt, dcp_data, tmp_path, change, message
):
    """Weights of the same shapes but for other features or another output
    are refused by name (a window model's weights fit a recurrent one's)."""
    with pytest.raises(
        ValueError, match=f"init_from {ensemble_ckpt}: {message}"
    ):
        train_dynamics_model(
            dcp_data,
            "tuned",
            **{**SMALL, "num_models": 2, "delta": "velocity", **change},
            init_from=ensemble_ckpt,
            checkpoint_dir=tmp_path,
        )
    assert not (tmp_path / "tuned").exists()


def test_fine_tuning_a_model_of_another_robot_names_the_robots():
    """Other dimensions are named first, not as a setting or a shape."""
    from flax import nnx

    from hydrax.dynamics_model_training.model import DynamicsNetwork
    from hydrax.dynamics_model_training.transforms import StateLayout
    from hydrax.dynamics_model_training.warm_start import check_same_model

    def net(layout):
        return DynamicsNetwork(layout, 8, 3, rngs=nnx.Rngs(0))

    pendulum = net(StateLayout.create(1, 1, 1, [0], []))
    cart = net(StateLayout.create(3, 3, 1, [1, 2], [0]))
    with pytest.raises(
        ValueError,
        match="init_from p.pkl: a model of another robot, nq=1 nv=1 nu=1 "
        "there and nq=3 nv=3 nu=1 in this run's logs",
    ):
        check_same_model(pendulum, cart, "p.pkl")


def test_a_run_does_not_start_from_its_own_folder(ensemble_ckpt, dcp_data):
    """Its checkpoints would replace the model it starts from."""
    with pytest.raises(ValueError, match="lies in this run's own checkpoint"):
        train_dynamics_model(
            dcp_data, "ens", **SMALL, num_models=2, delta="velocity",
            checkpoint_dir=ensemble_ckpt.parent.parent, init_from=ensemble_ckpt,
        )  # fmt: skip
    assert ensemble_ckpt.exists()


def _tip_features(q):
    """A feature map of the double cart pole's qpos: it reads qpos_2."""
    import jax.numpy as jnp

    return jnp.stack([q[..., 0], jnp.cos(q[..., 1] + q[..., 2])], axis=-1)


def test_another_robots_checkpoint_is_named_before_the_transform(
    dcp_data, tmp_path
):
    """A run's transform_fn need not fit the checkpoint's robot: the
    robots are compared before the checkpoint's network is built."""
    import polars as pl

    one = tmp_path / "one_joint"
    one.mkdir()
    for path in sorted(dcp_data.glob("*.csv")):  # the cart's columns alone
        frame = pl.read_csv(path).select(
            "timestamp", pl.col("qpos_0"), pl.col("qvel_0"), pl.col("ctrl_0")
        )
        frame.write_csv(one / path.name)
    small = {**SMALL, "val_fraction": 0.3}
    train_dynamics_model(
        one, "one", **small, checkpoint_dir=tmp_path, angle_indices=[],
        coordinate_indices=[0],
    )  # fmt: skip
    with pytest.raises(
        ValueError, match="a model of another robot, nq=1 nv=1 nu=1 there"
    ):
        train_dynamics_model(
            dcp_data, "tuned", **small, checkpoint_dir=tmp_path,
            init_from=tmp_path / "one" / "best_model.pkl",
            transform_fn=_tip_features,
        )  # fmt: skip
    assert not (tmp_path / "tuned").exists()


def _aggregation_round(ensemble_ckpt, dcp_data, tmp_path, **kwargs):
    """The configuration of one aggregation fine-tuning of the ensemble."""
    from hydrax.dynamics_model_training.model_io import load_trained_model
    from hydrax.simulation.fine_tune import fine_tune

    _, config = load_trained_model(ensemble_ckpt)
    best = fine_tune(
        "double_cart_pole",
        1,
        [dcp_data],
        config,
        init_from=ensemble_ckpt,
        epochs=1,
        seed=0,
        out_dir=tmp_path,
        **kwargs,
    )
    return read_checkpoint(best)["config"]


def test_aggregation_fine_tunes_with_the_checkpoints_delta_and_members(
    ensemble_ckpt, dcp_data, tmp_path
):
    """A structured-delta ensemble stays one after an aggregation round."""
    tuned = _aggregation_round(ensemble_ckpt, dcp_data, tmp_path)
    assert tuned["delta"] == "velocity"
    assert tuned["num_models"] == 2
    hyper = tuned["hyperparameters"]
    assert hyper["learning_rate"] == pytest.approx(1e-3 / 3)  # a third
    assert hyper["grad_clip"] == 0.5  # the checkpoint's, none a default
    assert hyper["lr_schedule"] == "constant"
    assert hyper["val_fraction"] == 0.3
    assert hyper["pad_start"] is False


def test_aggregation_takes_a_given_learning_rate(
    ensemble_ckpt, dcp_data, tmp_path
):
    from hydrax.simulation.aggregate import aggregate
    from hydrax.simulation.aggregate_args import parser as _parser

    tuned = _aggregation_round(
        ensemble_ckpt, dcp_data, tmp_path, learning_rate=2e-4
    )
    hyper = tuned["hyperparameters"]
    assert hyper["learning_rate"] == pytest.approx(2e-4)
    args = _parser().parse_args(["--data-dir", "d", "--learning-rate", "1e-4"])
    assert args.learning_rate == 1e-4
    assert _parser().parse_args(["--data-dir", "d"]).learning_rate is None
    with pytest.raises(
        ValueError, match="learning_rate must be > 0 and finite, got 0"
    ):
        aggregate("double_cart_pole", ensemble_ckpt, dcp_data, learning_rate=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": 0.0}, "duration must be >= 0.01, got 0.0"),
        ({"trial_duration": -1.0}, "trial_duration must be >= 0.01"),
        ({"noise_std": -1.0}, "noise_std must be >= 0, got -1.0"),
        ({"episodes": 0}, "episodes must be an integer >= 1, got 0"),
        ({"trials": -1}, "trials must be an integer >= 0, got -1"),
        ({"iterations": 1.5}, "iterations must be an integer >= 1"),
        ({"epochs": np.int64(0)}, "epochs must be an integer >= 1, got"),
        ({"trials": True}, "trials must be an integer >= 0, got True"),
    ],
)
def test_aggregation_names_the_argument_out_of_range(
    ensemble_ckpt, dcp_data, tmp_path, kwargs, message
):
    _refused(ValueError, message, ensemble_ckpt, dcp_data, tmp_path, **kwargs)
    assert not (tmp_path / "agg").exists()


def _refused(error, message, checkpoint, data, tmp_path, **kwargs):
    """aggregate() into tmp_path/agg raises ``error`` matching ``message``."""
    from hydrax.simulation.aggregate import aggregate

    with pytest.raises(error, match=message):
        aggregate(
            "double_cart_pole",
            checkpoint,
            data,
            out_dir=tmp_path / "agg",
            **kwargs,
        )


def test_aggregation_checks_the_logs_before_the_first_round(
    ensemble_ckpt, dcp_data, tmp_path
):
    """A missing directory, a bad cell, another model's logs, another
    task's checkpoint or a bad disagreement weight fail before any trial or
    episode runs and before an earlier run's logs or record are replaced."""
    from hydrax.logs import DataError

    earlier = tmp_path / "agg" / "iter_1" / "data" / "episode_00000.csv"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("kept")
    bad = tmp_path / "bad"
    shutil.copytree(dcp_data, bad)
    first = sorted(bad.glob("*.csv"))[0]
    lines = first.read_text().splitlines()
    lines[3] = "x" + lines[3][1:]
    first.write_text("\n".join(lines) + "\n")
    record = tmp_path / "agg" / "aggregation.json"
    record.write_text("kept")
    other = tmp_path / "cart_pole"
    collect("cart_pole", other, episodes=1, duration=0.2, progress=False)
    for data, message in (
        (tmp_path / "missing", "the data directory does not exist"),
        (bad, f"{first.name}: line 4, column 'timestamp'"),
        (other, "was trained on nq=3 nv=3 nu=1 .* but .*cart_pole"),
    ):
        _refused(DataError, message, ensemble_ckpt, data, tmp_path, trials=3)
    # Another task's checkpoint, with no trials to find it out first.
    from hydrax.simulation.aggregate import aggregate

    with pytest.raises(CheckpointError, match="nq"):
        aggregate(
            "cart_pole", ensemble_ckpt, other, out_dir=tmp_path / "agg",
            trials=0,
        )  # fmt: skip
    _refused(
        ValueError, "disagreement_weight must be >= 0", ensemble_ckpt,
        dcp_data, tmp_path, trials=0, disagreement_weight=-1.0,
    )  # fmt: skip
    assert earlier.read_text() == "kept" and record.read_text() == "kept"
