"""Upstream hydrax's API: jittable optimize, algorithms, risk, simulation.

The algorithm tests are upstream's open-loop pendulum tests rewritten with
this project's thresholds; every one calls ``jax.jit(ctrl.optimize)``, as
upstream's examples do, with MJX physics and with a tiny learned model.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx

from hydrax import ROOT
from hydrax.alg_base import SamplingParams, Trajectory
from hydrax.algs import CEM, DIAL, MPPI, PredictiveSampling
from hydrax.dynamics.base import PhysicsDynamics
from hydrax.risk import (
    AverageCost,
    BestCase,
    ConditionalValueAtRisk,
    ExponentialWeightedAverage,
    RiskStrategy,
    ValueAtRisk,
    WorstCase,
)
from hydrax.simulation.deterministic import run_interactive
from hydrax.task_base import Task, model_path
from hydrax.tasks.double_cart_pole import DoubleCartPole
from hydrax.tasks.pendulum import Pendulum

HORIZON, KNOTS, SAMPLES = 1.0, 6, 16
COMMON = {"plan_horizon": HORIZON, "spline_type": "zero", "num_knots": KNOTS}


def make_controller(name: str, task: Task, **kwargs):
    """The controllers of upstream's tests, at this file's small size."""
    kw = {**COMMON, **kwargs}
    if name == "ps":
        return PredictiveSampling(task, SAMPLES, noise_level=0.5, **kw)
    if name == "mppi":
        return MPPI(task, SAMPLES, noise_level=0.5, temperature=0.1, **kw)
    if name == "cem":
        return CEM(
            task,
            SAMPLES,
            num_elites=4,
            sigma_start=1.0,
            sigma_min=0.1,
            explore_fraction=0.25,
            **kw,
        )
    if name == "dial":
        kw.setdefault("iterations", 3)
        return DIAL(
            task,
            SAMPLES,
            noise_level=1.0,
            beta_opt_iter=1.0,
            beta_horizon=1.0,
            temperature=0.1,
            **kw,
        )
    if name == "evosax":
        from evosax.algorithms import CMA_ES

        from hydrax.algs import Evosax

        return Evosax(task, CMA_ES, num_samples=SAMPLES, **kw)
    raise ValueError(name)


ALGORITHMS = ["ps", "mppi", "cem", "dial", "evosax"]


@pytest.fixture(scope="module")
def pendulum() -> Pendulum:
    return Pendulum()


class Jitted:
    """Controllers and their ``jax.jit(ctrl.optimize)``, built once.

    Every jit wrapper compiles on its own, so tests share them.
    """

    def __init__(self, task: Task, **kwargs) -> None:
        self.task, self.kwargs, self._made = task, kwargs, {}

    def __call__(self, name: str):
        if name not in self._made:
            ctrl = make_controller(name, self.task, **self.kwargs)
            self._made[name] = (ctrl, jax.jit(ctrl.optimize))
        return self._made[name]


@pytest.fixture(scope="module")
def pendulum_ctrls(pendulum) -> Jitted:
    return Jitted(pendulum)


# --- jax.jit(ctrl.optimize): MJX physics -------------------------------------


@pytest.mark.parametrize("name", ALGORITHMS)
def test_jitted_optimize_swings_the_pendulum(name, pendulum, pendulum_ctrls):
    """Upstream's open-loop test: 25 jitted optimizations from hanging."""
    ctrl, jit_opt = pendulum_ctrls(name)
    state = pendulum.make_data()
    params = ctrl.init_params()
    params, rollouts = jit_opt(state, params)
    compiled = jit_opt._cache_size()
    for _ in range(24):
        params, rollouts = jit_opt(state, params)
    # init_params' arrays are as committed and strongly typed as the
    # outputs fed back, so the later calls reuse the first call's program.
    assert jit_opt._cache_size() == compiled
    assert rollouts.costs.shape == (SAMPLES, ctrl.ctrl_steps + 1)
    assert rollouts.trace_sites.shape == (SAMPLES, ctrl.ctrl_steps + 1, 1, 3)
    # Hanging at rest costs 1 s · 2 + 10 · 2 = 22. Measured after 25
    # rounds: 13.3 (ps, dial) to 14.9 (cem); the swing-up's floor in 1 s
    # with |u| <= 3 is about 13.3.
    best = float(jnp.min(jnp.sum(rollouts.costs, axis=1)))
    assert best < 16.0


def test_own_jit_equals_callers_and_compiles_once(pendulum, pendulum_ctrls):
    """optimize is pure; the closed loop's pattern compiles once."""
    ctrl, jit_opt = pendulum_ctrls("ps")
    state = jax.device_put(pendulum.make_data())
    theirs, _ = jit_opt(state, ctrl.init_params())
    params = ctrl.init_params()
    mine, _ = ctrl.optimize(state, params)
    np.testing.assert_allclose(mine.mean, theirs.mean, rtol=1e-5, atol=1e-6)
    for k in range(3):
        params, _ = ctrl.optimize(state.replace(time=jnp.float32(k)), params)
    assert ctrl._optimize._cache_size() == 1


