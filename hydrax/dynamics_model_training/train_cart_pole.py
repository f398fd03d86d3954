"""Train a dynamics model for the cart pole with the seed's defaults.

``python -m hydrax.dynamics_model_training.train_cart_pole`` trains on
``hydrax/data_csv/cart_pole``; when that holds no logs it first
collects a default dataset there (and says so). Checkpoints go to
``hydrax/dynamics_model_training/checkpoints/cart_pole/``. qpos is
[cart position, pole angle].
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from hydrax.dynamics_model_training.task_training import (
    default_data_dir,
    ensure_task_dataset,
    task_training_main,
)

TASK = "cart_pole"
DATA_DIR = default_data_dir(TASK)
COORDINATE_INDICES = [0]
ANGLE_INDICES = [1]


def ensure_dataset(
    data_dir: Path, episodes: int = 200, duration: float = 5.0, seed: int = 0
) -> Path:
    """Collect the default cart pole dataset if ``data_dir`` is empty."""
    return ensure_task_dataset(TASK, data_dir, episodes, duration, seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Collect data if needed, then train with the seed's defaults."""
    return task_training_main(
        TASK, COORDINATE_INDICES, ANGLE_INDICES, argv=argv
    )


if __name__ == "__main__":
    sys.exit(main())
