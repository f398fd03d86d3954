"""Asynchronous simulation: the plant in a spawned process, in real time."""

from __future__ import annotations

import copy
import multiprocessing as mp
import threading

import mujoco
import numpy as np
import pytest

from hydrax.simulation.asynchronous import (
    SharedMemoryMujocoData,
    SharedMemoryNumpyArray,
    run_interactive,
    run_simulator,
)


def _write_four(shared: SharedMemoryNumpyArray) -> None:
    shared[0] = 4.0


def test_a_shared_array_written_in_another_process_is_seen_here():
    """Upstream's shared array round trip, run by the suite (upstream's is
    manual: its shared memory could be freed under pytest)."""
    ctx = mp.get_context("spawn")
    original = np.array([0.0, 1.0, 2.0, 3.0])
    shared = SharedMemoryNumpyArray(original, ctx)
    proc = ctx.Process(target=_write_four, args=(shared,))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == 0
    assert shared[0] == 4.0 and original[0] == 0.0
    np.testing.assert_array_equal(shared[1:], original[1:])


def test_the_simulator_applies_the_plans_row_for_its_time_and_keeps_history():
    """A plan published from t0 = -0.05 s with a different action per step:
    each plant step applies the row for its own time (from row 5; not a
    held first action), and the shared history holds the last rows
    measured, as a learned model reads them."""
    from hydrax.tasks.pendulum import Pendulum

    ctx = mp.get_context("spawn")
    m = Pendulum().mj_model
    d = mujoco.MjData(m)
    shm = SharedMemoryMujocoData(d, ctx, m.opt.timestep, 3, plan_rows=30)
    shm.plan[:, 0] = np.linspace(-1.0, 1.0, 30)
    shm.plan_start[0] = -0.05
    ready, finished = ctx.Event(), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    ready.set()
    proc = ctx.Process(
        target=run_simulator,
        args=(m, d, shm, ready, finished, 0.2, send),
        kwargs={"headless": True},
    )
    proc.start()
    send.close()
    assert receive.poll(120), "the simulator sent nothing"
    rows, final = receive.recv()
    proc.join(timeout=60)
    assert proc.exitcode == 0 and finished.is_set()
    assert len(rows) == 20
    applied = np.array([r[3][0] for r in rows])
    np.testing.assert_allclose(applied, np.linspace(-1, 1, 30)[5:25])
    last = np.array([np.concatenate([r[1], r[2], r[3]]) for r in rows[-3:]])
    np.testing.assert_allclose(shm.history[...], last, rtol=1e-6, atol=1e-6)
    # The shared state is the one after the last step.
    assert shm.time[0] == pytest.approx(0.2)
    replay = mujoco.MjData(m)
    for r in rows:
        replay.ctrl[:] = r[3]
        mujoco.mj_step(m, replay)
    np.testing.assert_allclose(shm.qpos[:], replay.qpos)
    np.testing.assert_allclose(final.qpos, replay.qpos)


def test_asynchronous_mpc_balances_the_pendulum_in_real_time(capsys):
    """Headless and real time: the controller in this process, the plant
    in another; it brings the pendulum from 0.5 rad off upright to within
    0.2 rad in 2 s, where no control lets it fall (it reached 0.02 rad,
    replanning every 6 ms)."""
    from hydrax.algs import PredictiveSampling
    from hydrax.tasks.pendulum import Pendulum

    task = Pendulum()
    ctrl = PredictiveSampling(
        task, num_samples=32, noise_level=0.3, plan_horizon=0.5
    )
    m = task.mj_model
    d = mujoco.MjData(m)
    d.qpos[0] = np.pi - 0.5
    fallen = mujoco.MjData(m)
    fallen.qpos[0] = np.pi - 0.5
    for _ in range(200):
        mujoco.mj_step(m, fallen)
    assert abs(fallen.qpos[0] - np.pi) > 1.0
    run = run_interactive(ctrl, m, d, duration=2.0)
    assert len(run.times) == 200 and len(run.plan_seconds) >= 3
    assert abs(run.qpos[-1, 0] - np.pi) < 0.2
    assert d.time == pytest.approx(2.0)  # mj_data ends at the final state
    out = capsys.readouterr().out
    assert "No display: running headless" in out
    assert "Simulated 2.00 s in" in out