def test_optimize_refuses_a_cpu_state_with_the_fix(pendulum, pendulum_ctrls):
    """Upstream users slip a mujoco.MjData into optimize; JAX alone says
    "Error interpreting argument"."""
    ctrl, _ = pendulum_ctrls("ps")
    with pytest.raises(TypeError, match=r"got a mujoco\.MjData: convert it"):
        ctrl.optimize(mujoco.MjData(pendulum.mj_model), ctrl.init_params())
    with pytest.raises(TypeError, match="got a builtins.dict: start from"):
        ctrl.optimize({}, ctrl.init_params())


@pytest.mark.parametrize("name", ["ps", "cem"])
def test_init_params_traces_under_jit_and_vmap(name, pendulum):
    """Committing the initial parameters leaves a traced call alone: a
    batch of episodes can vmap init_params over seeds, as upstream's can."""
    ctrl = make_controller(name, pendulum)
    mean = jax.jit(lambda: ctrl.init_params().mean)()
    assert mean.shape == (KNOTS, 1)
    means = jax.vmap(lambda s: ctrl.init_params(seed=s).mean)(jnp.arange(3))
    assert means.shape == (3, KNOTS, 1)


def test_evosax_compiles_its_replanning_once(pendulum):
    """The strategy's state starts weakly typed (evosax builds it from
    Python scalars) and comes back strongly typed: the controller's own
    jit must not compile twice."""
    ctrl = make_controller("evosax", pendulum)
    state, params = pendulum.make_data(), ctrl.init_params()
    for _ in range(3):
        params, _ = ctrl.optimize(state, params)
    assert ctrl._optimize._cache_size() == 1


# --- jax.jit(ctrl.optimize): a learned model ---------------------------------


@pytest.fixture(scope="module")
def learned_task(tiny_model) -> DoubleCartPole:
    from hydrax.dynamics import NeuralNetworkDynamics

    model = mjx.put_model(
        mujoco.MjModel.from_xml_path(str(model_path("double_cart_pole")))
    )
    dynamics = NeuralNetworkDynamics.load_params(model, tiny_model[0])
    return DoubleCartPole(custom_dynamics=dynamics)


@pytest.fixture(scope="module")
def learned_ctrls(learned_task) -> Jitted:
    return Jitted(learned_task, plan_horizon=0.1)


def upright(task: Task) -> tuple[mjx.Data, jax.Array]:
    """A state near upright and its start-up history (state, zero control)."""
    state = task.make_data().replace(qpos=jnp.array([0.0, jnp.pi - 0.05, 0.05]))
    row = jnp.concatenate([state.qpos, state.qvel, jnp.zeros(1)])
    return state, jnp.tile(row, (task.dynamics.history_length - 1, 1))


@pytest.mark.parametrize("name", ["mppi", "cem", "dial", "evosax"])
def test_jitted_optimize_with_a_learned_model(
    name, learned_task, learned_ctrls
):
    ctrl, jit_opt = learned_ctrls(name)
    state, history = upright(learned_task)
    params = ctrl.init_params()
    for _ in range(2):
        params, rollouts = jit_opt(state, params, history)
    assert params.history is None  # the third argument is not stored
    assert rollouts.costs.shape == (SAMPLES, ctrl.ctrl_steps + 1)
    assert bool(jnp.all(jnp.isfinite(rollouts.costs)))


def test_learned_model_history_in_params_or_argument(
    learned_task, learned_ctrls
):
    """Both ways of passing the history agree, and the model reads it."""
    ctrl, jit_opt = learned_ctrls("ps")
    state, still = upright(learned_task)
    moving = still.at[:, 3].set(jnp.linspace(-2.0, 0.0, still.shape[0]))
    params = ctrl.init_params()
    as_arg, a = jit_opt(state, params, still)
    _, b = jit_opt(state, params, moving)
    in_params, c = jit_opt(state, params.replace(history=still))
    assert in_params.history is not None and as_arg.history is None
    np.testing.assert_allclose(in_params.mean, as_arg.mean, rtol=1e-5)
    np.testing.assert_allclose(a.costs, c.costs, rtol=1e-5)
    assert float(jnp.max(jnp.abs(a.costs - b.costs))) > 1e-4


# --- the rollout's states and costs ------------------------------------------


