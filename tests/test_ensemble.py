"""Ensembles: one vmapped training step, one checkpoint, two rollouts."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hydrax.dynamics import NeuralNetworkDynamics
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
)
from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.gru import with_matmul_dtype
from hydrax.dynamics_model_training.model import DynamicsNetwork, Statistic
from hydrax.dynamics_model_training.model_io import (
    load_ensemble,
    load_trained_model,
)
from hydrax.dynamics_model_training.parallel import DataParallel
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.dynamics_model_training.train_steps import (
    Batch,
    StepSpec,
    ensemble_train_step,
    make_optimizer,
    train_step,
)
from hydrax.dynamics_model_training.trainer import Trainer
from hydrax.risk import WorstCase
from hydrax.simulation.controllers import default_controller
from hydrax.tasks.double_cart_pole import DoubleCartPole

MEMBERS = 3


@pytest.fixture(scope="module")
def ensemble(dcp_data, tmp_path_factory) -> tuple[Path, dict]:
    """A 3-member ensemble trained for 2 epochs: (checkpoint, history)."""
    root = tmp_path_factory.mktemp("ens")
    lines = []
    _, history = train_dynamics_model(
        dcp_data,
        "ens",
        hidden_size=16,
        history_length=5,
        prediction_horizon=4,
        num_epochs=2,
        learning_rate=3e-3,
        mode="recurrent",
        num_models=MEMBERS,
        checkpoint_dir=root,
        progress=True,  # the bar shows the members' mean loss
        log=lines.append,
    )
    said = f"ensemble of {MEMBERS} members, trained side by side"
    assert any(said in line for line in lines)
    return root / "ens" / "best_model.pkl", history


def _params(network: DynamicsNetwork) -> list[np.ndarray]:
    return [
        np.asarray(x) for x in jax.tree.leaves(nnx.state(network, nnx.Param))
    ]


def test_ensemble_trains_members_that_differ(ensemble):
    path, history = ensemble
    assert len(history["val_loss_members"]) == 2
    for members, mean in zip(
        history["val_loss_members"], history["val_loss"], strict=True
    ):
        assert len(members) == MEMBERS
        assert mean == pytest.approx(np.mean(members), rel=1e-12)
    # The members learned: every one's validation loss fell.
    first, last = map(np.asarray, history["val_loss_members"])
    assert np.all(last < first)
    assert history["best_val_loss"] == pytest.approx(min(history["val_loss"]))
    nets = load_ensemble(path)  # the user's call; the members as loaded
    assert len(nets) == MEMBERS
    for m, net in enumerate(nets):
        alone = _params(load_trained_model(path, member=m)[0])
        for x, y in zip(_params(net), alone, strict=True):
            np.testing.assert_array_equal(x, y)
    a, b = _params(nets[0]), _params(nets[1])
    assert (
        max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))
        > 1e-3
    )
    # One set of statistics, shared.
    np.testing.assert_array_equal(nets[0].out_std[...], nets[2].out_std[...])


def test_vmapped_step_equals_separate_member_steps(dcp_data, tmp_path):
    """One ensemble step = each member's own step on its own batch."""
    ds = DynamicsDataset(
        dcp_data, history_length=5, prediction_horizon=4, verbose=False
    )

    def net(seed: int) -> DynamicsNetwork:
        n = DynamicsNetwork(
            ds.layout,
            hidden_size=16,
            history_length=5,
            rngs=nnx.Rngs(seed),
            mode="recurrent",
        )
        n.set_statistics(ds.statistics)
        return n

    graphdef, p0, stats = nnx.split(net(0), nnx.Param, Statistic)
    members = [p0] + [nnx.state(net(s), nnx.Param) for s in (1, 2)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *members)
    tx, schedule = make_optimizer(3e-3, 1e-5, 100)
    dp = DataParallel()
    spec = StepSpec.create(graphdef, tx, ds, dp)
    trainer = Trainer(
        ds,
        spec,
        stats,
        schedule,
        dp,
        batch_size=16,
        seed=0,
        config={"prediction_horizon": 4},
        ckpt_dir=tmp_path,
        progress=False,
        say=print,
        num_models=MEMBERS,
    )
    batch, _ = next(iter(trainer.batches(0)))
    assert batch.rows.shape == (MEMBERS, 16)
    assert not np.array_equal(batch.rows[0], batch.rows[1])  # own shuffles
    params, _, losses = ensemble_train_step(
        spec, stacked, stats, jax.vmap(tx.init)(stacked), batch
    )
    for m, member in enumerate(members):
        one = Batch(
            batch.data, batch.rows[m], batch.starts[m], batch.weights[m]
        )
        p, _, loss = train_step(spec, member, stats, tx.init(member), one)
        assert float(losses[m]) == pytest.approx(float(loss), rel=1e-5)
        got = [x[m] for x in jax.tree.leaves(params)]
        for x, y in zip(got, jax.tree.leaves(p), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


def test_checkpoint_round_trip(ensemble, dcp_data):
    """The dynamics' per-member predictions are each member's own."""
    path, _ = ensemble
    task = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(task.model, path)
    assert dyn.num_models == MEMBERS
    rng = np.random.default_rng(0)
    history = rng.normal(0, 0.1, (2, 4, 7)).astype(np.float32)
    state = rng.normal(0, 0.1, (2, 6)).astype(np.float32)
    controls = rng.normal(0, 0.3, (2, 5, 1)).astype(np.float32)
    preds = np.asarray(dyn.predict(history, state, controls))
    assert preds.shape == (MEMBERS, 2, 5, 6)
    for m in range(MEMBERS):
        net, config = load_trained_model(path, member=m)
        assert config["num_models"] == MEMBERS
        single = NeuralNetworkDynamics(net, config)
        np.testing.assert_allclose(
            preds[m], single.predict(history, state, controls), atol=1e-5
        )
    assert not np.allclose(preds[0], preds[1], atol=1e-4)
    with pytest.raises(CheckpointError, match="member must be in 0..2"):
        load_trained_model(path, member=MEMBERS)


def test_resume_refuses_another_ensemble_size(ensemble, dcp_data):
    path, _ = ensemble
    with pytest.raises(CheckpointError, match="num_models differs"):
        train_dynamics_model(
            dcp_data,
            "ens",
            hidden_size=16,
            history_length=5,
            prediction_horizon=4,
            num_epochs=2,
            learning_rate=3e-3,
            mode="recurrent",
            num_models=2,
            checkpoint_dir=path.parent.parent,
            resume=True,
            progress=False,
            log=lambda s: None,
        )


def test_bad_ensemble_arguments(dcp_data, ensemble):
    with pytest.raises(ValueError, match="num_models must be a positive"):
        train_dynamics_model(dcp_data, "x", num_models=0, progress=False)
    task = DoubleCartPole()
    with pytest.raises(ValueError, match="strategy must be one of"):
        NeuralNetworkDynamics.load_params(
            task.model, ensemble[0], strategy="pets"
        )
    # A disagreement weight that would be ignored is refused.
    for strategy in ("ts", "members"):
        with pytest.raises(ValueError, match="needs an ensemble and the 'me"):
            NeuralNetworkDynamics.load_params(
                task.model,
                ensemble[0],
                strategy=strategy,
                disagreement_weight=1,
            )
    member, config = load_trained_model(ensemble[0])
    with pytest.raises(ValueError, match=r"got 1 model\(s\)"):
        NeuralNetworkDynamics(member, config, disagreement_weight=1.0)


def test_wide_trajectory_sampling_step_equals_the_member_step(ensemble):
    """A recurrent ts sample stepped through the members' weights side by
    side follows its member exactly as a step with that member's weights."""
    physics = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(
        physics.model, ensemble[0], strategy="ts"
    )
    assert dyn._wide is not None
    state = physics.make_data().replace(
        qpos=jnp.array([0.1, jnp.pi - 0.1, 0.05]), qvel=jnp.array([0.2, -1, 1])
    )
    rng = np.random.default_rng(0)
    history = jnp.asarray(
        rng.normal(size=(dyn.history_length - 1, 7)), jnp.float32
    )
    carry = dyn.init_carry(physics.model, state, history)
    for member in range(MEMBERS):
        wide = dyn.sample_carry(carry, jnp.int32(member))
        params = jax.tree.map(lambda x, m=member: x[m], dyn._states)
        own, x_own, x_wide = wide["memory"], state, state
        for u in (0.5, -0.3, 0.8):
            control = jnp.array([u])
            x_wide, wide = dyn.step(physics.model, x_wide, wide, control)
            row = jnp.concatenate([x_own.qpos, x_own.qvel, control])
            own, nxt = dyn._member_step(params, own, row)
            x_own = x_own.replace(qpos=nxt[:3], qvel=nxt[3:])
            np.testing.assert_allclose(
                x_wide.qpos, x_own.qpos, rtol=1e-5, atol=1e-6
            )
            np.testing.assert_allclose(
                x_wide.qvel, x_own.qvel, rtol=1e-5, atol=1e-6
            )
        np.testing.assert_allclose(wide["memory"][0], own[0], atol=1e-5)


def test_wide_mean_step_equals_the_vmapped_members(ensemble):
    """ "mean" through the members side by side = every member's own step."""
    physics = DoubleCartPole()
    wide = NeuralNetworkDynamics.load_params(
        physics.model, ensemble[0], disagreement_weight=2.0
    )
    plain = NeuralNetworkDynamics.load_params(
        physics.model, ensemble[0], disagreement_weight=2.0
    )
    plain._wide = None  # the members' own steps, vmapped
    assert wide._wide is not None
    state = physics.make_data().replace(
        qpos=jnp.array([0.1, jnp.pi - 0.1, 0.05]), qvel=jnp.array([0.2, -1, 1])
    )
    history = jnp.asarray(
        np.random.default_rng(1).normal(size=(wide.history_length - 1, 7)),
        jnp.float32,
    )
    carries = [
        d.init_carry(physics.model, state, history) for d in (wide, plain)
    ]
    states = [state, state]
    for u in (0.5, -0.3, 0.8):
        outs = [
            d.step_with_penalty(physics.model, x, c, jnp.array([u]))
            for d, x, c in zip((wide, plain), states, carries, strict=True)
        ]
        states = [o[0] for o in outs]
        carries = [o[1] for o in outs]
        a, b = states
        np.testing.assert_allclose(a.qpos, b.qpos, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.qvel, b.qvel, rtol=1e-5, atol=1e-6)
        assert float(outs[0][2]) > 0
        assert float(outs[0][2]) == pytest.approx(float(outs[1][2]), rel=1e-4)
    np.testing.assert_allclose(
        carries[0]["memories"][0], carries[1]["memories"][0], atol=1e-5
    )


def _planner(path: Path, **overrides) -> tuple:
    """A controller of 8 samples over 0.2 s planning on the checkpoint, its
    task, and a start near upright; ``overrides`` go to the controller."""
    physics = DoubleCartPole()
    task = DoubleCartPole(
        custom_dynamics=NeuralNetworkDynamics.load_params(
            physics.model, path, **overrides.pop("dynamics", {})
        )
    )
    ctrl = default_controller(
        task, num_samples=8, plan_horizon=0.2, **overrides
    )
    state = task.make_data().replace(qpos=jnp.array([0.0, jnp.pi - 0.1, 0.05]))
    return task, ctrl, state


def _rollout_costs(path: Path, **kwargs) -> np.ndarray:
    """Every sample's cost of one control sequence, planned on an ensemble."""
    task, ctrl, state = _planner(path, dynamics=kwargs)
    knots = jnp.zeros((8, ctrl.num_knots, 1))
    controls = jnp.full((8, ctrl.ctrl_steps, 1), 0.5)
    _, traj = jax.jit(ctrl.eval_rollouts)(task.model, state, controls, knots)
    return np.asarray(traj.costs.sum(axis=1))


def test_trajectory_sampling_gives_each_sample_one_member(ensemble):
    """Sample i follows member i mod M: equal controls, M distinct costs."""
    costs = _rollout_costs(ensemble[0], strategy="ts")
    for i in range(MEMBERS, 8):
        assert costs[i] == pytest.approx(costs[i % MEMBERS], rel=1e-5)
    assert len(np.unique(np.round(costs[:MEMBERS], 4))) == MEMBERS


def _planned_costs(
    path: Path, risk=None, domains: int = 1, **kwargs
) -> np.ndarray:
    """Every sample's per-step costs of one plan, (8, T + 1), as the
    controller scores them in a replanning (particles combined)."""
    _, ctrl, state = _planner(
        path, dynamics=kwargs, risk_strategy=risk, num_randomizations=domains
    )
    tk = jnp.linspace(0.0, 0.2, ctrl.num_knots)
    knots = jnp.full((8, ctrl.num_knots, 1), 0.5)
    rollout = jax.jit(ctrl.rollout_with_randomizations)
    traj = rollout(state, tk, knots, jax.random.key(0))
    assert traj.trace_sites.shape[:2] == (8, ctrl.ctrl_steps + 1)
    return np.asarray(traj.costs)


def test_members_strategy_scores_each_plan_under_every_member(ensemble):
    """``"members"``: each plan's costs combine all M members' rollouts
    with the controller's risk strategy (mean by default, or the worst),
    step by step."""
    each = _planned_costs(ensemble[0], strategy="ts")[:MEMBERS]
    assert len(np.unique(np.round(each.sum(axis=1), 4))) == MEMBERS
    mean = _planned_costs(ensemble[0], strategy="members")
    np.testing.assert_allclose(
        mean, np.broadcast_to(each.mean(0), mean.shape), rtol=1e-4, atol=1e-6
    )
    worst = _planned_costs(ensemble[0], WorstCase(), strategy="members")
    np.testing.assert_allclose(
        worst, np.broadcast_to(each.max(0), worst.shape), rtol=1e-4, atol=1e-6
    )
    assert worst.sum(axis=1).min() > mean.sum(axis=1).max() + 1.0
    # Two (identical) randomized domains: domains x members combine as one.
    both = _planned_costs(ensemble[0], WorstCase(), 2, strategy="members")
    np.testing.assert_allclose(both, worst, rtol=1e-5)


def test_a_single_model_ignores_the_members_strategy(tiny_model):
    one = _planned_costs(tiny_model[0], WorstCase(), strategy="members")
    np.testing.assert_array_equal(one, _planned_costs(tiny_model[0]))


def test_mean_strategy_and_disagreement_penalty(ensemble):
    plain = _rollout_costs(ensemble[0], strategy="mean")
    np.testing.assert_allclose(plain, plain[0], rtol=1e-6)
    penalized = _rollout_costs(
        ensemble[0], strategy="mean", disagreement_weight=10.0
    )
    assert np.all(penalized > plain + 1e-4)


@pytest.mark.parametrize("strategy", ["ts", "mean", "members"])
def test_bfloat16_recurrent_products_plan_the_same(ensemble, strategy):
    """``matmul_dtype="bfloat16"``: every sample's cost as in float32 up to
    bfloat16's rounding, but not bit for bit (the option acts); every
    member's particle for "members"."""
    costs = _planned_costs if strategy == "members" else _rollout_costs
    f32 = costs(ensemble[0], strategy=strategy)
    bf16 = costs(ensemble[0], strategy=strategy, matmul_dtype="bfloat16")
    assert not np.array_equal(f32, bf16)
    np.testing.assert_allclose(bf16, f32, rtol=3e-2)


def test_bfloat16_single_model_and_refusal(ensemble):
    """One model's predictions in bfloat16 stay close to float32's; the
    caller's network keeps float32; an unknown type is refused."""
    net, config = load_trained_model(ensemble[0], member=0)
    rng = np.random.default_rng(2)
    history = rng.normal(0, 0.1, (2, 4, 7)).astype(np.float32)
    state = rng.normal(0, 0.1, (2, 6)).astype(np.float32)
    controls = rng.normal(0, 0.3, (2, 20, 1)).astype(np.float32)
    preds = {
        dtype: np.asarray(
            NeuralNetworkDynamics(net, config, matmul_dtype=dtype).predict(
                history, state, controls
            )
        )
        for dtype in ("float32", "bfloat16")
    }
    assert net.gru.matmul_dtype == "float32"
    # Asking for float32 again resets a bfloat16 network's copy.
    again = NeuralNetworkDynamics(
        with_matmul_dtype([net], "bfloat16")[0], config
    )
    assert again.network.gru.matmul_dtype == "float32"
    np.testing.assert_array_equal(
        again.predict(history, state, controls), preds["float32"]
    )
    gap = np.abs(preds["bfloat16"] - preds["float32"])
    scale = np.abs(preds["float32"] - state[:, None]).max()
    assert 0 < gap.max() < 1e-2 * scale
    with pytest.raises(ValueError, match="matmul_dtype must be one of"):
        NeuralNetworkDynamics(net, config, matmul_dtype="float16")


def test_bfloat16_reaches_a_window_model(tiny_model):
    """Window mode (the GRU over each window, not the wide members): the
    traced prediction multiplies in bfloat16 only when asked, and stays
    close to float32's."""
    net, config = load_trained_model(tiny_model[0])
    assert net.mode == "window"
    rng = np.random.default_rng(3)
    args = (
        rng.normal(0, 0.1, (2, 4, 7)).astype(np.float32),
        rng.normal(0, 0.1, (2, 6)).astype(np.float32),
        rng.normal(0, 0.3, (2, 6, 1)).astype(np.float32),
    )
    out = {}
    for dtype in ("float32", "bfloat16"):
        dyn = NeuralNetworkDynamics(net, config, matmul_dtype=dtype)
        traced = str(jax.make_jaxpr(dyn.predict)(*args))
        assert ("bf16" in traced) == (dtype == "bfloat16")
        out[dtype] = np.asarray(dyn.predict(*args))
    scale = np.abs(out["float32"] - args[1][:, None]).max()
    assert 0 < np.abs(out["bfloat16"] - out["float32"]).max() < 1e-2 * scale


@pytest.mark.parametrize("strategy", ["ts", "mean", "members"])
def test_jitted_optimize_with_an_ensemble(ensemble, strategy):
    """``jax.jit(ctrl.optimize)`` plans on an ensemble, both strategies."""
    physics = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(
        physics.model,
        ensemble[0],
        strategy=strategy,
        disagreement_weight=float(strategy == "mean"),
    )
    task = DoubleCartPole(custom_dynamics=dyn)
    ctrl = default_controller(task, num_samples=8, plan_horizon=0.1)
    state = task.make_data().replace(qpos=jnp.array([0.0, jnp.pi - 0.05, 0.05]))
    row = jnp.concatenate([state.qpos, state.qvel, jnp.zeros(1)])
    history = jnp.tile(row, (dyn.history_length - 1, 1))
    jit_opt = jax.jit(ctrl.optimize)
    params = ctrl.init_params()
    for _ in range(2):
        params, rollouts = jit_opt(state, params, history)
    assert rollouts.costs.shape == (8, ctrl.ctrl_steps + 1)
    assert bool(jnp.all(jnp.isfinite(rollouts.costs)))
    own, _ = ctrl.optimize(state, ctrl.init_params(), history)
    again, _ = jit_opt(state, ctrl.init_params(), history)
    np.testing.assert_allclose(own.mean, again.mean, rtol=1e-5, atol=1e-6)


def test_num_models_flag():
    from hydrax.dynamics_model_training.training_cli import (
        train_parser,
        training_kwargs,
    )

    args = ["--data-dir", "d", "--task-name", "t"]
    parse = train_parser().parse_args
    assert training_kwargs(parse(args))["num_models"] == 1
    assert (
        training_kwargs(parse([*args, "--num-models", "5"]))["num_models"] == 5
    )
