"""A checkpoint's split names each log once, across several directories."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import write_dcp_logs

from hydrax.dynamics_model_training.dataset import DynamicsDataset
from hydrax.dynamics_model_training.evaluation_windows import select_windows
from hydrax.dynamics_model_training.model_io import load_trained_model
from hydrax.logs import list_logs, log_keys, match_logs, unmatched_keys


def test_keys_are_names_unless_names_repeat():
    """One directory: file names; repeated names: the shortest unique tail."""
    one = [Path("/d/data/ep_0.csv"), Path("/d/data/ep_1.csv")]
    assert log_keys(one) == ["ep_0.csv", "ep_1.csv"]
    two = [Path("/d/lqr/ep_0.csv"), Path("/d/broad/ep_0.csv")]
    assert log_keys(two) == ["lqr/ep_0.csv", "broad/ep_0.csv"]
    deep = [Path("/a/data/ep_0.csv"), Path("/b/data/ep_0.csv")]
    assert log_keys(deep) == ["a/data/ep_0.csv", "b/data/ep_0.csv"]


def test_a_key_matches_the_files_whose_path_ends_with_it():
    """A ``dir/file`` key names one file; a bare name every directory's."""
    files = [Path("/x/lqr/ep_0.csv"), Path("/x/broad/ep_0.csv")]
    np.testing.assert_array_equal(
        match_logs(files, ["broad/ep_0.csv"]), [False, True]
    )
    np.testing.assert_array_equal(match_logs(files, ["ep_0.csv"]), [True, True])
    np.testing.assert_array_equal(
        match_logs(files, ["other/ep_0.csv", "p_0.csv"]), [False, False]
    )


def test_a_key_names_its_own_format_before_the_other():
    """``x.csv`` beside ``x.parquet``: each key names its own file; a key
    names the other format's file only when its own is not there."""
    both = [Path("/d/x.csv"), Path("/d/x.parquet")]
    np.testing.assert_array_equal(match_logs(both, ["x.csv"]), [True, False])
    np.testing.assert_array_equal(
        match_logs(both, ["x.parquet"]), [False, True]
    )
    converted = [Path("/d/x.parquet"), Path("/d/y.parquet")]
    np.testing.assert_array_equal(
        match_logs(converted, ["d/x.csv"]), [True, False]
    )
    assert unmatched_keys(converted, ["x.csv", "z.csv"]) == ["z.csv"]


def test_keys_of_relative_directories_match_their_own_files(
    tmp_path, monkeypatch
):
    """``data`` beside ``old/data``: each key names its own file, also when
    read back through a shorter relative path."""
    monkeypatch.chdir(tmp_path)
    files = [Path("data/ep_0.csv"), Path("old/data/ep_0.csv")]
    keys = log_keys(files)
    assert keys == [f"{tmp_path.name}/data/ep_0.csv", "old/data/ep_0.csv"]
    for i, key in enumerate(keys):
        np.testing.assert_array_equal(
            match_logs(files, [key]), [i == 0, i == 1]
        )
    (tmp_path / "old").mkdir()
    monkeypatch.chdir(tmp_path / "old")
    np.testing.assert_array_equal(
        match_logs([Path("data/ep_0.csv")], [keys[1]]), [True]
    )


def test_a_converted_log_keeps_its_place_in_the_split(dcp_data, tmp_path):
    """Keys recorded on CSV logs name the Parquet files ``convert`` writes:
    evaluation on the converted folder validates on the same files."""
    from hydrax.dynamics_model_training.convert import convert_logs

    kw = {"history_length": 5, "prediction_horizon": 4, "verbose": False}
    csv = DynamicsDataset(dcp_data, seed=3, **kw)
    config = {
        "val_files": [
            str(k) for k in np.array(csv.file_names)[csv.val_file_mask]
        ],
        "train_files": [
            str(k) for k in np.array(csv.file_names)[~csv.val_file_mask]
        ],
    }
    pq = tmp_path / "pq"
    convert_logs(dcp_data, pq, progress=False)
    converted = DynamicsDataset(pq, val_fraction=0.0, **kw)
    stems = {Path(k).stem for k in config["val_files"]}
    np.testing.assert_array_equal(
        match_logs(converted.files, config["val_files"]),
        [f.stem in stems for f in converted.files],
    )
    sel = select_windows(converted, config, "val", 10_000, 0)
    used = {
        converted.files[f].stem for f in converted.example_files[sel.indices]
    }
    assert used == stems
    assert not any("none of the checkpoint" in n for n in sel.notes)


