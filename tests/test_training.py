"""Training: dataset, loss, checkpoints and the seed's snippets."""

import os
import pickle
import shutil
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.model import (
    multi_step_errors,
    multi_step_loss,
    rollout,
    split_rows,
)
from hydrax.dynamics_model_training.train import (
    load_trained_model,
    train_dynamics_model,
)
from hydrax.dynamics_model_training.transforms import apply_delta, state_delta
from hydrax.tasks.double_cart_pole import DoubleCartPole


def wrap(x):
    return np.remainder(np.asarray(x) + np.pi, 2 * np.pi) - np.pi


def test_target_delta_reproduces_next_state(dcp_data):
    """Applying the true one-step delta to a logged state gives the next one."""
    ds = DynamicsDataset(
        dcp_data, history_length=5, prediction_horizon=4, verbose=False
    )
    rows = ds.data[ds.file_offsets[0] : ds.file_offsets[1], :6]
    out = np.asarray(
        apply_delta(
            ds.layout, rows[:-1], state_delta(ds.layout, rows[:-1], rows[1:])
        )
    )
    np.testing.assert_allclose(
        out[:, [0, 3, 4, 5]], rows[1:, [0, 3, 4, 5]], atol=1e-5
    )
    assert np.abs(wrap(out[:, 1:3] - rows[1:, 1:3])).max() < 1e-5


def test_split_is_by_file_and_deterministic(dcp_data):
    """No file is in both splits; the same seed gives the same split."""
    a = DynamicsDataset(dcp_data, seed=3, verbose=False)
    b = DynamicsDataset(dcp_data, seed=3, verbose=False)
    c = DynamicsDataset(dcp_data, seed=4, verbose=False)
    assert not set(a.train_files) & set(a.val_files)
    assert set(a.train_files) | set(a.val_files) == set(a.files)
    assert a.val_files == b.val_files and a.val_files != c.val_files
    train_files = set(a.example_files[a.train_indices])
    val_files = set(a.example_files[a.val_indices])
    assert not train_files & val_files


def test_start_windows_are_padded_with_first_state(dcp_data):
    """A window at a file's start repeats its first state with zero control."""
    ds = DynamicsDataset(
        dcp_data, history_length=5, prediction_horizon=4, verbose=False
    )
    first = int(np.flatnonzero(ds.example_rows == ds.file_offsets[2])[0])
    win = ds.examples[first]
    row0 = ds.data[ds.file_offsets[2]]
    np.testing.assert_array_equal(win[:4, :6], np.tile(row0[:6], (4, 1)))
    np.testing.assert_array_equal(win[:4, 6], 0.0)
    np.testing.assert_array_equal(win[4], row0)


def test_examples_combine_without_copy(dcp_data, tmp_path):
    """dataset1.examples + dataset2.examples references both datasets."""
    a = DynamicsDataset(dcp_data, verbose=False)
    b = DynamicsDataset(dcp_data, seed=1, verbose=False)
    combined = a.examples + b.examples
    assert len(combined) == len(a.examples) + len(b.examples)
    assert combined.parts[0][0] is a and combined.parts[1][0] is b
    np.testing.assert_array_equal(combined[len(a.examples)], b.examples[0])
    other = tmp_path / "other"
    shutil.copytree(dcp_data, other)
    c = DynamicsDataset(
        other, angle_indices=[1], coordinate_indices=[0], verbose=False
    )
    with pytest.raises(ValueError, match="indices differ"):
        _ = a.examples + c.examples
    d = DynamicsDataset(dcp_data, history_length=4, verbose=False)
    with pytest.raises(
        ValueError,
        match=f"cannot combine {dcp_data} with {dcp_data}: history_length "
        r"and prediction_horizon differ \(11 and 9 vs 4 and 9\)",
    ):
        _ = a.examples + d.examples


def test_constant_column_is_standardized_safely(tmp_path):
    """A constant control column gives a finite std and a finite loss."""
    from conftest import write_dcp_logs

    d = write_dcp_logs(tmp_path / "c", 4, 80)
    for f in d.glob("*.csv"):
        text = f.read_text().splitlines()
        body = [",".join(line.split(",")[:-1] + ["0"]) for line in text[1:]]
        f.write_text("\n".join([text[0], *body]) + "\n")
    ds = DynamicsDataset(
        d, history_length=4, prediction_horizon=3, verbose=False
    )
    assert np.all(np.isfinite(ds.statistics["in_std"]))
    # Centred, not scaled: a planner's control of 1 reaches the GRU as 1,
    # not as 1e6 (the floor of a delta's std).
    assert ds.statistics["in_std"][-1] == 1.0
    net, hist = train_dynamics_model(
        d,
        "c",
        hidden_size=8,
        history_length=4,
        prediction_horizon=3,
        num_epochs=1,
        checkpoint_dir=tmp_path / "ck",
        progress=False,
        log=lambda s: None,
    )
    assert np.isfinite(hist["train_loss"][0])


