"""Bad input is refused with a message naming file, line and column."""

import json
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.logs import DataError, read_trajectory_csv

HEADER = "timestamp,qpos_0,qpos_1,qvel_0,qvel_1,ctrl_0"


def rows(n, dt=0.01):
    t = np.arange(n) * dt
    return [
        f"{float(ti)!r},{0.1 * i},0.2,0.3,0.4,0.5" for i, ti in enumerate(t)
    ]


def write(path, header=HEADER, body=None, newline="\n", bom=False):
    body = rows(30) if body is None else body
    text = newline.join([header, *body]) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def dataset(d, **kw):
    kw.setdefault("angle_indices", [1])
    kw.setdefault("coordinate_indices", [0])
    kw.setdefault("history_length", 3)
    kw.setdefault("prediction_horizon", 2)
    kw.setdefault("val_fraction", 0.0)
    return DynamicsDataset(d, verbose=False, **kw)


CASES = [
    (
        "missing ctrl group",
        "timestamp,qpos_0,qpos_1,qvel_0,qvel_1",
        None,
        "no ctrl_0.. columns",
    ),
    (
        "gap in qpos",
        "timestamp,qpos_0,qpos_2,qvel_0,qvel_1,ctrl_0",
        None,
        "column 3 is 'qpos_2' but qpos_1 was expected",
    ),
    (
        "duplicated column",
        "timestamp,qpos_0,qpos_0,qvel_0,qvel_1,ctrl_0",
        None,
        "'qpos_0' appears twice",
    ),
    (
        "no timestamp",
        "qpos_0,qpos_1,qvel_0,qvel_1,ctrl_0",
        None,
        "first column must be 'timestamp'",
    ),
    (
        "wrong group order",
        "timestamp,qvel_0,qvel_1,qpos_0,qpos_1,ctrl_0",
        None,
        "must come as qpos, qvel, ctrl",
    ),
    (
        "non-numeric cell",
        HEADER,
        rows(5)[:2] + ["0.02,0.2,abc,0.3,0.4,0.5"],
        "line 4, column 'qpos_1': 'abc' is not a number",
    ),
    (
        "empty cell",
        HEADER,
        rows(5)[:2] + ["0.02,0.2,,0.3,0.4,0.5"],
        "line 4, column 'qpos_1': an empty cell",
    ),
    (
        "NaN",
        HEADER,
        rows(5)[:3] + ["0.03,nan,0.2,0.3,0.4,0.5"],
        "line 5, column 'qpos_0': nan \\(NaN or Inf\\)",
    ),
    (
        "Inf",
        HEADER,
        rows(5)[:1] + ["0.01,0.1,0.2,inf,0.4,0.5"],
        "line 3, column 'qvel_0': inf",
    ),
    (
        "time goes back",
        HEADER,
        rows(5) + ["0.02,0,0,0,0,0"],
        "line 7, column 'timestamp': 0.02 does not increase "
        r"\(previous 0.04\)",
    ),
    (
        "uneven spacing",
        HEADER,
        rows(5) + ["0.0405,0,0,0,0,0"],
        "line 7, column 'timestamp': spacing",
    ),
    ("header only", HEADER, [], "a header but no rows"),
    (
        "blank line after the rows",
        HEADER,
        rows(5) + [""],
        "line 7 is blank",
    ),
    (
        "blank line between rows",
        HEADER,
        rows(5)[:2] + ["", *rows(5)[2:]],
        "line 4 is blank",
    ),
]


@pytest.mark.parametrize(
    ("name", "header", "body", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_file_is_refused(tmp_path, name, header, body, message):
    """Each bad file gets a DataError naming the file and the place."""
    path = write(tmp_path / "bad.csv", header, body)
    with pytest.raises(DataError, match=message) as e:
        read_trajectory_csv(path)
    assert str(path) in str(e.value)


def test_bytes_that_are_not_utf8_are_named_by_line(tmp_path):
    """A stray byte in a data row: a DataError naming its line, not the
    parser's own error."""
    path = write(tmp_path / "latin.csv")
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5][:-1] + b"\xe9"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"latin\.csv: line 6: not UTF-8"):
        read_trajectory_csv(path)


def test_empty_file(tmp_path):
    """A zero-byte file is refused."""
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(DataError, match="the file is empty"):
        read_trajectory_csv(tmp_path / "e.csv")


def test_bom_and_crlf_just_work(tmp_path):
    """A UTF-8 BOM and CRLF line endings read like a plain file."""
    plain = read_trajectory_csv(write(tmp_path / "a.csv"))
    odd = read_trajectory_csv(
        write(tmp_path / "b.csv", newline="\r\n", bom=True)
    )
    np.testing.assert_array_equal(plain.rows, odd.rows)
    np.testing.assert_array_equal(plain.times, odd.times)


