"""Planning with the learned model in the MuJoCo plant (the whole loop)."""

import json

import numpy as np
import pytest
from mujoco import mjx

from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.simulation.collect import collect
from hydrax.simulation.controllers import default_controller, learned_task
from hydrax.simulation.trials import balance_trial
from hydrax.tasks.double_cart_pole import DoubleCartPole


@pytest.fixture(scope="module")
def upright_model(tmp_path_factory):
    """A recurrent GRU trained on LQR-stabilized logs around upright."""
    root = tmp_path_factory.mktemp("learned")
    data = collect(
        "double_cart_pole",
        out_dir=root / "data",
        episodes=150,
        duration=4.0,
        seed=0,
        policy="lqr",
        noise_std=0.5,
        init_spread=0.15,
        progress=False,
    )
    train_dynamics_model(
        data,
        "upright",
        hidden_size=128,
        history_length=6,
        prediction_horizon=10,
        num_epochs=4,
        learning_rate=3e-3,
        mode="recurrent",
        checkpoint_dir=root,
        progress=False,
        log=lambda s: None,
    )
    return root / "upright" / "best_model.pkl"


@pytest.fixture(scope="module")
def upright_ensemble(upright_model):
    """A 3-member ensemble trained like ``upright_model`` on its data."""
    root = upright_model.parent.parent
    train_dynamics_model(
        root / "data",
        "upright_ensemble",
        hidden_size=128,
        history_length=6,
        prediction_horizon=10,
        num_epochs=4,
        learning_rate=3e-3,
        mode="recurrent",
        num_models=3,
        checkpoint_dir=root,
        progress=False,
        log=lambda s: None,
    )
    return root / "upright_ensemble" / "best_model.pkl"


def test_learned_step_recomputes_kinematics(upright_model):
    """After a learned step the sites are where MJX kinematics puts them."""
    task = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(
        model=task.model, path=upright_model
    )
    state = mjx.kinematics(
        task.model,
        mjx.make_data(task.model).replace(
            qpos=np.array([0.3, np.pi + 0.1, -0.05], np.float32),
            qvel=np.array([0.2, -0.3, 0.1], np.float32),
        ),
    )
    carry = dyn.init_carry(task.model, state, None)
    nxt, _ = dyn.step(task.model, state, carry, np.array([0.5], np.float32))
    ref = mjx.kinematics(task.model, state.replace(qpos=nxt.qpos))
    np.testing.assert_allclose(nxt.site_xpos, ref.site_xpos, atol=1e-6)
    np.testing.assert_allclose(nxt.xpos, ref.xpos, atol=1e-6)
    assert not np.allclose(nxt.site_xpos, state.site_xpos)
    assert float(nxt.time) == pytest.approx(0.01)


@pytest.mark.slow
def test_learned_model_controller_balances(upright_model):
    """MPC planning on the learned model keeps the plant upright for 2 s."""
    physics = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(
        model=physics.model, path=upright_model
    )
    task = DoubleCartPole(custom_dynamics=dyn)
    result = balance_trial(task, default_controller(task), seed=0, duration=2.0)
    assert result.success, f"fell after {result.episode.duration:.2f} s"