def _two_dirs(dcp_data: Path, tmp_path: Path) -> list[Path]:
    """Two directories of twelve logs each, of the same names and other
    episodes (each collection counts from ``episode_00000.csv``)."""
    shutil.copytree(dcp_data, tmp_path / "lqr")
    return [tmp_path / "lqr", write_dcp_logs(tmp_path / "broad", 12, 300, 1)]


def test_recorded_split_is_reproduced_over_repeated_names(dcp_data, tmp_path):
    """The split rebuilt from the keys is the seeded split, file for file.

    By file name alone, a validation name would also mark the other
    directory's file of that name (a training file) as validation.
    """
    dirs = _two_dirs(dcp_data, tmp_path)
    kw = {"history_length": 5, "prediction_horizon": 4, "verbose": False}
    seeded = DynamicsDataset(dirs, seed=3, **kw)
    val_keys = [
        k
        for k, v in zip(seeded.file_names, seeded.val_file_mask, strict=True)
        if v
    ]
    assert all("/" in k for k in val_keys)
    again = DynamicsDataset(dirs, val_files=val_keys, **kw)
    np.testing.assert_array_equal(again.val_file_mask, seeded.val_file_mask)
    by_name = match_logs(seeded.files, [Path(k).name for k in val_keys])
    assert by_name.sum() > seeded.val_file_mask.sum()


def test_evaluation_never_validates_on_a_training_file(dcp_data, tmp_path):
    """Names only (older checkpoints) that repeat count as training files."""
    dirs = _two_dirs(dcp_data, tmp_path)
    ds = DynamicsDataset(
        dirs, history_length=5, prediction_horizon=4, verbose=False
    )
    names = [p.name for p in list(dcp_data.glob("*.csv"))]
    config = {"val_files": names[:3], "train_files": names[2:]}
    sel = select_windows(ds, config, "val", 10_000, 0)
    files = {ds.files[f] for f in ds.example_files[sel.indices]}
    assert {p.name for p in files} == set(names[:2])
    assert len(files) == 4  # both directories' copies of the two
    assert any("count as training files" in n for n in sel.notes)


def test_training_records_the_split_by_keys(dcp_data, tmp_path):
    """A model trained on two directories records ``dir/file`` keys, and
    evaluation picks exactly its validation files back."""
    from hydrax.dynamics_model_training.train import train_dynamics_model

    dirs = _two_dirs(dcp_data, tmp_path)
    _, _ = train_dynamics_model(
        dirs,
        "two",
        hidden_size=8,
        history_length=3,
        prediction_horizon=2,
        num_epochs=1,
        checkpoint_dir=tmp_path / "ckpt",
        progress=False,
        log=lambda s: None,
    )
    _, config = load_trained_model(tmp_path / "ckpt" / "two" / "best_model.pkl")
    assert all("/" in k for k in config["val_files"] + config["train_files"])
    ds = DynamicsDataset(
        dirs, history_length=3, prediction_horizon=2, verbose=False
    )
    sel = select_windows(ds, config, "val", 10_000, 0)
    picked = {ds.file_names[f] for f in ds.example_files[sel.indices]}
    assert picked == set(config["val_files"])
    assert not sel.notes
    # metrics.json names each window's file by its key: episode_00003.csv
    # of one directory is not the other's.
    from hydrax.dynamics_model_training.evaluate import evaluate_model

    metrics = evaluate_model(
        tmp_path / "ckpt" / "two" / "best_model.pkl", dirs, num_examples=20,
        horizon=2, plots=False, log=None,
    )  # fmt: skip
    files = {e["file"] for e in metrics["examples"]}
    assert files <= set(config["val_files"]) and len(files) > 1


def _round_logs(out: Path, n: int) -> Path:
    """``n`` new episodes named as the fixture's first ones (each directory
    counts from ``episode_00000.csv``), with the manifest."""
    return write_dcp_logs(out, n, 300, seed=sum(map(ord, out.name)))


def test_fine_tuning_keeps_the_checkpoints_split(
    tiny_model, dcp_data, tmp_path
):
    """Aggregation rounds: files validated on stay validation files, files
    trained on stay training files; each round's new logs are split anew."""
    from hydrax.simulation.fine_tune import fine_tune

    def tune(it, dirs, start):
        best = fine_tune(
            "double_cart_pole",
            it,
            dirs,
            start_config,  # as aggregate passes it: the first round's
            init_from=start,
            epochs=1,
            seed=0,
            out_dir=tmp_path,
        )
        return best, load_trained_model(best)[1]

    def val_mask(dirs, config):
        return match_logs(list_logs(dirs), config["val_files"]).tolist()

    start = tiny_model[0]
    start_config = load_trained_model(start)[1]
    first = _round_logs(tmp_path / "round_1", 5)
    best, config_1 = tune(1, [dcp_data, first], start)
    assert val_mask([dcp_data], config_1) == val_mask([dcp_data], start_config)
    assert sum(val_mask([first], config_1)) == 1  # 20 % of 5 new logs
    second = _round_logs(tmp_path / "round_2", 5)
    _, config_2 = tune(2, [dcp_data, first, second], best)
    for d in (dcp_data, first):
        assert val_mask([d], config_2) == val_mask([d], config_1)
    assert sum(val_mask([second], config_2)) == 1
    assert len(config_2["val_files"]) == sum(val_mask([dcp_data], config_1)) + 2