def _zero_delta_errors(network, rows):
    """Per-step standardized errors of predicting 'the state stays'."""
    window, _, targets = split_rows(network, rows)
    current = window[:, -1, :6]
    identity = state_delta(network.layout, current, current)
    errs = []
    for k in range(targets.shape[1]):
        true = network.standardize(
            state_delta(network.layout, current, targets[:, k])
        )
        errs.append(
            jnp.mean(jnp.square(network.standardize(identity) - true), -1)
        )
    return np.stack([np.asarray(e) for e in errs], 1)


def test_training_lowers_val_loss_and_beats_zero_delta(tiny_model, dcp_data):
    """A short run lowers validation loss and beats zero-delta at every step."""
    path, history = tiny_model
    assert history["val_loss"][-1] < history["val_loss"][0]
    network, config = load_trained_model(path)
    ds = DynamicsDataset(
        dcp_data,
        history_length=5,
        prediction_horizon=4,
        val_files=config["val_files"],
        verbose=False,
    )
    rows = jnp.asarray(ds.val_examples.batch(np.arange(len(ds.val_examples))))
    model = np.asarray(multi_step_errors(network, rows)).mean(0)
    zero = _zero_delta_errors(network, rows).mean(0)
    assert np.all(model < zero), (model, zero)


def test_checkpoint_round_trip_is_bitwise(tiny_model, dcp_data):
    """A loaded checkpoint predicts bitwise what the saved network did."""
    path, _ = tiny_model
    net1, cfg = load_trained_model(path)
    net2, _ = load_trained_model(path)
    ds = DynamicsDataset(
        dcp_data, history_length=5, prediction_horizon=4, verbose=False
    )
    win = jnp.asarray(ds.examples.batch(np.arange(16)))[:, :5]
    np.testing.assert_array_equal(np.asarray(net1(win)), np.asarray(net2(win)))
    assert cfg["dt"] == pytest.approx(0.01)
    assert cfg["manifest_identity"]["task"] == "double_cart_pole"
    assert set(cfg["val_files"]).isdisjoint(cfg["train_files"])
    for key in ("in_mean", "in_std", "out_mean", "out_std"):
        assert np.all(np.isfinite(getattr(net1, key)[...]))


def test_one_apply_delta_for_training_and_inference(tiny_model):
    """The rollout and the MPC seam both step with apply_delta(network(...))."""
    path, _ = tiny_model
    network, _ = load_trained_model(path)
    task = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(model=task.model, path=path)
    rng = np.random.default_rng(0)
    window = jnp.asarray(rng.normal(size=(1, 5, 7)).astype(np.float32))
    expected = apply_delta(network.layout, window[:, -1, :6], network(window))
    states, _ = rollout(network, window, window[:, :1, 6:])
    np.testing.assert_allclose(states[:, 0], expected, atol=1e-6)
    from mujoco import mjx

    data = mjx.make_data(task.model).replace(
        qpos=window[0, -1, :3], qvel=window[0, -1, 3:6]
    )
    carry = dyn.init_carry(task.model, data, window[0, :-1])
    nxt, carry = dyn.step(task.model, data, carry, window[0, -1, 6:])
    np.testing.assert_allclose(
        np.r_[nxt.qpos, nxt.qvel], expected[0], atol=1e-5
    )
    # The carry: the H - 1 windows in flight, the newest started at the row.
    hidden, firsts = carry
    assert hidden.shape == (4, network.hidden_size)
    np.testing.assert_array_equal(
        np.asarray(firsts[-1]), np.asarray(window[0, -1])
    )


