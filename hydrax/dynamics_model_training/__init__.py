"""Train, load and evaluate GRU dynamics models on CSV trajectory logs.

The pieces, one job each:

- ``transforms``: features, deltas and ``apply_delta`` (the one definition).
- ``data_loader``: ``DynamicsDataset`` over a directory of CSV logs.
- ``model``: the GRU network (flax NNX), its rollout and multi-step loss.
- ``model_io``: checkpoint configuration (``ModelConfig``), rebuilding and
  loading networks (``load_trained_model``).
- ``train_steps``: the jitted training and validation steps.
- ``trainer``: the epoch loop and its checkpoints.
- ``train``: ``train_dynamics_model`` and its command line (flags in
  ``training_cli``; arguments, network and configuration of a run in
  ``training_setup``).
- ``checkpoint``: data-only checkpoint files, written atomically.
- ``evaluate``: per-step errors, baselines and plots.

The names below are imported on first use, so that running a submodule as
a command (``python -m hydrax.dynamics_model_training.train``) does not
import it twice.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DynamicsDataset": "data_loader",
    "DynamicsNetwork": "model",
    "multi_step_loss": "model",
    "rollout": "model",
    "load_trained_model": "model_io",
    "train_dynamics_model": "train",
    "StateLayout": "transforms",
    "apply_delta": "transforms",
    "state_delta": "transforms",
    "window_features": "transforms",
}

__all__ = [
    "DynamicsDataset",
    "DynamicsNetwork",
    "StateLayout",
    "apply_delta",
    "load_trained_model",
    "multi_step_loss",
    "rollout",
    "state_delta",
    "train_dynamics_model",
    "window_features",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """Import an exported name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
