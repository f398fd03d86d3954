"""Data-parallel training: several devices and several hosts, same losses."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from hydrax.dynamics_model_training.train import train_dynamics_model

KW = dict(
    hidden_size=16,
    history_length=4,
    prediction_horizon=3,
    num_epochs=2,
    batch_size=32,
)

SCRIPT = """
import json, sys, jax
from hydrax.dynamics_model_training.parallel import initialize_distributed
if len(sys.argv) > 3:
    initialize_distributed(sys.argv[3], 2, int(sys.argv[4]))
from hydrax.dynamics_model_training.train import train_dynamics_model
said = []
_, h = train_dynamics_model(sys.argv[1], "p", checkpoint_dir=sys.argv[2],
                            progress=False, log=said.append, **{kw})
print("SAID", json.dumps([s for s in said if s.startswith("data-parallel")]))
print("RESULT", json.dumps([jax.process_count(), len(jax.devices()),
                            h["train_loss"], h["val_loss"]]))
"""


def _start(args, env=None):
    code = SCRIPT.replace("{kw}", repr(KW))
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _result(proc):
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-2000:]
    said = [x for x in out.splitlines() if x.startswith("SAID ")][-1]
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    return *json.loads(line[len("RESULT ") :]), json.loads(said[5:])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_devices_and_two_hosts_match_one_device(dcp_data, tmp_path):
    """2 local devices, and 2 processes on loopback, give one device's losses."""
    two_dev = _start(
        [dcp_data, tmp_path / "dev"],
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    addr = f"127.0.0.1:{_free_port()}"
    hosts = [_start([dcp_data, tmp_path / "hosts", addr, i]) for i in (0, 1)]
    _, one = train_dynamics_model(
        dcp_data,
        "p",
        checkpoint_dir=tmp_path / "one",
        progress=False,
        log=lambda s: None,
        **KW,
    )
    procs, devs, train, val, said = _result(two_dev)
    assert (procs, devs) == (1, 2)
    assert said == ["data-parallel over 2 devices in 1 process(es): batch 32"]
    np.testing.assert_allclose(train, one["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(val, one["val_loss"], rtol=1e-5)
    for i, proc in enumerate(hosts):
        procs, devs, h_train, h_val, said = _result(proc)
        assert (procs, devs) == (2, 2)
        mesh = "data-parallel over 2 devices in 2 process(es): batch 32"
        assert said == ([mesh] if i == 0 else [])  # process 0 speaks
        np.testing.assert_allclose(h_train, one["train_loss"], rtol=1e-5)
        np.testing.assert_allclose(h_val, one["val_loss"], rtol=1e-5)
    assert (tmp_path / "hosts" / "p" / "best_model.pkl").exists()
