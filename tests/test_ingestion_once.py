"""Construction reads each log once, and its statistics are the plain ones.

A streamed dataset folds the standardization statistics into the read that
checks each file; an in-memory dataset computes them from the rows it keeps.
Either way the statistics must equal a straightforward float64 computation
over every training window, and no file may be read twice at construction
(or more than once per epoch afterwards).
"""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest

import hydrax.dynamics_model_training.blocks as blocks_module
import hydrax.logs.scan as scan_module
from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.standardization import STD_EPS
from hydrax.dynamics_model_training.train import train_dynamics_model
from hydrax.dynamics_model_training.transforms import (
    state_delta,
    window_features,
)
from hydrax.logs import DataError, read_trajectory

H, K = 4, 3


def reference_statistics(ds: DynamicsDataset) -> dict[str, np.ndarray]:
    """numpy over every training window: float32 rows (angles wrapped),
    start-up padding by hand, features and deltas in float64 moments."""
    layout = ds.layout
    ns = layout.nq + layout.nv
    angles = list(layout.angle_indices)
    first = 0 if ds.pad_start else H - 1
    feats, deltas = [], []
    for path in ds.train_files:
        rows = read_trajectory(path).rows.copy()
        rows[:, angles] = np.remainder(rows[:, angles] + np.pi, 2 * np.pi)
        rows[:, angles] -= np.pi
        rows = rows.astype(np.float32)
        pad = np.concatenate([rows[0, :ns], np.zeros(layout.nu, np.float32)])
        padded = np.concatenate([np.tile(pad, (H - 1, 1)), rows])
        windows = np.stack(
            [padded[t : t + H] for t in range(first, len(rows) - K)]
        )
        feats.append(np.asarray(window_features(layout, windows)))
        deltas.append(
            np.asarray(state_delta(layout, rows[:-1, :ns], rows[1:, :ns]))
        )
    f = np.concatenate(feats).astype(np.float64).reshape(-1, feats[0].shape[-1])
    d = np.concatenate(deltas).astype(np.float64)
    out_mean, out_std = d.mean(0), d.std(0)
    for c, s in layout.angle_slots:
        out_mean[c], out_mean[s] = 1.0, 0.0
        out_std[c] = out_std[s]
    return {
        "in_mean": f.mean(0),
        "in_std": np.where(f.std(0) < STD_EPS, 1.0, f.std(0)),
        "out_mean": out_mean,
        "out_std": np.maximum(out_std, STD_EPS),
    }


@pytest.mark.parametrize("max_rows", [None, 700])
@pytest.mark.parametrize("pad_start", [True, False])
def test_statistics_equal_a_plain_computation(dcp_data, max_rows, pad_start):
    """In memory and streamed, with and without start-up padding."""
    ds = DynamicsDataset(
        dcp_data,
        history_length=H,
        prediction_horizon=K,
        pad_start=pad_start,
        max_rows_in_memory=max_rows,
        verbose=False,
    )
    ref = reference_statistics(ds)
    for key, want in ref.items():
        got = ds.statistics[key]
        assert got.dtype == np.float32 and got.shape == want.shape
        # float32 features: a few ulps of the spread, nothing more.
        tol = 2e-6 * np.maximum(ref[key.replace("mean", "std")], 1e-3)
        assert np.all(np.abs(got - want) <= tol + 1e-6 * np.abs(want)), key


def test_streamed_statistics_pad_a_small_dataset_little(dcp_data, monkeypatch):
    """A dataset far below max_rows_in_memory is not padded up to it."""
    import hydrax.dynamics_model_training.standardization as std_module

    sizes = []
    make_block = std_module.make_block

    def recording(trajs, ids, layout, h, k, pad_start, rows):
        sizes.append((sum(len(t.rows) for t in trajs), rows))
        return make_block(trajs, ids, layout, h, k, pad_start, rows)

    monkeypatch.setattr(std_module, "make_block", recording)
    cap = 10**6
    ds = DynamicsDataset(
        dcp_data,
        history_length=H,
        prediction_horizon=K,
        max_rows_in_memory=cap,
        verbose=False,
    )
    assert len(sizes) == 1
    used, rows = sizes[0]
    assert used <= rows < 2 * used < cap
    ref = reference_statistics(ds)
    for key, want in ref.items():
        tol = 2e-6 * np.maximum(ref[key.replace("mean", "std")], 1e-3)
        got = ds.statistics[key]
        assert np.all(np.abs(got - want) <= tol + 1e-6 * np.abs(want)), key


class ReadCounter:
    """Counts the reads of each log's rows: one file at a time, in the
    scan or by a streamed block, and the files of each multi-file scan."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.scan, self.blocks = Counter(), Counter()
        at_once = scan_module._read_at_once

        def one(counter: Counter):
            def read(path):
                counter[path.name] += 1
                return read_trajectory(path)

            return read

        def many(files):
            out = at_once(files)
            self.scan.update(p.name for p in files)
            return out

        monkeypatch.setattr(scan_module, "read_trajectory", one(self.scan))
        monkeypatch.setattr(blocks_module, "read_trajectory", one(self.blocks))
        monkeypatch.setattr(scan_module, "_read_at_once", many)


@pytest.mark.parametrize("max_rows", [None, 700])
def test_construction_reads_each_file_once(dcp_data, monkeypatch, max_rows):
    reads = ReadCounter(monkeypatch)
    ds = DynamicsDataset(
        dcp_data,
        history_length=H,
        prediction_horizon=K,
        max_rows_in_memory=max_rows,
        verbose=False,
    )
    names = sorted(p.name for p in dcp_data.glob("*.csv"))
    assert sorted(reads.scan) == names
    assert set(reads.scan.values()) == {1}
    assert not reads.blocks  # the statistics read nothing again
    for split in ("train", "val"):
        for _ in ds.blocks(split):
            pass
    expect = {} if max_rows is None else dict.fromkeys(names, 1)
    assert dict(reads.blocks) == expect  # a pass: each file once


def test_streamed_training_reads_each_file_once_per_epoch(
    dcp_data, monkeypatch, tmp_path
):
    """Two epochs of streamed training (train and validation passes) read
    every file twice after the one read at construction."""
    reads = ReadCounter(monkeypatch)
    train_dynamics_model(
        dcp_data,
        "once",
        hidden_size=8,
        history_length=3,
        prediction_horizon=2,
        num_epochs=2,
        max_rows_in_memory=700,
        progress=False,
        log=lambda s: None,
        checkpoint_dir=tmp_path,
    )
    names = sorted(p.name for p in dcp_data.glob("*.csv"))
    assert dict(reads.scan) == dict.fromkeys(names, 1)
    assert dict(reads.blocks) == dict.fromkeys(names, 2)


@pytest.mark.parametrize("max_rows", [None, 700])
def test_a_bad_file_is_named_the_same_streamed(dcp_data, tmp_path, max_rows):
    """Folding the statistics into the read changes no error message."""
    bad = tmp_path / "bad"
    shutil.copytree(dcp_data, bad)
    path = bad / "episode_00007.csv"
    lines = path.read_text().splitlines()
    cells = lines[10].split(",")
    cells[3] = "x"
    lines[10] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError,
        match=r"episode_00007\.csv: line 11, column 'qpos_2': 'x' is not",
    ):
        DynamicsDataset(
            bad,
            history_length=H,
            prediction_horizon=K,
            max_rows_in_memory=max_rows,
            verbose=False,
        )
