"""The evaluation pipeline: :func:`evaluate_model`.

The model and three baselines (zero delta, constant velocity, a ridge
regression; see ``baselines.py``) are rolled out K steps autoregressively
from the same true windows (``evaluation_windows.py``), through the same
``apply_delta`` and window sliding as training. The metrics
(``evaluation_metrics.py``) are means over the windows, each with a 95%
bootstrap interval over the windows. The report (``evaluation_report.py``)
is printed; ``metrics.json``, ``metrics.csv``, ``summary.csv`` and the plots
(``evaluation_plots.py``) go to the output directory. An ensemble's
checkpoint is rolled out as the planner's ``"mean"`` strategy does, and
each member alone (``evaluation_ensemble.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hydrax.dynamics_model_training.baselines import (
    RIDGE,
    ConstantVelocityModel,
    StandardizedDeltaModel,
    ZeroDeltaModel,
    fit_linear_model,
)
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.evaluation_ensemble import (
    EnsembleMean,
    ensemble_metrics,
    ensemble_rollout,
    member_name,
)
from hydrax.dynamics_model_training.evaluation_metrics import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    bootstrap_weights,
    error_dimensions,
    predictor_metrics,
    ratios,
    rollout_batches,
    with_joint_units,
)
from hydrax.dynamics_model_training.evaluation_plots import write_plots
from hydrax.dynamics_model_training.evaluation_report import (
    format_report,
    write_csv,
    write_json,
    write_summary_csv,
)
from hydrax.dynamics_model_training.evaluation_windows import (
    Selection,
    load_windows,
    resolve_model,
    select_windows,
)
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.transforms import StateLayout, TransformFn


def _check_arguments(split: str, num_examples: int, batch_size: int) -> None:
    if split not in ("val", "train", "all"):
        raise ValueError(
            f"split must be 'val', 'train' or 'all', got {split!r}"
        )
    for name, value in (
        ("num_examples", num_examples),
        ("batch_size", batch_size),
    ):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(
                f"{name} must be a positive integer, got {value!r}"
            )


def _horizon(horizon: int | None, config: dict) -> int:
    if horizon is None:
        horizon = config.get("prediction_horizon")
        if horizon is None:
            raise ValueError("horizon is required when the config has none")
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return int(horizon)


def _predictors(
    network: DynamicsNetwork,
    dataset: DynamicsDataset,
    sel: Selection,
    dt: float,
    seed: int,
    say: Callable[[str], None],
) -> tuple[dict[str, StandardizedDeltaModel], int]:
    """The model and its baselines; the linear fit's window count."""
    predictors: dict[str, StandardizedDeltaModel] = {"model": network}
    predictors["zero_delta"] = ZeroDeltaModel.like(network)
    layout = network.layout
    if layout.nv == layout.nq - len(layout.quat_indices):
        predictors["constant_velocity"] = ConstantVelocityModel.like(
            network, dt=dt
        )
    else:
        say(
            f"note: nv = {layout.nv} is not nq - (quaternions) = "
            f"{layout.nq} - {len(layout.quat_indices)}, so no "
            "constant-velocity baseline (declare free and ball joints in "
            "quat_indices)"
        )
    linear, n_fit = fit_linear_model(network, dataset, sel.fit_mask, seed=seed)
    predictors["linear"] = linear
    return predictors, n_fit


def _measure(
    predictors: dict[str, StandardizedDeltaModel],
    layout: StateLayout,
    windows: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    training_horizon: int | None,
    members: list[DynamicsNetwork],
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, Any] | None]:
    """Roll every predictor out: metrics, predicted states, the ensemble's.

    With more than one member, ``model`` is the ensemble's mean rollout and
    every member is rolled out alone as ``member_<m>`` (after the
    baselines); the third result is then the ensemble's metrics and what
    its plot needs (else None).
    """
    h = next(iter(predictors.values())).history_length
    targets = windows[:, h:, : layout.nq + layout.nv]
    weights = bootstrap_weights(len(windows), seed)  # same for all
    dims = error_dimensions(layout)
    results, states_of, rolls = {}, {}, {}
    ensemble = None
    if len(members) > 1:
        predictors = dict(predictors)
        for m, net in enumerate(members):
            predictors[member_name(m)] = net
        rolls["model"] = ensemble = rollout_batches(
            EnsembleMean(tuple(members)),
            windows,
            batch_size,
            ensemble_rollout,
        )
    for name, model in predictors.items():
        rolled = rolls.get(name) or rollout_batches(model, windows, batch_size)
        states_of[name] = rolled[0]
        results[name] = predictor_metrics(
            layout, dims, rolled[:3], targets, weights, training_horizon
        )
    if ensemble is None:
        return results, states_of, None
    ens = ensemble_metrics(results, ensemble, len(members), weights)
    return results, states_of, {"metrics": ens, "rolled": ensemble}


