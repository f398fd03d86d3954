"""Evaluating an ensemble: members, the mean rollout, disagreement."""

from __future__ import annotations

import csv
import json

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hydrax.dynamics_model_training.evaluate import evaluate_model
from hydrax.dynamics_model_training.evaluation_ensemble import (
    EnsembleMean,
    ensemble_rollout,
    pearson,
    spearman,
)
from hydrax.dynamics_model_training.evaluation_ensemble_plot import (
    ENSEMBLE_PLOT,
)
from hydrax.dynamics_model_training.evaluation_metrics import rollout_batches
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    rollout_deltas,
)
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.dynamics_model_training.transforms import StateLayout

MEMBERS = 3
HORIZON = 8


@pytest.fixture(scope="module")
def ensemble_eval(dcp_data, tmp_path_factory):
    """A 3-member ensemble trained briefly, evaluated with files written."""
    root = tmp_path_factory.mktemp("ens_eval")
    train_dynamics_model(
        dcp_data,
        "ens",
        hidden_size=16,
        history_length=5,
        prediction_horizon=4,
        num_epochs=2,
        learning_rate=3e-3,
        num_models=MEMBERS,
        checkpoint_dir=root,
        progress=False,
        log=lambda s: None,
    )
    said = []
    metrics = evaluate_model(
        root / "ens" / "best_model.pkl",
        dcp_data,
        num_examples=50,
        horizon=HORIZON,
        output_dir=root / "out",
        log=said.append,
    )
    return metrics, "\n".join(said), root / "out"


def test_every_member_is_evaluated(ensemble_eval):
    """Members are predictors of their own; the ratios stay the baselines'."""
    metrics, _, _ = ensemble_eval
    members = [f"member_{m}" for m in range(MEMBERS)]
    assert metrics["ensemble"]["members"] == members
    assert set(members) < set(metrics["predictors"])
    assert set(metrics["ratios"]) <= {
        "zero_delta",
        "constant_velocity",
        "linear",
    }
    mses = [metrics["predictors"][n]["mse"] for n in members]
    assert all(len(m) == HORIZON for m in mses)
    # Members trained from different seeds and shuffles predict differently.
    assert np.ptp(np.array(mses)[:, 0]) > 0
    np.testing.assert_allclose(
        metrics["ensemble"]["member_mean_mse"], np.mean(mses, axis=0)
    )


def test_mean_beats_the_members_average_one_step_ahead(ensemble_eval):
    """Convexity: from the same true window the mean delta's MSE is no
    larger than the members' average MSE; over the horizon the fed-back
    mean stays below the members' average on this data."""
    metrics, _, _ = ensemble_eval
    ens = metrics["predictors"]["model"]["mse"]
    avg = metrics["ensemble"]["member_mean_mse"]
    assert ens[0] <= avg[0] * (1 + 1e-6)
    assert ens[0] < avg[0]  # the members do disagree
    assert np.mean(ens) < np.mean(avg)


def test_disagreement_and_correlations_are_finite(ensemble_eval):
    """Positive disagreement; correlations in [-1, 1] per step and overall,
    positive overall."""
    ens = ensemble_eval[0]["ensemble"]
    assert len(ens["disagreement"]) == HORIZON
    assert all(d > 0 for d in ens["disagreement"])
    for key in ("pearson", "spearman"):
        values = [*ens[key], ens["overall"][key]]
        assert all(v is not None and -1 <= v <= 1 for v in values), key
    # Where the members disagree more, the ensemble tends to be worse.
    assert ens["overall"]["spearman"] > 0
    lo, hi = np.asarray(ens["disagreement_ci"]).T
    assert np.all(lo <= ens["disagreement"]) and np.all(
        ens["disagreement"] <= hi
    )


