"""Convert a directory of trajectory logs between CSV and Parquet.

``python -m hydrax.dynamics_model_training.convert SRC DST`` reads every log
in SRC (checked exactly as training reads it), writes each one to DST in the
other format with the same name stem and the same float64 values, and copies
SRC's ``manifest.json``. Parquet files are about half the size of the CSV
logs; training reads either (and a mix).

Every log is read and checked before the first is written (so each is
parsed twice), and, as for training, all must share one header. Every file
is written atomically, so an interrupted conversion leaves only complete
files; run it again with ``--overwrite`` to finish.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from hydrax.logs import (
    LOG_SUFFIXES,
    DataError,
    list_logs,
    read_manifest,
    read_trajectory,
    scan_logs,
    write_manifest,
    write_trajectory,
)
from hydrax.utils import (
    DefaultsHelpFormatter,
    command_error,
    command_name,
    interrupted_exit,
)

FORMATS = {"parquet": ".parquet", "csv": ".csv"}
"""Target formats and their suffixes."""


def convert_logs(
    src: str | Path,
    dst: str | Path,
    to: str = "parquet",
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Convert every log of ``src`` into ``dst`` in the format ``to``.

    Args:
        src: A directory of CSV and/or Parquet logs.
        dst: The output directory (created; may not be ``src``).
        to: ``parquet`` or ``csv``.
        overwrite: Replace logs already in ``dst``.
        progress: Show a progress bar.

    Returns:
        The files written, in name order.

    Raises:
        DataError: a bad log (naming its file, line and column; nothing is
            written then), a target that already exists, or ``dst`` equal
            to ``src`` or a file.
    """
    if to not in FORMATS:
        raise ValueError(f"to must be 'parquet' or 'csv', got {to!r}")
    src, dst = Path(src), Path(dst)
    files = list_logs([src])
    if dst.exists() and dst.resolve() == src.resolve():
        raise DataError(f"{dst}: the output directory is the input directory")
    suffix = FORMATS[to]
    targets = [dst / (f.stem + suffix) for f in files]
    counts = Counter(f.stem for f in files)
    twice = sorted(stem for stem, n in counts.items() if n > 1)
    if twice:
        raise DataError(
            f"{src}: {twice[0]} exists as both CSV and Parquet; convert a "
            "directory holding one of them"
        )
    if dst.is_dir():  # logs of another dataset: one manifest cannot say
        mine = set(targets)
        others = sorted(
            p.name
            for p in dst.iterdir()
            if p.suffix in LOG_SUFFIXES and p not in mine
        )
        if others:
            raise DataError(
                f"{dst}: already holds {len(others)} other log(s) "
                f"({others[0]}{', ...' * (len(others) > 1)}); converting into"
                " it would mix two datasets under one manifest: give a new "
                "folder"
            )
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise DataError(
            f"{existing[0]}: already exists ({len(existing)} of "
            f"{len(targets)} targets do); pass --overwrite to replace them"
        )
    if dst.exists() and not dst.is_dir():
        raise DataError(f"{dst}: the output directory is a file")
    manifest = read_manifest(src)
    # Every log is checked before the first is written: a bad file leaves
    # no partial output behind to block the run that follows its fix.
    scan_logs(files, keep_rows=False)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path, target in tqdm(
        list(zip(files, targets, strict=True)),
        desc=f"to {to}",
        unit="file",
        disable=not progress,
    ):
        traj = read_trajectory(path)
        write_trajectory(target, traj.times, traj.qpos, traj.qvel, traj.ctrl)
        written.append(target)
    if manifest is not None:
        write_manifest(dst, manifest)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """The command line."""
    p = argparse.ArgumentParser(
        prog=command_name("hydrax.dynamics_model_training.convert"),
        formatter_class=DefaultsHelpFormatter,
        description=(
            "Convert a directory of trajectory logs between CSV and Parquet "
            "(same columns, same float64 values; manifest.json is copied). "
            "Training reads both."
        ),
    )
    p.add_argument("src", type=Path, help="directory of CSV/Parquet logs")
    p.add_argument("dst", type=Path, help="output directory")
    p.add_argument(
        "--to",
        choices=sorted(FORMATS),
        default="parquet",
        help="target format (default: parquet)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace logs already in the output directory",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (e.g. when the output goes to a log file)",
    )
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        written = convert_logs(
            args.src,
            args.dst,
            to=args.to,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except (DataError, ValueError, OSError) as e:
        return command_error(p, e)
    except KeyboardInterrupt:
        print(
            f"{p.prog}: interrupted; {args.dst} holds the logs converted so "
            "far (each complete; no manifest.json yet): rerun with "
            "--overwrite",
            file=sys.stderr,
        )
        return interrupted_exit()
    size_in = sum(
        f.stat().st_size for f in args.src.iterdir() if f.suffix in LOG_SUFFIXES
    )
    size_out = sum(f.stat().st_size for f in written)
    print(
        f"wrote {len(written)} {args.to} logs to {args.dst} "
        f"({size_in / 1e6:.1f} MB -> {size_out / 1e6:.1f} MB, "
        f"{time.perf_counter() - start:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