def test_same_seed_same_losses(dcp_data, tmp_path):
    """Two runs with the same seed give identical losses."""
    kw = dict(
        hidden_size=8,
        history_length=3,
        prediction_horizon=2,
        num_epochs=2,
        progress=False,
        log=lambda s: None,
    )
    _, h1 = train_dynamics_model(dcp_data, "a", checkpoint_dir=tmp_path, **kw)
    _, h2 = train_dynamics_model(dcp_data, "b", checkpoint_dir=tmp_path, **kw)
    assert h1["train_loss"] == h2["train_loss"]
    assert h1["val_loss"] == h2["val_loss"]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/hydrax_pwned",))


def test_code_executing_checkpoint_is_refused(tmp_path):
    """A pickle crafted to run code is refused without running it."""
    evil = tmp_path / "best_model.pkl"
    evil.write_bytes(pickle.dumps({"format": "x", "payload": _Exploit()}))
    marker = Path("/tmp/hydrax_pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="could run code"):
        load_trained_model(evil)
    with pytest.raises(CheckpointError, match="could run code"):
        NeuralNetworkDynamics.load_params(
            model=DoubleCartPole().model, path=evil
        )
    assert not marker.exists()


def test_truncated_checkpoint_is_refused(tiny_model, tmp_path):
    """A truncated file gives a clear error."""
    path, _ = tiny_model
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_trained_model(cut)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x80\x02}(]K\x01u.", "truncated or corrupt .*TypeError"),
        (b"\x80\x02]}b.", "truncated or corrupt .*AttributeError"),
        (
            {"config": {}, "statistics": {}},
            "corrupt checkpoint, no params record",
        ),
        (
            {
                "config": {},
                "statistics": {},
                "params": {
                    "w": {"__ndarray__": "<f4", "shape": [3], "data": b"12345"}
                },
            },
            "corrupt checkpoint, an array record does not decode",
        ),
    ],
    ids=["list-key", "build-on-list", "no-params", "bad-array"],
)
def test_malformed_checkpoint_is_refused_by_name(tmp_path, blob, message):
    """A crafted or damaged file is a CheckpointError naming the file (the
    commands report those), never a bare TypeError or KeyError."""
    from hydrax.dynamics_model_training.checkpoint import (
        FORMAT,
        FORMAT_VERSION,
    )

    if isinstance(blob, dict):
        record = {"format": FORMAT, "format_version": FORMAT_VERSION}
        blob = pickle.dumps(record | blob)
    path = tmp_path / "best_model.pkl"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError, match=f"{path}: {message}"):
        load_trained_model(path)


def test_missing_checkpoint_names_the_one_training_wrote(tmp_path):
    """Training writes <dir>/<name>/best_model.pkl; the error points there."""
    (tmp_path / "hopper").mkdir()
    (tmp_path / "hopper" / "best_model.pkl").write_bytes(b"")
    with pytest.raises(CheckpointError, match="did you mean .*hopper"):
        read_checkpoint(tmp_path / "best_model.pkl")
    for folder in (tmp_path, tmp_path / "hopper"):  # a folder given
        with pytest.raises(
            CheckpointError,
            match="a folder, not a checkpoint file .did you mean "
            ".*hopper/best_model.pkl",
        ):
            read_checkpoint(folder)
    with pytest.raises(CheckpointError, match="no such checkpoint file$"):
        read_checkpoint(tmp_path / "nowhere" / "best_model.pkl")


def test_load_params_refuses_other_timestep_and_dims(tiny_model):
    """A model of another dt or other nq/nv/nu is refused."""
    import mujoco
    from mujoco import mjx

    from hydrax.task_base import model_path

    path, _ = tiny_model
    m = mujoco.MjModel.from_xml_path(str(model_path("double_cart_pole")))
    m.opt.timestep = 0.02
    with pytest.raises(CheckpointError, match="dt=0.01"):
        NeuralNetworkDynamics.load_params(model=mjx.put_model(m), path=path)
    cp = mujoco.MjModel.from_xml_path(str(model_path("cart_pole")))
    with pytest.raises(CheckpointError, match="nq=3"):
        NeuralNetworkDynamics.load_params(model=mjx.put_model(cp), path=path)


