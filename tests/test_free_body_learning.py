"""Held-out check: a free body falling and bouncing, collected, learned."""

import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.baselines import ConstantVelocityModel
from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.evaluate import evaluate_model
from hydrax.dynamics_model_training.model import rollout_deltas, split_rows
from hydrax.dynamics_model_training.train import (
    load_trained_model,
    train_dynamics_model,
)
from hydrax.simulation.collect import collect

# A ball on a free joint, dropped from 0.6 m onto a plane; the soft, lightly
# damped contact makes it bounce. Two torques (local x and z) spin it, so
# the orientation and the angular velocity change.
BOUNCE_XML = """
<mujoco model="bounce">
  <option timestep="0.01" integrator="Euler"/>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body name="ball" pos="0 0 0.6">
      <freejoint name="root"/>
      <geom type="sphere" size="0.1" mass="1" solref="0.03 0.2"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="root" gear="0 0 0 0.2 0 0" ctrlrange="-1 1"/>
    <motor joint="root" gear="0 0 0 0 0 0.2" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


def test_free_body_model_beats_constant_velocity_and_stays_unit(tmp_path):
    """Trained tiny on random-policy logs (heading frame), it beats constant
    velocity and keeps its quaternions unit norm."""
    xml = tmp_path / "bounce.xml"
    xml.write_text(BOUNCE_XML)
    data = collect(
        xml,
        tmp_path / "data",
        episodes=30,
        duration=2.0,
        policy="random",
        init_spread=0.5,
        progress=False,
    )
    network, _ = train_dynamics_model(
        data,
        "bounce",
        coordinate_indices=[0, 1],  # height stays absolute: the floor
        heading_frame=True,
        hidden_size=32,
        history_length=4,
        prediction_horizon=4,
        batch_size=64,
        num_epochs=4,
        learning_rate=3e-3,
        checkpoint_dir=tmp_path / "ck",
        progress=False,
        log=lambda s: None,
    )
    assert network.layout.quat_indices == (3,)  # from the manifest
    best = tmp_path / "ck" / "bounce" / "best_model.pkl"
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