def _metrics(
    results: dict[str, dict],
    *,
    dataset: DynamicsDataset,
    sel: Selection,
    settings: dict[str, Any],
    n_fit: int,
) -> dict[str, Any]:
    """What metrics.json holds."""
    model_res = results["model"]
    ratio = {  # the model against the baselines, not its members
        name: {
            "mse": ratios(model_res["mse"], res["mse"]),
            "phys_mse_sum": ratios(
                model_res["phys_mse_sum"], res["phys_mse_sum"]
            ),
        }
        for name, res in results.items()
        if name != "model" and not name.startswith("member_")
    }
    files = dataset.example_files[sel.indices]
    in_file = dataset.example_rows[sel.indices] - dataset.file_offsets[files]
    keys = dataset.file_names
    return {
        **settings,
        "split": sel.split,
        "num_examples": len(sel.indices),
        "examples": [
            {"file": keys[f], "row": int(r)}  # dir/name where names repeat
            for f, r in zip(files, in_file, strict=True)
        ],
        "mse": model_res["mse"],
        "mae": model_res["mae"],
        "mse_ci": model_res["mse_ci"],
        "predictors": results,
        "ratios": ratio,
        "bootstrap": {
            "resamples": BOOTSTRAP_RESAMPLES,
            "confidence": CONFIDENCE,
            "seed": settings["seed"],
            "method": "percentile, windows resampled with replacement",
        },
        "linear_fit": {"windows": n_fit, "ridge": RIDGE, "files": sel.fit_note},
        "skipped_files": int(dataset.skipped_files),
    }


def _settings(
    network: DynamicsNetwork,
    config: dict,
    source: str,
    data_dir: Path | list[Path],
    dt: float,
    dataset: DynamicsDataset,
) -> dict[str, Any]:
    """The model's and the data's part of metrics.json.

    Units the layout leaves open come from the joints of the manifest the
    dataset read (none: the layout's alone).
    """
    manifest = dataset.manifest_record
    joints = manifest.joints if manifest is not None else None
    return {
        "checkpoint": source,
        "data_dir": str(data_dir)
        if isinstance(data_dir, Path)
        else [str(d) for d in data_dir],
        "training_horizon": config.get("prediction_horizon"),
        "history_length": network.history_length,
        "mode": getattr(network, "mode", "window"),
        "delta": network.layout.delta,
        "dt": dt,
        "dims": with_joint_units(error_dimensions(network.layout), joints),
        "goal_qpos": manifest.goal_qpos if manifest is not None else None,
        "best_val_loss": (config.get("history") or {}).get("best_val_loss"),
    }


