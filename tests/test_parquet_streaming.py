"""Parquet logs, the converter command, and streamed (bounded-memory) data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from hydrax.dynamics_model_training.convert import convert_logs
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.logs import DataError, read_trajectory, read_trajectory_parquet

KW = dict(history_length=4, prediction_horizon=3, verbose=False)


def test_csv_parquet_csv_round_trip_is_exact(dcp_data, tmp_path):
    """CSV → Parquet → CSV keeps every float64 bit, the columns and the
    manifest; training data from either format is the same."""
    pq = tmp_path / "pq"
    back = tmp_path / "back"
    written = convert_logs(dcp_data, pq, progress=False)
    assert [p.suffix for p in written] == [".parquet"] * 12
    convert_logs(pq, back, to="csv", progress=False)
    for src in sorted(dcp_data.glob("*.csv")):
        a = read_trajectory(src)
        b = read_trajectory(pq / f"{src.stem}.parquet")
        c = read_trajectory(back / src.name)
        for other in (b, c):
            assert other.columns == a.columns
            assert np.array_equal(other.times, a.times)
            assert np.array_equal(other.rows, a.rows)
    assert json.loads((pq / "manifest.json").read_text()) == json.loads(
        (dcp_data / "manifest.json").read_text()
    )
    d_csv = DynamicsDataset(dcp_data, **KW)
    d_pq = DynamicsDataset(pq, **KW)
    assert np.array_equal(d_csv.data, d_pq.data)
    for k, v in d_csv.statistics.items():
        assert np.array_equal(v, d_pq.statistics[k]), k


def test_converter_refuses_overwrite_and_bad_logs(dcp_data, tmp_path):
    """An existing target needs --overwrite; a bad log is named with its
    line and column, exit code 2, and nothing is written: after the fix
    the same command runs without --overwrite."""
    out = tmp_path / "pq"
    convert_logs(dcp_data, out, progress=False)
    with pytest.raises(DataError, match="already exists.*--overwrite"):
        convert_logs(dcp_data, out, progress=False)
    convert_logs(dcp_data, out, overwrite=True, progress=False)
    # Into a folder of other logs (here the same logs as CSV, which Parquet
    # copies beside them would double): refused, since one manifest cannot
    # describe two datasets, --overwrite or not.
    copy = tmp_path / "copy"
    shutil.copytree(dcp_data, copy)
    for overwrite in (False, True):
        with pytest.raises(DataError, match="already holds .* other log"):
            convert_logs(dcp_data, copy, overwrite=overwrite, progress=False)
    assert not list(copy.glob("*.parquet"))

    bad = tmp_path / "bad"
    shutil.copytree(dcp_data, bad)
    path = bad / "episode_00003.csv"
    lines = path.read_text().splitlines()
    cells = lines[7].split(",")
    cells[2] = "abc"
    lines[7] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    dst = tmp_path / "bad_out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hydrax.dynamics_model_training.convert",
            str(bad),
            str(dst),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert re.search(
        r"episode_00003\.csv: line 8, column 'qpos_1': 'abc' is not a number",
        proc.stderr,
    ), proc.stderr
    assert not dst.exists()  # not even the files before the bad one
    assert len(proc.stderr.strip().splitlines()) == 1
    shutil.copy(dcp_data / "episode_00003.csv", path)
    assert len(convert_logs(bad, dst, progress=False)) == len(
        list(bad.glob("*.csv"))
    )
    with pytest.raises(DataError, match="the output directory is a file"):
        convert_logs(dcp_data, path, progress=False)


def test_bad_parquet_is_refused_with_row_and_column(dcp_data, tmp_path):
    """NaN, text columns and a wrong header in Parquet are named exactly."""
    frame = pl.read_csv(dcp_data / "episode_00000.csv")
    nan = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(float("nan"))
        .otherwise(pl.col("qvel_1"))
        .alias("qvel_1")
    )
    nan.write_parquet(tmp_path / "nan.parquet")
    with pytest.raises(
        DataError, match=r"nan\.parquet: row 5, column 'qvel_1'.*NaN"
    ):
        read_trajectory_parquet(tmp_path / "nan.parquet")
    text = frame.with_columns(pl.col("ctrl_0").cast(pl.String))
    text.write_parquet(tmp_path / "text.parquet")
    with pytest.raises(DataError, match=r"column 'ctrl_0' has type String"):
        read_trajectory_parquet(tmp_path / "text.parquet")
    frame.rename({"qvel_0": "velocity"}).write_parquet(tmp_path / "h.parquet")
    with pytest.raises(DataError, match=r"h\.parquet: column 5 'velocity'"):
        read_trajectory_parquet(tmp_path / "h.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="junk.parquet: not a readable"):
        read_trajectory_parquet(tmp_path / "junk.parquet")


def test_streamed_blocks_are_bounded_and_cover_every_window(dcp_data):
    """Each block holds whole files within max_rows_in_memory; together the
    blocks give the same windows and statistics as the in-memory dataset."""
    full = DynamicsDataset(dcp_data, **KW)
    stream = DynamicsDataset(dcp_data, max_rows_in_memory=700, **KW)
    with pytest.raises(DataError, match="streamed.*blocks"):
        _ = stream.data
    assert stream.block_rows <= 700
    for split in ("train", "val"):
        windows = []
        for block, ids in stream.blocks(split):
            assert block.data.shape[0] == stream.block_rows
            assert block.file_offsets[-1] <= 700
            windows.append(
                np.stack(
                    [
                        block.data[block.example_rows[i]]
                        for i in ids  # the current row of each window
                    ]
                )
            )
        ids = full.train_indices if split == "train" else full.val_indices
        expect = full.data[full.example_rows[ids]]
        got = np.concatenate(windows)
        assert sum(stream.block_windows(split)) == len(expect)
        assert np.array_equal(np.sort(got, axis=0), np.sort(expect, axis=0)), (
            split
        )
    for k, v in full.statistics.items():
        np.testing.assert_allclose(stream.statistics[k], v, rtol=1e-5)
    with pytest.raises(DataError, match="300 rows, more than"):
        DynamicsDataset(dcp_data, max_rows_in_memory=299, **KW)


def test_streamed_training_is_deterministic_and_learns(dcp_data, tmp_path):
    """Small blocks of a mixed CSV + Parquet directory train, and the same
    seed gives the same losses."""
    mixed = tmp_path / "mixed"
    shutil.copytree(dcp_data, mixed)
    for src in sorted(mixed.glob("*.csv"))[::2]:
        pl.read_csv(src).write_parquet(src.with_suffix(".parquet"))
        src.unlink()
    kw = dict(
        hidden_size=8,
        history_length=3,
        prediction_horizon=2,
        num_epochs=3,
        learning_rate=3e-3,
        max_rows_in_memory=650,
        progress=False,
        log=lambda s: None,
        checkpoint_dir=tmp_path,
    )
    _, a = train_dynamics_model(mixed, "a", **kw)
    _, b = train_dynamics_model(mixed, "b", **kw)
    assert a["train_loss"] == b["train_loss"]
    assert a["val_loss"] == b["val_loss"]
    assert all(np.isfinite(a["train_loss"]))
    assert a["val_loss"][-1] < a["val_loss"][0]


def test_stopping_early_stops_the_read_ahead(dcp_data):
    """A consumer that leaves after the first block leaves no reader
    thread behind."""
    import threading
    import time

    stream = DynamicsDataset(dcp_data, max_rows_in_memory=700, **KW)
    before = threading.active_count()
    blocks = stream.blocks("train")
    next(blocks)
    blocks.close()
    deadline = time.monotonic() + 5.0
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


def test_resume_accepts_a_checkpoint_without_newer_options(tmp_path):
    """A checkpoint written before an option existed resumes when the
    option has its default; a changed option is still refused."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError
    from hydrax.dynamics_model_training.train import _check_resume

    saved = {"mode": "window", "hyperparameters": {"batch_size": 32}}
    now = {
        "mode": "window",
        "hyperparameters": {"batch_size": 32, "max_rows_in_memory": None},
    }
    _check_resume(saved, now, tmp_path / "last.pkl")
    now["hyperparameters"]["max_rows_in_memory"] = 1000
    with pytest.raises(
        CheckpointError,
        match=r"max_rows_in_memory differs \(checkpoint not given, now 1000\)",
    ):
        _check_resume(saved, now, tmp_path / "last.pkl")
    # An option since removed, recorded as its default: nothing differs.
    saved["hyperparameters"]["old_option"] = None
    now["hyperparameters"]["max_rows_in_memory"] = None
    _check_resume(saved, now, tmp_path / "last.pkl")


