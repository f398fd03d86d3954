"""What aggregation does on the plant with a learned-model controller.

``collect_with_model`` logs its episodes with exploration noise (the data
of a round), ``trial_scores`` runs its trials without noise (the figures
of a round, printed by ``say_scores``); ``hydrax.simulation.aggregate``
alternates them with fine-tuning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import mujoco
import numpy as np

from hydrax.simulation.controllers import (
    LearnedPlanning,
    learned_controller,
    planner_settings,
)
from hydrax.simulation.episode_costs import running_costs
from hydrax.simulation.loop import run_closed_loop
from hydrax.simulation.output_dir import UnstableEpisodes, unstable_note
from hydrax.simulation.plant_checks import LimitCheck, instability_reported_here
from hydrax.simulation.policies import coloured_noise
from hydrax.simulation.run_logs import RunLogs
from hydrax.simulation.trials import check_trial, run_trial
from hydrax.task_base import Task


def trial_scores(
    task_name: str,
    checkpoint: Path,
    seeds: Sequence[int],
    duration: float | None = None,
    trial: str = "balance",
    planning: LearnedPlanning | None = None,
    task_kwargs: Mapping[str, object] | None = None,
) -> dict:
    """The learned-model controller's trials (no noise), summarized.

    ``planning`` says how the controller plans; ``task_kwargs`` are the
    task's own arguments (`trials.task_arguments`).

    Returns:
        ``success_rate``; ``success_seconds``: the mean simulated seconds a
        trial spent in the task's success set (a balance trial: until it
        fell); ``mean_cost``: the task's running cost per plant step,
        averaged over the trials' rows. Both move before the success rate
        does in a trial that runs its whole duration (swing-up), e.g.
        while a model learns to keep a hopper up for longer; a balance
        trial's rows end where it fell, so there read ``success_seconds``
        (a quick fall can average a low cost).
    """
    task, controller = learned_controller(
        task_name, checkpoint, trial, planning, **(task_kwargs or {})
    )
    wins, seconds, costs = [], [], []
    for s in seeds:
        result = run_trial(trial, task, controller, s, duration=duration)
        e = result.episode
        wins.append(result.success)
        rows = zip(e.qpos, e.site_xpos, strict=True)
        seconds.append(sum(task.success(q, x) for q, x in rows) * e.dt)
        costs.append(np.mean(running_costs(task, e.qpos, e.qvel, e.ctrl)))
    return {
        "success_rate": float(np.mean(wins)),
        "success_seconds": float(np.mean(seconds)),
        "mean_cost": float(np.mean(costs)),
    }


def say_scores(it: int, scores: dict, trials: int) -> None:
    """Print a round's ``trial_scores`` in one line.

    Successes, seconds in the success set, running cost; ``{}``: the round
    ran no trials.
    """
    if not scores:
        print(f"iteration {it}: done (no trials)", flush=True)
        return
    wins = round(scores["success_rate"] * trials)
    print(
        f"iteration {it}: success {wins}/{trials}, "
        f"{scores['success_seconds']:.2f} s in the success set and running "
        f"cost {scores['mean_cost']:.4g} per step (trial means)",
        flush=True,
    )


def check_inputs(
    task_name: str,
    checkpoint: Path,
    dirs: list[Path],
    trial: str,
    planning: LearnedPlanning | None = None,
    task_kwargs: Mapping[str, object] | None = None,
    scored: bool = True,
) -> tuple[dict, dict]:
    """The checkpoint's configuration and the planner, once all fit.

    Every log of ``dirs`` is read and checked, so a bad file or a wrong
    directory fails in seconds, before a round's work or output; so do
    ``planning`` settings the checkpoint or the controller cannot take
    and, when its trials are ``scored``, a ``trial`` the task (with its own
    arguments ``task_kwargs``) cannot pass.

    Returns:
        The checkpoint's configuration, and the trial's controller's
        settings (``planner_settings``).

    Raises:
        CheckpointError: the checkpoint is unsafe, broken or another model's.
        DataError: a log is bad, or its columns are not the checkpoint's.
        ValueError: the task cannot pass ``trial`` (``check_trial``).
    """
    from hydrax.dynamics_model_training.evaluation_windows import (
        check_data_matches,
    )
    from hydrax.logs import list_logs, scan_logs

    task, controller = learned_controller(
        task_name, checkpoint, trial, planning, **(task_kwargs or {})
    )
    if scored:
        check_trial(task, trial)
    scan_logs(list_logs(dirs), keep_rows=False)
    config = task.dynamics.config
    check_data_matches(config, dirs, str(checkpoint))
    return config, planner_settings(controller)


def collect_with_model(
    task_name: str,
    checkpoint: Path,
    out_dir: Path,
    episodes: int,
    duration: float,
    noise_std: float,
    seed: int,
    trial: str = "balance",
    planning: LearnedPlanning | None = None,
    task_kwargs: Mapping[str, object] | None = None,
) -> Path:
    """Log closed-loop episodes of the learned-model controller plus noise.

    Episodes start from the trial's initial states. As ``collect``'s
    episodes, they end when a limited slide joint (the cart's rail) reaches
    its range or the state stops being finite, so no row past a rail's end
    is logged (a model whose features hold the cart's position relative to
    its history cannot know where the rail ends); balance episodes also
    end once the tip falls below the rail. Logs of an earlier run in
    ``out_dir`` are removed once the first episode is logged.
    """
    task, controller = learned_controller(
        task_name, checkpoint, trial, planning, **(task_kwargs or {})
    )
    steps = int(round(duration / task.dt))
    half = np.asarray((task.u_max - task.u_min) / 2.0)
    half = np.where(np.isfinite(half), half, 1.0)
    logs = RunLogs(out_dir, "episode_*.csv")
    dropped: dict[str, str] = {}
    for i in range(episodes):
        rng = np.random.default_rng([seed, i])
        qpos0, qvel0 = task.sample_initial_state(rng, trial)
        noise = coloured_noise(rng, steps, noise_std * half, 0.95)
        path = out_dir / f"episode_{i:05d}.csv"
        check = LimitCheck(task.mj_model)
        with instability_reported_here():
            episode = run_closed_loop(
                task,
                controller,
                qpos0,
                qvel0,
                duration,
                seed=seed + i,
                ctrl_noise=noise,
                compute_cost=False,
                stop_condition=episode_end(task, trial, check),
            )
        if check.unstable is not None:  # its last rows already diverge
            dropped[path.name] = check.unstable
            continue
        logs.write(path, episode)
    if dropped:
        note = unstable_note(dropped, episodes, "a smaller timestep")
        if len(dropped) == episodes:
            raise ValueError(note)
        warnings.warn(note, UnstableEpisodes, stacklevel=2)
    logs.finish(task)
    return out_dir


def episode_end(
    task: Task, trial: str, check: LimitCheck | None = None
) -> Callable[[mujoco.MjData], bool]:
    """Where a logged episode ends.

    At a slide joint's limit, a non-finite state, or (balance) the tip
    below the rail (nothing to learn). The closed loop calls it on the
    plant after each step: qpos and qvel are the new state, ``site_xpos``
    still the one before the step (no forward pass in between), so the tip
    check lags by a step; the state that ends an episode is never logged.
    ``check`` (a `LimitCheck`) then says whether MuJoCo found it unstable.
    """
    check = LimitCheck(task.mj_model) if check is None else check
    tip = getattr(task, "tip_id", None) if trial == "balance" else None
    if tip is None:
        return check.stops

    def stop(data: mujoco.MjData) -> bool:
        return bool(data.site_xpos[tip][2] < 0.0) or check.stops(data)

    return stop