def test_data_aggregation_round(upright_model, dcp_data, tmp_path):
    """One aggregation round logs episodes, fine-tunes, reports success."""
    import json

    from hydrax.dynamics_model_training.data_loader import DynamicsDataset
    from hydrax.simulation.aggregate import aggregate

    records = aggregate(
        "double_cart_pole",
        upright_model,
        dcp_data,
        iterations=1,
        episodes=2,
        duration=0.3,
        epochs=1,
        trials=1,
        out_dir=tmp_path,
        trial_duration=0.3,
    )
    assert [r["iteration"] for r in records] == [0, 1]
    assert all(0.0 <= r["success_rate"] <= 1.0 for r in records)
    # Seconds in the success set: at most the trial's 0.3 s (a balance
    # trial stops when it fails); the running cost is a real number.
    assert all(0.0 <= r["success_seconds"] <= 0.3 + 1e-9 for r in records)
    assert all(np.isfinite(r["mean_cost"]) for r in records)
    for r in records:  # a trial that succeeded was in the set throughout
        if r["success_rate"] == 1.0:
            assert r["success_seconds"] == pytest.approx(0.3)
    saved = json.loads((tmp_path / "aggregation.json").read_text())
    assert saved == json.loads(json.dumps(records))
    # The round's recipe, with the fine-tuning's rate as it ran.
    from hydrax.dynamics_model_training.checkpoint import read_checkpoint

    tuned = read_checkpoint(records[1]["checkpoint"])["config"]
    assert records[1]["learning_rate"] == pytest.approx(
        tuned["hyperparameters"]["learning_rate"]
    )
    assert (records[1]["epochs"], records[1]["episodes"]) == (1, 2)
    logs = tmp_path / "iter_1" / "data"
    assert len(list(logs.glob("*.csv"))) == 2
    ds = DynamicsDataset(
        logs,
        history_length=2,
        prediction_horizon=2,
        val_fraction=0.0,
        verbose=False,
    )
    assert ds.layout.angle_indices == (1, 2)  # from the written manifest
    assert (
        tmp_path / "iter_1" / "double_cart_pole_aggregate_1" / "best_model.pkl"
    ).exists()
    assert json.loads((tmp_path / "aggregation.json").read_text()) == records


def test_checkpoint_of_another_mjcf_is_refused(upright_model, tmp_path):
    """A task whose MJCF differs from the training data's is refused."""
    import mujoco

    from hydrax.task_base import Task, model_path

    physics = DoubleCartPole()
    dyn = NeuralNetworkDynamics.load_params(
        model=physics.model, path=upright_model
    )
    DoubleCartPole(custom_dynamics=dyn)  # the same MJCF: accepted
    edited = tmp_path / "edited.xml"
    xml = model_path("double_cart_pole").read_text()
    edited.write_text(xml.replace('mass="1"', 'mass="1.5"'))

    class Edited(Task):
        def running_cost(self, state, control):
            return 0.0

        def terminal_cost(self, state):
            return 0.0

    m = mujoco.MjModel.from_xml_path(str(edited))
    with pytest.raises(ValueError, match="another MJCF"):
        Edited(m, custom_dynamics=dyn, model_file=edited)


def test_swingup_aggregation_episodes_start_hanging(upright_model, tmp_path):
    """Aggregation for the swing-up trial logs whole episodes from hanging
    (no stop at the tip below the rail, where a swing-up starts), in a
    folder cleared of an earlier run's logs."""
    import polars as pl

    from hydrax.logs import read_manifest
    from hydrax.simulation.learned_episodes import collect_with_model

    for stale in ("episode_00000.csv", "episode_00003.csv"):  # a longer run
        (tmp_path / stale).write_text("an earlier run's log\n")
    collect_with_model(
        "double_cart_pole",
        upright_model,
        tmp_path,
        episodes=1,
        duration=0.2,
        noise_std=0.1,
        seed=0,
        trial="swingup",
    )
    # Only this run's log stays, for the next training round to read.
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == [
        "episode_00000.csv"
    ]
    assert read_manifest(tmp_path).episodes == 1
    log = pl.read_csv(tmp_path / "episode_00000.csv")
    assert log.height == 20
    assert abs(log["qpos_1"][0]) <= 0.05 and abs(log["qpos_2"][0]) <= 0.05
    assert log["qvel_0"][0] == 0.0


