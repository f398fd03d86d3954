"""Killed runs, resume, divergence: nothing is lost, losses reproduce."""

import os
import signal
import subprocess
import sys
import time

import pytest

from hydrax.dynamics_model_training.checkpoint import read_checkpoint
from hydrax.dynamics_model_training.data_loader import read_trajectory_csv
from hydrax.dynamics_model_training.train import (
    TrainingDiverged,
    load_trained_model,
    train_dynamics_model,
)

KW = dict(
    hidden_size=8, history_length=3, prediction_horizon=2, batch_size=16, seed=7
)
EPOCHS = 12


def test_sigkill_then_resume_reproduces_losses(dcp_data, tmp_path):
    """SIGKILL mid-run leaves loadable checkpoints; resume gives the same losses."""
    code = (
        "import sys; from hydrax.dynamics_model_training.train import "
        "train_dynamics_model as t; "
        f"t({str(dcp_data)!r}, 'k', num_epochs={EPOCHS}, checkpoint_dir={str(tmp_path)!r}, "
        f"progress=False, **{KW!r})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = tmp_path / "k" / "last.pkl"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if last.exists() and read_checkpoint(last)["epoch"] >= 2:
                break
            assert proc.poll() is None, "training ended before it was killed"
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint after 240 s")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    load_trained_model(tmp_path / "k" / "best_model.pkl")  # loadable
    killed_at = read_checkpoint(last)["epoch"]
    assert 2 <= killed_at < EPOCHS
    leftovers = [p for p in (tmp_path / "k").iterdir() if p.suffix == ".tmp"]
    assert all(p.name.startswith(".") for p in leftovers)  # never a .pkl

    # Resume, and compare with an uninterrupted run of the same seed.
    _, resumed = train_dynamics_model(
        dcp_data,
        "k",
        num_epochs=EPOCHS,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
        log=lambda s: None,
        **KW,
    )
    _, full = train_dynamics_model(
        dcp_data,
        "full",
        num_epochs=EPOCHS,
        checkpoint_dir=tmp_path,
        progress=False,
        log=lambda s: None,
        **KW,
    )
    assert len(resumed["train_loss"]) == EPOCHS
    assert resumed["train_loss"] == full["train_loss"]
    assert resumed["val_loss"] == full["val_loss"]


def test_resume_refuses_changed_settings(dcp_data, tmp_path):
    """Resuming with other hyperparameters is refused, naming the field."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError

    train_dynamics_model(
        dcp_data,
        "r",
        num_epochs=1,
        checkpoint_dir=tmp_path,
        progress=False,
        log=lambda s: None,
        **KW,
    )
    with pytest.raises(
        CheckpointError, match="cannot resume, hidden_size differs"
    ):
        train_dynamics_model(
            dcp_data,
            "r",
            num_epochs=1,
            checkpoint_dir=tmp_path,
            resume=True,
            progress=False,
            log=lambda s: None,
            **{**KW, "hidden_size": 4},
        )


def test_resume_refuses_another_delta(dcp_data, tmp_path):
    """The structured and the plain delta have heads of other sizes."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError

    run = dict(checkpoint_dir=tmp_path, progress=False, log=lambda s: None)
    train_dynamics_model(
        dcp_data, "d", num_epochs=1, delta="velocity", **run, **KW
    )
    with pytest.raises(CheckpointError, match="cannot resume, delta differs"):
        train_dynamics_model(
            dcp_data, "d", num_epochs=2, resume=True, **run, **KW
        )


def test_resume_returns_the_best_weights(dcp_data, tmp_path):
    """A resumed run returns the best epoch's weights, not the last one's."""
    import jax
    import numpy as np
    from flax import nnx

    run = dict(checkpoint_dir=tmp_path, progress=False, log=lambda s: None)
    # A run whose last epoch is worse than its best: which seed gives one
    # depends on the CPU's float rounding (4 of seeds 3-8 on one machine).
    for seed in range(3, 13):
        kw = {**KW, "seed": seed, "learning_rate": 0.1}
        kw["lr_schedule"] = "constant"
        name = f"b{seed}"
        _, history = train_dynamics_model(
            dcp_data, name, num_epochs=4, **run, **kw
        )
        if history["best_epoch"] < 4:
            break
    else:
        pytest.fail("no seed of 3-12 ended on a worse epoch than its best")
    net, resumed = train_dynamics_model(
        dcp_data, name, num_epochs=4, resume=True, **run, **kw
    )
    assert resumed["best_epoch"] == history["best_epoch"]

    def weights(network: object) -> list:
        return jax.tree.leaves(nnx.state(network, nnx.Param))

    best, _ = load_trained_model(tmp_path / name / "best_model.pkl")
    last, _ = load_trained_model(tmp_path / name / "last.pkl")
    for got, want in zip(weights(net), weights(best), strict=True):
        np.testing.assert_array_equal(got, want)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(weights(net), weights(last), strict=True)
    )