def _write_outputs(
    metrics: dict[str, Any],
    out: Path,
    plots: bool,
    plot_inputs: dict[str, Any],
) -> list[Path]:
    """Write the metrics files and, if asked, the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        out / "metrics.json",
        write_csv(metrics, out / "metrics.csv"),
        write_summary_csv(metrics, out / "summary.csv"),
    ]
    if plots:
        written += write_plots(metrics, out, **plot_inputs)
    metrics["files"] = [str(p) for p in written]
    write_json(metrics, out / "metrics.json")
    return written


def evaluate_model(  # noqa: PLR0917 (the seed's positional signature)
    checkpoint_or_network: str | Path | DynamicsNetwork,
    data_dir: str | Path | Sequence[str | Path],
    num_examples: int = 100,
    horizon: int | None = None,
    seed: int = 0,
    split: str = "val",
    output_dir: str | Path | None = None,
    plots: bool = True,
    *,
    config: dict | None = None,
    batch_size: int = 128,
    transform_fn: TransformFn | None = None,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Evaluate a model and three baselines on the same windows.

    Args:
        checkpoint_or_network: A checkpoint path, or a network (then pass its
            ``config`` for the split, dt and training curves).
        data_dir: Directory of logs from the model's MuJoCo model, or
            several (e.g. the directories it was trained on).
        num_examples: Windows to evaluate (all when fewer), picked from
            ``seed`` without replacement. The command line's default is
            ``evaluate.DEFAULT_NUM_EXAMPLES``; with 100 windows the mean
            over a long horizon can move a lot between seeds (see the
            intervals).
        horizon: Steps to roll out (default: the training horizon).
        seed: Seeds the choice of windows and the bootstrap resamples.
        split: ``val`` (the checkpoint's validation files; when none is
            in ``data_dir``, the files it did not train on, or all with a
            note), ``train`` or ``all``.
        output_dir: Where metrics.json, metrics.csv, summary.csv and the
            plots go (None: nothing is written).
        plots: Write the PNG plots (needs ``output_dir``).
        config: The network's config when a network is passed.
        batch_size: Windows per rollout batch.
        transform_fn: The custom feature map the checkpoint was trained with.
        log: Where the report goes (None: silent).

    Returns:
        The metrics (what metrics.json holds): per predictor per-step lists
        ``mse``, ``mae`` (standardized), ``phys_mse``/``phys_mae`` (per state
        dimension), ``phys_mse_sum``, their 95% intervals ``mse_ci``,
        ``mae_ci``, ``phys_mse_sum_ci`` and ``horizon_mean`` (the mean over
        the horizon with its interval); ``ratios`` model/baseline; the
        chosen ``examples`` (file, row of the current state); settings.
        For an ensemble's checkpoint ``model`` is the members' mean rollout,
        each member is a predictor ``member_<m>`` too, and ``ensemble``
        holds the disagreement and its correlations
        (``evaluation_ensemble.ensemble_metrics``).

    Raises:
        DataError: bad, empty, too short or mismatched data.
        CheckpointError: an unreadable checkpoint.
        ValueError: a bad argument.
    """
    say = log or (lambda s: None)
    _check_arguments(split, num_examples, batch_size)
    if output_dir is not None and Path(output_dir).is_file():
        raise ValueError(f"{output_dir}: the output directory is a file")
    network, config, source, members = resolve_model(
        checkpoint_or_network, config, transform_fn
    )
    horizon = _horizon(horizon, config)
    if isinstance(data_dir, str | Path):
        data_dir = Path(data_dir)
    else:
        data_dir = [Path(d) for d in data_dir]
    dataset, dt, notes = load_windows(
        network, config, data_dir, horizon, source
    )
    sel = select_windows(dataset, config, split, num_examples, seed)
    for note in notes + sel.notes:
        say(note)
    windows = dataset.window_rows(sel.indices)  # (B, H + K, R)
    predictors, n_fit = _predictors(network, dataset, sel, dt, seed, say)
    results, states_of, ensemble = _measure(
        predictors,
        network.layout,
        windows,
        batch_size=batch_size,
        seed=seed,
        training_horizon=config.get("prediction_horizon"),
        members=members,
    )
    history = config.get("history") or {}
    settings = _settings(network, config, source, data_dir, dt, dataset)
    settings.update(split_requested=split, horizon=horizon, seed=seed)
    metrics = _metrics(
        results, dataset=dataset, sel=sel, settings=settings, n_fit=n_fit
    )
    if ensemble is not None:
        metrics["ensemble"] = ensemble["metrics"]
    say(format_report(metrics))
    if output_dir is not None:
        out = Path(output_dir)
        written = _write_outputs(
            metrics,
            out,
            plots,
            {
                "history": history,
                "windows": windows,
                "states_of": states_of,
                "layout": network.layout,
                "ensemble_rolled": ensemble and ensemble["rolled"],
            },
        )
        say(f"wrote {', '.join(p.name for p in written)} to {out}")
    return metrics