def test_empty_and_csv_less_directories(tmp_path):
    """An empty directory, a directory without CSVs, a missing one."""
    with pytest.raises(DataError, match="no CSV or Parquet logs"):
        dataset(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no CSV or Parquet logs"):
        dataset(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        dataset(tmp_path / "nope")


def test_headers_differ_between_files(tmp_path):
    """Two files with different columns are refused, both named."""
    write(tmp_path / "a.csv")
    write(
        tmp_path / "b.csv",
        "timestamp,qpos_0,qvel_0,ctrl_0",
        [f"{0.01 * i!r},0,0,0" for i in range(30)],
    )
    with pytest.raises(
        DataError,
        match=re.escape(str(tmp_path / "b.csv")) + ".*differs from .*a.csv's"
        r" \(4 vs 6 columns\): column 3 is 'qvel_0' here and 'qpos_1' there",
    ):
        dataset(tmp_path)
    # Same prefix, one column more: the preview alone would look the same.
    write(tmp_path / "b.csv", HEADER + ",ctrl_1", [r + ",0" for r in rows(30)])
    with pytest.raises(
        DataError, match="column 7 is 'ctrl_1' here and missing there"
    ):
        dataset(tmp_path)


def test_short_files_skipped_with_count(tmp_path):
    """Short files are skipped with a warning and a count; none left → error."""
    write(tmp_path / "long.csv")
    write(tmp_path / "short.csv", body=rows(2))
    with pytest.warns(UserWarning, match="skipped 1 of 2 files"):
        ds = DynamicsDataset(
            tmp_path,
            angle_indices=[1],
            coordinate_indices=[0],
            history_length=3,
            prediction_horizon=2,
            val_fraction=0.0,
        )
    assert ds.skipped_files == 1 and len(ds.files) == 1
    # Training prints the summary (and builds its dataset without warnings).
    assert (
        "skipped 1 of 2 files shorter than 3 rows (prediction_horizon=2 + 1;"
        " history_length=3 is padded)" in ds.summary()
    )
    (tmp_path / "long.csv").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no file has the 3 rows"):
            dataset(tmp_path)


def test_different_timesteps_between_files(tmp_path):
    """Files logged at different dt are refused."""
    write(tmp_path / "a.csv")
    write(tmp_path / "b.csv", body=rows(30, dt=0.02))
    with pytest.raises(DataError, match="timestep 0.02 s differs"):
        dataset(tmp_path)


@pytest.mark.parametrize(
    ("angles", "coords", "message"),
    [
        ([2], [0], "angle_indices holds index 2, out of range for nq = 2"),
        ([1], [-1], "coordinate_indices holds a negative index"),
        ([1, 1], [0], "duplicated"),
        ([0, 1], [0], "in both angle_indices and coordinate_indices"),
    ],
)
def test_bad_indices_name_the_parameter(tmp_path, angles, coords, message):
    """Index mistakes name the parameter."""
    write(tmp_path / "a.csv")
    with pytest.raises(ValueError, match=message):
        dataset(tmp_path, angle_indices=angles, coordinate_indices=coords)


def test_indices_given_are_not_blamed_on_the_manifest(tmp_path):
    """An index the caller gave is at fault, not the manifest beside the
    logs; an index read from the manifest names the manifest."""
    write(tmp_path / "a.csv")
    manifest = {"nq": 2, "nv": 2, "nu": 1, "dt": 0.01, "angle_indices": [5]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="^angle_indices holds index 2"):
        dataset(tmp_path, angle_indices=[2], coordinate_indices=None)
    with pytest.raises(DataError, match="manifest.json .*index 5"):
        dataset(tmp_path, angle_indices=None, coordinate_indices=[0])


def test_a_relative_path_that_holds_from_the_checkout_says_so(
    tmp_path, monkeypatch
):
    """The README's relative paths (hydrax/data_csv/<task>) hold from the
    checkout's root: from elsewhere the error says where the folder is."""
    from hydrax import ROOT

    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        DataError,
        match=f"hydrax/models: the data directory does not exist in the "
        f"working directory {re.escape(str(tmp_path))}; "
        f"{re.escape(str(ROOT / 'models'))} does",
    ):
        dataset("hydrax/models")


def test_swapped_indices_are_warned_of_once_by_the_joint_table(tmp_path):
    """qpos 0 a slide, qpos 1 a hinge (the manifest's joints): angle [0]
    and coordinate [1] are most likely swapped; the right ones are quiet."""
    write(tmp_path / "a.csv")
    joints = [
        {"name": "cart", "type": "slide", "qpos_adr": 0, "dof_adr": 0},
        {"name": "pole", "type": "hinge", "qpos_adr": 1, "dof_adr": 1},
    ]
    manifest = {"nq": 2, "nv": 2, "nu": 1, "dt": 0.01, "joints": joints}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        dataset(tmp_path, angle_indices=[0], coordinate_indices=[1])
    assert [str(w.message) for w in said] == [
        "angle_indices holds 0, the slide joint 'cart'; coordinate_indices "
        f"holds 1, the hinge joint 'pole' in {tmp_path / 'manifest.json'}'s "
        "joint table: are the angle and coordinate indices swapped? (angles "
        "are hinges)"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset(tmp_path)  # angle [1], coordinate [0]: the defaults here
        dataset(tmp_path, angle_indices=[], coordinate_indices=[0])


def test_a_directory_given_twice_is_refused(tmp_path):
    """Its files would count twice and could be on both sides of the
    split: refused, naming it and the way to weigh a directory more."""
    write(tmp_path / "a.csv")
    write(tmp_path / "b.csv")
    with pytest.raises(DataError, match="given twice .*data_weights"):
        dataset([tmp_path, tmp_path / ".." / tmp_path.name])


def test_a_validation_fraction_that_leaves_no_training_file(tmp_path):
    for name in "abc":
        write(tmp_path / f"{name}.csv")
    with pytest.raises(
        DataError, match="val_fraction=0.9 of 3 usable files leaves no file "
        "to train on; below 0.833 keeps one",
    ):  # fmt: skip
        dataset(tmp_path, val_fraction=0.9)
    assert dataset(tmp_path, val_fraction=0.833).val_file_mask.sum() == 2


def test_missing_manifest_needs_explicit_indices(tmp_path):
    """Without a manifest, indices left as None are a clear error."""
    write(tmp_path / "a.csv")
    with pytest.raises(DataError, match="no manifest.json"):
        DynamicsDataset(tmp_path, verbose=False, val_fraction=0.0)
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "angle_indices": [1],
                "coordinate_indices": [0],
                "nq": 2,
                "nv": 2,
                "nu": 1,
                "dt": 0.01,
            }
        )
    )
    ds = DynamicsDataset(tmp_path, verbose=False, val_fraction=0.0)
    assert ds.layout.angle_indices == (1,)


