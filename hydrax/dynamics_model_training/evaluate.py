r"""Evaluate a trained dynamics model: per-step errors against baselines.

Command line (the seed's)::

    python -m hydrax.dynamics_model_training.evaluate \
        --checkpoint .../best_model.pkl --data-dir hydrax/data_csv/<task> \
        --output-dir results/evaluation --num-examples 100 [--horizon 50]

From Python: :func:`evaluate_model`.

The model and three baselines (zero delta, constant velocity, a ridge
regression; see ``baselines.py``) are rolled out K steps autoregressively
from the same true windows, through the same ``apply_delta`` and window
sliding as training. Metrics per step k: the standardized MSE and MAE of the
predicted delta against the delta from the predictor's current state to the
true next state (the training loss's definition and units), and the
physical-unit MSE and MAE of the predicted state per state dimension (angle
errors wrapped to (-π, π]). The report is printed; ``metrics.json``,
``metrics.csv`` and the plots (``evaluation_plots.py``) go to the output
directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hydrax.dynamics_model_training.baselines import (
    RIDGE,
    ConstantVelocityModel,
    StandardizedDeltaModel,
    ZeroDeltaModel,
    fit_linear_model,
)
from hydrax.dynamics_model_training.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from hydrax.dynamics_model_training.data_loader import (
    DataError,
    DynamicsDataset,
    list_logs,
    parse_header,
    read_columns,
)
from hydrax.dynamics_model_training.model import DynamicsNetwork, rollout_deltas
from hydrax.dynamics_model_training.train import load_trained_model
from hydrax.dynamics_model_training.transforms import StateLayout, TransformFn

SHORT_LABELS = {
    "zero_delta": "zero-delta",
    "constant_velocity": "const-vel",
    "linear": "linear",
}


# --- state dimensions ---------------------------------------------------------


def state_dimensions(layout: StateLayout) -> list[dict[str, str]]:
    """Name, kind and unit of each raw state dimension (qpos, then qvel)."""
    dims = []
    for i in range(layout.nq):
        if i in layout.angle_indices:
            kind, unit = "angle", "rad"
        elif i in layout.coordinate_indices:
            kind, unit = "coordinate", "m"
        else:
            kind, unit = "position", ""
        dims.append({"name": f"qpos_{i}", "kind": kind, "unit": unit})
    for i in range(layout.nv):
        unit = ""
        if layout.nq == layout.nv and dims[i]["unit"]:
            unit = dims[i]["unit"] + "/s"
        dims.append({"name": f"qvel_{i}", "kind": "velocity", "unit": unit})
    return dims


def dim_label(dim: dict[str, str]) -> str:
    """``qpos_1 [rad]``, or the bare name when the unit is unknown."""
    return f"{dim['name']} [{dim['unit']}]" if dim["unit"] else dim["name"]


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Wrap angles to (-π, π]."""
    return -(np.remainder(-x + np.pi, 2 * np.pi) - np.pi)


def state_errors(
    layout: StateLayout, predicted: np.ndarray, true: np.ndarray
) -> np.ndarray:
    """Predicted minus true raw states, angle dims wrapped to (-π, π]."""
    err = np.asarray(predicted, np.float64) - np.asarray(true, np.float64)
    angles = list(layout.angle_indices)
    err[..., angles] = wrap_angle(err[..., angles])
    return err


# --- loading and selecting ----------------------------------------------------


def check_data_matches(
    config: dict, data_dir: Path, source: str = "the checkpoint"
) -> None:
    """Refuse data whose columns differ from the model's.

    Raises:
        DataError: naming both the checkpoint's and the data's dims and the
            file whose header differs.
    """
    first = list_logs([data_dir])[0]
    cols = read_columns(first)
    nq, nv, nu = parse_header(cols, first)
    want = (config["nq"], config["nv"], config["nu"])
    want_cols = config.get("columns")
    if (nq, nv, nu) != want or (want_cols and list(want_cols) != cols):
        raise DataError(
            f"{source} was trained on nq={want[0]} nv={want[1]} nu={want[2]}"
            f" ({len(want_cols or [])} columns: "
            f"{','.join(want_cols or [])}) but {first} has nq={nq} nv={nv} "
            f"nu={nu} ({len(cols)} columns: {','.join(cols)}); evaluate on "
            "data logged from the model the network was trained on"
        )