def test_costs_are_on_the_state_after_each_step(pendulum):
    """ℓ(xₜ₊₁, uₜ)·dt then ϕ(x_T), with the kinematics of those states."""
    ctrl = make_controller("ps", pendulum)
    kinematics = jax.jit(mjx.kinematics)
    state = kinematics(
        pendulum.model, pendulum.make_data().replace(qpos=jnp.array([0.3]))
    )
    knots = jax.random.uniform(jax.random.key(0), (2, KNOTS, 1), minval=-3)
    tq = ctrl.dt * jnp.arange(ctrl.ctrl_steps)
    controls = ctrl.interp_func(tq, jnp.linspace(0, HORIZON, KNOTS), knots)
    states, traj = jax.jit(ctrl.eval_rollouts)(
        pendulum.model, state, controls, knots
    )
    assert len(traj) == ctrl.ctrl_steps
    x5 = jax.tree.map(lambda a: a[1, 5], states)
    expected = ctrl.dt * pendulum.running_cost(x5, controls[1, 5])
    assert float(traj.costs[1, 5]) == pytest.approx(float(expected), rel=1e-5)
    x_final = jax.tree.map(lambda a: a[1, -1], states)
    assert float(traj.costs[1, -1]) == pytest.approx(
        float(pendulum.terminal_cost(x_final)), rel=1e-5
    )
    # Trace sites: x₀ first, then each state after a step, kinematics fresh.
    tip = pendulum.trace_site_ids[0]
    np.testing.assert_allclose(traj.trace_sites[1, 0, 0], state.site_xpos[tip])
    fresh = kinematics(pendulum.model, x5).site_xpos[tip]
    np.testing.assert_allclose(traj.trace_sites[1, 6, 0], fresh, atol=1e-6)


# --- upstream's unit tests of the algorithms ---------------------------------


def test_trajectory_and_params(pendulum):
    traj = Trajectory(
        controls=jnp.zeros((5, 10, 3)),
        knots=jnp.zeros((5, 3, 3)),
        costs=jnp.zeros((5, 11)),
        trace_sites=jnp.zeros((5, 11, 0, 3)),
    )
    assert len(traj) == 10
    ctrl = make_controller("cem", pendulum)
    params = ctrl.init_params()
    assert params.mean.shape == params.cov.shape == (KNOTS, 1)
    assert params.tk.shape == (KNOTS,)
    assert params.history is None
    knots = jax.random.uniform(jax.random.key(0), (KNOTS, 1))
    assert bool(jnp.all(ctrl.init_params(initial_knots=knots).mean == knots))
    with pytest.raises(ValueError, match="initial_knots"):
        ctrl.init_params(initial_knots=jnp.zeros((KNOTS + 1, 1)))
    assert ctrl.get_action(params, 0.0).shape == (1,)
    assert ctrl.dt == pendulum.dt
    assert ctrl.model is pendulum.model


def test_cem_explore_fraction(pendulum):
    """The mean first, then draws at the fitted std, exploration last."""
    for fraction in (0.0, 0.3, 0.5, 1.0):
        ctrl = CEM(
            pendulum,
            num_samples=10,
            num_elites=2,
            sigma_start=1.0,
            sigma_min=0.01,
            explore_fraction=fraction,
            **COMMON,
        )
        params = ctrl.init_params(seed=42).replace(
            cov=jnp.full((KNOTS, 1), 0.01)
        )
        knots, _ = ctrl.sample_knots(params)
        assert knots.shape == (10, KNOTS, 1)
        assert ctrl.num_explore == min(int(fraction * 10), 9)
        spread = jnp.std(knots - params.mean, axis=(1, 2))
        main = 10 - ctrl.num_explore
        assert float(spread[0]) == 0.0  # the mean itself
        assert bool(jnp.all(spread[1:main] < 0.05))
        assert bool(jnp.all(spread[main:] > 0.2))
    with pytest.raises(ValueError, match="explore_fraction"):
        CEM(pendulum, 10, 2, 1.0, 0.1, explore_fraction=1.5)


def test_dial_annealing_and_rounds(pendulum, pendulum_ctrls):
    ctrl, jit_opt = pendulum_ctrls("dial")
    sigma = ctrl.noise_schedule(jnp.array(0))
    assert float(sigma[-1]) == pytest.approx(1.0)  # σ₀ at the last knot
    assert bool(jnp.all(jnp.diff(sigma) > 0))  # grows along the horizon
    assert float(ctrl.noise_schedule(jnp.array(2))[-1]) == pytest.approx(
        math.exp(-2 / 3)
    )
    params = ctrl.init_params(seed=1)
    for _ in range(ctrl.iterations):
        knots, params = ctrl.sample_knots(params)
    assert knots.shape == (SAMPLES, KNOTS, 1)
    assert int(params.opt_iteration) == 0
    params, _ = jit_opt(pendulum.make_data(), params)
    assert int(params.opt_iteration) == 0
    # update_params: the softmax(−cost/λ) average of the knots.
    knots = jax.random.normal(jax.random.key(7), (SAMPLES, KNOTS, 1))
    costs = jnp.linspace(1.0, 2.0, SAMPLES)
    traj = Trajectory(
        controls=jnp.zeros((SAMPLES, 5, 1)),
        knots=knots,
        costs=jnp.tile(costs[:, None], (1, 6)) / 6,
        trace_sites=jnp.zeros((SAMPLES, 6, 0, 3)),
    )
    weights = jax.nn.softmax(-costs / ctrl.temperature)
    expected = jnp.einsum("n,nkd->kd", weights, knots)
    got = ctrl.update_params(params, traj).mean
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_evosax_best_member_is_this_rounds(pendulum, pendulum_ctrls):
    ctrl, jit_opt = pendulum_ctrls("evosax")
    params = ctrl.init_params()
    assert params.opt_state.C.shape == (KNOTS, KNOTS)
    params, rollouts = jit_opt(pendulum.make_data(), params)
    costs = jnp.sum(rollouts.costs, axis=1)
    assert float(params.opt_state.best_fitness) == pytest.approx(
        float(costs.min()), rel=1e-5
    )


