"""The evaluation's printed report and its files.

- :func:`format_report`: the text printed (standardized MSE/MAE per step,
  the 95% intervals, the physical RMSE table, the model/baseline ratios);
- :func:`write_json`: ``metrics.json``, everything;
- :func:`write_csv`: ``metrics.csv``, one row per predictor and step;
- :func:`write_summary_csv`: ``summary.csv``, one row per predictor with
  the mean over the horizon and its interval.

Files are written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from hydrax.dynamics_model_training.evaluation_metrics import dim_label

SHORT_LABELS = {
    "model": "model",
    "zero_delta": "zero-delta",
    "constant_velocity": "const-vel",
    "linear": "linear",
}


def short_label(name: str) -> str:
    """A predictor's label in tables: ``zero-delta``, ``member 2``, ..."""
    return SHORT_LABELS.get(name, name.replace("_", " "))


def format_value(v: float | None) -> str:
    """``0.000123``; scientific below 1e-6 so nothing prints as 0.000000."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if v != 0 and abs(v) < 1e-6:
        return f"{v:.3e}"
    return f"{v:.6f}"


def format_interval(ci: list[float] | None) -> str:
    """``[0.0123, 0.0456]``, four significant digits."""
    if ci is None:
        return "n/a"
    return f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def report_steps(horizon: int) -> list[int]:
    """Steps shown in the compact tables: all up to 12, else a selection."""
    if horizon <= 12:
        return list(range(1, horizon + 1))
    picks = [1, 2, 3, 5, 10, *range(20, horizon, 10), horizon]
    return sorted({k for k in picks if k <= horizon})


def _step_blocks(metrics: dict[str, Any]) -> list[str]:
    """``Average MSE per step:`` / ``Step k: value`` blocks, MSE and MAE."""
    k_all, dirs = metrics["horizon"], metrics["data_dir"]
    dirs = ", ".join(dirs) if isinstance(dirs, list) else dirs
    lines = [
        f"evaluated {metrics['num_examples']} windows from the "
        f"{metrics['split']} split of {dirs}, rolled out "
        f"{k_all} steps ({k_all * metrics['dt']:g} s) from true histories "
        f"of {metrics['history_length']} rows",
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
    model = metrics["predictors"]["model"]
    train_mean = model.get("training_horizon_mean")
    if train_mean:
        best = metrics.get("best_val_loss")
        extra = (
            f" (the checkpoint's best validation loss: {best:.6g})"
            if best is not None
            else ""
        )
        lines.append(
            f"Mean MSE over the {train_mean['steps']} training-horizon "
            f"steps: {train_mean['mse']['mean']:.6g} "
            f"{format_interval(train_mean['mse']['ci'])}{extra}"
        )
    return lines


def _interval_block(metrics: dict[str, Any]) -> list[str]:
    """Horizon means of every predictor and the model's per-step intervals."""
    boot = metrics["bootstrap"]
    pct = f"{boot['confidence'] * 100:g}%"
    steps = metrics["horizon"]
    lines = [
        "",
        f"{pct} intervals of the means ({boot['resamples']} bootstrap "
        f"resamples of the {metrics['num_examples']} windows; narrower "
        "with more windows):",
        f"  {f'mean over the {steps} steps':<24}  {'standardized MSE':<34}"
        "  physical MSE, sum over dims",
    ]
    for name, res in metrics["predictors"].items():
        std = res["horizon_mean"]["mse"]
        phys = res["horizon_mean"]["phys_mse_sum"]
        a = f"{std['mean']:<10.4g}{format_interval(std['ci'])}"
        b = f"{phys['mean']:<10.4g}{format_interval(phys['ci'])}"
        lines.append(f"  {short_label(name):<24}  {a:<34}  {b}")
    model = metrics["predictors"]["model"]
    lines.append("  model, standardized MSE per step:")
    lines.append(f"  {'step':>6}  {'mean':<10}{pct} interval")
    for k in report_steps(steps):
        lines.append(
            f"  {k:6d}  {model['mse'][k - 1]:<10.4g}"
            f"{format_interval(model['mse_ci'][k - 1])}"
        )
    return lines


def _physical_table(metrics: dict[str, Any]) -> list[str]:
    """The model's RMSE per state dimension at the report's steps."""
    dt = metrics["dt"]
    dims = metrics["dims"]
    model = metrics["predictors"]["model"]
    heads = [dim_label(d) for d in dims]
    widths = [max(len(s), 10) for s in heads]
    note = "angle errors wrapped to (-pi, pi]"
    if any(d["kind"] == "orientation" for d in dims):
        note += "; orientation: geodesic angle in degrees"
    lines = [
        "",
        f"Model RMSE per state dimension, physical units ({note}):",
        " step  time [s]  "
        + "  ".join(s.rjust(w) for s, w in zip(heads, widths, strict=True)),
    ]
    for k in report_steps(metrics["horizon"]):
        vals = [
            f"{math.sqrt(model['phys_mse'][d['name']][k - 1]):.3e}".rjust(w)
            for d, w in zip(dims, widths, strict=True)
        ]
        lines.append(f" {k:4d}  {k * dt:8.3f}  " + "  ".join(vals))
    return lines


def _fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.3g}"


