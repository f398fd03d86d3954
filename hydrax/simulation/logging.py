"""Trajectory logs, as written by the closed loop and the collector.

The format is owned by `hydrax.logs`; these names are kept here for the code
that imports them from this module. `read_trajectory_csv` returns a checked
`hydrax.logs.Trajectory`; ``log["qpos"]`` and ``log.qpos`` both read it.
"""

from hydrax.logs import (
    Trajectory,
    csv_header,
    read_trajectory_csv,
    write_trajectory,
    write_trajectory_csv,
)

__all__ = [
    "Trajectory",
    "csv_header",
    "read_trajectory_csv",
    "write_trajectory",
    "write_trajectory_csv",
]