def test_diverged_samples_are_left_out_of_cem_elites_and_evosax_means(
    pendulum,
):
    """CEM with fewer finite samples than elites averages the finite ones
    only; a value-based evosax strategy keeps a finite mean (an infinite
    fitness turned it NaN)."""
    from evosax.algorithms import NoiseReuseES

    from hydrax.algs import Evosax
    from hydrax.risk import diverged_as_worst

    cem = make_controller("cem", pendulum)
    knots, params = cem.sample_knots(cem.init_params())
    costs = jnp.full((SAMPLES, 1), jnp.nan).at[1].set(1.0).at[3].set(2.0)
    scored = Trajectory(
        controls=None, knots=knots, costs=diverged_as_worst(costs),
        trace_sites=None,
    )  # fmt: skip
    new = cem.update_params(params, scored)
    np.testing.assert_allclose(new.mean, (knots[1] + knots[3]) / 2, rtol=1e-6)
    evo = Evosax(pendulum, NoiseReuseES, num_samples=SAMPLES, **COMMON)
    knots, params = evo.sample_knots(evo.init_params())
    costs = jnp.arange(SAMPLES, dtype=float)[:, None].at[2].set(jnp.inf)
    scored = scored.replace(knots=knots, costs=costs)
    assert bool(jnp.isfinite(evo.update_params(params, scored).mean).all())


def test_evosax_refuses_a_strategy_of_several_populations(pendulum):
    from evosax.algorithms import SV_CMA_ES

    from hydrax.algs import Evosax

    with pytest.raises(ValueError, match="keeps several populations"):
        Evosax(pendulum, SV_CMA_ES, num_samples=8, num_populations=2)


def test_evosax_samples_around_the_plan_shifted_to_now(pendulum):
    """Replanning later samples about the shifted plan, not the old one."""
    ctrl = make_controller("evosax", pendulum)
    ramp = jnp.linspace(-5.0, 5.0, KNOTS)[:, None]  # 2 per knot
    params = ctrl.init_params(initial_knots=ramp)
    later = HORIZON / (KNOTS - 1)  # one knot on: the ramp moves up a knot
    tk = later + jnp.linspace(0.0, HORIZON, KNOTS)
    from hydrax.alg_base import interpolate

    shifted = interpolate(tk, params.tk, params.mean, "zero")
    knots, _ = ctrl.sample_knots(params.replace(tk=tk, mean=shifted))
    centre = jnp.mean(knots, axis=0)
    assert float(jnp.abs(centre - shifted).max()) < 1.0
    assert float(jnp.abs(centre[0] - ramp[0]).max()) > 1.0


@pytest.mark.parametrize("name", ALGORITHMS)
def test_a_diverged_rollout_is_never_the_plan(name, pendulum):
    """A NaN (or inf) cost is +inf: every sample diverged keeps the plan;
    among finite samples a diverged one is never picked or averaged in."""
    from hydrax.risk import diverged_as_worst

    ctrl = make_controller(name, pendulum)
    params = ctrl.init_params(initial_knots=0.3 * jnp.ones((KNOTS, 1)))
    nan_physics = pendulum.make_data().replace(qvel=jnp.array([jnp.nan]))
    after, rollouts = jax.jit(ctrl.optimize)(nan_physics, params)
    assert bool(jnp.isposinf(rollouts.costs).all())
    np.testing.assert_allclose(after.mean, params.mean, atol=1e-6)
    # Sample 1 is the cheapest; sample 2's NaN is what argmin would take.
    knots, sampled = ctrl.sample_knots(params)
    costs = jnp.arange(SAMPLES, dtype=float)[:, None] + 1.0
    costs = costs.at[2].set(jnp.nan).at[0].set(5.0)
    scored = Trajectory(
        controls=None, knots=knots, costs=diverged_as_worst(costs),
        trace_sites=None,
    )  # fmt: skip
    new = ctrl.update_params(sampled, scored)
    assert bool(jnp.isfinite(new.mean).all())
    if name == "ps":
        assert bool(jnp.array_equal(new.mean, knots[1]))


# --- domain randomization and risk -------------------------------------------


class HeavyPendulums(Pendulum):
    """The pendulum with its motor's gain randomized by ±50 %."""

    def domain_randomize_model(self, rng: jax.Array) -> dict:
        scale = jax.random.uniform(rng, (), minval=0.5, maxval=1.5)
        gain = self.model.actuator_gainprm.at[:, 0].multiply(scale)
        return {"actuator_gainprm": gain}

    def domain_randomize_data(self, data: mjx.Data, rng: jax.Array) -> dict:
        return {"qvel": data.qvel + 0.1 * jax.random.normal(rng, (1,))}