def test_a_learned_model_plans_asynchronously_and_needs_the_plants_dt(
    tiny_model,
):
    """A learned model conditions on the history the simulator measures;
    a plant of another timestep is refused before anything starts."""
    from hydrax.algs import PredictiveSampling
    from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics
    from hydrax.simulation.asynchronous import run_controller
    from hydrax.tasks.double_cart_pole import DoubleCartPole

    true_task = DoubleCartPole()
    learned = NeuralNetworkDynamics.load_params(
        model=true_task.model, path=tiny_model[0]
    )
    task = DoubleCartPole(custom_dynamics=learned)
    ctrl = PredictiveSampling(
        task, num_samples=8, noise_level=0.3, plan_horizon=0.2
    )
    m = task.mj_model
    run = run_interactive(
        ctrl, m, mujoco.MjData(m), duration=0.3, verbose=False
    )
    assert len(run.times) == 30 and run.plan_seconds
    assert np.all(np.isfinite(run.qpos)) and np.any(run.ctrl != 0)
    # Upstream's pattern, the shared state made without history rows:
    # refused, with the argument to pass.
    ctx = mp.get_context("spawn")
    bare = SharedMemoryMujocoData(mujoco.MjData(m), ctx)
    with pytest.raises(ValueError, match=r"history_rows=\d+\)"):
        run_controller(ctrl, bare, ctx.Event(), ctx.Event())
    other = copy.deepcopy(m)
    other.opt.timestep = 0.005
    with pytest.raises(ValueError, match="plant's timestep 0.005 s differs"):
        run_interactive(ctrl, other, mujoco.MjData(other), duration=0.1)


_UNGUARDED = """
import mujoco
from hydrax.algs import PredictiveSampling
from hydrax.simulation.asynchronous import run_interactive
from hydrax.tasks.pendulum import Pendulum

task = Pendulum()
ctrl = PredictiveSampling(task, num_samples=8, noise_level=0.3)
run_interactive(ctrl, task.mj_model, mujoco.MjData(task.mj_model), duration=1)
"""


def test_a_script_without_a_main_guard_fails_with_a_hint(tmp_path):
    """The spawned simulator imports the script and fails at once; the
    caller used to wait forever writing it a start-up message larger than
    a pipe holds, and now says what to do."""
    import subprocess
    import sys

    from hydrax import ROOT

    script = tmp_path / "unguarded.py"
    script.write_text(_UNGUARDED)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PYTHONPATH": str(ROOT.parent), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert 'needs an `if __name__ == "__main__":` guard' in proc.stderr


def test_a_pickled_controller_replans_in_a_spawned_process():
    """Upstream's pattern: ``run_controller`` as the target of a spawned
    process, the controller pickled into it (its compiled function is not
    pickled; the child compiles its own). It publishes a plan and a
    control before ``ready`` and stops when ``finished`` is set."""
    from hydrax.algs import PredictiveSampling
    from hydrax.simulation.asynchronous import run_controller
    from hydrax.tasks.pendulum import Pendulum

    ctx = mp.get_context("spawn")
    task = Pendulum()
    ctrl = PredictiveSampling(task, num_samples=8, noise_level=0.3)
    m = task.mj_model
    shm = SharedMemoryMujocoData(mujoco.MjData(m), ctx)
    assert shm.ctrl[0] == 0.0
    ready, finished = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=run_controller, args=(ctrl, shm, ready, finished))
    proc.start()
    assert ready.wait(300), "the controller did not publish a first plan"
    finished.set()
    proc.join(timeout=120)
    assert proc.exitcode == 0
    assert shm.ctrl[0] != 0.0 and np.isfinite(shm.plan_start[0])