def _resolve_model(
    checkpoint_or_network: str | Path | DynamicsNetwork,
    config: dict | None,
    transform_fn: TransformFn | None,
) -> tuple[DynamicsNetwork, dict, str]:
    """The network, its config and a name for messages."""
    if isinstance(checkpoint_or_network, DynamicsNetwork):
        network = checkpoint_or_network
        lay = network.layout
        base = {
            "nq": lay.nq,
            "nv": lay.nv,
            "nu": lay.nu,
            "angle_indices": list(lay.angle_indices),
            "coordinate_indices": list(lay.coordinate_indices),
            "history_length": network.history_length,
            "train_files": [],
            "val_files": [],
            "history": {},
        }
        base.update(config or {})
        return network, base, "the network"
    path = Path(checkpoint_or_network)
    network, loaded = load_trained_model(path, transform_fn)
    loaded["history"] = _longest_history(path, loaded)
    return network, loaded, str(path)


def _longest_history(path: Path, config: dict) -> dict:
    """The training curves, from ``last.pkl`` beside the checkpoint if longer.

    ``best_model.pkl`` holds the history up to its own epoch; the run's last
    checkpoint (same files, same settings) holds all of it.
    """
    history = config.get("history") or {}
    last = path.parent / "last.pkl"
    if last.resolve() == path.resolve() or not last.is_file():
        return history
    try:
        other = read_checkpoint(last)
    except CheckpointError:
        return history
    same = all(
        other["config"].get(k) == config.get(k)
        for k in ("train_files", "val_files", "hidden_size", "columns")
    )
    longer = other.get("history") or {}
    n_this = len(history.get("train_loss") or [])
    if same and len(longer.get("train_loss") or []) > n_this:
        return longer
    return history


@dataclass
class _Selection:
    """The evaluation examples and where the linear baseline is fit."""

    indices: np.ndarray  # dataset example indices, sorted
    split: str  # the split actually evaluated
    fit_mask: np.ndarray  # files the linear baseline is fit on
    fit_note: str
    notes: list[str]


def _select(
    dataset: DynamicsDataset,
    config: dict,
    split: str,
    num_examples: int,
    seed: int,
) -> _Selection:
    names = np.array([p.name for p in dataset.files])
    is_val = np.isin(names, list(config.get("val_files") or []))
    is_train = np.isin(names, list(config.get("train_files") or []))
    notes = []
    if split == "val":
        mask, used = is_val, "val"
        if not mask.any():
            mask, used = np.ones(len(names), bool), "all"
            n_val = len(config.get("val_files") or [])
            why = (
                f"none of the checkpoint's {n_val} validation files is in "
                "the data directory (or long enough)"
                if n_val
                else "the model has no validation files"
            )
            notes.append(f"note: {why}; evaluating on all {len(names)} files")
    elif split == "train":
        mask, used = is_train, "train"
        if not mask.any():
            raise DataError(
                f"none of the checkpoint's {int(len(config['train_files']))}"
                " training files is in the data directory (or long enough)"
                "; use split 'all' or 'val'"
            )
    else:
        mask, used = np.ones(len(names), bool), "all"
    candidates = np.flatnonzero(mask[dataset.example_files])
    if len(candidates) == 0:
        raise DataError(f"the {used} split has no evaluation window")
    rng = np.random.default_rng(seed)
    if len(candidates) > num_examples:
        candidates = np.sort(rng.choice(candidates, num_examples, False))

    fit_mask, fit_note = is_train, "the checkpoint's training files"
    if not fit_mask.any():
        eval_files = np.zeros(len(names), bool)
        eval_files[dataset.example_files[candidates]] = True
        fit_mask, fit_note = ~eval_files, "the files not evaluated"
        if not fit_mask.any():
            fit_mask = eval_files
            fit_note = "the evaluated files themselves (in-sample)"
    return _Selection(candidates, used, fit_mask, fit_note, notes)