class PerDomain(RiskStrategy):
    """Keeps every domain's costs, so one rollout serves every strategy."""

    def combine_costs(self, costs: jax.Array) -> jax.Array:
        return costs


def test_domain_randomization_and_risk():
    task = HeavyPendulums()
    one = make_controller("ps", task)
    three = make_controller(
        "ps", task, num_randomizations=3, risk_strategy=PerDomain()
    )
    shape = task.model.actuator_gainprm.shape
    assert one.model.actuator_gainprm.shape == shape
    assert three.model.actuator_gainprm.shape == (3, *shape)
    gains = three.model.actuator_gainprm[:, 0, 0]
    assert float(jnp.max(gains) - jnp.min(gains)) > 0.05
    state = mjx.kinematics(task.model, task.make_data())
    knots = jax.random.uniform(
        jax.random.key(3), (SAMPLES, KNOTS, 1), minval=-3.0, maxval=3.0
    )
    tk = jnp.linspace(0.0, HORIZON, KNOTS)
    traj = jax.jit(three.rollout_with_randomizations)(
        state, tk, knots, jax.random.key(0)
    )
    assert traj.costs.shape == (3, SAMPLES, three.ctrl_steps + 1)
    totals = jnp.sum(traj.costs, axis=-1)  # (domain, sample)
    assert float(jnp.min(jnp.max(totals, 0) - jnp.min(totals, 0))) > 1e-3
    for strategy, reduce in (
        (AverageCost(), jnp.mean),
        (WorstCase(), jnp.max),
        (BestCase(), jnp.min),
    ):
        np.testing.assert_allclose(
            strategy.combine_costs(traj.costs), reduce(traj.costs, axis=0)
        )
    # The default strategy inside optimize: rollouts as with one domain.
    three.risk_strategy = AverageCost()
    params, rollouts = jax.jit(three.optimize)(state, three.init_params())
    assert params.mean.shape == (KNOTS, 1)
    assert rollouts.costs.shape == (SAMPLES, three.ctrl_steps + 1)
    assert rollouts.knots.shape == (SAMPLES, KNOTS, 1)


def test_two_iterations_equal_two_replannings_of_one():
    """Upstream's test_opt_iterations, with domain randomization."""
    task = HeavyPendulums()
    state = task.make_data()
    results = []
    for iterations, calls in ((1, 2), (2, 1)):
        ctrl = make_controller(
            "mppi", task, num_randomizations=2, iterations=iterations
        )
        jit_opt, params = jax.jit(ctrl.optimize), ctrl.init_params()
        for _ in range(calls):
            params, _ = jit_opt(state, params)
        results.append(params)
    np.testing.assert_allclose(results[0].mean, results[1].mean, rtol=1e-5)
    np.testing.assert_array_equal(results[0].tk, results[1].tk)
    assert bool(
        jnp.all(
            jax.random.key_data(results[0].rng)
            == jax.random.key_data(results[1].rng)
        )
    )


def test_risk_strategies_take_a_diverged_domain_as_the_worst():
    """A domain whose rollout diverged (NaN or inf) counts as +inf before
    the strategy combines: the worst case for every strategy but those that
    look away from it (best case; γ < 0)."""
    from hydrax.risk import diverged_as_worst

    for bad in (jnp.nan, jnp.inf):
        costs = diverged_as_worst(jnp.array([[1.0], [2.0], [3.0], [bad]]))
        assert float(BestCase().combine_costs(costs)[0]) == 1.0
        for averse in (AverageCost(), WorstCase(), ValueAtRisk(0.1),
                       ValueAtRisk(0.0), ConditionalValueAtRisk(0.0),
                       ConditionalValueAtRisk(0.3),
                       ExponentialWeightedAverage(1.0),
                       ExponentialWeightedAverage(0.0)):  # fmt: skip
            assert float(averse.combine_costs(costs)[0]) == jnp.inf
        seeking = ExponentialWeightedAverage(-5.0).combine_costs(costs)
        assert 1.0 <= float(seeking[0]) < 1.1
    # A cost about to diverge: γ·c overflows, the average must not.
    huge = jnp.array([[1.0], [1e37]])
    for gamma, expect in ((100.0, 1e37), (-100.0, 1.0), (50.0, 1e37)):
        got = float(ExponentialWeightedAverage(gamma).combine_costs(huge)[0])
        assert got == pytest.approx(expect, rel=1e-5)
    every = jnp.full((3, 1), jnp.inf)
    assert float(ExponentialWeightedAverage(-1.0).combine_costs(every)[0]) == (
        jnp.inf
    )


