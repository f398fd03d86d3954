"""A large batch's gradient in micro-batches equals the one-pass gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hydrax.dynamics_model_training import train_steps
from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.model import DynamicsNetwork, Statistic
from hydrax.dynamics_model_training.parallel import DataParallel


@pytest.mark.parametrize("mode", ["window", "recurrent"])
def test_micro_batches_give_the_one_pass_loss_and_gradient(
    dcp_data, monkeypatch, mode
):
    ds = DynamicsDataset(
        dcp_data, history_length=4, prediction_horizon=5, verbose=False
    )
    net = DynamicsNetwork(ds.layout, 16, 4, rngs=nnx.Rngs(0), mode=mode)
    net.set_statistics(ds.statistics)
    graphdef, params, stats = nnx.split(net, nnx.Param, Statistic)
    tx, _ = train_steps.make_optimizer(1e-3, 1e-5, 100)
    dp = DataParallel(jax.devices()[:1])
    starts = ds.file_offsets[ds.example_files].astype(np.int64)
    rows = ds.train_indices[:12]
    weights = np.ones(12, np.float32)
    weights[-3:] = 0.0  # batch padding: its windows must not count
    batch = train_steps.Batch(
        jnp.asarray(ds.data),
        jnp.asarray(ds.example_rows[rows]),
        jnp.asarray(starts[rows]),
        jnp.asarray(weights),
    )
    out = {}
    for micro in (64, 4):  # one pass; three micro-batches of 4
        monkeypatch.setattr(train_steps, "MICRO_BATCH", micro)
        spec = train_steps.StepSpec.create(graphdef, tx, ds, dp)  # retraces
        out[micro] = jax.jit(train_steps._loss_and_grads, static_argnums=0)(
            spec, params, stats, batch
        )
        train_steps.train_step(spec, params, stats, tx.init(params), batch)
    (loss1, g1), (loss4, g4) = out[64], out[4]
    assert float(loss4) == pytest.approx(float(loss1), rel=1e-5)
    leaves = list(zip(jax.tree.leaves(g4), jax.tree.leaves(g1), strict=True))
    assert len(leaves) == 6
    for a, b in leaves:
        scale = float(jnp.max(jnp.abs(b)))
        assert scale > 0
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale)
