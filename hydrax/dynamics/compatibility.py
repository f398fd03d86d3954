"""Whether a learned model fits the MuJoCo model a controller plans for."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mujoco import mjx

_DT_RTOL = 1e-6


def check_model(
    cfg: dict, dt: float, model: mjx.Model, model_file: Path | None = None
) -> None:
    """Refuse a model of another timestep, dimensions or MJCF file.

    The MJCF check compares the file's SHA-256 with the one the training
    data's manifest recorded (when both are known): a model edited since
    the data was logged, or another robot with the same dimensions, is
    refused; data pooled from several files accepts each of them.

    Args:
        cfg: The learned model's checkpoint configuration.
        dt: The timestep it was trained at.
        model: The MJX model planned for.
        model_file: Its MJCF file, if known.

    Raises:
        ValueError: naming what differs.
    """
    identity = cfg.get("manifest_identity") or {}
    recorded = identity.get("model_sha256")
    if model_file is not None and recorded and Path(model_file).exists():
        digest = hashlib.sha256(Path(model_file).read_bytes()).hexdigest()
        if digest not in identity.get("pooled_model_sha256", [recorded]):
            raise ValueError(
                f"the learned model was trained on data from another "
                f"MJCF (task {identity.get('task')!r}, sha256 "
                f"{recorded[:12]}...) than {model_file} (sha256 "
                f"{digest[:12]}...)"
            )
    dims = {"nq": model.nq, "nv": model.nv, "nu": model.nu}
    for key, value in dims.items():
        if int(cfg[key]) != int(value):
            raise ValueError(
                f"the learned model has {key}={cfg[key]} but the MuJoCo "
                f"model has {key}={value}"
            )
    timestep = float(model.opt.timestep)
    if abs(timestep - dt) > _DT_RTOL * dt:
        raise ValueError(
            f"the learned model was trained at dt={dt:g} s but the "
            f"MuJoCo model's timestep is {timestep:g} s"
        )