def test_risk_strategies_on_known_costs():
    costs = jnp.array([[1.0, 4.0], [2.0, 8.0], [3.0, 0.0], [10.0, 2.0]])
    np.testing.assert_allclose(AverageCost().combine_costs(costs), [4, 3.5])
    np.testing.assert_allclose(WorstCase().combine_costs(costs), [10, 8])
    np.testing.assert_allclose(BestCase().combine_costs(costs), [1, 0])
    # The 0.75 quantile interpolates: 3 + 0.25 · 7 and 4 + 0.25 · 4.
    np.testing.assert_allclose(
        ValueAtRisk(0.25).combine_costs(costs), [4.75, 5]
    )
    np.testing.assert_allclose(
        ConditionalValueAtRisk(0.25).combine_costs(costs), [10, 8]
    )
    np.testing.assert_allclose(
        ConditionalValueAtRisk(0.5).combine_costs(costs), [6.5, 6]
    )
    np.testing.assert_allclose(
        ConditionalValueAtRisk(1.0).combine_costs(costs), [4, 3.5]
    )
    two = jnp.array([0.0, math.log(3.0)])  # weights 1/4, 3/4 at γ = 1
    assert float(
        ExponentialWeightedAverage(1.0).combine_costs(two)
    ) == pytest.approx(0.75 * math.log(3.0), rel=1e-6)
    np.testing.assert_allclose(
        ExponentialWeightedAverage(0.0).combine_costs(costs), [4, 3.5]
    )
    with pytest.raises(ValueError, match="alpha"):
        ValueAtRisk(1.5)
    # Upstream's ordering checks on random costs.
    costs = jax.random.normal(jax.random.key(0), (10, 2))
    avg = AverageCost().combine_costs(costs)
    var = ValueAtRisk(0.1).combine_costs(costs)
    cvar = ConditionalValueAtRisk(0.1).combine_costs(costs)
    worst = WorstCase().combine_costs(costs)
    weighted = ExponentialWeightedAverage(2.0).combine_costs(costs)
    assert bool(jnp.all((avg <= weighted) & (weighted <= worst)))
    assert bool(jnp.all((avg <= var) & (var <= cvar) & (cvar <= worst)))


# --- the Task API -------------------------------------------------------------


class Hold(Task):
    def running_cost(self, state, control):
        return jnp.sum(jnp.square(state.qpos))

    def terminal_cost(self, state):
        return jnp.sum(jnp.square(state.qpos))


def test_task_signatures():
    path = model_path("pendulum")
    mj_model = mujoco.MjModel.from_xml_path(str(path))
    physics = PhysicsDynamics()
    old = Hold(mj_model, physics, model_file=path)  # the README's form
    assert old.custom_dynamics is physics and old.model_file == path
    assert Hold(mj_model, physics, path).model_file == path
    new = Hold(
        mj_model, trace_sites=["tip"], impl="jax", custom_dynamics=physics
    )
    assert new.dynamics is physics
    assert new.get_trace_sites(new.make_data()).shape == (1, 3)
    assert Hold(mj_model).get_trace_sites(new.make_data()).shape == (0, 3)
    assert new.domain_randomize_model(jax.random.key(0)) == {}
    assert new.domain_randomize_data(new.make_data(), jax.random.key(0)) == {}
    assert isinstance(new.make_data(), mjx.Data)
    with pytest.raises(ValueError, match="no site 'nope'"):
        Hold(mj_model, trace_sites=["nope"])
    with pytest.raises(ValueError, match="impl"):
        Hold(mj_model, impl="cuda")
    assert Pendulum(impl="jax").trace_site_ids.shape == (1,)
    # Upstream code builds paths as strings; this project's as Paths.
    assert (ROOT + "/models/pendulum/pendulum.xml") == str(path)
    assert ROOT / "models" / "pendulum" / "pendulum.xml" == path


def test_sampling_params_history_is_keyword_only():
    params = SamplingParams(jnp.zeros(2), jnp.zeros((2, 1)), jax.random.key(0))
    assert params.history is None
    assert jax.tree.leaves(params.replace(history=jnp.ones((3, 4))))[-1].shape


