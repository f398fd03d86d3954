"""Held-out check: a free body falling and bouncing, collected, learned."""

import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.baselines import ConstantVelocityModel
from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.evaluate import evaluate_model
from hydrax.dynamics_model_training.model import rollout_deltas, split_rows
from hydrax.dynamics_model_training.train import load_trained_model


def test_free_body_model_beats_constant_velocity_and_stays_unit(free_body_run):
    """Trained tiny on random-policy logs (heading frame), it beats constant
    velocity and keeps its quaternions unit norm."""
    data, best, network = free_body_run
    assert network.layout.quat_indices == (3,)  # from the manifest
    loaded, _ = load_trained_model(best)
    assert loaded.layout == network.layout  # quaternions, heading frame
    metrics = evaluate_model(
        best,
        data,
        num_examples=200,
        horizon=10,
        plots=False,
        log=None,
    )
    assert np.all(np.isfinite(metrics["mse"]))

    ds = DynamicsDataset(
        data,
        coordinate_indices=[0, 1],
        history_length=4,
        prediction_horizon=10,
        pad_start=False,
        verbose=False,
    )
    rows = jnp.asarray(ds.window_rows(ds.val_indices[::5]))  # held out
    window, controls, targets = split_rows(network, rows)
    states, pred, true = rollout_deltas(network, window, controls, targets)
    cv = ConstantVelocityModel.like(network, dt=ds.dt)
    _, cv_pred, cv_true = rollout_deltas(cv, window, controls, targets)
    model_mse = np.mean(np.square(np.asarray(pred - true)), axis=(0, 2))
    cv_mse = np.mean(np.square(np.asarray(cv_pred - cv_true)), axis=(0, 2))
    print("model / constant-velocity MSE per step:", model_mse / cv_mse)
    assert np.any(model_mse < cv_mse), (model_mse, cv_mse)
    norms = np.linalg.norm(np.asarray(states)[..., 3:7], axis=-1)
    assert np.max(np.abs(norms - 1.0)) < 1e-5