# --- metrics ------------------------------------------------------------------


def _rollout_batches(
    model: StandardizedDeltaModel,
    windows: np.ndarray,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roll a predictor out over example rows in fixed-size batches."""
    h = model.history_length
    ns = model.layout.nq + model.layout.nv
    fn = jax.jit(lambda w, c, t: rollout_deltas(model, w, c, t))
    outs = [[], [], []]
    for lo in range(0, len(windows), batch_size):
        part = windows[lo : lo + batch_size]
        n = len(part)
        if n < batch_size:  # pad to one compiled shape
            pad = np.repeat(part[:1], batch_size - n, axis=0)
            part = np.concatenate([part, pad])
        part = jnp.asarray(part)
        res = fn(part[:, :h], part[:, h:, ns:], part[:, h:, :ns])
        for out, r in zip(outs, res, strict=True):
            out.append(np.asarray(r)[:n])
    return tuple(np.concatenate(o) for o in outs)


def _predictor_metrics(
    layout: StateLayout,
    dims: list[dict[str, str]],
    rolled: tuple[np.ndarray, np.ndarray, np.ndarray],
    targets: np.ndarray,
) -> dict[str, Any]:
    """Per-step errors of one predictor's rollout (see ``rollout_deltas``)."""
    states, pred_std, true_std = rolled
    diff = pred_std.astype(np.float64) - true_std.astype(np.float64)
    err = state_errors(layout, states, targets)  # (B, K, ns)
    mse = np.mean(np.square(err), axis=0)  # (K, ns)
    mae = np.mean(np.abs(err), axis=0)
    names = [d["name"] for d in dims]
    return {
        "mse": np.mean(np.square(diff), axis=(0, 2)).tolist(),
        "mae": np.mean(np.abs(diff), axis=(0, 2)).tolist(),
        "phys_mse": {n: mse[:, i].tolist() for i, n in enumerate(names)},
        "phys_mae": {n: mae[:, i].tolist() for i, n in enumerate(names)},
        "phys_mse_sum": mse.sum(axis=1).tolist(),
    }


def _ratio(a: Sequence[float], b: Sequence[float]) -> list[float | None]:
    out = []
    for x, y in zip(a, b, strict=True):
        r = x / y if y > 0 else math.inf
        out.append(r if math.isfinite(r) else None)
    return out


def evaluate_model(  # noqa: PLR0917 (the seed's positional signature)
    checkpoint_or_network: str | Path | DynamicsNetwork,
    data_dir: str | Path,
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
        data_dir: Directory of CSV logs from the model's MuJoCo model.
        num_examples: Windows to evaluate (all when fewer), picked from
            ``seed`` without replacement.
        horizon: Steps to roll out (default: the training horizon).
        seed: Seeds the choice of windows.
        split: ``val`` (the checkpoint's validation files; all files when
            none is in ``data_dir``), ``train`` or ``all``.
        output_dir: Where metrics.json, metrics.csv and the plots go (None:
            nothing is written).
        plots: Write the PNG plots (needs ``output_dir``).
        config: The network's config when a network is passed.
        batch_size: Windows per rollout batch.
        transform_fn: The custom feature map the checkpoint was trained with.
        log: Where the report goes (None: silent).

    Returns:
        The metrics (what metrics.json holds): per predictor per-step lists
        ``mse``, ``mae`` (standardized), ``phys_mse``/``phys_mae`` (per state
        dimension), ``phys_mse_sum``; ``ratios`` model/baseline; the chosen
        ``examples`` (file, row of the current state); settings.

    Raises:
        DataError: bad, empty, too short or mismatched data.
        CheckpointError: an unreadable checkpoint.
        ValueError: a bad argument.
    """
    say = log or (lambda s: None)
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
    network, config, source = _resolve_model(
        checkpoint_or_network, config, transform_fn
    )
    if horizon is None:
        horizon = config.get("prediction_horizon")
        if horizon is None:
            raise ValueError("horizon is required when the config has none")
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    horizon = int(horizon)
    data_dir = Path(data_dir)
    check_data_matches(config, data_dir, source)
    h = network.history_length
    layout = network.layout
    dataset = DynamicsDataset(
        data_dir,
        coordinate_indices=list(layout.coordinate_indices),
        angle_indices=list(layout.angle_indices),
        history_length=h,
        prediction_horizon=horizon,
        transform_fn=network.transform_fn,
        pad_start=False,  # evaluate on true histories only
        val_files=[],  # the split is by the checkpoint's file names below
        verbose=False,
    )
    dt = float(config.get("dt", dataset.dt))
    if abs(dataset.dt - dt) > 1e-4 * dt:
        raise DataError(
            f"{data_dir}: timestep {dataset.dt:g} s, but {source} was "
            f"trained at dt {dt:g} s"
        )
    if dataset.skipped_files:
        n = dataset.skipped_files + len(dataset.files)
        say(
            f"note: skipped {dataset.skipped_files} of {n} files shorter "
            f"than {h + horizon} rows (history {h} + horizon {horizon})"
        )
    sel = _select(dataset, config, split, num_examples, seed)
    for note in sel.notes:
        say(note)
    windows = dataset.window_rows(sel.indices)  # (B, H + K, R)
    ns = layout.nq + layout.nv
    targets = windows[:, h:, :ns]

    predictors: dict[str, StandardizedDeltaModel] = {"model": network}
    predictors["zero_delta"] = ZeroDeltaModel.like(network)
    if layout.nq == layout.nv:
        predictors["constant_velocity"] = ConstantVelocityModel.like(
            network, dt=dt
        )
    else:
        say("note: nq != nv, so no constant-velocity baseline")
    linear, n_fit = fit_linear_model(network, dataset, sel.fit_mask, seed=seed)
    predictors["linear"] = linear

    dims = state_dimensions(layout)
    results: dict[str, dict] = {}
    states_of: dict[str, np.ndarray] = {}
    for name, model in predictors.items():
        states, pred_std, true_std = _rollout_batches(
            model, windows, batch_size
        )
        states_of[name] = states
        results[name] = _predictor_metrics(
            layout, dims, (states, pred_std, true_std), targets
        )
    model_res = results["model"]
    ratios = {
        name: {
            "mse": _ratio(model_res["mse"], res["mse"]),
            "phys_mse_sum": _ratio(
                model_res["phys_mse_sum"], res["phys_mse_sum"]
            ),
        }
        for name, res in results.items()
        if name != "model"
    }
    files = dataset.example_files[sel.indices]
    in_file = dataset.example_rows[sel.indices] - dataset.file_offsets[files]
    history = config.get("history") or {}
    metrics = {
        "checkpoint": source,
        "data_dir": str(data_dir),
        "split_requested": split,
        "split": sel.split,
        "num_examples": len(sel.indices),
        "horizon": horizon,
        "training_horizon": config.get("prediction_horizon"),
        "history_length": h,
        "mode": getattr(network, "mode", "window"),
        "seed": seed,
        "dt": dt,
        "dims": dims,
        "examples": [
            {"file": dataset.files[f].name, "row": int(r)}
            for f, r in zip(files, in_file, strict=True)
        ],
        "mse": model_res["mse"],
        "mae": model_res["mae"],
        "predictors": results,
        "ratios": ratios,
        "linear_fit": {
            "windows": n_fit,
            "ridge": RIDGE,
            "files": sel.fit_note,
        },
        "best_val_loss": history.get("best_val_loss"),
        "skipped_files": int(dataset.skipped_files),
    }
    say(format_report(metrics))
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = [
            out / "metrics.json",
            write_csv(metrics, out / "metrics.csv"),
        ]
        if plots:
            from hydrax.dynamics_model_training.evaluation_plots import (
                write_plots,
            )

            written += write_plots(
                metrics,
                out,
                history=history,
                windows=windows,
                states_of=states_of,
                layout=layout,
            )
        metrics["files"] = [str(p) for p in written]
        write_json(metrics, out / "metrics.json")
        say(f"wrote {', '.join(p.name for p in written)} to {out}")
    return metrics


# --- report -------------------------------------------------------------------


def format_value(v: float | None) -> str:
    """``0.000123``; scientific below 1e-6 so nothing prints as 0.000000."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if v != 0 and abs(v) < 1e-6:
        return f"{v:.3e}"
    return f"{v:.6f}"


def report_steps(horizon: int) -> list[int]:
    """Steps shown in the compact tables: all up to 12, else a selection."""
    if horizon <= 12:
        return list(range(1, horizon + 1))
    picks = [1, 2, 3, 5, 10, *range(20, horizon, 10), horizon]
    return sorted({k for k in picks if k <= horizon})


def format_report(metrics: dict[str, Any]) -> str:
    """The printed report: MSE/MAE blocks, physical table, ratio table."""
    k_all = metrics["horizon"]
    dt = metrics["dt"]
    lines = [
        f"evaluated {metrics['num_examples']} windows from the "
        f"{metrics['split']} split of {metrics['data_dir']}, rolled out "
        f"{k_all} steps ({k_all * dt:g} s) from true histories of "
        f"{metrics['history_length']} rows",
        "",
        "Errors of the predicted delta, in the model's standardized units "
        "(the training loss's, comparable with the validation loss):",
        "Average MSE per step:",
    ]
    for k, v in enumerate(metrics["mse"], start=1):
        lines.append(f"  Step {k}: {format_value(v)}")
    lines.append("Average MAE per step:")
    for k, v in enumerate(metrics["mae"], start=1):
        lines.append(f"  Step {k}: {format_value(v)}")
    k_train = metrics.get("training_horizon")
    if k_train and k_train <= k_all:
        mean = float(np.mean(metrics["mse"][:k_train]))
        best = metrics.get("best_val_loss")
        extra = (
            f" (the checkpoint's best validation loss: {best:.6g})"
            if best is not None
            else ""
        )
        lines.append(
            f"Mean MSE over the {k_train} training-horizon steps: "
            f"{mean:.6g}{extra}"
        )

    steps = report_steps(k_all)
    dims = metrics["dims"]
    model = metrics["predictors"]["model"]
    heads = [dim_label(d) for d in dims]
    widths = [max(len(s), 10) for s in heads]
    lines += [
        "",
        "Model RMSE per state dimension, physical units (angle errors "
        "wrapped to (-pi, pi]):",
        " step  time [s]  "
        + "  ".join(s.rjust(w) for s, w in zip(heads, widths, strict=True)),
    ]
    for k in steps:
        vals = [
            f"{math.sqrt(model['phys_mse'][d['name']][k - 1]):.3e}".rjust(w)
            for d, w in zip(dims, widths, strict=True)
        ]
        lines.append(f" {k:4d}  {k * dt:8.3f}  " + "  ".join(vals))

    names = list(metrics["ratios"])
    w = 10
    heads = "  ".join(SHORT_LABELS[n].rjust(w) for n in names)
    left = len(heads)
    lines += [
        "",
        "Model / baseline error ratio (< 1: the model is better):",
        "       "
        + "standardized MSE".center(left)
        + "  |  "
        + "physical MSE, sum over dims".center(left),
        " step  " + heads + "  |  " + heads,
    ]
    for k in steps:
        a = [_fmt_ratio(metrics["ratios"][n]["mse"][k - 1]) for n in names]
        b = [
            _fmt_ratio(metrics["ratios"][n]["phys_mse_sum"][k - 1])
            for n in names
        ]
        lines.append(
            f" {k:4d}  "
            + "  ".join(s.rjust(w) for s in a)
            + "  |  "
            + "  ".join(s.rjust(w) for s in b)
        )
    fit = metrics["linear_fit"]
    lines.append(
        f"(linear baseline: ridge {fit['ridge']:g}, fit on {fit['windows']} "
        f"one-step windows of {fit['files']})"
    )
    return "\n".join(line.rstrip() for line in lines)


def _fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.3g}"


def _jsonable(obj: Any) -> Any:  # noqa: ANN401
    """Non-finite floats → None, numpy scalars → Python numbers."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(metrics: dict[str, Any], path: Path) -> Path:
    """Write the metrics as JSON."""
    path.write_text(json.dumps(_jsonable(metrics), indent=1) + "\n")
    return path


def write_csv(metrics: dict[str, Any], path: Path) -> Path:
    """One row per (predictor, step): standardized and physical errors."""
    names = [d["name"] for d in metrics["dims"]]
    header = ["predictor", "step", "time_s", "mse_std", "mae_std"]
    header += [f"mse_{n}" for n in names] + [f"mae_{n}" for n in names]
    header += ["mse_phys_sum", "ratio_mse_std", "ratio_mse_phys_sum"]
    dt = metrics["dt"]
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for pred, res in metrics["predictors"].items():
            ratio = metrics["ratios"].get(pred)
            for k in range(metrics["horizon"]):
                row = [pred, k + 1, round((k + 1) * dt, 9)]
                row += [res["mse"][k], res["mae"][k]]
                row += [res["phys_mse"][n][k] for n in names]
                row += [res["phys_mae"][n][k] for n in names]
                row.append(res["phys_mse_sum"][k])
                if ratio is None:
                    row += ["", ""]
                else:
                    row += [
                        _csv_num(ratio["mse"][k]),
                        _csv_num(ratio["phys_mse_sum"][k]),
                    ]
                out.writerow(row)
    return path


def _csv_num(v: float | None) -> str | float:
    return "" if v is None else v


# --- command line -------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="python -m hydrax.dynamics_model_training.evaluate",
        description=(
            "Evaluate a trained dynamics model: per-step MSE/MAE of "
            "open-loop rollouts (standardized and physical units) against "
            "zero-delta, constant-velocity and linear baselines, with "
            "metrics.json, metrics.csv and plots."
        ),
    )
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        required=True,
        type=Path,
        help="checkpoint file (.pkl) written by training",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        required=True,
        type=Path,
        help="directory of CSV logs from the same MuJoCo model",
    )
    p.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        default=Path("results/evaluation"),
        help="where metrics and plots go (default: %(default)s)",
    )
    p.add_argument(
        "--num-examples",
        metavar="N",
        type=_positive_int,
        default=100,
        help="windows to evaluate (default: %(default)s)",
    )
    p.add_argument(
        "--horizon",
        metavar="N",
        type=_positive_int,
        default=None,
        help="steps to roll out (default: the training horizon)",
    )
    p.add_argument(
        "--seed",
        metavar="N",
        type=int,
        default=0,
        help="seeds the choice of windows (default: %(default)s)",
    )
    p.add_argument(
        "--split",
        choices=("val", "train", "all"),
        default="val",
        help="the checkpoint's validation files, its training "
        "files, or every file (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        metavar="N",
        type=_positive_int,
        default=128,
        help="windows per rollout batch (default: %(default)s)",
    )
    p.add_argument("--no-plots", action="store_true", help="write metrics only")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        evaluate_model(
            args.checkpoint,
            args.data_dir,
            num_examples=args.num_examples,
            horizon=args.horizon,
            seed=args.seed,
            split=args.split,
            output_dir=args.output_dir,
            plots=not args.no_plots,
            batch_size=args.batch_size,
        )
    except (DataError, CheckpointError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
