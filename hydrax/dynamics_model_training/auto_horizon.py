"""``prediction_horizon="auto"``: train over the task's planning horizon.

The learned model is best where the planner uses it: over as many steps as
the task's default controller looks ahead. This module finds that task
(the one the logs' manifest names, else the given name), checks that the
logs are of its robot, and converts the controller's horizon into the
logs' steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from hydrax.logs import DataError, Manifest, read_common_manifest
from hydrax.logs.format import parse_header
from hydrax.logs.manifest import model_sha256
from hydrax.logs.reader import read_columns
from hydrax.logs.scan import list_logs

AUTO_HORIZON = "auto"
"""``prediction_horizon="auto"``: the task's planning horizon (below)."""

FALLBACK_HORIZON = 9
"""K for ``auto`` when the task is unknown: the training default."""


def resolve_prediction_horizon(
    value: int | str, task_name: str, data_dirs: Sequence[Path]
) -> tuple[int, str | None]:
    """The training horizon K, and for ``auto`` a line saying why.

    An int is kept as it is (``check_arguments`` checks it). ``"auto"``
    gives :func:`planning_horizon_steps` when the task the logs' manifest
    names (without one, ``task_name``) is a built-in task with a default
    controller, else :data:`FALLBACK_HORIZON`.

    Raises:
        ValueError: naming ``prediction_horizon`` for any other string.
    """
    if not isinstance(value, str):
        return value, None
    if value != AUTO_HORIZON:
        raise ValueError(
            f"prediction_horizon must be a positive integer or "
            f"{AUTO_HORIZON!r}, got {value!r}"
        )
    from hydrax.simulation.controllers import default_controller
    from hydrax.tasks import TASK_NAMES, get_task

    manifest = _quiet_manifest(data_dirs)
    if manifest is not None and manifest.task:  # the robot the logs name
        task_name = manifest.task
    why = "is not a built-in task"
    if task_name in TASK_NAMES:
        task = get_task(task_name)
        logged = manifest.model_sha256 if manifest is not None else None
        m = task.mj_model
        dims = _logged_dims(manifest, data_dirs)
        if logged not in (None, model_sha256(task.model_file)):
            why = "names logs of another model file than the built-in task's"
        elif dims not in (None, (m.nq, m.nv, m.nu)):
            why = (
                f"has nq, nv, nu = {m.nq}, {m.nv}, {m.nu}, the logs have "
                f"{', '.join(map(str, dims))}"
            )
        else:
            try:
                controller = default_controller(task)
            except ValueError:
                why = "has no default controller"
            else:
                return planning_horizon_steps(controller, task_name, manifest)
    return FALLBACK_HORIZON, (
        f"auto prediction horizon: {task_name!r} {why}, so the planning "
        f"horizon is unknown; using {FALLBACK_HORIZON} steps (give a number "
        "to choose)"
    )


def _quiet_manifest(data_dirs: Sequence[Path]) -> Manifest | None:
    """The logs' common manifest; None on any problem (and no warning).

    The dataset reads it again, and names its problems and warnings once.
    """
    if not data_dirs:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_common_manifest(data_dirs)
    except DataError:
        return None


def _logged_dims(
    manifest: Manifest | None, data_dirs: Sequence[Path]
) -> tuple[int, int, int] | None:
    """The logs' (nq, nv, nu): the manifest's, else the first log header's.

    None when neither says (or on any problem: the dataset names it).
    """
    if manifest is not None and None not in (
        manifest.nq,
        manifest.nv,
        manifest.nu,
    ):
        return manifest.nq, manifest.nv, manifest.nu
    try:
        first = next(iter(list_logs(data_dirs)), None)
        return (
            None if first is None else parse_header(read_columns(first), first)
        )
    except (DataError, OSError):
        return None


def planning_horizon_steps(
    controller: object, task_name: str, manifest: Manifest | None
) -> tuple[int, str]:
    """The controller's planning horizon in the learned model's steps.

    The planner rolls ``controller.ctrl_steps`` steps of the task's
    timestep ``controller.dt``; the model steps at the logs' timestep (the
    manifest's dt; without one, the task's). When the two differ the
    horizon in seconds is kept, and the line says the planner would refuse
    such a model. ``manifest``: the logs' (`_quiet_manifest`), or None.
    """
    seconds = controller.ctrl_steps * controller.dt
    if manifest is not None and manifest.dt:
        dt, source = float(manifest.dt), "the logs' manifest dt"
    else:
        dt, source = controller.dt, "no manifest dt: the task's"
    k = max(1, round(seconds / dt))
    line = (
        f"auto prediction horizon: {k} steps, the planning horizon of the "
        f"{task_name} default controller ({controller.ctrl_steps} steps of "
        f"{controller.dt:g} s = {seconds:g} s) at {dt:g} s per model step "
        f"({source})"
    )
    if abs(dt - controller.dt) > 1e-6 * controller.dt:
        line += (
            f"; note the planner steps at {controller.dt:g} s and refuses a "
            "model of another timestep"
        )
    return k, line