def test_fine_tuning_an_old_checkpoint_never_validates_on_its_training(
    dcp_data, tmp_path, capsys
):
    """Names without directories, repeated across directories: a file that
    matches both a training and a validation name stays a training file."""
    from hydrax.simulation.fine_tune import carried_split

    a = _round_logs(tmp_path / "a", 3)
    b = _round_logs(tmp_path / "b", 3)
    new = _round_logs(tmp_path / "new", 5)
    names = [p.name for p in list_logs([a])]
    config = {  # a: train, val, train; b: train, train, val; by name only
        "data_dirs": [str(a), str(b)],
        "train_files": names,
        "val_files": names[1:],
        "hyperparameters": {"val_fraction": 0.2},
        "history_length": 3,
        "prediction_horizon": 2,
    }
    keys = carried_split(config, [a, b, new], 1, seed=0)
    assert "note: 4 files match both" in capsys.readouterr().out
    assert len(keys) == 1 and keys[0].startswith("new/")  # 20 % of 5
    config["val_files"] = ["episode_99999.csv"]  # names nothing known
    assert carried_split(config, [a, b, new], 1, seed=0) == keys
    assert capsys.readouterr().out == ""


def test_logs_the_split_does_not_name_are_split_as_new(
    dcp_data, tmp_path, capsys
):
    """A log added to a known directory, or a directory the checkpoint did
    not train on (with a note), is split as new logs are."""
    from hydrax.simulation.fine_tune import carried_split

    a = _round_logs(tmp_path / "a", 6)
    names = [p.name for p in list_logs([a])]
    config = {  # trained on all of a, validated on none
        "data_dirs": [str(a)],
        "train_files": names,
        "val_files": [],
        "hyperparameters": {"val_fraction": 0.5},
        "history_length": 3,
        "prediction_horizon": 2,
    }
    new = _round_logs(tmp_path / "new", 2)
    short = list_logs([new])[1]  # two rows: shorter than a window's three
    short.write_text("".join(short.read_text().splitlines(True)[:3]))
    assert carried_split(config, [a, new], 1, seed=0) == []  # one new log
    assert capsys.readouterr().out == ""
    more = _round_logs(tmp_path / "more", 3)  # not trained on
    for path in list_logs([more]):  # names of its own (a bare name would
        path.rename(path.with_name("more_" + path.name))  # match a's)
    keys = carried_split(config, [a, more, new], 1, seed=0)
    assert f"names none of the files of {more}" in capsys.readouterr().out
    assert len(keys) == 2 and not any(k.startswith("a/") for k in keys)
    config["train_files"] = names[:5]  # a's last log came since
    keys = carried_split(config, [a, new], 1, seed=0)
    assert len(keys) == 1 and keys[0] in ("a/" + names[5], "new/" + names[0])
    config["hyperparameters"]["val_fraction"] = 0.0
    assert carried_split(config, [a, more, new], 1, seed=0) == []


def test_val_files_that_name_nothing_are_refused(dcp_data, tmp_path):
    import pytest

    from hydrax.logs import DataError

    with pytest.raises(DataError, match="1 of the 1 keys name no log"):
        DynamicsDataset(
            dcp_data, val_files=["elsewhere/episode_00001.csv"], verbose=False
        )
    # One mistyped key among good ones is refused too, by name: the file it
    # meant would otherwise train.
    with pytest.raises(DataError, match="1 of the 2 keys .*'episode_0009.csv'"):
        DynamicsDataset(
            dcp_data,
            val_files=["episode_00001.csv", "episode_0009.csv"],
            verbose=False,
        )