def test_resume_accepts_a_split_recorded_by_file_names(tmp_path):
    """A last.pkl of before the split's keys (bare file names) resumes
    when the names are those of the same split; another split is refused."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError
    from hydrax.dynamics_model_training.train import _check_resume

    saved = {"train_files": ["a.csv", "a.csv"], "val_files": ["b.csv"]}
    now = {
        "train_files": ("lqr/a.csv", "broad/a.csv"),
        "val_files": ["x/b.csv"],
    }
    _check_resume(saved, now, tmp_path / "last.pkl")
    now["val_files"] = ["x/c.csv"]
    with pytest.raises(CheckpointError, match="val_files differs"):
        _check_resume(saved, now, tmp_path / "last.pkl")


def test_resume_accepts_the_split_of_converted_logs(tmp_path):
    """Logs converted to Parquet keep the split their CSV keys recorded;
    another log in their place is still refused."""
    from hydrax.dynamics_model_training.checkpoint import CheckpointError
    from hydrax.dynamics_model_training.train import _check_resume

    saved = {"train_files": ["d/a.csv", "d/b.csv"], "val_files": ["d/c.csv"]}
    now = {
        "train_files": ("d/a.parquet", "d/b.parquet"),
        "val_files": ["d/c.parquet"],
    }
    _check_resume(saved, now, tmp_path / "last.pkl")
    names = {"train_files": ["a.csv", "b.csv"], "val_files": ["c.csv"]}
    _check_resume(names, now, tmp_path / "last.pkl")
    now["train_files"] = ("d/a.parquet", "d/x.parquet")
    with pytest.raises(CheckpointError, match="train_files differs"):
        _check_resume(saved, now, tmp_path / "last.pkl")