def test_report_files_and_plot(ensemble_eval):
    """The report, metrics.json, metrics.csv and ensemble.png have it."""
    metrics, text, out = ensemble_eval
    assert f"Ensemble of {MEMBERS} members" in text
    assert "over the horizon (per-window means)" in text
    assert "member 2" in text  # its horizon mean in the interval block
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["ensemble"]["num_models"] == MEMBERS
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    for m in range(MEMBERS):
        got = [
            float(r["mse_std"]) for r in rows if r["predictor"] == f"member_{m}"
        ]
        np.testing.assert_allclose(
            got, metrics["predictors"][f"member_{m}"]["mse"], rtol=1e-12
        )
    model = [r for r in rows if r["predictor"] == "model"]
    np.testing.assert_allclose(
        [float(r["disagreement_spearman"]) for r in model],
        metrics["ensemble"]["spearman"],
        rtol=1e-12,
    )
    assert all(
        r["disagreement"] == "" for r in rows if r["predictor"] != "model"
    )
    png = (out / ENSEMBLE_PLOT).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert str(out / ENSEMBLE_PLOT) in saved["files"]


def _net(layout, seed):
    net = DynamicsNetwork(
        layout, hidden_size=8, history_length=3, rngs=nnx.Rngs(seed)
    )
    rng = np.random.default_rng(0)  # shared statistics, as in an ensemble
    net.set_statistics(
        {
            "in_mean": rng.normal(size=net.feature_dim),
            "in_std": rng.uniform(0.5, 2.0, net.feature_dim),
            "out_mean": rng.normal(scale=0.01, size=layout.state_dim),
            "out_std": rng.uniform(0.01, 0.1, layout.state_dim),
        }
    )
    return net


def test_structured_ensemble_scores_the_integrated_delta():
    """Identical structured-delta members score as one: the mean delta's
    position part is integrated from the velocity, as in the rollout."""
    layout = StateLayout.create(
        3, 3, 1, [1, 2], [0], delta="velocity", delta_dt=0.01
    )
    rows = (
        np.random.default_rng(2).normal(size=(6, 3 + 4, 7)).astype(np.float32)
    )
    one = _net(layout, 0)
    same = rollout_batches(EnsembleMean((one, one)), rows, 3, ensemble_rollout)
    alone = rollout_batches(one, rows, 3)
    assert float(np.max(np.abs(alone[1][..., :4]))) > 0.1  # positions count
    for a, b in zip(same[:3], alone, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_ensemble_rollout_against_its_members():
    """Identical members: the single rollout, no disagreement. Different
    members: step 1 is the mean of their step-1 deltas, and the disagreement
    is their std, RMS over the components."""
    layout = StateLayout.create(3, 3, 1, [1, 2], [0])
    rows = (
        np.random.default_rng(1).normal(size=(10, 3 + 5, 7)).astype(np.float32)
    )
    one = _net(layout, 0)
    same = rollout_batches(EnsembleMean((one, one)), rows, 4, ensemble_rollout)
    alone = rollout_batches(one, rows, 4)
    for a, b in zip(same[:3], alone, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(same[3], 0.0, atol=1e-6)

    nets = [_net(layout, s) for s in range(3)]
    states, mean, true, spread = rollout_batches(
        EnsembleMean(tuple(nets)), rows, 4, ensemble_rollout
    )
    w = jnp.asarray(rows)
    first = np.stack(
        [
            np.asarray(
                rollout_deltas(n, w[:, :3], w[:, 3:, 6:], w[:, 3:, :6])[1]
            )[:, 0]
            for n in nets
        ]
    )  # (M, B, D)
    np.testing.assert_allclose(mean[:, 0], first.mean(axis=0), atol=1e-5)
    expected = np.sqrt(np.mean(np.var(first, axis=0), axis=-1))
    np.testing.assert_allclose(spread[:, 0], expected, rtol=1e-4)
    assert np.all(spread > 0)


def test_pearson_and_spearman_by_hand():
    """Small arrays worked by hand; ties share ranks; constants give None."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    # deviations (-2,-1,0,1,2), (-1,-2,1,0,2): 8 / sqrt(10 * 10)
    assert pearson(x, y) == pytest.approx(0.8)
    assert spearman(x, y) == pytest.approx(0.8)
    cubic = np.array([1.0, 8.0, 27.0, 1000.0])
    assert spearman([1, 2, 3, 4], cubic) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], cubic) < 0.85
    # ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        4.5 / np.sqrt(22.5)
    )
    assert pearson([1, 1, 1], [1, 2, 3]) is None