def test_resume_after_a_stop_between_best_and_last(
    dcp_data, tmp_path, monkeypatch
):
    """Stopped after best_model.pkl was written and before last.pkl: the
    resume runs that epoch again and ends as an uninterrupted run."""
    from hydrax.dynamics_model_training.trainer import Trainer

    run = dict(checkpoint_dir=tmp_path, progress=False, log=lambda s: None)
    _, full = train_dynamics_model(dcp_data, "full", num_epochs=3, **run, **KW)
    assert full["best_epoch"] >= 2  # epoch 2 improved: best then last
    write = Trainer._write

    def stop_before_last(self, name, record):
        if name == "last.pkl" and record["epoch"] == 2:
            raise KeyboardInterrupt
        write(self, name, record)

    monkeypatch.setattr(Trainer, "_write", stop_before_last)
    with pytest.raises(KeyboardInterrupt):
        train_dynamics_model(dcp_data, "k", num_epochs=3, **run, **KW)
    monkeypatch.setattr(Trainer, "_write", write)
    assert read_checkpoint(tmp_path / "k" / "best_model.pkl")["epoch"] == 2
    assert read_checkpoint(tmp_path / "k" / "last.pkl")["epoch"] == 1
    _, resumed = train_dynamics_model(
        dcp_data, "k", num_epochs=3, resume=True, **run, **KW
    )
    assert resumed["val_loss"] == full["val_loss"]
    assert resumed["best_epoch"] == full["best_epoch"]


def test_divergence_stops_and_keeps_last_good_checkpoint(dcp_data, tmp_path):
    """A NaN loss stops training at once, naming epoch and step."""
    train_dynamics_model(
        dcp_data,
        "d",
        num_epochs=1,
        checkpoint_dir=tmp_path,
        progress=False,
        log=lambda s: None,
        **KW,
    )
    best = tmp_path / "d" / "best_model.pkl"
    before = best.read_bytes()
    with pytest.raises(
        TrainingDiverged, match=r"epoch 1, step \d+.*lower learning_rate"
    ):
        train_dynamics_model(
            dcp_data,
            "d",
            num_epochs=1,
            checkpoint_dir=tmp_path,
            learning_rate=1e30,
            grad_clip=None,
            progress=False,
            log=lambda s: None,
            **KW,
        )
    assert best.read_bytes() == before
    load_trained_model(best)


