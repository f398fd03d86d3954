"""Read trajectory logs (CSV or Parquet) into windows for training.

The names of this module live in their owners and are kept here for the code
and documents that import them from ``data_loader``:

- the log format, reader and manifest: :mod:`hydrax.logs`;
- ``DynamicsDataset``: :mod:`.dataset`; windows and ``gather_windows``:
  :mod:`.windows`; in-memory and streamed blocks: :mod:`.blocks`;
  standardization statistics: :mod:`.standardization`.
"""

from hydrax.dynamics_model_training.blocks import SPLITS
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.standardization import STD_EPS
from hydrax.dynamics_model_training.windows import (
    Examples,
    RowBlock,
    gather_windows,
)
from hydrax.logs import (
    LOG_SUFFIXES,
    MANIFEST,
    MANIFEST_IDENTITY,
    DataError,
    Trajectory,
    list_logs,
    parse_header,
    read_columns,
    read_header,
    read_manifest,
    read_trajectory,
    read_trajectory_csv,
    read_trajectory_parquet,
)

__all__ = [
    "LOG_SUFFIXES",
    "MANIFEST",
    "MANIFEST_IDENTITY",
    "SPLITS",
    "STD_EPS",
    "DataError",
    "DynamicsDataset",
    "Examples",
    "RowBlock",
    "Trajectory",
    "gather_windows",
    "list_logs",
    "parse_header",
    "read_columns",
    "read_header",
    "read_manifest",
    "read_trajectory",
    "read_trajectory_csv",
    "read_trajectory_parquet",
]
