"""Per-directory sampling weights: fresh closed-loop logs drawn W times."""

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import write_dcp_logs

from hydrax.dynamics_model_training.checkpoint import read_checkpoint
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.model_io import load_trained_model
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.dynamics_model_training.training_setup import (
    model_config,
    new_network,
    prepare_trainer,
)
from hydrax.dynamics_model_training.windows import directory_file_weights

H, K = 3, 2


@pytest.fixture(scope="module")
def fresh_dir(dcp_data, tmp_path_factory) -> Path:
    """Four other logs of the same length, as a second ("fresh") directory
    (copies of ``dcp_data``'s would be refused: the same rows twice)."""
    out = write_dcp_logs(tmp_path_factory.mktemp("fresh"), 4, 300, seed=11)
    for path in sorted(out.glob("*.csv")):
        path.rename(out / f"fresh_{path.name}")
    return out


def _trainer(dirs, weights, tmp_path, max_rows=None, seed=3):
    dataset = DynamicsDataset(
        dirs,
        history_length=H,
        prediction_horizon=K,
        seed=seed,
        verbose=False,
        max_rows_in_memory=max_rows,
    )
    network = new_network(dataset, 8, seed, None, "recurrent", None)
    hyper = {
        "batch_size": 64,
        "num_epochs": 1,
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "seed": seed,
        "grad_clip": 1.0,
        "lr_schedule": "cosine",
        "data_weights": weights,
    }
    config = model_config(dataset, network, K, "w", hyper)
    return prepare_trainer(dataset, network, config, tmp_path)[0]


def _epoch_windows(trainer, epoch=0) -> list[tuple[int, int]]:
    """(file start row, current row) of every real window, in epoch order."""
    out = []
    for batch, _ in trainer.batches(epoch):
        real = np.asarray(batch.weights) > 0
        starts = np.asarray(batch.starts)[real].tolist()
        out += zip(starts, np.asarray(batch.rows)[real].tolist(), strict=True)
    return out


def _fresh_rows(dataset) -> set[int]:
    """Global first rows of the fresh directory's files (in memory)."""
    fresh = [p.name.startswith("fresh_") for p in dataset.files]
    return {int(dataset.file_offsets[i]) for i, f in enumerate(fresh) if f}