def test_a_log_has_one_fingerprint_wherever_and_however_it_is_read(
    dcp_data, tmp_path
):
    """Read at once, one by one or streamed, moved, renamed or converted
    to Parquet: one fingerprint; another episode of the same name: another."""
    from hydrax.dynamics_model_training.convert import convert_logs
    from hydrax.logs import read_trajectory, scan_logs

    files = list_logs([dcp_data])
    at_once = scan_logs(files).fingerprints
    assert scan_logs(files, at_once=False).fingerprints == at_once
    assert scan_logs(files, keep_rows=False).fingerprints == at_once
    assert len(set(at_once)) == len(files)
    pq = tmp_path / "pq"
    convert_logs(dcp_data, pq, progress=False)
    assert scan_logs(list_logs([pq])).fingerprints == at_once
    moved = tmp_path / "moved.csv"
    shutil.copy(files[0], moved)
    assert read_trajectory(moved).fingerprint() == at_once[0]
    other = write_dcp_logs(tmp_path / "other", 1, 300, seed=1)
    new = read_trajectory(other / files[0].name)
    assert new.fingerprint() != at_once[0]


def test_evaluation_tells_new_logs_of_old_names_by_content(
    tiny_model, dcp_data, tmp_path
):
    """A later collection's logs carry the training logs' names and are
    evaluated as unseen; a validation log renamed is still the validation
    log, and a training log copied elsewhere still a training log."""
    from hydrax.dynamics_model_training.evaluate import evaluate_model

    _, config = load_trained_model(tiny_model[0])
    recorded = set(config["train_files"]) | set(config["val_files"])
    assert set(config["file_fingerprints"]) == recorded
    fresh = write_dcp_logs(tmp_path / "fresh", 4, 300, seed=7)
    names = {p.name for p in list_logs([fresh])}
    assert names <= recorded and names & set(config["train_files"])
    said = []
    metrics = evaluate_model(
        tiny_model[0], fresh, num_examples=5, log=said.append
    )
    assert metrics["split"] == "unseen"
    assert "evaluating on the 4 of 4 files the model did not train on" in (
        "\n".join(said)
    )
    shutil.copy(dcp_data / config["val_files"][0], fresh / "heldout.csv")
    shutil.copy(dcp_data / config["train_files"][0], fresh / "trained.csv")
    ds = DynamicsDataset(
        fresh, history_length=3, prediction_horizon=2, verbose=False
    )
    sel = select_windows(ds, config, "val", 10_000, 0)
    assert sel.split == "val" and not sel.notes
    used = {ds.files[f].name for f in ds.example_files[sel.indices]}
    assert used == {"heldout.csv"}
    assert [ds.files[i].name for i in np.flatnonzero(sel.fit_mask)] == [
        "trained.csv"
    ]


def test_resume_compares_the_split_by_content(dcp_data, tmp_path):
    """Resuming on the same logs moved to another folder is accepted; on
    other episodes under the same names it is refused, by content."""
    import pytest

    from hydrax.dynamics_model_training.checkpoint import CheckpointError
    from hydrax.dynamics_model_training.resume import check_resume

    def split_of(data: Path) -> dict:
        ds = DynamicsDataset(data, history_length=3, prediction_horizon=2)
        keys, val = ds.file_names, ds.val_file_mask
        return {
            "train_files": [k for k, v in zip(keys, val, strict=True) if not v],
            "val_files": [k for k, v in zip(keys, val, strict=True) if v],
            "file_fingerprints": dict(zip(keys, ds.fingerprints, strict=True)),
        }

    saved = split_of(dcp_data)
    shutil.copytree(dcp_data, tmp_path / "moved" / "data")
    check_resume(saved, split_of(tmp_path / "moved" / "data"), tmp_path)
    other = write_dcp_logs(tmp_path / "other", 12, 300, seed=1)
    gone = r"by content: (\d+) of the \1 recorded logs are missing"
    with pytest.raises(CheckpointError, match=rf"train_files differs \({gone}"):
        check_resume(saved, split_of(other), tmp_path)
    added = split_of(dcp_data)
    added["train_files"].append("episode_99999.csv")
    added["file_fingerprints"]["episode_99999.csv"] = "f" * 32
    with pytest.raises(CheckpointError, match="0 of the .* 1 of the .* new"):
        check_resume(saved, added, tmp_path)


def test_training_refuses_the_same_log_twice(dcp_data, tmp_path):
    """A log and its copy (here converted to Parquet beside it) would put
    one copy on each side of the split: refused, both named."""
    from hydrax.dynamics_model_training.convert import convert_logs
    from hydrax.dynamics_model_training.train import train_dynamics_model
    from hydrax.logs import DataError

    pq = tmp_path / "pq"
    convert_logs(dcp_data, pq, progress=False)
    with pytest.raises(
        DataError, match="episode_00000.parquet holds the same log as .*"
        "episode_00000.csv .*remove one",
    ):  # fmt: skip
        train_dynamics_model(
            [dcp_data, pq], "dup", hidden_size=4, history_length=2,
            prediction_horizon=2, num_epochs=1, checkpoint_dir=tmp_path,
            progress=False, log=lambda s: None,
        )  # fmt: skip
    assert not (tmp_path / "dup").exists()