def test_aggregation_episodes_end_at_the_rail():
    """Logged episodes end where collect's do: a cart at the rail's end or
    a non-finite state, and (balance only) a tip below the rail."""
    import mujoco

    from hydrax.simulation.learned_episodes import episode_end
    from hydrax.tasks import get_task

    task = get_task("double_cart_pole")
    m = task.mj_model
    data = mujoco.MjData(m)
    lo, hi = m.jnt_range[m.joint("slider").id]
    upright = task.goal()[0]  # qpos = 0 hangs

    def at(qpos, qvel=(0.0, 0.0, 0.0)):
        data.qpos[:], data.qvel[:] = qpos, qvel
        mujoco.mj_forward(m, data)
        return data

    for trial in ("balance", "swingup"):
        stop = episode_end(task, trial)
        assert not stop(at(upright + [0.5 * hi, 0, 0]))  # mid-rail
        assert stop(at(upright + [lo, 0, 0]))
        assert stop(at(upright + [hi, 0, 0]))
        assert stop(at(upright, [0.0, np.nan, 0.0]))
        assert stop(at([0.5 * lo, 0.0, 0.0])) == (trial == "balance")
    hopper = get_task("hopper")  # its slides have no limits
    data = mujoco.MjData(hopper.mj_model)
    data.qpos[0] = 1e3
    mujoco.mj_forward(hopper.mj_model, data)
    assert not episode_end(hopper, "swingup")(data)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ts", "mean"])
def test_ensemble_controller_balances(upright_ensemble, strategy):
    """MPC planning on a 3-member ensemble keeps the plant upright for 2 s."""
    weight = 0.1 if strategy == "mean" else 0.0
    task = learned_task("double_cart_pole", upright_ensemble, strategy, weight)
    dyn = task.dynamics
    assert (dyn.num_models, dyn.strategy) == (3, strategy)
    assert dyn.disagreement_weight == weight
    result = balance_trial(task, default_controller(task), seed=0, duration=2.0)
    assert result.success, f"fell after {result.episode.duration:.2f} s"


