"""Train, load and evaluate GRU dynamics models on CSV trajectory logs.

The pieces, one job each:

- ``transforms``: features, deltas and ``apply_delta`` (the one definition).
- ``data_loader``: ``DynamicsDataset`` over a directory of CSV logs.
- ``model``: the GRU network (flax NNX), its rollout and multi-step loss.
- ``train``: ``train_dynamics_model``, ``load_trained_model``, the CLI.
- ``checkpoint``: data-only checkpoint files, written atomically.
- ``evaluate``: per-step errors, baselines and plots.
"""

from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.model import (
    DynamicsNetwork,
    multi_step_loss,
    rollout,
)
from hydrax.dynamics_model_training.train import (
    load_trained_model,
    train_dynamics_model,
)
from hydrax.dynamics_model_training.transforms import (
    StateLayout,
    apply_delta,
    state_delta,
    window_features,
)

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
