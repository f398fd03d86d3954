"""The GRU's deferred recurrent-weight gradient equals plain autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    Statistic,
    multi_step_errors,
    multi_step_loss,
    training_errors,
)


@pytest.fixture(scope="module")
def data(dcp_data):
    ds = DynamicsDataset(
        dcp_data, history_length=5, prediction_horizon=7, verbose=False
    )
    rows = jnp.asarray(ds.train_examples.batch(np.arange(24) * 13))
    return ds, rows


def _assert_close(got, ref):
    """Equal to 1e-5 relative to the largest entry of each gradient."""
    got, ref = np.asarray(got), np.asarray(ref)
    scale = max(float(np.max(np.abs(ref))), 1e-12)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * scale)


def _value_and_grads(network, rows, errors, step_weights=None):
    graphdef, params, stats = nnx.split(network, nnx.Param, Statistic)
    w = jnp.ones(7) if step_weights is None else step_weights

    def loss(p):
        net = nnx.merge(graphdef, p, stats)
        return jnp.mean(errors(net, rows) * w)

    return jax.jit(jax.value_and_grad(loss))(params)


@pytest.mark.parametrize("mode", ["recurrent", "window"])
def test_training_gradient_equals_autodiff(data, mode):
    ds, rows = data
    net = DynamicsNetwork(
        ds.layout, hidden_size=24, history_length=5, rngs=nnx.Rngs(3), mode=mode
    )
    net.set_statistics(ds.statistics)
    # Uneven weights per step, so every step's cotangent differs.
    w = jnp.arange(1.0, 8.0)
    v_ref, g_ref = _value_and_grads(net, rows, multi_step_errors, w)
    v, g = _value_and_grads(net, rows, training_errors, w)
    if mode == "recurrent":
        assert float(v) == float(v_ref)  # the forward pass is the same
    else:  # the same cells in another order (window_rollout)
        assert float(v) == pytest.approx(float(v_ref), rel=1e-6)
    ref, got = jax.tree.leaves(g_ref), jax.tree.leaves(g)
    assert len(ref) == len(got) == 6
    w_rec = nnx.state(g, nnx.Param)["gru"]["w_rec"][...]
    assert float(jnp.max(jnp.abs(w_rec))) > 1e-3  # a gradient to compare
    for a, b in zip(ref, got, strict=True):
        _assert_close(b, a)


def test_ensemble_gradient_under_vmap(data):
    """vmapped over members (as the ensemble step runs it), still equal."""
    ds, rows = data
    nets = []
    for seed in (0, 1):
        n = DynamicsNetwork(
            ds.layout, 16, 5, rngs=nnx.Rngs(seed), mode="recurrent"
        )
        n.set_statistics(ds.statistics)
        nets.append(n)
    graphdef, _, stats = nnx.split(nets[0], nnx.Param, Statistic)
    stacked = jax.tree.map(
        lambda *x: jnp.stack(x), *(nnx.state(n, nnx.Param) for n in nets)
    )

    def grads(p):
        return jax.grad(
            lambda q: multi_step_loss(nnx.merge(graphdef, q, stats), rows)
        )(p)

    got = jax.jit(jax.vmap(grads))(stacked)
    for m, n in enumerate(nets):
        _, ref = _value_and_grads(n, rows, multi_step_errors)
        leaves = zip(jax.tree.leaves(ref), jax.tree.leaves(got), strict=True)
        for a, b in leaves:
            _assert_close(b[m], a)
