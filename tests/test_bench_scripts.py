"""The contact-task benchmark script runs a short trial and checks its flags;
the helper modules refuse to run as scripts.

Speed is never asserted here; this only keeps ``benchmarks/bench_hopper.py``
working (its rows, its JSON file, its refusals).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_hopper.py"


def _bench_hopper():
    spec = importlib.util.spec_from_file_location("bench_hopper", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_hopper_rows_and_refusals(tmp_path, capsys):
    """A 0.2-s quadruped trial: one row per seed, appended to --out; at the
    default 1 m it has not arrived, at --target-distance 0 it stood."""
    bench = _bench_hopper()
    out = tmp_path / "rows.json"
    common = [
        "--task", "quadruped", "--seeds", "3", "--duration", "0.2",
        "--num-samples", "8", "--out", str(out),
    ]  # fmt: skip
    assert bench.main(common) == 0
    assert bench.main([*common, "--target-distance", "0"]) == 0
    far, stand = json.loads(out.read_text())
    assert far["seed"] == stand["seed"] == 3 and far["model"] == "true"
    assert not far["success"] and stand["success"]
    assert stand["target_distance"] == 0 and far["target_distance"] == 1.0
    assert 0 <= far["distance_final"] < 0.2 and far["steps_down"] == 0
    assert far["num_samples"] == 8 and np.isfinite(far["replan_ms"])
    assert "success 1/1" in capsys.readouterr().out
    # A disagreement weight it would ignore is refused before any trial.
    with pytest.raises(SystemExit) as err:
        bench.main(["--disagreement-weight", "1", "--out", str(out)])
    assert err.value.code == 2
    assert "--disagreement-weight needs --checkpoint" in capsys.readouterr().err
    assert len(json.loads(out.read_text())) == 2
    # So is a risk strategy with nothing to combine (one particle).
    with pytest.raises(SystemExit) as err:
        bench.main(["--risk", "worst", "--strategy", "members"])
    assert err.value.code == 2
    assert "--risk needs --checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize(
    "module", ["bench_table", "bench_common", "bench_learning_rows"]
)
def test_a_helper_module_run_says_it_is_a_part(module):
    """Run as a script, a benchmark's helper module names what to run
    instead and exits 2, where it used to print nothing."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, str(BENCH.parent / f"{module}.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=BENCH.parent,
    )
    assert run.returncode == 2
    assert f"{module}.py is a part of the benchmarks" in run.stderr
    assert "bench_learning.py --help" in run.stderr