def test_neural_network_dynamics_import_is_lazy():
    code = (
        "import sys, hydrax.dynamics as d\n"
        "assert 'hydrax.dynamics_model_training.train' not in sys.modules\n"
        "from hydrax.dynamics import NeuralNetworkDynamics\n"
        "from hydrax.dynamics.nn_dynamics import NeuralNetworkDynamics as N\n"
        "assert NeuralNetworkDynamics is N\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- run_interactive, headless ------------------------------------------------


def test_run_interactive_headless(pendulum, pendulum_ctrls):
    ctrl, _ = pendulum_ctrls("ps")
    mj_data = mujoco.MjData(pendulum.mj_model)
    mj_data.qpos[:] = [np.pi - 0.2]
    run = run_interactive(
        ctrl,
        pendulum.mj_model,
        mj_data,
        frequency=50,
        headless=True,
        duration=0.3,
        verbose=False,
    )
    assert run.qpos.shape == (30, 1) and run.ctrl.shape == (30, 1)
    np.testing.assert_allclose(run.times, 0.01 * np.arange(30), atol=1e-9)
    assert len(run.plan_seconds) == 15  # every 2 plant steps at 50 Hz
    assert mj_data.time == pytest.approx(0.3)
    assert bool(np.all(np.abs(run.ctrl) <= 3.0))
    # The last recorded row is the state before the last step.
    assert run.qpos[-1, 0] != mj_data.qpos[0]


def test_run_interactive_learned_model_and_video(
    learned_task, learned_ctrls, tmp_path, capsys
):
    """Also with upstream's examples' ``fixed_camera_id=0``: this project's
    double cart pole has no camera, so the free camera records (it had
    crashed MuJoCo: fixed camera id outside valid range)."""
    ctrl, _ = learned_ctrls("ps")
    mj_data = mujoco.MjData(learned_task.mj_model)
    mj_data.qpos[:] = [0.0, np.pi, 0.0]
    assert learned_task.mj_model.ncam == 0
    try:
        run = run_interactive(
            ctrl,
            learned_task.mj_model,
            mj_data,
            frequency=50,
            headless=True,
            duration=0.2,
            fixed_camera_id=0,
            record_video=True,
            video_path=tmp_path / "run.gif",
            video_fps=25,
            verbose=False,
        )
    except RuntimeError as err:
        if "cannot render offscreen" in str(err):
            pytest.skip(f"no offscreen OpenGL here: {err}")
        raise
    assert run.qpos.shape == (20, 3)
    assert repr(run).startswith("InteractiveRun(20 steps, 10 replannings of")
    assert "fixed_camera_id=0: the model has 0 camera(s); using the free" in (
        capsys.readouterr().out
    )
    from PIL import Image

    with Image.open(run.video_path) as gif:
        assert gif.n_frames == 5  # 0.2 s at 25 frames per second
        first = np.asarray(gif.convert("RGB"))
        gif.seek(1)
        second = np.asarray(gif.convert("RGB"))
    # The first frame shows the scene as the next does (it was all black).
    lit = [(f.max(axis=-1) > 0).mean() for f in (first, second)]
    assert lit[1] > 0.05 and lit[0] > 0.9 * lit[1]


def test_the_free_camera_keeps_the_pendulum_in_view(pendulum):
    """The default view frames the pole about its pivot, hanging as upright
    (it was placed from the hanging pose: the upright pole left the frame)."""
    from hydrax.simulation.video import GifRecorder

    try:
        recorder = GifRecorder(pendulum.mj_model, fps=1)
    except RuntimeError as err:
        pytest.skip(f"no offscreen OpenGL here: {err}")
    data = mujoco.MjData(pendulum.mj_model)
    rows = []
    for angle in (0.0, np.pi):  # hanging, upright
        data.qpos[:] = angle
        data.time = len(rows)
        mujoco.mj_forward(pendulum.mj_model, data)
        recorder.maybe_capture(data)
        frame = np.asarray(recorder.frames[-1].convert("RGB"))
        pole = np.flatnonzero((frame.max(axis=-1) > 40).any(axis=1))
        rows.append((pole.min(), pole.max()))
    recorder.close()
    height = frame.shape[0]
    (down_top, down_bottom), (up_top, up_bottom) = rows
    assert down_bottom < height - 5 and up_top > 5  # neither tip clipped
    assert up_bottom <= down_top + 10  # they meet at the pivot (capsule ends)


# --- upstream's module paths, models and pickling -----------------------------


def test_splines_at_upstreams_path_take_knots_with_or_without_nu():
    """``hydrax.utils.spline.get_interp_func`` as upstream's tests call it:
    knots (batch, num_knots) give (batch, T); (batch, num_knots, nu) give
    (batch, T, nu); queries beyond the knots hold the end knot."""
    from hydrax.utils.spline import get_interp_func

    tq = jnp.linspace(0.0, 1.0, 11)
    tk = jnp.array([0.0, 0.5, 1.0])
    knots = jnp.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    zero = get_interp_func("zero")(tq, tk, knots)
    np.testing.assert_allclose(zero[1], [3] * 5 + [4] * 5 + [5])
    linear = get_interp_func("linear")(tq, tk, knots)
    np.testing.assert_allclose(linear[0], np.linspace(0, 2, 11), atol=1e-6)
    with_nu = get_interp_func("linear")(tq, tk, knots[..., None])
    np.testing.assert_allclose(with_nu[..., 0], linear)
    tq = jnp.linspace(0.0, 2 * jnp.pi, 1001)
    tk = jnp.linspace(0.0, 2 * jnp.pi, 101)
    cubic = get_interp_func("cubic")(tq, tk, jnp.stack([jnp.sin(tk)]))
    np.testing.assert_allclose(cubic[0], np.sin(tq), atol=1e-3)
    tk = jnp.array([0.0, 0.5, 1.0])
    beyond = get_interp_func("linear")(jnp.array([-1.0, 2.0]), tk, knots)
    np.testing.assert_allclose(beyond, [[0.0, 2.0], [3.0, 5.0]])


@pytest.mark.parametrize("name", ["pendulum", "cart_pole", "double_cart_pole"])
def test_upstreams_scene_files_hold_the_tasks_system(name):
    """``ROOT + "/models/<name>/scene.xml"``, the file upstream's scripts
    load, steps exactly as the task's own model."""
    scene = mujoco.MjModel.from_xml_path(ROOT + f"/models/{name}/scene.xml")
    system = mujoco.MjModel.from_xml_path(str(model_path(name)))
    assert scene.opt.timestep == system.opt.timestep
    assert (scene.nq, scene.nv, scene.nu) == (system.nq, system.nv, system.nu)
    a, b = mujoco.MjData(scene), mujoco.MjData(system)
    a.qpos[:] = b.qpos[:] = 0.3
    for k in range(50):
        a.ctrl[:] = b.ctrl[:] = np.sin(0.1 * k)
        mujoco.mj_step(scene, a)
        mujoco.mj_step(system, b)
    np.testing.assert_array_equal(a.qpos, b.qpos)
    np.testing.assert_array_equal(a.qvel, b.qvel)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_controllers_pickle_without_their_compiled_function(name, pendulum):
    """A controller pickles (upstream sends one to a spawned process); the
    copy builds its own compiled ``optimize``, and (checked for predictive
    sampling and evosax, whose strategy is rebuilt) plans as the original."""
    import pickle

    if name == "evosax":
        pytest.importorskip("evosax")
    ctrl = make_controller(name, pendulum)
    copy = pickle.loads(pickle.dumps(ctrl))
    assert copy._optimize is not ctrl._optimize
    assert type(copy) is type(ctrl) and copy.num_samples == ctrl.num_samples
    if name not in ("ps", "evosax"):
        return
    state = pendulum.make_data().replace(qpos=jnp.array([0.3]))
    mine, _ = ctrl.optimize(state, ctrl.init_params())
    theirs, _ = copy.optimize(state, copy.init_params())
    np.testing.assert_array_equal(theirs.mean, mine.mean)


def test_upstreams_video_recorder_writes_a_gif_without_ffmpeg(
    tmp_path, monkeypatch, capsys
):
    """``hydrax.utils.video.VideoRecorder`` takes raw RGB frames as
    upstream's; without ffmpeg (upstream then records nothing) it writes
    an animated GIF. A frame of the wrong size is refused."""
    from PIL import Image

    from hydrax.utils.video import VideoRecorder

    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg
    rec = VideoRecorder(str(tmp_path / "videos"), width=8, height=6, fps=10)
    assert not rec.add_frame(bytes(8 * 6 * 3))  # not started
    assert rec.start() and rec.is_recording
    for shade in (0, 120, 240):
        assert rec.add_frame(np.full((6, 8, 3), shade, np.uint8).tobytes())
    with pytest.raises(ValueError, match="a 8x6 RGB frame has 144"):
        rec.add_frame(bytes(10))
    assert rec.stop() and not rec.is_recording
    assert rec.video_path.endswith(".gif")
    with Image.open(rec.video_path) as gif:
        assert gif.size == (8, 6) and gif.n_frames == 3
    out = capsys.readouterr().out
    assert "No working ffmpeg with an H.264 encoder on the path" in out
    assert f"Video saved to {rec.video_path}" in out
    assert not rec.stop()  # nothing left to finish
    fast = VideoRecorder(tmp_path / "fast", width=8, height=6, fps=100)
    fast.start()
    for shade in range(6):  # 100 fps: every other frame is kept, at 50
        fast.add_frame(np.full((6, 8, 3), 40 * shade, np.uint8))
    assert fast.stop()
    with Image.open(fast.video_path) as gif:
        assert gif.n_frames == 3 and gif.info["duration"] == 20


def _fake_ffmpeg(folder, body: str, encoder: str = "H.264 / AVC") -> None:
    script = folder / "ffmpeg"
    script.write_text(
        '#!/bin/sh\nif [ "$2" = "-encoders" ]; then\n'
        f'  echo " V....D libx264  libx264 {encoder}"; exit 0\nfi\n' + body
    )
    script.chmod(0o755)


def test_video_recorder_pipes_raw_frames_to_ffmpeg(tmp_path, monkeypatch):
    """With an ffmpeg on the path the frames go to it as raw RGB (here a
    stand-in that copies its input to the output file); one that fails
    makes ``stop()`` return False, without an exception or a zombie."""
    from hydrax.utils.video import VideoRecorder

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_ffmpeg(bin_dir, 'for last; do :; done\ncat > "$last"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    rec = VideoRecorder(tmp_path / "videos", width=4, height=2, fps=30)
    assert rec.start() and rec.video_path.endswith(".mp4")
    frame = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    assert rec.add_frame(frame) and rec.add_frame(memoryview(frame))
    assert rec.add_frame(frame.tobytes()) and rec.stop()
    assert Path(rec.video_path).read_bytes() == frame.tobytes() * 3
    _fake_ffmpeg(bin_dir, "exit 3\n")
    assert rec.start()
    rec.add_frame(frame)
    assert not rec.stop() and rec.ffmpeg_process is None
    # An ffmpeg without an H.264 encoder: the GIF, as with none.
    _fake_ffmpeg(bin_dir, "exit 3\n", encoder="MPEG-4 part 2")
    assert rec.start() and rec.video_path.endswith(".gif")
    assert rec.add_frame(frame) and rec.stop()