def test_single_file_cannot_be_split(tmp_path):
    """One file and a validation fraction: a clear error that says what to do."""
    write(tmp_path / "a.csv")
    with pytest.raises(DataError, match="val_fraction=0"):
        dataset(tmp_path, val_fraction=0.2)


@pytest.mark.parametrize(
    "row, fields",
    [("0.03,0.1,0.2,0.3", 4), ("0.03,0.1,0.2,0.3,0.4,0.5,0.6", 7)],
)
def test_ragged_row(tmp_path, row, fields):
    """A row with a missing or an extra field is refused and named, not
    dropped (polars alone raises on an extra field), the first data row
    too (polars raises another error there)."""
    path = write(tmp_path / "r.csv", body=rows(5)[:3] + [row])
    with pytest.raises(
        DataError,
        match=f"r.csv: line 5: {fields} fields, but the header has 6 columns",
    ):
        read_trajectory_csv(path)
    write(path, body=[row] + rows(5)[1:])
    with pytest.raises(DataError, match=f"r.csv: line 2: {fields} fields"):
        read_trajectory_csv(path)


def test_empty_cell_under_a_header_with_spaces(tmp_path):
    """Names are stripped of spaces; the bad cell is found under them."""
    body = rows(5)
    body[2] = ",".join(body[2].split(",")[:2] + [""] + body[2].split(",")[3:])
    path = write(
        tmp_path / "s.csv", header=HEADER.replace(",", ", "), body=body
    )
    with pytest.raises(
        DataError, match="s.csv: line 4, column 'qpos_1': an empty cell"
    ):
        read_trajectory_csv(path)


finite64 = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(values=arrays(np.float64, (7, 5), elements=finite64))
def test_property_csv_round_trip(tmp_path_factory, values):
    """Property: any finite floats written by the logger read back exactly."""
    from hydrax.logs import write_trajectory_csv

    path = tmp_path_factory.mktemp("prop") / "p.csv"
    times = 0.01 * np.arange(7)
    write_trajectory_csv(
        path, times, values[:, :2], values[:, 2:4], values[:, 4:]
    )
    traj = read_trajectory_csv(path)
    np.testing.assert_array_equal(traj.rows, values)
    np.testing.assert_array_equal(traj.times, times)


@settings(max_examples=40, deadline=None)
@given(
    row=st.integers(0, 6),
    col=st.integers(0, 5),
    junk=st.sampled_from(["x", "1e", "--1", "nan", "inf", ""]),
)
def test_property_bad_cell_is_located(tmp_path_factory, row, col, junk):
    """Property: a bad cell anywhere is reported at its line and column."""
    body = rows(7)
    cells = body[row].split(",")
    cells[col] = junk
    body[row] = ",".join(cells)
    path = write(tmp_path_factory.mktemp("bad") / "b.csv", body=body)
    name = HEADER.split(",")[col]
    with pytest.raises(DataError, match=rf"line {row + 2}, column '{name}'"):
        read_trajectory_csv(path)