def _popen_interruptible(args, **kwargs):
    """Popen whose child takes Ctrl-C, even when this run ignores SIGINT.

    A suite started in the background (``nohup ... &``) ignores SIGINT, and
    an ignored signal stays ignored across exec. A handled one is reset to
    its default, so the parent handles SIGINT while it starts the child.
    (Not ``preexec_fn``: it is unsafe in a process with threads, as JAX's.)
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(args, **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_children_take_ctrl_c_when_the_suite_ignores_it():
    """A child started while SIGINT is ignored still has Python's handler."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = _popen_interruptible(
            [
                sys.executable,
                "-c",
                "import signal; print(signal.getsignal(signal.SIGINT) is "
                "signal.default_int_handler)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    out, _ = proc.communicate(timeout=60)
    assert out.strip() == "True"


def _interrupt_when(proc, ready, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready():
            proc.send_signal(signal.SIGINT)
            return proc.communicate(timeout=120)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    pytest.fail("never ready to interrupt")


def test_ctrl_c_during_collection_keeps_complete_episodes(tmp_path):
    """Ctrl-C: complete CSVs stay, the manifest lists them, exit 130."""
    import json

    out = tmp_path / "data"
    proc = _popen_interruptible(
        [
            sys.executable,
            "-m",
            "hydrax.simulation.collect",
            "--task",
            "double_cart_pole",
            "--episodes",
            "100000",
            "--batch-size",
            "4",
            "--out-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = _interrupt_when(proc, lambda: len(list(out.glob("*.csv"))) >= 8)
    assert proc.returncode == 130, err
    assert "episodes written are complete and listed in" in err
    files = sorted(out.glob("*.csv"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["episodes"] == len(files) >= 8
    assert not list(out.glob("*.tmp"))
    for f in files:  # every file is complete and readable
        read_trajectory_csv(f)


def test_ctrl_c_before_the_first_episode_says_nothing_was_written(
    tmp_path, monkeypatch, capsys
):
    """Interrupted before an episode is complete: no folder, no manifest,
    and the message says so (it used to point at a manifest)."""
    from hydrax.simulation import collect, collection

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(collection, "_run_episodes", interrupted)
    out = tmp_path / "data"
    code = collect.main(["--task", "pendulum", "--out-dir", str(out)])
    assert code == 130
    assert "no episode was complete: nothing was written" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_ctrl_c_during_training_leaves_checkpoints(dcp_data, tmp_path):
    """Ctrl-C: the training CLI stops with a message, checkpoints load."""
    proc = _popen_interruptible(
        [
            sys.executable,
            "-m",
            "hydrax.dynamics_model_training.train",
            "--data-dir",
            str(dcp_data),
            "--task-name",
            "c",
            "--epochs",
            "1000",
            "--hidden-size",
            "8",
            "--history-length",
            "3",
            "--prediction-horizon",
            "2",
            "--checkpoint-dir",
            str(tmp_path),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = tmp_path / "c" / "last.pkl"
    out, err = _interrupt_when(proc, last.exists)
    assert proc.returncode == 130, err
    # One message, naming where the checkpoints are.
    assert (out + err).count("interrupted") == 1, out + err
    assert f"the checkpoints in {tmp_path / 'c'} hold the last good" in err
    assert "(continue with --resume)" in err  # the flag, not resume=True
    load_trained_model(tmp_path / "c" / "best_model.pkl")
    assert read_checkpoint(last)["epoch"] >= 1


def test_ctrl_c_before_the_first_checkpoint_says_so(
    dcp_data, tmp_path, monkeypatch, capsys
):
    """Ctrl-C in the first epoch: the command says no checkpoint was
    written (it pointed at checkpoints to resume from) and exits 130."""
    from hydrax.dynamics_model_training import trainer
    from hydrax.dynamics_model_training.train import main

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer.Trainer, "train_epoch", interrupted)
    args = ["--data-dir", str(dcp_data), "--task-name", "c", "--epochs", "2"]
    args += ["--hidden-size", "4", "--history-length", "3", "--no-progress"]
    args += ["--prediction-horizon", "2", "--checkpoint-dir", str(tmp_path)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.strip().endswith(
        "train: training interrupted; no checkpoint was written yet"
    )
    assert not (tmp_path / "c" / "last.pkl").exists()


class _SwallowsCtrlC:
    """Ctrl-C arrives while it is finalized: Python prints and drops it."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_by_a_finalizer_still_stops_training(
    dcp_data, tmp_path, monkeypatch, capsys
):
    """A Ctrl-C that lands in a ``__del__`` (a progress bar's, in a CI run)
    was lost and training ran on to its last epoch; now the next batch
    stops it, with the usual message and exit code."""
    from hydrax.atomic import raise_kept_sigint, sigint_kept
    from hydrax.dynamics_model_training import trainer
    from hydrax.dynamics_model_training.train import main

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this process")
    with sigint_kept():
        _SwallowsCtrlC()  # finalized at once; its Ctrl-C is swallowed
        with pytest.raises(KeyboardInterrupt):
            raise_kept_sigint()
    with pytest.raises(KeyboardInterrupt):  # and the block's end raises it
        with sigint_kept():
            _SwallowsCtrlC()
    raise_kept_sigint()  # outside a block: nothing
    batch = trainer.Trainer._batch

    def finalizing(self: object, *args: object) -> object:
        _SwallowsCtrlC()
        return batch(self, *args)

    monkeypatch.setattr(trainer.Trainer, "_batch", finalizing)
    args = ["--data-dir", str(dcp_data), "--task-name", "c", "--epochs", "50"]
    args += ["--hidden-size", "4", "--history-length", "3", "--no-progress"]
    args += ["--prediction-horizon", "2", "--checkpoint-dir", str(tmp_path)]
    assert main(args) == 130
    assert "training interrupted; no checkpoint was written yet" in (
        capsys.readouterr().err
    )


def test_nested_sigint_deferred_raises_once_after_the_outer_block(tmp_path):
    """Ctrl-C inside an atomic write nested in a deferred block waits for
    the outer block: the file is written and recorded, then it is raised."""
    from hydrax.atomic import sigint_deferred, write_text_atomic

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this process")
    before = signal.getsignal(signal.SIGINT)
    recorded = []
    path = tmp_path / "episode.csv"
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            with sigint_deferred():  # what write_text_atomic does inside
                os.kill(os.getpid(), signal.SIGINT)
            write_text_atomic(path, "timestamp\n0.0\n")
            recorded.append(path)
    assert recorded == [path]
    assert path.read_text() == "timestamp\n0.0\n"
    assert signal.getsignal(signal.SIGINT) is before


def test_resume_without_an_earlier_run_says_there_is_nothing(
    dcp_data, tmp_path
):
    """resume=True in an empty folder: "nothing to resume", not a file
    error; the command names its flag."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError
    from hydrax.dynamics_model_training.train import train_dynamics_model

    with pytest.raises(CheckpointError, match="nothing to resume, .*no last"):
        train_dynamics_model(
            dcp_data, "none", hidden_size=4, history_length=2,
            prediction_horizon=2, num_epochs=1, resume=True,
            checkpoint_dir=tmp_path, progress=False, log=lambda s: None,
        )  # fmt: skip
