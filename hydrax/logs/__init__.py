"""Trajectory logs and their manifest: the one owner of the data format.

- `hydrax.logs.format`: the columns, the row convention, `startup_history`.
- `hydrax.logs.reader`: `read_trajectory` (CSV or Parquet) into a checked
  `Trajectory`.
- `hydrax.logs.scan`: `holds_logs`, `list_logs`, `scan_logs` (a set of
  logs at once, with each one's content fingerprint).
- `hydrax.logs.split`: what a checkpoint's split records, `RecordedSplit`:
  keys (`log_keys`, `log_stem`, `match_logs`, `unmatched_keys`) and
  content fingerprints (`log_fingerprint`).
- `hydrax.logs.writer`: `write_trajectory`, lossless and atomic.
- `hydrax.logs.manifest`: the typed `Manifest` and its reader and writer;
  `hydrax.logs.pooled`: the manifest of several directories pooled.

Nothing here imports the training, simulation or task code.
"""

from hydrax.logs.format import (
    LOG_SUFFIXES,
    DataError,
    csv_header,
    parse_header,
    startup_history,
)
from hydrax.logs.manifest import (
    MANIFEST,
    MANIFEST_IDENTITY,
    Manifest,
    read_manifest,
    write_manifest,
)
from hydrax.logs.pooled import read_common_manifest
from hydrax.logs.reader import (
    Trajectory,
    read_columns,
    read_header,
    read_trajectory,
    read_trajectory_csv,
    read_trajectory_parquet,
)
from hydrax.logs.scan import (
    LogScan,
    count_rows,
    holds_logs,
    list_logs,
    scan_logs,
)
from hydrax.logs.split import (
    RecordedSplit,
    log_fingerprint,
    log_keys,
    log_stem,
    match_logs,
    unmatched_keys,
)
from hydrax.logs.writer import write_trajectory, write_trajectory_csv

__all__ = [
    "LOG_SUFFIXES",
    "MANIFEST",
    "MANIFEST_IDENTITY",
    "DataError",
    "LogScan",
    "Manifest",
    "RecordedSplit",
    "Trajectory",
    "count_rows",
    "csv_header",
    "holds_logs",
    "list_logs",
    "log_fingerprint",
    "log_keys",
    "log_stem",
    "match_logs",
    "parse_header",
    "read_columns",
    "read_common_manifest",
    "read_header",
    "read_manifest",
    "read_trajectory",
    "read_trajectory_csv",
    "read_trajectory_parquet",
    "scan_logs",
    "startup_history",
    "unmatched_keys",
    "write_manifest",
    "write_trajectory",
    "write_trajectory_csv",
]
