"""Checkpoint files that hold data only and never run code when loaded.

A checkpoint is a pickle (the ``.pkl`` the seed names) restricted to plain
data: dicts, lists, tuples, strings, numbers, booleans, None and bytes.
Arrays are stored as ``{"__ndarray__": dtype, "shape": ..., "data": bytes}``.
The loader's unpickler refuses every global (class or function) reference,
so a file crafted to execute code on load is rejected before anything runs.
Files are written atomically: a temporary file beside the target, flushed
and fsynced, then renamed over it.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hydrax.atomic import sigint_deferred

FORMAT = "hydrax-dynamics-checkpoint"
FORMAT_VERSION = 1
_ARRAY = "__ndarray__"
REQUIRED = ("config", "params", "statistics")
"""The records every checkpoint holds (dicts)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: unsafe, truncated or foreign."""


def encode(obj: Any) -> Any:  # noqa: ANN401
    """Turn arrays (numpy or JAX) into plain-data records, recursively."""
    if isinstance(obj, dict):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "__array__") and not isinstance(obj, str | bytes):
        a = np.array(obj, order="C", copy=True)  # keeps 0-d arrays 0-d
        if a.dtype == object:
            raise TypeError("object arrays cannot be stored in a checkpoint")
        return {
            _ARRAY: a.dtype.str,
            "shape": list(a.shape),
            "data": a.tobytes(),
        }
    if obj is None or isinstance(obj, bool | int | float | str | bytes):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def decode(obj: Any) -> Any:  # noqa: ANN401
    """Inverse of :func:`encode`: array records become numpy arrays."""
    if isinstance(obj, dict):
        if _ARRAY in obj:
            a = np.frombuffer(obj["data"], dtype=np.dtype(obj[_ARRAY]))
            return a.reshape(obj["shape"]).copy()
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


class _DataOnlyUnpickler(pickle.Unpickler):
    """An unpickler that admits no class or function at all."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: ANN401
        raise CheckpointError(
            f"refused: the file references the Python object "
            f"{module}.{name}, and loading it could run code. hydrax "
            "checkpoints hold plain data only. (Pickled flax graph_defs, as "
            "written by other forks of this module, are refused for this "
            "reason: retrain, or re-export the weights as arrays.)"
        )

    def persistent_load(self, pid: Any) -> Any:  # noqa: ANN401
        raise CheckpointError("refused: the file uses persistent IDs")


def read_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint file safely and return its decoded dict.

    Raises:
        CheckpointError: if the file is missing, truncated, references code,
            or is not a hydrax checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        # Training writes to <checkpoint-dir>/<name>/: name what is there.
        near = sorted(path.parent.glob(f"*/{path.name}"))
        what = "no such checkpoint file"
        if path.is_dir():  # a run's folder: name its checkpoints
            what = "a folder, not a checkpoint file"
            near = (
                sorted(path.glob("best_model.pkl"))
                or sorted(path.glob("*/best_model.pkl"))
                or sorted(path.glob("*.pkl"))
            )
        hint = f" (did you mean {', '.join(map(str, near))}?)" if near else ""
        raise CheckpointError(f"{path}: {what}{hint}")
    raw = path.read_bytes()
    try:
        obj = _DataOnlyUnpickler(io.BytesIO(raw)).load()
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except Exception as e:  # noqa: BLE001 (any malformed stream)
        raise CheckpointError(
            f"{path}: truncated or corrupt checkpoint ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a hydrax dynamics checkpoint")
    version = obj.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version}; this hydrax reads "
            f"version {FORMAT_VERSION}"
        )
    missing = [k for k in REQUIRED if not isinstance(obj.get(k), dict)]
    if missing:
        raise CheckpointError(
            f"{path}: corrupt checkpoint, no {' or '.join(missing)} record"
        )
    try:
        return decode(obj)
    except Exception as e:  # noqa: BLE001 (a malformed array record)
        raise CheckpointError(
            f"{path}: corrupt checkpoint, an array record does not decode "
            f"({type(e).__name__}: {e})"
        ) from None


_write_lock = threading.Lock()


def write_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write a checkpoint atomically; Ctrl-C waits until it is complete.

    Args:
        path: The target file; its directory is created.
        payload: Plain data and arrays; ``format`` keys are added.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"format": FORMAT, "format_version": FORMAT_VERSION}
    record.update(encode(payload))
    blob = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    with _write_lock, sigint_deferred():
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def earlier_run(folder: Path) -> list[Path]:
    """The files of an earlier run that a new run in ``folder`` replaces.

    Its ``model_epoch_<N>.pkl`` and ``last.pkl``.
    """
    old = sorted(Path(folder).glob("model_epoch_*.pkl"))
    return old + [p for p in (Path(folder) / "last.pkl",) if p.exists()]


def clear_earlier_run(
    folder: Path, files: list[Path], say: Callable[[str], None]
) -> None:
    """Remove an earlier run's files (`earlier_run`) and say so.

    A new run calls it as it writes its first checkpoint: until then the
    earlier run stays whole (resumable); after, its snapshots would lie
    beside the new run's, and its ``last.pkl`` pass for the new run's.
    Its ``best_model.pkl`` is replaced by the new run's.
    """
    for path in files:
        path.unlink(missing_ok=True)
    say(
        f"{folder} held an earlier run's checkpoints: removed its "
        f"{', '.join(p.name for p in files)} (this run's replace them)"
    )
