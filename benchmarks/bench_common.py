"""What the benchmarks share: timing rates, the replanning bench, sizes.

Rates are the best of a few rounds of at least ``seconds`` each, the rounds
of a ratio's figures interleaved, so that bursts of load from other
processes do not decide a ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.algs import PredictiveSampling
from hydrax.dynamics.nn_dynamics import EnsembleStrategy, NeuralNetworkDynamics
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.logs import startup_history

if TYPE_CHECKING:
    from mujoco import mjx  # imported after hydrax where it runs

STEPS = 50  # rollout length = plan_horizon 0.5 s / dt 0.01 s
HIDDEN, H, K = 128, 11, 9  # bench_learning's GRU: hidden size, history, horizon
ANGLES, COORDS = [1, 2], [0]  # the double cart pole's layout

# --- timing ----------------------------------------------------------------


@dataclass
class Bench:
    """One thing to time: ``call`` does ``per_call`` units of work.

    Attributes:
        call: Does the work once (blocking on what it must itself).
        per_call: Units per call (samples, steps, replannings, GFLOP).
        first_s: Seconds of the first (compiling) call.
        setup: Run before each round (e.g. set PyTorch's thread count).
    """

    call: Callable[[], object]
    per_call: float
    first_s: float
    setup: Callable[[], None] | None = None

    def compile_s(self, rate: float) -> float:
        """First call minus one steady call."""
        return max(self.first_s - self.per_call / rate, 0.0)


def prepared(
    call: Callable[[], object],
    per_call: float,
    setup: Callable[[], None] | None = None,
) -> Bench:
    """A bench after its first (compiling) call, which is timed."""
    if setup is not None:
        setup()
    start = time.perf_counter()
    jax.block_until_ready(call())
    return Bench(call, per_call, time.perf_counter() - start, setup)


def one_round(bench: Bench, seconds: float) -> float:
    """Units per second over calls for at least ``seconds``."""
    if bench.setup is not None:
        bench.setup()
    n, start = 0, time.perf_counter()
    while True:
        out = bench.call()
        n += 1
        if time.perf_counter() - start >= seconds:
            jax.block_until_ready(out)
            break
    return n * bench.per_call / (time.perf_counter() - start)


def interleaved(
    benches: dict[str, Bench], seconds: float, rounds: int
) -> dict[str, float]:
    """Best rate of each bench over ``rounds`` rounds, taken in turn.

    Round r of every bench runs before round r + 1 of any, so a burst of
    load from another process hits all the figures of a ratio alike.
    """
    best = dict.fromkeys(benches, 0.0)
    for _ in range(rounds):
        for name, bench in benches.items():
            best[name] = max(best[name], one_round(bench, seconds))
    return best


def matmul_peak() -> Bench:
    """A jitted float32 2048 x 2048 matmul, in GFLOP."""
    n = 2048
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    f = jax.jit(jnp.matmul)
    return prepared(lambda: jax.block_until_ready(f(a, b)), 2 * n**3 / 1e9)


# --- planning -----------------------------------------------------------------


def learned_dynamics(
    network: DynamicsNetwork | Sequence[DynamicsNetwork],
    task,
    strategy: EnsembleStrategy = "mean",
    matmul_dtype: str = "float32",
) -> NeuralNetworkDynamics:
    """A network, or an ensemble's members, behind the dynamics seam."""
    first = network if isinstance(network, DynamicsNetwork) else network[0]
    config = {
        "dt": task.dt,
        "nq": task.nq,
        "nv": task.nv,
        "nu": task.nu,
        "mode": first.mode,
    }
    return NeuralNetworkDynamics(
        network, config, strategy=strategy, matmul_dtype=matmul_dtype
    )


def start_state(task, rows: int) -> tuple[mjx.Data, np.ndarray]:
    """A state near upright and ``rows`` start-up history rows."""
    from mujoco import mjx  # after hydrax: no Warp import lines

    q, v = task.sample_initial_state(np.random.default_rng(0), "balance")
    state = mjx.make_data(task.model).replace(
        qpos=jnp.asarray(q, jnp.float32), qvel=jnp.asarray(v, jnp.float32)
    )
    current = jnp.concatenate([state.qpos, state.qvel])
    return mjx.kinematics(task.model, state), startup_history(
        current, rows, task.nu
    )


def replanning(task) -> Bench:
    """Predictive sampling, 128 samples x 50 steps, zero-order 4 knots,
    noise 0.3: ``optimize`` on a fixed state, in replannings."""
    ctrl = PredictiveSampling(
        task,
        num_samples=128,
        noise_level=0.3,
        plan_horizon=STEPS * task.dt,
        spline_type="zero",
        num_knots=4,
    )
    assert ctrl.ctrl_steps == STEPS
    rows = task.dynamics.history_length - 1
    state, history = start_state(task, rows)
    history = None if rows == 0 else history
    params = [ctrl.init_params()]

    def call() -> jax.Array:
        params[0], _ = ctrl.optimize(state, params[0], history)
        return jax.block_until_ready(params[0].mean)

    return prepared(call, 1.0)


if __name__ == "__main__":
    from bench_table import not_a_command

    not_a_command(__file__)
