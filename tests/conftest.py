"""Shared fixtures: a small double cart pole dataset and a tiny model; a free
body bouncing on a plane, collected and trained tiny."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import mujoco
import numpy as np
import polars as pl
import pytest

# Compiled programs are cached on disk, by their program rather than by the
# Python function, and shared by both test workers and the subprocesses that
# tests start: a controller or training step built anew with the same shapes
# loads instead of compiling, and a second run of the suite skips most
# compiling.
os.environ.setdefault(
    "HYDRAX_JAX_CACHE",
    str(Path.home() / ".cache" / "hydrax" / "jax-tests"),
)

from hydrax.task_base import model_path  # noqa: E402
from hydrax.utils import enable_compilation_cache  # noqa: E402

enable_compilation_cache()

DCP_COLUMNS = [
    "timestamp",
    "qpos_0",
    "qpos_1",
    "qpos_2",
    "qvel_0",
    "qvel_1",
    "qvel_2",
    "ctrl_0",
]
DCP_MANIFEST = {
    "angle_indices": [1, 2],
    "coordinate_indices": [0],
    "dt": 0.01,
    "nq": 3,
    "nv": 3,
    "nu": 1,
    "task": "double_cart_pole",
}


def write_dcp_logs(out: Path, episodes: int, steps: int, seed: int = 0) -> Path:
    """Smooth random-control double cart pole episodes near upright."""
    out.mkdir(parents=True, exist_ok=True)
    m = mujoco.MjModel.from_xml_path(str(model_path("double_cart_pole")))
    rng = np.random.default_rng(seed)
    for e in range(episodes):
        d = mujoco.MjData(m)
        d.qpos[:] = [
            0.0,
            np.pi + rng.uniform(-0.1, 0.1),
            rng.uniform(-0.1, 0.1),
        ]
        d.qvel[:] = rng.uniform(-0.1, 0.1, 3)
        u, rows = 0.0, []
        for _ in range(steps):
            u = float(np.clip(0.9 * u + 0.3 * rng.normal(), -1, 1))
            d.ctrl[0] = u
            rows.append([d.time, *d.qpos, *d.qvel, d.ctrl[0]])
            mujoco.mj_step(m, d)
        pl.DataFrame(
            np.array(rows), schema=DCP_COLUMNS, orient="row"
        ).write_csv(out / f"episode_{e:05d}.csv")
    (out / "manifest.json").write_text(json.dumps(DCP_MANIFEST))
    return out


@pytest.fixture(scope="session")
def dcp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve 3-second double cart pole logs with a manifest."""
    return write_dcp_logs(tmp_path_factory.mktemp("dcp"), 12, 300)


@pytest.fixture(scope="session")
def tiny_model(
    dcp_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    """A tiny model trained briefly on ``dcp_data``: (checkpoint, history)."""
    from hydrax.dynamics_model_training.train import train_dynamics_model

    ckpt_dir = tmp_path_factory.mktemp("ckpt")
    _, history = train_dynamics_model(
        dcp_data,
        "dcp",
        hidden_size=32,
        history_length=5,
        prediction_horizon=4,
        num_epochs=6,
        learning_rate=3e-3,
        checkpoint_dir=ckpt_dir,
        progress=False,
        log=lambda s: None,
    )
    return ckpt_dir / "dcp" / "best_model.pkl", history


# A ball on a free joint, dropped from 0.6 m onto a plane; the soft, lightly
# damped contact makes it bounce. Two torques (local x and z) spin it, so
# the orientation and the angular velocity change.
BOUNCE_XML = """
<mujoco model="bounce">
  <option timestep="0.01" integrator="Euler"/>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body name="ball" pos="0 0 0.6">
      <freejoint name="root"/>
      <geom type="sphere" size="0.1" mass="1" solref="0.03 0.2"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="root" gear="0 0 0 0.2 0 0" ctrlrange="-1 1"/>
    <motor joint="root" gear="0 0 0 0 0 0.2" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


class FreeBodyRun(NamedTuple):
    """The bouncing free body's logs and its tiny model."""

    data: Path
    checkpoint: Path
    network: object


@pytest.fixture(scope="session")
def free_body_run(tmp_path_factory: pytest.TempPathFactory) -> FreeBodyRun:
    """Random-policy logs of ``BOUNCE_XML``, a tiny heading-frame model."""
    from hydrax.dynamics_model_training.train import train_dynamics_model
    from hydrax.simulation.collect import collect

    tmp_path = tmp_path_factory.mktemp("bounce")
    xml = tmp_path / "bounce.xml"
    xml.write_text(BOUNCE_XML)
    data = collect(
        xml,
        tmp_path / "data",
        episodes=30,
        duration=2.0,
        policy="random",
        init_spread=0.5,
        progress=False,
    )
    network, _ = train_dynamics_model(
        data,
        "bounce",
        coordinate_indices=[0, 1],  # height stays absolute: the floor
        heading_frame=True,
        hidden_size=32,
        history_length=4,
        prediction_horizon=4,
        batch_size=64,
        num_epochs=4,
        learning_rate=3e-3,
        checkpoint_dir=tmp_path / "ck",
        progress=False,
        log=lambda s: None,
    )
    return FreeBodyRun(
        data, tmp_path / "ck" / "bounce" / "best_model.pkl", network
    )


def replay_error(mj_model: mujoco.MjModel, log: dict) -> float:
    """Largest relative mismatch of a replay of the logged controls."""
    data = mujoco.MjData(mj_model)
    data.qpos[:] = log["qpos"][0]
    data.qvel[:] = log["qvel"][0]
    worst = 0.0
    for k in range(len(log["times"])):
        for got, want in (
            (data.qpos, log["qpos"][k]),
            (data.qvel, log["qvel"][k]),
        ):
            err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
            worst = max(worst, float(err.max()))
        data.ctrl[:] = log["ctrl"][k]
        mujoco.mj_step(mj_model, data)
    return worst