def test_closed_loop_cli_refuses_a_negative_disagreement_weight(
    upright_ensemble, tmp_path, capsys
):
    """The closed-loop command names the bad parameter and writes nothing."""
    from hydrax.simulation.closed_loop import main

    code = main(
        [
            "--dynamics",
            "learned",
            "--checkpoint",
            str(upright_ensemble),
            "--disagreement-weight",
            "-1",
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "--disagreement-weight must be >= 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_closed_loop_cli_refuses_what_it_would_ignore_or_cannot_pass(
    tmp_path, capsys
):
    """Learned-model flags without --dynamics learned are refused, and so
    is a balance trial of a task whose success needs a distance (it would
    fail every trial at its first step); nothing is written."""
    from hydrax.simulation.closed_loop import main

    out = ["--output-dir", str(tmp_path / "cl")]
    with pytest.raises(SystemExit) as done:
        main(["--dynamics", "true", "--checkpoint", "x.pkl", *out])
    assert done.value.code == 2
    assert (
        "--checkpoint: only for --dynamics learned" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main(["--dynamics", "true", "--matmul-dtype", "bfloat16", *out])
    assert "--matmul-dtype: only for" in capsys.readouterr().err
    assert main(["--task", "hopper", "--dynamics", "true", *out]) == 2
    err = capsys.readouterr().err
    assert "Hopper's balance trial cannot pass" in err
    assert "or --target-distance 0, where success means 'did not fall'" in err
    with pytest.raises(SystemExit):
        main(["--target-distance", "0", "--dynamics", "true", *out])
    assert "double_cart_pole has no target distance" in capsys.readouterr().err
    assert not (tmp_path / "cl").exists()
    from hydrax.simulation.trials import check_trial
    from hydrax.tasks import get_task

    check_trial(get_task("hopper", target_distance=0.0), "balance")


def test_aggregation_plans_with_the_disagreement_weight(
    upright_ensemble, dcp_data, tmp_path, capsys, monkeypatch
):
    """aggregate's episodes and trials plan as told (the ensemble's mean
    plus the weighted disagreement, or another strategy and the
    controller's overrides); a negative weight is refused before any
    work."""
    from hydrax.simulation import aggregate as agg
    from hydrax.simulation.controllers import (
        LearnedPlanning,
        learned_controller,
    )

    task, controller = learned_controller(
        "double_cart_pole",
        upright_ensemble,
        "balance",
        LearnedPlanning(disagreement_weight=0.5, overrides={"num_samples": 8}),
    )
    assert task.dynamics.strategy == "mean"
    assert task.dynamics.disagreement_weight == 0.5
    assert controller.num_samples == 8
    seen = []

    def trial_scores(*args):
        seen.append(("trials", args[-2]))
        return {"success_rate": 1.0, "success_seconds": 1.0, "mean_cost": 0.0}

    def collect_with_model(*args):
        seen.append(("episodes", args[-2]))
        return tmp_path

    monkeypatch.setattr(agg, "trial_scores", trial_scores)
    monkeypatch.setattr(agg, "collect_with_model", collect_with_model)
    monkeypatch.setattr(agg, "fine_tune", lambda *a, **k: upright_ensemble)
    agg.aggregate(
        "double_cart_pole", upright_ensemble, dcp_data, iterations=1,
        out_dir=tmp_path / "out", disagreement_weight=2.0,
    )  # fmt: skip
    weighted = LearnedPlanning(disagreement_weight=2.0)
    assert seen == [("trials", weighted), ("episodes", weighted)] + [
        ("trials", weighted)
    ]
    seen.clear()  # the command line: strategy and planner settings
    assert agg.main(
        [
            "--checkpoint", str(upright_ensemble), "--data-dir", str(dcp_data),
            "--iterations", "1", "--strategy", "ts", "--num-samples", "16",
            "--output-dir", str(tmp_path / "cli"),
        ]
    ) == 0  # fmt: skip
    told = LearnedPlanning("ts", overrides={"num_samples": 16})
    assert [p for _, p in seen] == [told] * 3
    record = json.loads((tmp_path / "cli" / "aggregation.json").read_text())
    assert record[-1]["strategy"] == "ts"
    assert record[-1]["planner"]["num_samples"] == 16  # as run
    assert record[-1]["planner"]["iterations"] == 2  # the planner's own
    monkeypatch.undo()  # the real rounds: the weight refused on loading
    for bad in ("-1", "nan"):
        code = agg.main(
            [
                "--checkpoint", str(upright_ensemble),
                "--data-dir", str(dcp_data), "--disagreement-weight", bad,
                "--output-dir", str(tmp_path / "x"),
            ]
        )  # fmt: skip
        assert code == 2
        assert "--disagreement-weight must be >= 0" in capsys.readouterr().err
        assert not (tmp_path / "x").exists()


def test_aggregation_of_a_hopper_takes_its_targets(
    tmp_path, capsys, monkeypatch
):
    """A hopper's balance aggregation is refused before any output, as its
    success needs 1 m travelled; with --target-distance 0 (and
    --target-velocity 0: stand) every round's episodes and trials plan on
    the task with those targets, and a task without them refuses the
    flags."""
    from hydrax.dynamics_model_training.train import train_dynamics_model
    from hydrax.simulation import aggregate as agg
    from hydrax.simulation.collect import collect

    data = collect(
        "hopper", tmp_path / "data", episodes=3, duration=0.2,
        policy="random", progress=False,
    )  # fmt: skip
    train_dynamics_model(
        data, "hopper", hidden_size=8, history_length=2,
        prediction_horizon=2, num_epochs=1, checkpoint_dir=tmp_path / "ck",
        progress=False, log=lambda s: None,
    )  # fmt: skip
    ckpt = tmp_path / "ck" / "hopper" / "best_model.pkl"
    out = ["--output-dir", str(tmp_path / "out")]
    common = ["--task", "hopper", "--checkpoint", str(ckpt), "--data-dir"]
    assert agg.main([*common, str(data), *out]) == 2
    assert "balance trial cannot pass" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    seen = []

    def trial_scores(*args):
        seen.append(("trials", args[-1]))
        return {"success_rate": 1.0, "success_seconds": 1.0, "mean_cost": 0.0}

    def collect_with_model(*args):
        seen.append(("episodes", args[-1]))
        return data

    monkeypatch.setattr(agg, "trial_scores", trial_scores)
    monkeypatch.setattr(agg, "collect_with_model", collect_with_model)
    monkeypatch.setattr(agg, "fine_tune", lambda *a, **k: ckpt)
    flag = ["--target-distance", "0", "--iterations", "1"]
    flag += ["--target-velocity", "0"]
    assert agg.main([*common, str(data), *flag, *out]) == 0
    stand = {"target_distance": 0.0, "target_velocity": 0.0}
    assert seen == [("trials", stand), ("episodes", stand), ("trials", stand)]
    records = json.loads((tmp_path / "out" / "aggregation.json").read_text())
    assert records[-1]["target_distance"] == 0.0
    assert records[-1]["target_velocity"] == 0.0
    code = agg.main(["--data-dir", str(data), *flag, *out])
    assert code == 2
    assert (
        "--target-distance: double_cart_pole has no target distance"
        in capsys.readouterr().err
    )
    for bad in ("-1", "nan"):
        flag = ["--target-distance", bad]
        assert agg.main([*common, str(data), *flag, *out]) == 2
        assert (
            "--target-distance must be a finite number >= 0"
            in capsys.readouterr().err
        )
    flag = ["--target-velocity", "inf"]
    assert agg.main([*common, str(data), *flag, *out]) == 2
    err = capsys.readouterr().err
    assert "--target-velocity must be a finite number, got inf" in err


def test_task_arguments_are_the_tasks_own():
    """The walker keeps a target velocity but takes none: refused by name."""
    from hydrax.simulation.trials import task_arguments

    assert task_arguments("quadruped", 0.0, 0.0) == {
        "target_distance": 0.0,
        "target_velocity": 0.0,
    }
    assert task_arguments("hopper", target_velocity=-0.1) == {
        "target_velocity": -0.1
    }
    with pytest.raises(ValueError, match="walker has no target velocity"):
        task_arguments("walker", target_velocity=0.0)


def test_strategy_flags_offer_every_strategy():
    """The commands list the strategies and matmul types literally
    (hydrax.planning_options, so --help loads no flax); they must stay the
    planner's own lists."""
    from hydrax.demo import _parser as demo_parser
    from hydrax.dynamics.nn_dynamics import STRATEGIES
    from hydrax.dynamics_model_training.gru import MATMUL_DTYPES
    from hydrax.planning_options import (
        MATMUL_DTYPE_CHOICES,
        STRATEGY_CHOICES,
    )
    from hydrax.simulation.compare import build_parser

    assert sorted(STRATEGY_CHOICES) == sorted(STRATEGIES)
    assert sorted(MATMUL_DTYPE_CHOICES) == sorted(MATMUL_DTYPES)
    for parser in (demo_parser(), build_parser()):
        for dest, choices in (
            ("strategy", STRATEGIES),
            ("matmul_dtype", MATMUL_DTYPES),
        ):
            (action,) = [a for a in parser._actions if a.dest == dest]
            assert sorted(action.choices) == sorted(choices)
            assert action.default in choices


def test_demo_refuses_a_duration_shorter_than_a_step(tmp_path, capsys):
    """An argparse error naming the option, before anything is written."""
    from hydrax.demo import main as demo_main

    with pytest.raises(SystemExit) as done:
        demo_main(["--data-dir", str(tmp_path / "d"), "--duration", "-2"])
    assert done.value.code == 2
    assert "duration must be >= the timestep 0.01" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_demo_ctrl_c_says_what_it_leaves_and_exits_130(
    dcp_data, tmp_path, monkeypatch, capsys
):
    """Ctrl-C in the demo's collection or training: one line saying what is
    on disk (no resume hint: the demo does not resume), exit code 130."""
    from hydrax.demo import main as demo_main
    from hydrax.dynamics_model_training import train
    from hydrax.dynamics_model_training.trainer import TrainingInterrupted
    from hydrax.simulation import collection

    def stopped(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(collection, "_run_episodes", stopped)
    out = tmp_path / "d"
    assert demo_main(["--data-dir", str(out), "--episodes", "2"]) == 130
    err = capsys.readouterr().err
    assert err.endswith(
        "interrupted; no episode was complete: nothing was written\n"
    )
    assert not out.exists()
    for where, said in (
        (None, "no checkpoint was written yet"),
        (tmp_path, f"the checkpoints in {tmp_path} hold the last good model"),
    ):

        def interrupted(*args: object, where: object = where, **kw: object):
            stop = TrainingInterrupted("training interrupted; resume=True")
            stop.checkpoint_dir = where
            raise stop

        monkeypatch.setattr(train, "train_dynamics_model", interrupted)
        assert demo_main(["--data-dir", str(dcp_data)]) == 130
        err = capsys.readouterr().err
        assert err.splitlines()[-1].endswith(f"interrupted; {said}")
        assert "resume" not in err


def test_demo_reuses_any_logs_and_collects_over_a_stale_manifest(
    dcp_data, tmp_path, capsys
):
    """A folder of Parquet logs is reused; one holding only a manifest (no
    logs to lose) is collected into, not refused with --overwrite advice."""
    import shutil

    from hydrax.demo import _collect_stage, _parser
    from hydrax.dynamics_model_training.convert import convert_logs

    stale = tmp_path / "stale"
    stale.mkdir()
    shutil.copy(dcp_data / "manifest.json", stale)
    argv = ["--data-dir", str(stale), "--episodes", "2", "--duration", "0.1"]
    _collect_stage(_parser().parse_args(argv))
    assert len(list(stale.glob("episode_*.csv"))) == 2
    pq = tmp_path / "pq"
    convert_logs(dcp_data, pq, progress=False)
    capsys.readouterr()
    _collect_stage(_parser().parse_args(["--data-dir", str(pq)]))
    assert "reusing the logs" in capsys.readouterr().out
    assert not list(pq.glob("*.csv"))


def test_an_earlier_runs_logs_go_only_once_a_new_log_is_written(
    tmp_path, capsys
):
    """A run that fails before its first log leaves the earlier run's
    logs and manifest; its first log replaces them, itself kept."""
    from hydrax.simulation.run_logs import RunLogs

    for name in ("seed_000.csv", "seed_005.csv", "manifest.json", "x.txt"):
        (tmp_path / name).write_text("earlier")
    logs = RunLogs(tmp_path, "seed_*.csv")
    assert len(list(tmp_path.iterdir())) == 4  # nothing written: all kept
    (tmp_path / "seed_000.csv").write_text("new")
    logs.wrote(tmp_path / "seed_000.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "seed_000.csv",
        "x.txt",
    ]
    assert (tmp_path / "seed_000.csv").read_text() == "new"
    assert "cleared the 2 logs of an earlier run" in capsys.readouterr().out
    (tmp_path / "seed_001.csv").write_text("new")
    logs.wrote(tmp_path / "seed_001.csv")
    assert len(list(tmp_path.glob("seed_*.csv"))) == 2
    RunLogs(tmp_path / "absent", "seed_*.csv").wrote(tmp_path / "absent" / "a")


def test_a_summary_without_an_upright_time_is_valid_json(tmp_path):
    """A trial that never stayed upright has a null time, not NaN (which
    strict JSON readers refuse); a task without a tip is plotted by its
    running cost, two failures alike included."""
    import json
    from types import SimpleNamespace

    from hydrax.simulation.closed_loop_plot import plot_conditions
    from hydrax.simulation.compare import ConditionSummary
    from hydrax.simulation.loop import Episode
    from hydrax.simulation.trials import TrialResult

    z = np.zeros((1, 1))
    episode = Episode(
        dt=0.01, times=np.zeros(1), qpos=z, qvel=z, ctrl=z,
        site_xpos=np.zeros((1, 1, 3)), final_qpos=z[0], final_qvel=z[0],
        final_site_xpos=np.zeros((1, 3)), replan_seconds=np.ones(1),
    )  # fmt: skip
    summary = ConditionSummary(
        "true",
        [TrialResult(False, episode, 0), TrialResult(True, episode, 1)],
        costs=[1.0, float("inf")],
        upright_times=[float("nan"), 0.5],
    )
    text = json.dumps(summary.as_dict(), allow_nan=False)
    assert json.loads(text)["time_to_upright"] == [None, 0.5]
    assert json.loads(text)["costs"] == [1.0, None]
    failures = ConditionSummary(
        "learned",
        [TrialResult(False, episode, 0), TrialResult(False, episode, 1)],
        step_costs=[np.ones(1), 2 * np.ones(1)],
    )
    import mujoco

    slide = SimpleNamespace(  # no tip: the running cost is plotted
        mj_model=SimpleNamespace(jnt_type=[mujoco.mjtJoint.mjJNT_SLIDE])
    )
    plot_conditions(slide, [failures], tmp_path / "p.png", "x")
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("name", "height"),
    [("pendulum", 0.9), ("cart_pole", 0.9), ("double_cart_pole", 1.8)],
)
def test_the_plots_upright_line_is_the_tasks_success_height(
    name, height, tmp_path, monkeypatch
):
    """The dashed line is where success() counts the tip upright (it was
    1.8 m for every task, twice the pendulum's and the cart pole's reach)."""
    from matplotlib.axes import Axes

    from hydrax.simulation.closed_loop_plot import plot_conditions
    from hydrax.simulation.compare import ConditionSummary
    from hydrax.simulation.loop import Episode
    from hydrax.simulation.trials import TrialResult
    from hydrax.tasks import get_task

    task = get_task(name)
    sites = np.zeros((2, task.mj_model.nsite, 3))
    sites[:, task.tip_id, 2] = height + 0.01
    assert task.success(np.zeros(task.mj_model.nq), sites[0])
    sites[:, task.tip_id, 2] = height - 0.01
    assert not task.success(np.zeros(task.mj_model.nq), sites[0])
    z = np.zeros((2, task.mj_model.nq))
    episode = Episode(
        dt=0.01, times=np.arange(2) * 0.01, qpos=z, qvel=z, ctrl=z[:, :1],
        site_xpos=sites, final_qpos=z[0], final_qvel=z[0],
        final_site_xpos=sites[0], replan_seconds=np.ones(1),
    )  # fmt: skip
    lines = []
    monkeypatch.setattr(Axes, "axhline", lambda ax, y=0, **kw: lines.append(y))
    summary = ConditionSummary("true", [TrialResult(False, episode, 0)])
    plot_conditions(task, [summary], tmp_path / "p.png", "swingup")
    assert lines == [height]


def test_closed_loop_summary_records_what_planned(tiny_model, tmp_path):
    """summary.json holds the planner's settings as run and the learned
    model's checkpoint and strategy, so a result can be reproduced."""
    from hydrax.simulation.closed_loop import main

    out = tmp_path / "cl"
    folder = out / "double_cart_pole" / "balance"
    (folder / "true").mkdir(parents=True)  # an earlier run of both models
    (folder / "true" / "seed_000.csv").write_text("earlier")
    earlier = [{"dynamics": "true", "seeds": [7]}, {"dynamics": "learned"}]
    (folder / "summary.json").write_text(json.dumps(earlier))
    args = ["--dynamics", "learned", "--checkpoint", str(tiny_model[0])]
    args += ["--episodes", "1", "--num-samples", "8", "--plan-horizon", "0.2"]
    assert main([*args, "--no-progress", "--output-dir", str(out)]) == 0
    # The model not rerun keeps its logs and, beside them, its record.
    kept, record = json.loads((folder / "summary.json").read_text())
    assert kept == earlier[0]
    assert (folder / "true" / "seed_000.csv").read_text() == "earlier"
    assert record["planner"]["num_samples"] == 8
    assert record["planner"]["plan_horizon"] == pytest.approx(0.2)
    assert record["planner"]["controller"] == "PredictiveSampling"
    assert record["checkpoint"] == str(tiny_model[0])
    assert record["strategy"] == "mean" and record["seeds"] == [0]


def test_ctrl_c_in_the_closed_loop_leaves_a_consistent_folder(
    tmp_path, monkeypatch, capsys
):
    """Ctrl-C in a rerun's second trial: the first trial's log is there
    with its manifest, summary.json and the plot record just that trial
    (not the earlier run's seeds, whose logs were replaced), exit 130."""
    import json
    import os
    import signal

    from hydrax.simulation import compare
    from hydrax.simulation.closed_loop import main

    args = ["--task", "pendulum", "--dynamics", "true", "--output-dir",
            str(tmp_path), "--no-progress", "--num-samples", "8"]  # fmt: skip
    assert main([*args, "--episodes", "2", "--seed", "10"]) == 0
    real = compare.run_trial

    def interrupted_at_21(trial, task, controller, seed, **kw):
        if seed == 21:  # a real SIGINT, as Ctrl-C sends, mid-run
            os.kill(os.getpid(), signal.SIGINT)
        return real(trial, task, controller, seed, **kw)

    monkeypatch.setattr(compare, "run_trial", interrupted_at_21)
    assert main([*args, "--episodes", "3", "--seed", "20"]) == 130
    said = capsys.readouterr().err
    assert "interrupted; " in said and "true model's 1 trial" in said
    folder = tmp_path / "pendulum" / "balance"
    assert sorted(p.name for p in (folder / "true").iterdir()) == [
        "manifest.json",
        "seed_020.csv",
    ]
    manifest = json.loads((folder / "true" / "manifest.json").read_text())
    assert manifest["episodes"] == 1 and manifest["rows"] == 500
    (record,) = json.loads((folder / "summary.json").read_text())
    assert record["seeds"] == [20] and record["interrupted"] is True
    assert (folder / "closed_loop.png").stat().st_size > 0


def test_ctrl_c_while_a_trial_is_scored_writes_neither_log_nor_record(
    tmp_path, monkeypatch, capsys
):
    """Ctrl-C after a trial ran, while its cost is computed (the first
    call compiles): its log is not written, the earlier run's stay, and
    the folder is as it was; Ctrl-C before any model is built exits 130."""
    import json

    from hydrax.simulation import compare
    from hydrax.simulation.closed_loop import main

    args = ["--task", "pendulum", "--dynamics", "true", "--output-dir",
            str(tmp_path), "--no-progress", "--num-samples", "8"]  # fmt: skip
    assert main([*args, "--episodes", "1", "--seed", "3"]) == 0
    folder = tmp_path / "pendulum" / "balance"
    before = sorted(p.name for p in (folder / "true").iterdir())

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "running_costs", interrupted)
    assert main([*args, "--episodes", "1", "--seed", "7"]) == 130
    assert "no trial finished" in capsys.readouterr().err
    assert sorted(p.name for p in (folder / "true").iterdir()) == before
    (record,) = json.loads((folder / "summary.json").read_text())
    assert record["seeds"] == [3]
    monkeypatch.setattr("hydrax.tasks.get_task", interrupted)
    assert main(args) == 130  # not an UnboundLocalError


def test_ctrl_c_while_the_results_are_written_writes_both(
    tmp_path, monkeypatch, capsys
):
    """Ctrl-C while the plot is drawn: summary.json and closed_loop.png
    both describe this run's trial, then one line and exit 130."""
    import json
    import os
    import signal

    from hydrax.simulation import compare_results
    from hydrax.simulation.closed_loop import main

    real = compare_results.plot_conditions

    def interrupted(*a, **k):
        os.kill(os.getpid(), signal.SIGINT)
        return real(*a, **k)

    monkeypatch.setattr(compare_results, "plot_conditions", interrupted)
    args = ["--task", "pendulum", "--dynamics", "true", "--output-dir",
            str(tmp_path), "--no-progress", "--num-samples", "8",
            "--episodes", "1", "--seed", "7"]  # fmt: skip
    assert main(args) == 130
    assert "interrupted; " in capsys.readouterr().err
    folder = tmp_path / "pendulum" / "balance"
    (record,) = json.loads((folder / "summary.json").read_text())
    assert record["seeds"] == [7]
    assert (folder / "closed_loop.png").stat().st_size > 0