def _ratio_table(metrics: dict[str, Any]) -> list[str]:
    """Model / baseline error ratios at the report's steps."""
    names = list(metrics["ratios"])
    w = 10
    heads = "  ".join(SHORT_LABELS[n].rjust(w) for n in names)
    left = len(heads)
    lines = [
        "",
        "Model / baseline error ratio (< 1: the model is better):",
        "       "
        + "standardized MSE".center(left)
        + "  |  "
        + "physical MSE, sum over dims".center(left),
        " step  " + heads + "  |  " + heads,
    ]
    for k in report_steps(metrics["horizon"]):
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
    if metrics.get("delta") == "velocity":
        lines.append(
            "(the structured delta: a zero velocity change keeps the "
            "velocity and integrates the positions from it, so zero-delta "
            "is constant velocity and the two rows agree)"
        )
    return lines


def _fmt_corr(r: float | None) -> str:
    return "n/a" if r is None else f"{r:+.3f}"


def _ensemble_block(metrics: dict[str, Any]) -> list[str]:
    """Members, the ensemble and the disagreement's correlation per step."""
    ens = metrics["ensemble"]
    preds = metrics["predictors"]
    names = ens["members"]
    heads = [f"m{n.split('_')[-1]}" for n in names]
    lines = [
        "",
        f"Ensemble of {ens['num_models']} members (model = the mean of their "
        "deltas at every step, as planning with strategy 'mean'); "
        "standardized MSE per step, each member rolled out alone:",
        "  disagreement: the members' std of the predicted standardized "
        "delta (RMS over components); r, rho: its Pearson and Spearman "
        f"correlation with the ensemble's RMS error over the "
        f"{metrics['num_examples']} windows",
        f" {'step':>4}  {'ensemble':>9}  {'members':>9}  "
        + "  ".join(h.rjust(9) for h in heads)
        + f"  {'disagree':>9}  {'r':>6}  {'rho':>6}",
    ]
    for k in report_steps(metrics["horizon"]):
        i = k - 1
        row = [f"{preds['model']['mse'][i]:9.4g}"]
        row.append(f"{ens['member_mean_mse'][i]:9.4g}")
        row += [f"{preds[n]['mse'][i]:9.4g}" for n in names]
        row.append(f"{ens['disagreement'][i]:9.4g}")
        row += [f"{_fmt_corr(ens[c][i]):>6}" for c in ("pearson", "spearman")]
        lines.append(f" {k:4d}  " + "  ".join(row))
    over = ens["overall"]
    lines.append(
        "  over the horizon (per-window means): disagreement vs error "
        f"r = {_fmt_corr(over['pearson'])}, rho = "
        f"{_fmt_corr(over['spearman'])}"
    )
    return lines


def format_report(metrics: dict[str, Any]) -> str:
    """The printed report: MSE/MAE blocks, intervals, physical, ratios.

    An ensemble's report ends with its members and disagreement.
    """
    lines = _step_blocks(metrics)
    lines += _interval_block(metrics)
    lines += _physical_table(metrics)
    lines += _ratio_table(metrics)
    if "ensemble" in metrics:
        lines += _ensemble_block(metrics)
    return "\n".join(line.rstrip() for line in lines)


# --- files --------------------------------------------------------------------


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


def _write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json(metrics: dict[str, Any], path: Path) -> Path:
    """Write the metrics as JSON."""
    return _write_atomic(path, json.dumps(_jsonable(metrics), indent=1) + "\n")


def _csv_num(v: float | None) -> str | float:
    return "" if v is None else v


def _csv_text(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_csv(metrics: dict[str, Any], path: Path) -> Path:
    """One row per (predictor, step): errors, intervals and ratios.

    An ensemble has a row per member (``member_<m>``) and step, and the
    model's rows add the disagreement and its correlations with the error.
    """
    names = [d["name"] for d in metrics["dims"]]
    header = ["predictor", "step", "time_s", "mse_std", "mae_std"]
    header += [f"mse_{n}" for n in names] + [f"mae_{n}" for n in names]
    header += ["mse_phys_sum", "ratio_mse_std", "ratio_mse_phys_sum"]
    header += ["mse_std_ci_low", "mse_std_ci_high"]
    header += ["mae_std_ci_low", "mae_std_ci_high"]
    header += ["mse_phys_sum_ci_low", "mse_phys_sum_ci_high"]
    ens = metrics.get("ensemble")
    if ens:  # on the model's rows (the ensemble's mean rollout)
        header += ["disagreement", "disagreement_pearson"]
        header += ["disagreement_spearman"]
    dt = metrics["dt"]
    rows = [header]
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
            for key in ("mse_ci", "mae_ci", "phys_mse_sum_ci"):
                row += res[key][k]
            if ens:
                keys = ("disagreement", "pearson", "spearman")
                row += [
                    _csv_num(ens[key][k]) if pred == "model" else ""
                    for key in keys
                ]
            rows.append(row)
    return _write_atomic(path, _csv_text(rows))


def write_summary_csv(metrics: dict[str, Any], path: Path) -> Path:
    """One row per predictor: means over the horizon and their intervals."""
    rows = [
        [
            "predictor",
            "steps",
            "windows",
            "mean_mse_std",
            "mean_mse_std_ci_low",
            "mean_mse_std_ci_high",
            "mean_mse_phys_sum",
            "mean_mse_phys_sum_ci_low",
            "mean_mse_phys_sum_ci_high",
        ]
    ]
    for pred, res in metrics["predictors"].items():
        mean = res["horizon_mean"]
        std, phys = mean["mse"], mean["phys_mse_sum"]
        rows.append(
            [pred, mean["steps"], metrics["num_examples"], std["mean"]]
            + std["ci"]
            + [phys["mean"]]
            + phys["ci"]
        )
    return _write_atomic(path, _csv_text(rows))
