"""A window-mode network's rows fed once to every window holding them.

Training's unrolled rollout, the evaluation's scan and the planner's step
(windows in flight) all predict what the GRU over each whole window does.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    Statistic,
    multi_step_loss,
    rollout_deltas,
    split_rows,
)
from hydrax.dynamics_model_training.rollout_steps import (
    learned_step,
    scored_step,
    start_memory,
)
from hydrax.dynamics_model_training.transforms import StateLayout
from hydrax.dynamics_model_training.window_rollout import (
    window_rollout_deltas,
)

CART = StateLayout.create(3, 3, 1, angle_indices=[1, 2], coordinate_indices=[0])
# A free joint (heading frame), a hinge and a ball joint; structured delta.
FREE = StateLayout.create(
    12,
    10,
    2,
    angle_indices=[7],
    coordinate_indices=[0, 1, 2],
    quat_indices=[3, 8],
    heading_frame=True,
    delta="velocity",
    delta_dt=0.01,
)


def _rows(layout, batch, length, seed=0):
    """Smooth random rows; every quaternion of unit norm."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(batch, length, layout.row_dim)).cumsum(1) * 0.2
    for q in layout.quat_indices:
        quat = rows[..., q : q + 4]
        rows[..., q : q + 4] = quat / np.linalg.norm(quat, axis=-1)[..., None]
    return jnp.asarray(rows, jnp.float32)


def _network(layout, history, seed=0):
    net = DynamicsNetwork(layout, 16, history, rngs=nnx.Rngs(seed))
    # Statistics away from identity, so standardization is exercised.
    rng = np.random.default_rng(seed + 1)
    f, d = net.feature_dim, layout.state_dim
    net.set_statistics(
        {
            "in_mean": rng.normal(size=f) * 0.1,
            "in_std": rng.uniform(0.5, 2.0, f),
            "out_mean": rng.normal(size=d) * 0.01,
            "out_std": rng.uniform(0.05, 0.5, d),
        }
    )
    return net


def _whole_windows(net, window, controls, targets):
    """The definition: the GRU over each whole, sliding window of rows.

    A scan over the steps (not a Python loop), so the reference and its
    gradient compile once per shape rather than once per step.
    """
    ns = net.layout.nq + net.layout.nv

    def step(carry, xs):
        window, current = carry
        control, target = xs
        pred = net.predict_standardized(window)
        pred, true, current = scored_step(net, current, pred, target)
        row = jnp.concatenate([current, control], axis=-1)
        window = jnp.concatenate([window[:, 1:], row[:, None]], axis=1)
        return (window, current), (current, pred, true)

    steps = (jnp.swapaxes(controls, 0, 1), jnp.swapaxes(targets, 0, 1))
    _, outs = jax.lax.scan(step, (window, window[:, -1, :ns]), steps)
    return tuple(jnp.swapaxes(o, 0, 1) for o in outs)


ORDERS = {
    "training": window_rollout_deltas,
    "scan": rollout_deltas,
}
_REFERENCES: dict[tuple, tuple] = {}  # the whole windows' outputs and grads


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize(
    ("layout", "history", "horizon"),
    [
        (CART, 11, 9),  # K < H
        (CART, 3, 8),  # K > H, unrolled
        (CART, 3, 14),  # K - H + 1 >= STEADY_MIN: the steady rows a scan
        (CART, 1, 4),  # one-row windows
        (CART, 1, 9),  # one-row windows, a scan from the first row
        (CART, 5, 1),  # one step
        (FREE, 4, 6),
        (FREE, 4, 12),
    ],
)
def test_rows_fed_once_equal_whole_windows(order, layout, history, horizon):
    """States and deltas, and the loss's gradient, match to float rounding."""
    net = _network(layout, history)
    rows = _rows(layout, 6, history + horizon)
    window, controls, targets = split_rows(net, rows)
    graphdef, params, stats = nnx.split(net, nnx.Param, Statistic)
    step_weights = jnp.arange(1.0, horizon + 1.0)  # every step's own cotangent

    def run(rollout):
        """The rollout's outputs and its loss's gradient, one compile."""

        def f(p):
            outs = rollout(
                nnx.merge(graphdef, p, stats), window, controls, targets
            )
            per_step = jnp.mean(jnp.square(outs[1] - outs[2]), axis=(0, 2))
            return jnp.sum(per_step * step_weights), outs

        (_, outs), grads = jax.jit(jax.value_and_grad(f, has_aux=True))(params)
        return outs, jax.tree.leaves(grads)

    # The reference is the same for both orders: computed (compiled) once.
    key = (layout is FREE, history, horizon)
    if key not in _REFERENCES:
        _REFERENCES[key] = run(_whole_windows)
    (got, got_grads), (ref, ref_grads) = run(ORDERS[order]), _REFERENCES[key]
    for a, b in zip(got, ref, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    leaves = list(zip(got_grads, ref_grads, strict=True))
    assert len(leaves) == 6
    for a, b in leaves:  # (one-row windows: w_rec's gradient is 0)
        scale = float(jnp.max(jnp.abs(b)))
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * scale)
    assert float(jnp.max(jnp.abs(leaves[-1][1]))) > 0


@pytest.mark.parametrize(("history", "horizon"), [(3, 10), (3, 9), (1, 8)])
def test_the_steady_rows_are_a_scan_from_steady_min(
    history, horizon, monkeypatch
):
    """K - H + 1 >= STEADY_MIN rows of H windows run as the scan."""
    import hydrax.dynamics_model_training.window_rollout as wr

    calls = []
    real = wr._steady_rows
    monkeypatch.setattr(
        wr, "_steady_rows", lambda *a: calls.append(1) or real(*a)
    )
    net = _network(CART, history)
    window, controls, targets = split_rows(
        net, _rows(CART, 2, history + horizon)
    )
    wr.window_rollout_deltas(net, window, controls, targets)
    assert len(calls) == (horizon - history + 1 >= wr.STEADY_MIN)
    assert wr.STEADY_MIN == 8  # (3, 10) and (1, 8) scan, (3, 9) does not


def test_training_loss_takes_the_unrolled_order():
    """The window-mode loss is the whole windows' loss, to float rounding."""
    net = _network(CART, 5)
    rows = _rows(CART, 8, 5 + 7, seed=3)
    _, pred, true = _whole_windows(net, *split_rows(net, rows))
    ref = float(jnp.mean(jnp.square(pred - true)))
    assert float(nnx.jit(multi_step_loss)(net, rows)) == pytest.approx(
        ref, rel=1e-5
    )


@pytest.mark.parametrize(
    ("layout", "history"), [(CART, 6), (CART, 1), (FREE, 3)]
)
def test_windows_in_flight_step_as_whole_windows(layout, history):
    """The planner's step carries H - 1 windows in flight and predicts what
    the GRU over each whole window predicts."""
    horizon = 5
    net = _network(layout, history, seed=2)
    rows = _rows(layout, 3, history + horizon, seed=4)
    window, controls, targets = split_rows(net, rows)
    ref = _whole_windows(net, window, controls, targets)[0]

    memory = start_memory(net, window[:, :-1], window[:, 0])
    assert memory[0].shape == (3, history - 1, 16)  # one per measured row
    row, seam = window[:, -1], []
    for k in range(horizon):
        memory, nxt, _ = learned_step(net, memory, row)
        assert memory[0].shape[1] == history - 1
        seam.append(nxt)
        row = jnp.concatenate([nxt, controls[:, k]], axis=-1)
    np.testing.assert_allclose(
        jnp.stack(seam, axis=1), ref, rtol=1e-4, atol=1e-5
    )