@pytest.mark.parametrize("w", [1, 3])
def test_weighted_epoch_draws_fresh_windows_w_times(
    dcp_data, fresh_dir, tmp_path, w
):
    """Every fresh training window comes W times an epoch, the others once."""
    trainer = _trainer([dcp_data, fresh_dir], [1, w], tmp_path)
    fresh = _fresh_rows(trainer.dataset)
    seen = Counter(_epoch_windows(trainer))
    ds = trainer.dataset
    assert len(seen) == ds.num_windows["train"]
    for (start, _), count in seen.items():
        assert count == (w if start in fresh else 1)
    assert sum(seen.values()) == trainer.num_train
    assert trainer.steps_per_epoch == -(-trainer.num_train // 64)
    train_fresh = sum(c for (s, _), c in seen.items() if s in fresh)
    assert train_fresh > 0  # the split left fresh files in training
    # The same seed, the same epoch order; another epoch, another order.
    again = _trainer([dcp_data, fresh_dir], [1, w], tmp_path)
    assert _epoch_windows(again) == _epoch_windows(trainer)
    assert _epoch_windows(trainer, 1) != _epoch_windows(trainer)


def test_streamed_blocks_count_weighted_windows(dcp_data, fresh_dir, tmp_path):
    """Streamed, each block's windows are weighted as in memory."""
    memory = _trainer([dcp_data, fresh_dir], [1, 3], tmp_path)
    stream = _trainer([dcp_data, fresh_dir], [1, 3], tmp_path, max_rows=700)
    assert stream.dataset.num_blocks("train") > 2
    assert stream.num_train == memory.num_train
    batches = sum(1 for _ in stream.batches(0))
    assert batches == stream.steps_per_epoch
    counts = Counter(
        stream.dataset.files[int(f)].parent.name
        for block, ids in stream.dataset.blocks("train")
        for f in block.file_ids[block.example_files[ids]]
    )
    # (block-local rows: count them, do not compare them across blocks)
    assert (
        len(_epoch_windows(stream))
        == counts[dcp_data.name] + 3 * counts[fresh_dir.name]
    )


def test_weight_one_reproduces_the_unweighted_run(
    dcp_data, fresh_dir, tmp_path
):
    """data_weights=[1, 1] is the run without weights, loss for loss."""
    kw = {
        "hidden_size": 8,
        "history_length": H,
        "prediction_horizon": K,
        "batch_size": 128,
        "num_epochs": 2,
        "progress": False,
        "log": lambda s: None,
    }
    dirs = [dcp_data, fresh_dir]
    _, plain = train_dynamics_model(
        dirs, "plain", checkpoint_dir=tmp_path, **kw
    )
    _, ones = train_dynamics_model(
        dirs, "ones", checkpoint_dir=tmp_path, data_weights=[1, 1], **kw
    )
    lines = []
    kw["log"] = lines.append
    _, three = train_dynamics_model(
        dirs, "three", checkpoint_dir=tmp_path, data_weights=[1, 3], **kw
    )
    assert any(
        line.startswith("data_weights [1, 3]: ") and "windows per epoch" in line
        for line in lines
    )
    assert ones["train_loss"] == plain["train_loss"]
    assert ones["val_loss"] == plain["val_loss"]
    assert three["train_loss"] != plain["train_loss"]
    hyper = [
        load_trained_model(tmp_path / name / "best_model.pkl")[1][
            "hyperparameters"
        ]
        for name in ("plain", "ones", "three")
    ]
    assert hyper[0] == hyper[1] and "data_weights" not in hyper[0]
    assert hyper[2]["data_weights"] == [1, 3]
    last = read_checkpoint(tmp_path / "three" / "last.pkl")
    assert last["config"]["hyperparameters"]["data_weights"] == [1, 3]


def test_bad_weights_are_named(dcp_data, fresh_dir, tmp_path):
    dirs = [dcp_data, fresh_dir]
    for weights, text in (
        ([1], "data_weights has 1 entry for 2 data directories"),
        ([1, 0], "data_weights: the weight of .* must be a positive integer"),
        ([1, 2.5], "data_weights: the weight of .* must be a positive integer"),
    ):
        with pytest.raises(ValueError, match=text):
            train_dynamics_model(
                dirs, "bad", data_weights=weights, checkpoint_dir=tmp_path
            )
    with pytest.raises(
        ValueError, match="is given twice, with weights 1 and 2"
    ):
        directory_file_weights([], [dcp_data, dcp_data], [1, 2])


def test_train_cli_takes_one_weight_per_directory(
    dcp_data, fresh_dir, tmp_path, capsys
):
    """--data-weights reaches the checkpoint; a wrong count is one line."""
    from hydrax.dynamics_model_training.train import main

    argv = [
        "--data-dir", str(dcp_data), str(fresh_dir),
        "--task-name", "w", "--mode", "recurrent", "--hidden-size", "8",
        "--history-length", str(H), "--prediction-horizon", str(K),
        "--epochs", "1", "--checkpoint-dir", str(tmp_path), "--no-progress",
    ]  # fmt: skip
    assert main([*argv, "--data-weights", "1", "3"]) == 0
    _, config = load_trained_model(tmp_path / "w" / "best_model.pkl")
    assert config["hyperparameters"]["data_weights"] == [1, 3]
    capsys.readouterr()
    assert main([*argv, "--data-weights", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        ": error: --data-weights has 1 entry for 2 data directories; give one "
        "weight per directory"
    )


def test_aggregate_fine_tunes_with_the_fresh_weight(
    tiny_model, dcp_data, fresh_dir, tmp_path
):
    """aggregate's fine-tuning weighs the closed-loop logs fresh_weight."""
    from hydrax.simulation.aggregate import aggregate
    from hydrax.simulation.fine_tune import fine_tune

    checkpoint = tiny_model[0]
    _, config = load_trained_model(checkpoint)

    def tuned_weights(it, dirs, **kwargs):
        best = fine_tune(
            "double_cart_pole",
            it,
            dirs,
            config,
            init_from=checkpoint,
            epochs=1,
            seed=0,
            out_dir=tmp_path,
            fresh_weight=3,
            **kwargs,
        )
        return load_trained_model(best)[1]["hyperparameters"]["data_weights"]

    assert tuned_weights(1, [dcp_data, fresh_dir]) == [1, 3]
    # Two original directories: each weighs 1, the closed-loop logs 3.
    logs = write_dcp_logs(tmp_path / "logs", 2, 300, seed=12)
    dirs = [dcp_data, fresh_dir, logs]
    assert tuned_weights(2, dirs, n_original=2) == [1, 1, 3]
    for bad in (0, 1.5, True):
        with pytest.raises(
            ValueError, match="fresh_weight must be an integer >= 1"
        ):
            aggregate(
                "double_cart_pole", checkpoint, dcp_data, fresh_weight=bad
            )


def test_aggregate_passes_every_original_directory(
    tiny_model, dcp_data, fresh_dir, tmp_path, monkeypatch
):
    """aggregate() counts each directory it is given as original data."""
    import hydrax.simulation.aggregate as agg

    seen = []

    def fine_tune(task, it, dirs, config, **kwargs):
        seen.append((list(dirs), kwargs["n_original"]))
        return tiny_model[0]

    scores = {"success_rate": 1.0, "success_seconds": 1.0, "mean_cost": 0.0}
    monkeypatch.setattr(agg, "trial_scores", lambda *a, **k: scores)
    monkeypatch.setattr(agg, "collect_with_model", lambda *a, **k: fresh_dir)
    monkeypatch.setattr(agg, "fine_tune", fine_tune)
    agg.aggregate(
        "double_cart_pole",
        tiny_model[0],
        [dcp_data, fresh_dir],
        iterations=2,
        out_dir=tmp_path,
    )
    assert [n for _, n in seen] == [2, 2]
    assert [len(d) for d, _ in seen] == [3, 4]
    with pytest.raises(ValueError, match="at least one directory"):
        agg.aggregate("double_cart_pole", tiny_model[0], [], out_dir=tmp_path)
    # An earlier run's round logs as input: this run would clear them.
    earlier = tmp_path / "iter_1" / "data"
    earlier.mkdir(parents=True)
    with pytest.raises(ValueError, match="lies in the output folder"):
        agg.aggregate(
            "double_cart_pole",
            tiny_model[0],
            [dcp_data, earlier],
            out_dir=tmp_path,
        )
    # An earlier round's model to start from: this run would remove it.
    model = tmp_path / "iter_1" / "r" / "best_model.pkl"
    model.parent.mkdir(parents=True)
    shutil.copy(tiny_model[0], model)
    with pytest.raises(ValueError, match="^checkpoint .* lies in the output"):
        agg.aggregate("double_cart_pole", model, dcp_data, out_dir=tmp_path)


def test_aggregate_flag_defaults_to_three():
    from hydrax.simulation.aggregate_args import parser as _parser

    args = _parser().parse_args(["--data-dir", "d"])
    assert args.fresh_weight == 3
    assert args.data_dir == [Path("d")]
    args = _parser().parse_args(["--data-dir", "a", "b", "--seed", "1"])
    assert args.data_dir == [Path("a"), Path("b")]
    assert (
        _parser()
        .parse_args(["--data-dir", "d", "--fresh-weight", "1"])
        .fresh_weight
        == 1
    )


def test_resume_needs_the_same_weights(dcp_data, fresh_dir, tmp_path):
    """A weighted run resumes with its weights and refuses others."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError

    kw = {
        "hidden_size": 8,
        "history_length": H,
        "prediction_horizon": K,
        "batch_size": 256,
        "checkpoint_dir": tmp_path,
        "progress": False,
        "log": lambda s: None,
    }
    dirs = [dcp_data, fresh_dir]
    train_dynamics_model(dirs, "r", num_epochs=1, data_weights=[1, 3], **kw)
    with pytest.raises(
        CheckpointError,
        match=r"data_weights differs \(checkpoint \[1, 3\], now not given\)",
    ):
        train_dynamics_model(dirs, "r", num_epochs=1, resume=True, **kw)
    with pytest.raises(  # more epochs: a new run, which init_from starts
        CheckpointError,
        match=r"num_epochs differs \(checkpoint 1, now 2\); resume=True "
        "finishes the run it started: to train on from it, start a new run "
        "with init_from=.*best_model.pkl and another task_name",
    ):
        train_dynamics_model(
            dirs, "r", num_epochs=2, resume=True, data_weights=[1, 3], **kw
        )
    _, history = train_dynamics_model(
        dirs, "r", num_epochs=1, resume=True, data_weights=[1, 3], **kw
    )
    assert len(history["train_loss"]) == 1  # the run was complete


def test_aggregate_without_trials_only_collects_and_fine_tunes(
    tiny_model, dcp_data, fresh_dir, tmp_path, monkeypatch, capsys
):
    """--trials 0: no trial runs; each round is recorded without figures."""
    import hydrax.simulation.aggregate as agg

    def no_trials(*a, **k):
        raise AssertionError("trials ran")

    monkeypatch.setattr(agg, "trial_scores", no_trials)
    monkeypatch.setattr(agg, "collect_with_model", lambda *a, **k: fresh_dir)
    monkeypatch.setattr(agg, "fine_tune", lambda *a, **k: tiny_model[0])
    argv = ["--checkpoint", str(tiny_model[0]), "--data-dir", str(dcp_data)]
    argv += [
        "--iterations",
        "2",
        "--trials",
        "0",
        "--output-dir",
        str(tmp_path),
    ]
    assert agg.main(argv) == 0
    out = capsys.readouterr().out
    assert "iteration 2: done (no trials)" in out
    assert "seconds in success set" not in out
    records = json.loads((tmp_path / "aggregation.json").read_text())
    assert [r["iteration"] for r in records] == [0, 1, 2]
    assert all("success_rate" not in r for r in records)
    # A rerun of one round replaces the earlier run whole: its rounds
    # beyond this one's (data, checkpoints) do not stay beside it.
    for k in (1, 2, 3):
        (tmp_path / f"iter_{k}" / "data").mkdir(parents=True, exist_ok=True)
    argv[argv.index("--iterations") + 1] = "1"
    assert agg.main(argv) == 0
    assert "cleared 3 rounds of an earlier run from " in capsys.readouterr().out
    assert not list(tmp_path.glob("iter_*"))  # the stubs wrote none
    with pytest.raises(ValueError, match="trials must be an integer >= 0"):
        agg.aggregate("double_cart_pole", tiny_model[0], dcp_data, trials=-1)