def test_seed_snippets_step2_multitask_transfer(dcp_data, tmp_path):
    """The seed's Step 2, Multi-Task and Transfer Learning snippets run."""
    # Step 2: Create Training Script
    coordinate_indices = jnp.array([0])
    angle_indices = jnp.array([1, 2])
    network, history = train_dynamics_model(
        data_dir=dcp_data,
        task_name="my_task",
        coordinate_indices=coordinate_indices,
        angle_indices=angle_indices,
        hidden_size=16,
        history_length=4,
        prediction_horizon=3,
        batch_size=32,
        num_epochs=1,
        learning_rate=1e-3,
        weight_decay=1e-5,
        seed=42,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert len(history["train_loss"]) == 1
    assert (tmp_path / "my_task" / "best_model.pkl").exists()

    # Multi-Task Training
    dataset1 = DynamicsDataset(
        data_dir=dcp_data, history_length=4, prediction_horizon=3
    )
    dataset2 = DynamicsDataset(
        data_dir=dcp_data, history_length=4, prediction_horizon=3
    )
    combined_examples = dataset1.examples + dataset2.examples
    assert len(combined_examples) == 2 * len(dataset1.examples)

    # Transfer Learning
    network, config = load_trained_model(
        tmp_path / "my_task" / "best_model.pkl"
    )
    optimizer = nnx.Optimizer(network, optax.adam(1e-4), wrt=nnx.Param)

    @nnx.jit
    def train_step(network, optimizer, rows):
        loss, grads = nnx.value_and_grad(multi_step_loss)(network, rows)
        optimizer.update(network, grads)
        return loss

    rows = jnp.asarray(combined_examples.batch(np.arange(64)))
    n = len(combined_examples)
    last = combined_examples.batch([-1, n - 1])
    assert np.array_equal(last[0], last[1])
    assert np.array_equal(last[0], combined_examples[-1])
    for bad in ([5, n], [-n - 1], [1.5]):
        with pytest.raises(IndexError, match="out of range|integers"):
            combined_examples.batch(bad)
    losses = [float(train_step(network, optimizer, rows)) for _ in range(5)]
    assert losses[-1] < losses[0]


def test_recurrent_mode_semantics_and_seam(dcp_data, tmp_path):
    """Recurrent mode: one cell per step, fixed reference, seam = rollout."""
    from mujoco import mjx

    _, hist = train_dynamics_model(
        dcp_data,
        "rec",
        hidden_size=16,
        history_length=4,
        prediction_horizon=3,
        num_epochs=2,
        mode="recurrent",
        checkpoint_dir=tmp_path,
        progress=False,
        log=lambda s: None,
    )
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    path = tmp_path / "rec" / "best_model.pkl"
    net, cfg = load_trained_model(path)
    assert cfg["mode"] == "recurrent" and net.mode == "recurrent"
    rng = np.random.default_rng(1)
    window = jnp.asarray(rng.normal(size=(2, 4, 7)).astype(np.float32))
    controls = jnp.asarray(rng.normal(size=(2, 5, 1)).astype(np.float32))
    states, _ = rollout(net, window, controls)
    # By hand: the GRU over the window, then one cell per predicted row,
    # coordinates relative to the initial window's first row.
    ref = window[:, 0]
    h = net.gru(net.features(window, ref))
    cur = window[:, -1, :6]
    for k in range(5):
        cur = apply_delta(net.layout, cur, net.unstandardize(net.head(h)))
        np.testing.assert_allclose(states[:, k], cur, atol=1e-5)
        h = net.advance(h, jnp.concatenate([cur, controls[:, k]], -1), ref)
    # Shifting every x by a constant shifts the predicted x by it.
    shifted = window.at[..., 0].add(3.0)
    states2, _ = rollout(net, shifted, controls)
    np.testing.assert_allclose(states2[..., 0], states[..., 0] + 3.0, atol=1e-4)
    # The MPC seam steps exactly like the open-loop rollout.
    task = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(model=task.model, path=path)
    data = mjx.make_data(task.model).replace(
        qpos=window[0, -1, :3], qvel=window[0, -1, 3:6]
    )
    carry = dyn.init_carry(task.model, data, window[0, :-1])
    seam = []
    us = jnp.concatenate([window[0, -1:, 6:], controls[0, :4]])
    for k in range(5):
        data, carry = dyn.step(task.model, data, carry, us[k])
        seam.append(np.r_[data.qpos, data.qvel])
    pred = dyn.predict(window[:1, :-1], window[:1, -1, :6], us[None])[0]
    np.testing.assert_allclose(np.array(seam), pred, atol=1e-5)
    # Shapes predict cannot take are named with the shape expected.
    hist, now = window[:1, :-1], window[:1, -1, :6]
    for args, said in [
        ((hist[0], now[0], us), r"history must have shape \(B, n, 7\)"),
        ((hist, now, us[None, :, 0]), r"controls must have shape \(1, K, 1\)"),
        ((hist, window[:1, -1], us[None]), r"state must have shape \(B, 6\)"),
        (
            (hist[..., :6], now, us[None]),
            r"history must have shape \(1, n, 7\)",
        ),
        ((hist, now, us[None, :0]), r"controls .* with K >= 1"),
        ((hist, jnp.tile(now, (2, 1)), us[None]), ".* share their batch"),
    ]:
        with pytest.raises(ValueError, match=f"predict: {said}"):
            dyn.predict(*args)


def custom_transform(qpos):
    """(..., 3) → (..., 5): cos/sin of the angles, then x."""
    return jnp.concatenate(
        [jnp.cos(qpos[..., 1:]), jnp.sin(qpos[..., 1:]), qpos[..., :1]], -1
    )


def test_custom_transform_fn_is_recorded_and_required(dcp_data, tmp_path):
    """transform_fn trains; loading needs the same function passed in."""
    train_dynamics_model(
        dcp_data,
        "ct",
        hidden_size=8,
        history_length=3,
        prediction_horizon=2,
        num_epochs=1,
        transform_fn=custom_transform,
        checkpoint_dir=tmp_path,
        progress=False,
        log=lambda s: None,
    )
    path = tmp_path / "ct" / "best_model.pkl"
    with pytest.raises(CheckpointError, match="pass the same function"):
        load_trained_model(path)
    with pytest.raises(CheckpointError, match="was trained with"):
        load_trained_model(path, transform_fn=lambda q: q)
    net, cfg = load_trained_model(path, transform_fn=custom_transform)
    assert cfg["transform_fn"].endswith("custom_transform")
    assert net.feature_dim == 5 + 3 + 1
    win = jnp.zeros((1, 3, 7))
    assert np.all(np.isfinite(np.asarray(net(win))))


def test_a_scripts_transform_matches_the_same_function_imported():
    """A model trained in a script records ``__main__.<name>``; the same
    function imported from a module loads it, and the other way round."""
    from hydrax.dynamics_model_training.model_io import same_function

    def in_script(qpos):
        return qpos

    in_script.__module__, in_script.__qualname__ = "__main__", "tf"
    assert same_function(in_script, "my_pkg.tf")
    assert not same_function(in_script, "my_pkg.other")
    recorded = "__main__.custom_transform"
    assert same_function(custom_transform, recorded)
    assert not same_function(custom_transform, "__main__.other")
    assert not same_function(custom_transform, "other_pkg.custom_transform")
    anonymous = lambda q: q  # noqa: E731
    assert not same_function(anonymous, "__main__.<lambda>")


def test_an_anonymous_transform_is_warned_and_a_partial_refused(
    dcp_data, tmp_path
):
    """A lambda's recorded name is shared by every lambda of its module: the
    run says so; a partial has no name to record at all."""
    import functools

    kw = {
        "hidden_size": 8, "history_length": 3, "prediction_horizon": 2,
        "num_epochs": 1, "checkpoint_dir": tmp_path, "progress": False,
        "log": lambda s: None,
    }  # fmt: skip
    with pytest.warns(UserWarning, match="recorded by its name, .*<lambda>"):
        train_dynamics_model(
            dcp_data,
            "anon",
            transform_fn=lambda q: custom_transform(q),  # noqa: PLW0108
            **kw,
        )
    with pytest.raises(ValueError, match="must be a function with a name"):
        train_dynamics_model(
            dcp_data, "part", transform_fn=functools.partial(custom_transform),
            **kw,
        )  # fmt: skip


def test_calling_a_network_checks_the_windows_shape(tiny_model):
    """A forgotten control column, a missing batch axis or a window of
    another length are named, not broadcast or split somewhere inside."""
    net, cfg = load_trained_model(tiny_model[0])
    h = cfg["history_length"]
    width = 3 + 3 + 1  # the double cart pole's qpos, qvel, ctrl
    assert net(jnp.zeros((2, h, width))).shape[0] == 2
    for shape in ((1, h, width - 1), (h, width), (1, h + 1, width)):
        with pytest.raises(ValueError, match=rf"window must be \(batch, {h}, "):
            net(jnp.zeros(shape))


@pytest.mark.parametrize(
    ("fn", "said"),
    [
        (lambda q: jnp.reshape(q, -1), r"maps \(2, 3, 3\) to \(18,\)"),
        (lambda q: (q, q), r"maps \(2, 3, 3\) to tuple"),
        (lambda q: np.cos(np.asarray(q)), "must be a JAX function"),
    ],
)
def test_a_transform_that_drops_axes_or_cannot_trace_is_refused(
    fn, said, dcp_data, tmp_path
):
    """Named before any training, not as a JAX error deep inside it."""
    with pytest.raises(ValueError, match=f"transform_fn <lambda> {'.*'}{said}"):
        train_dynamics_model(
            dcp_data, "bad", hidden_size=8, history_length=3,
            prediction_horizon=2, num_epochs=1, transform_fn=fn,
            checkpoint_dir=tmp_path, progress=False, log=lambda s: None,
        )  # fmt: skip
    assert not (tmp_path / "bad").exists()


def test_model_config_is_the_checkpoint_config(tiny_model):
    """ModelConfig reads a checkpoint's config and writes it back unchanged."""
    from hydrax.dynamics_model_training.checkpoint import read_checkpoint
    from hydrax.dynamics_model_training.model_io import ModelConfig
    from hydrax.dynamics_model_training.transforms import StateLayout

    path, _ = tiny_model
    stored = read_checkpoint(path)["config"]
    config = ModelConfig.from_dict(stored)
    assert config.layout == StateLayout.create(3, 3, 1, [1, 2], [0])
    assert config.hidden_size == 32 and config.history_length == 5
    assert config.to_dict() == stored
    assert StateLayout.from_dict(config.layout.to_dict()) == config.layout
    with pytest.raises(ValueError, match="lacks 'hidden_size'"):
        ModelConfig.from_dict(
            {k: v for k, v in stored.items() if k != "hidden_size"}
        )
    with pytest.raises(ValueError, match=r"lacks \['nu'\]"):
        StateLayout.from_dict({"nq": 3, "nv": 3})
    # An older checkpoint without the newer keys still loads, as window mode.
    old = {
        k: stored[k]
        for k in (
            "nq",
            "nv",
            "nu",
            "angle_indices",
            "coordinate_indices",
            "hidden_size",
            "history_length",
        )
    }
    assert ModelConfig.from_dict(old).mode == "window"


def test_training_help_shows_every_default(capsys):
    """--help gives each option a line and a default, paths shown relative."""
    import re

    from hydrax import ROOT
    from hydrax.dynamics_model_training import train, train_double_cart_pole

    for main in (train.main, train_double_cart_pole.main):
        with pytest.raises(SystemExit) as done:
            main(["--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert str(ROOT) not in out
        assert "hydrax/dynamics_model_training/checkpoints)" in out
        assert "seed's" not in out
        entries = re.split(r"\n  (?=-)", out.split("options:", 1)[1])[1:]
        assert len(entries) > 20
        # Every value's default is shown (tests/test_cli_help.py checks
        # each option); a flag's "False" is not.
        assert sum("(default:" in entry for entry in entries) > 15
        for entry in entries:
            assert "(default: False)" not in " ".join(entry.split()), entry


def test_running_train_as_a_module_warns_nothing():
    """python -m ...train does not find itself imported already."""
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::RuntimeWarning",
            "-m",
            "hydrax.dynamics_model_training.train",
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "RuntimeWarning" not in proc.stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grad_clip": -1.0}, "grad_clip must be >= 0"),
        ({"save_every": -1}, r"save_every must be an integer >= 0 \(0: no"),
        ({"task_name": ""}, "task_name names the checkpoint folder"),
        ({"task_name": "../escape"}, "not empty or a path, got '../escape'"),
        ({"learning_rate": float("inf")}, "learning_rate must be > 0 and fin"),
        ({"weight_decay": float("inf")}, "weight_decay must be >= 0 and fin"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": 1.5}, "seed must be an integer >= 0, got 1.5"),
    ],
)
def test_bad_training_arguments_are_refused_before_reading(
    dcp_data, tmp_path, kwargs, message
):
    """A negative clip would flip the gradients; a task name that is a path
    would write checkpoints outside checkpoint_dir. Nothing is written."""
    args = {"task_name": "dcp", **kwargs}
    said = []
    with pytest.raises(ValueError, match=message):
        train_dynamics_model(
            dcp_data,
            coordinate_indices=[0],
            angle_indices=[1, 2],
            num_epochs=1,
            checkpoint_dir=tmp_path / "ck",
            progress=False,
            prediction_horizon="auto",
            log=said.append,
            **args,
        )
    assert not (tmp_path / "ck").exists()
    assert not said  # not even how "auto" resolved for that name


def test_task_training_refuses_bad_collection_flags(tmp_path, capsys):
    """Refused by the parser, before anything is collected or printed."""
    from hydrax.dynamics_model_training import train_double_cart_pole

    for flags in (["--collect-episodes", "-3"], ["--collect-duration", "0"]):
        with pytest.raises(SystemExit) as done:
            train_double_cart_pole.main(
                ["--data-dir", str(tmp_path / "d"), *flags]
            )
        assert done.value.code == 2
        out = capsys.readouterr()
        assert f"error: {flags[0]} must be" in out.err
        assert "collecting" not in out.out
    assert not (tmp_path / "d").exists()


def test_each_use_of_the_seed_draws_its_own_stream():
    """numpy drops trailing zeros of a seed list: [s, e] and [s, e, 0] (an
    epoch's block order and its block 0's shuffle) drew the same numbers,
    and [s, 0] and [s, 0, 0] the file split's. Each has its own stream."""
    from hydrax.dynamics_model_training.windows import seeded

    def draw(rng):
        return rng.permutation(50).tolist()

    assert draw(np.random.default_rng([7, 0])) == draw(
        np.random.default_rng(7)
    )  # the collision
    order = draw(seeded(7, "block order", 0))
    assert order == draw(seeded(7, "block order", 0))  # reproducible
    others = [
        np.random.default_rng(7),
        np.random.default_rng([7, 0, 0]),
        seeded(7, "block order", 0, 0),
        seeded(7, "block order", 1),
        seeded(7, "another use", 0),
    ]
    assert all(draw(r) != order for r in others)
    # A streamed epoch 0's block 0 shuffle was [s, 0, 0]: the split's too.
    split = draw(np.random.default_rng(7))
    assert draw(seeded(7, "block shuffle", 0, 0)) not in (split, order)


def test_without_validation_the_cli_names_the_training_loss(
    dcp_data, tmp_path, capsys
):
    """--val-fraction 0: the best model is chosen on the training loss, and
    the last line says so (it said "best validation loss")."""
    from hydrax.dynamics_model_training.train import main

    argv = ["--data-dir", str(dcp_data), "--task-name", "nv", "--epochs",
            "1", "--hidden-size", "4", "--history-length", "2",
            "--prediction-horizon", "2", "--val-fraction", "0",
            "--checkpoint-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "best training loss (no validation files) " in out


def test_a_new_run_clears_an_earlier_runs_snapshots(
    dcp_data, tmp_path, monkeypatch
):
    """A run into a folder of another run's checkpoints removes that run's
    model_epoch_<N>.pkl and last.pkl when it writes its first checkpoint,
    saying so; stopped before that it keeps them and does not call them
    its own; a resumed run removes nothing."""
    from hydrax.dynamics_model_training.trainer import (
        Trainer,
        TrainingInterrupted,
    )

    kw = {
        "hidden_size": 4, "history_length": 2, "prediction_horizon": 2,
        "checkpoint_dir": tmp_path, "progress": False, "save_every": 1,
    }  # fmt: skip
    train_dynamics_model(dcp_data, "r", num_epochs=2, log=None, **kw)
    folder = tmp_path / "r"
    assert (folder / "model_epoch_2.pkl").exists()
    earlier = sorted(p.name for p in folder.iterdir())

    def stopped(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Trainer, "run_epoch", stopped)
        with pytest.raises(TrainingInterrupted) as stop:
            train_dynamics_model(dcp_data, "r", num_epochs=1, log=None, **kw)
    assert "no checkpoint was written yet" in str(stop.value)
    assert stop.value.checkpoint_dir is None
    assert sorted(p.name for p in folder.iterdir()) == earlier
    said = []
    train_dynamics_model(dcp_data, "r", num_epochs=1, log=said.append, **kw)
    assert sorted(p.name for p in folder.iterdir()) == [
        "best_model.pkl",
        "last.pkl",
        "model_epoch_1.pkl",
    ]
    assert any(
        "held an earlier run's checkpoints: removed its model_epoch_1.pkl, "
        "model_epoch_2.pkl, last.pkl (this run's replace them)" in s
        for s in said
    )
    said.clear()
    train_dynamics_model(
        dcp_data, "r", num_epochs=1, resume=True, log=said.append, **kw
    )
    assert not any("earlier run" in s for s in said)
