"""Reading a directory of logs at once gives what one file at a time gives."""

import numpy as np
import pytest

from hydrax.dynamics_model_training.convert import convert_logs
from hydrax.logs import (
    DataError,
    list_logs,
    read_trajectory,
    scan_logs,
    write_trajectory_csv,
)
from hydrax.logs import scan as scan_module


def _logs(directory, n_files=5, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n_files):
        n = 20 + 7 * i
        write_trajectory_csv(
            directory / f"ep_{i:02d}.csv",
            0.01 * np.arange(n),
            rng.normal(size=(n, 2)),
            rng.normal(size=(n, 2)),
            rng.uniform(-1, 1, (n, 1)),
        )
    return list_logs([directory])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_one_scan_equals_one_file_at_a_time(tmp_path, fmt, monkeypatch):
    """The multi-file scan is taken and its logs equal each file's own read."""
    files = _logs(tmp_path)
    if fmt == "parquet":
        convert_logs(tmp_path, tmp_path / "pq", progress=False)
        files = list_logs([tmp_path / "pq"])
        assert list_logs(str(tmp_path / "pq")) == files  # one directory
    calls = []
    real = scan_module._read_one_by_one  # the path at_once=False takes
    monkeypatch.setattr(
        scan_module,
        "_read_one_by_one",
        lambda *a: calls.append(a) or real(*a),
    )
    scan = scan_logs(files)
    assert not calls, "the one-by-one path was taken for clean logs"
    assert scan.lengths == [20 + 7 * i for i in range(5)]
    for path, traj in zip(files, scan.trajectories, strict=True):
        own = read_trajectory(path)
        assert traj.path == path and traj.columns == own.columns
        np.testing.assert_array_equal(traj.times, own.times)
        np.testing.assert_array_equal(traj.rows, own.rows)
    assert scan.timesteps == [read_trajectory(p).timestep() for p in files]


@pytest.mark.parametrize(
    ("line", "value", "message"),
    [
        (9, "nan", r"line 9, column 'qvel_0': nan \(NaN or Inf\)"),
        (9, "", r"line 9, column 'qvel_0': an empty cell is not a number"),
        (9, "abc", r"line 9, column 'qvel_0': 'abc' is not a number"),
    ],
)
def test_bad_cell_names_the_first_bad_file_line_and_column(
    tmp_path, line, value, message
):
    """A bad cell in the 4th of 5 files is named as that file's reader does."""
    files = _logs(tmp_path)
    bad = files[3]
    rows = bad.read_text().splitlines()
    cells = rows[line - 1].split(",")
    cells[3] = value  # timestamp, qpos_0, qpos_1, qvel_0
    rows[line - 1] = ",".join(cells)
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=message) as caught:
        scan_logs(files)
    assert str(caught.value).startswith(f"{bad}: ")


def test_header_only_and_uneven_time_files_are_named(tmp_path):
    """An empty file, then bad timestamps: each error names its own file."""
    files = _logs(tmp_path)
    header = files[1].read_text().splitlines()[0]
    files[1].write_text(header + "\n")
    with pytest.raises(DataError, match="header but no rows") as caught:
        scan_logs(files)
    assert str(caught.value).startswith(f"{files[1]}: ")
    files = _logs(tmp_path)  # rewritten clean
    rows = files[2].read_text().splitlines()
    cells = rows[5].split(",")
    cells[0] = "0.0405"
    rows[5] = ",".join(cells)
    files[2].write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="line 6, column 'timestamp'") as c:
        scan_logs(files)
    assert str(c.value).startswith(f"{files[2]}: ")