def test_the_simulator_runs_headless_without_a_display(monkeypatch):
    """``run_simulator`` called as upstream does (no headless, no
    duration): without a display it runs headless for
    ``HYDRAX_HEADLESS_DURATION`` seconds, applying the shared control
    (no plan published), and sets ``finished``."""
    from hydrax.tasks.pendulum import Pendulum

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("HYDRAX_HEADLESS_DURATION", "0.1")
    ctx = mp.get_context("spawn")
    m = Pendulum().mj_model
    d = mujoco.MjData(m)
    shm = SharedMemoryMujocoData(d, ctx)
    shm.ctrl[0] = 1.0
    ready, finished = ctx.Event(), ctx.Event()
    ready.set()
    proc = ctx.Process(target=run_simulator, args=(m, d, shm, ready, finished))
    proc.start()
    proc.join(timeout=300)
    assert proc.exitcode == 0 and finished.is_set()
    assert shm.time[0] == pytest.approx(0.1)
    replay = mujoco.MjData(m)
    for _ in range(10):
        replay.ctrl[0] = 1.0
        mujoco.mj_step(m, replay)
    np.testing.assert_allclose(shm.qpos[:], replay.qpos)


def _die_holding(shm: SharedMemoryMujocoData) -> None:
    import os
    import signal

    shm.lock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_simulator_killed_holding_the_lock_stops_the_controller():
    """A process killed while it holds the shared lock never releases it;
    the controller notices the process is gone and raises instead of
    waiting for good."""
    from hydrax.algs import PredictiveSampling
    from hydrax.simulation.asynchronous import run_controller
    from hydrax.tasks.pendulum import Pendulum

    ctx = mp.get_context("spawn")
    task = Pendulum()
    shm = SharedMemoryMujocoData(mujoco.MjData(task.mj_model), ctx)
    proc = ctx.Process(target=_die_holding, args=(shm,))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == -9
    ctrl = PredictiveSampling(task, num_samples=4, noise_level=0.3)
    ready, finished = ctx.Event(), ctx.Event()
    raised: list[BaseException] = []

    def control() -> None:  # in a thread: a regression hangs, not the suite
        try:
            run_controller(ctrl, shm, ready, finished, simulator=proc)
        except BaseException as err:
            raised.append(err)

    thread = threading.Thread(target=control, daemon=True)
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive(), "the controller waits on a dead lock"
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError)
    assert "the simulator process ended" in str(raised[0])
    assert not ready.is_set()


def _start_a_simulator_and_die(m, shm, ready, finished, pid) -> None:
    import os
    import signal

    sim = mp.get_context("spawn").Process(
        target=run_simulator,
        args=(m, mujoco.MjData(m), shm, ready, finished, 100.0),
        kwargs={"headless": True},
    )
    sim.start()
    pid.send(sim.pid)
    os.kill(os.getpid(), signal.SIGKILL)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def test_a_simulator_whose_starter_is_killed_stops():
    """The process that started the simulator is killed (SIGKILL, before
    any plan: no daemon clean-up runs): the simulator, waiting for
    ``ready``, stops instead of living on as an orphan."""
    import time

    from hydrax.tasks.pendulum import Pendulum

    ctx = mp.get_context("spawn")
    m = Pendulum().mj_model
    shm = SharedMemoryMujocoData(mujoco.MjData(m), ctx)
    ready, finished = ctx.Event(), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    starter = ctx.Process(
        target=_start_a_simulator_and_die,
        args=(m, shm, ready, finished, send),
    )
    starter.start()
    assert receive.poll(120), "the starter sent no pid"
    pid = receive.recv()
    starter.join(timeout=120)
    assert starter.exitcode == -9
    for _ in range(600):  # up to 60 s; it checks every 0.1 s
        if _gone(pid):
            break
        time.sleep(0.1)
    assert _gone(pid), "the simulator lives on without its starter"
