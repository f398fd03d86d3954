"""Exploration policies and their episode runners, on the MuJoCo C plant.

- ``lqr``: LQR about the task's goal (`hydrax.control.lqr`, Q = I,
  R = 10 I: it holds the double cart pole from about ±0.15 rad) plus smooth
  control noise, from states spread around the goal. Episodes that leave the
  region where LQR holds are logged all the same: they are useful data.
- ``random``: smooth random controls about the middle of each actuator's
  range, or about zero (``random_centre="zero"``: the in-range control
  nearest 0, a position actuator's target at qpos 0), from states spread
  around the default pose ``qpos0``. The only policy for an MJCF without a
  task cost; with ``mpc``, the policies for a task without a goal. About
  zero, a joint whose range ends at 0 (the contact tasks' knees) gets about
  half of its targets clipped to that end: the straight knee.
- ``mpc``: the task's default sampling-based controller plus noise (slow:
  tens to hundreds of milliseconds per replanning).
- ``energy``: the task's energy-pumping swing-up law from states spread
  around the hanging pose, handing over to the LQR near upright
  (`hydrax.control.swingup`), plus noise: the logs cover the swing-up and
  the upright region.
- ``mix``: energy swing-up for ``energy_fraction`` of the episodes (by
  default half of them for a task with an energy law, none otherwise), LQR
  for ``lqr_fraction`` of the others, random for the rest.

The noise ``n`` is an AR(1) process per actuator (`coloured_noise`). LQR,
energy and random episodes run in lockstep batches (`run_batch`), one
``MjData`` each, so every integrator MuJoCo offers is simulated exactly as
``mj_step`` does (`hydrax.simulation.runners`).
"""

from __future__ import annotations

import mujoco
import numpy as np
import scipy.signal

from hydrax.control.lqr import LQRController
from hydrax.initial_states import spread_qpos
from hydrax.simulation.model_source import ModelSource

POLICIES = ("auto", "lqr", "random", "mpc", "mix", "energy")
RANDOM_CENTRES = ("middle", "zero")
"""What the random policy's controls vary about (``random_centre``)."""


def check_random_centre(random_centre: str) -> None:
    """A ValueError unless ``random_centre`` is one of `RANDOM_CENTRES`."""
    if random_centre not in RANDOM_CENTRES:
        raise ValueError(
            f"random_centre must be one of {RANDOM_CENTRES}, "
            f"got {random_centre!r}"
        )


DEFAULT_ENERGY_FRACTION = 0.5
"""The share of energy swing-up episodes under ``mix`` for a task with an
energy law (``task.energy_swingup()``), when none is given."""


def coloured_noise(
    rng: np.random.Generator,
    steps: int,
    std: np.ndarray,
    smoothing: float,
) -> np.ndarray:
    """AR(1) Gaussian noise with stationary standard deviation ``std``.

    Args:
        rng: The random generator.
        steps: Number of steps.
        std: Per-channel stationary standard deviation, (n,).
        smoothing: The AR coefficient a in [0, 1) (0 gives white noise).

    Returns:
        The noise, (steps, n).
    """
    std = np.asarray(std, dtype=np.float64)
    white = rng.standard_normal((steps, std.shape[0]))
    gain = np.sqrt(1.0 - smoothing**2)
    # n_0 = ξ_0 (stationary start), then n_k = a n_{k-1} + gain ξ_k.
    out = np.empty_like(white)
    out[0] = white[0]
    out[1:], _ = scipy.signal.lfilter(
        [gain],
        [1.0, -smoothing],
        white[1:],
        axis=0,
        zi=smoothing * white[:1],
    )
    return out * std


def resolve_policy(source: ModelSource, policy: str) -> str:
    """The policy to run (``auto`` resolved), or a ValueError."""
    if policy not in POLICIES:
        raise ValueError(
            f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}"
        )
    has_goal = source.task is not None and source.task.goal() is not None
    if policy == "auto":
        return "mix" if has_goal and _lqr_exists(source) else "random"
    if policy == "mpc" and source.task is None:
        raise ValueError(
            "policy 'mpc' needs a task (its costs and default controller); "
            "a bare MJCF has none (use policy='random')"
        )
    if policy == "energy" and not (has_goal and has_energy_law(source)):
        raise ValueError(
            "policy 'energy' needs a task with a goal and an energy swing-up "
            f"law (task.energy_swingup()); {source.name} has none"
        )
    if policy in ("lqr", "mix") and not has_goal:
        what = "a bare MJCF" if source.task is None else "this task"
        instead = "'random'" if source.task is None else "'random' or 'mpc'"
        raise ValueError(
            f"policy {policy!r} needs a task with a goal; {what} has none "
            f"(use policy={instead})"
        )
    return policy


def _lqr_exists(source: ModelSource) -> bool:
    """Whether an LQR holds the task's goal (``auto`` then mixes)."""
    try:
        exploration_lqr(source)
    except ValueError:
        return False
    return True


def has_energy_law(source: ModelSource) -> bool:
    """Whether the source's task offers ``energy_swingup()``."""
    return source.task is not None and hasattr(source.task, "energy_swingup")


def mix_energy_fraction(
    source: ModelSource, policy: str, energy_fraction: float | None
) -> float:
    """The share of energy episodes: given, or the default under ``mix``."""
    if policy != "mix":
        return 1.0 if policy == "energy" else 0.0
    if energy_fraction is not None:
        if energy_fraction > 0 and not has_energy_law(source):
            raise ValueError(
                f"energy_fraction {energy_fraction} needs a task with an "
                f"energy swing-up law; {source.name} has none"
            )
        return energy_fraction
    return DEFAULT_ENERGY_FRACTION if has_energy_law(source) else 0.0


def _running(index: int, fraction: float) -> bool:
    """Whether ``index`` is one of an exact running ``fraction``."""
    return int((index + 1) * fraction) > int(index * fraction)


def episode_kind(
    policy: str, index: int, lqr_fraction: float, energy_fraction: float
) -> str:
    """``lqr``, ``energy`` or ``random`` for episode ``index``.

    Under ``mix``, exactly ``energy_fraction`` of every prefix of episodes
    (rounded down) swing up, and ``lqr_fraction`` of the others run LQR.
    """
    if policy in ("lqr", "energy", "random"):
        return policy
    if policy == "mpc":
        return "lqr"
    if _running(index, energy_fraction):
        return "energy"
    others = index - int((index + 1) * energy_fraction)
    return "lqr" if _running(others, lqr_fraction) else "random"


def spread_state(
    mj_model: mujoco.MjModel,
    rng: np.random.Generator,
    qpos: np.ndarray,
    qvel: np.ndarray,
    spread: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(qpos, qvel) moved by U(−spread, spread) in every dof.

    qpos by `hydrax.initial_states.spread_qpos` (redrawn while in contact).
    """
    qpos = spread_qpos(mj_model, rng, qpos, spread, "init_spread")
    qvel = np.asarray(qvel, dtype=np.float64)
    return qpos, qvel + rng.uniform(-spread, spread, mj_model.nv)


def episode_inputs(
    source: ModelSource,
    indices: range,
    *,
    policy: str,
    seed: int,
    steps: int,
    lqr_fraction: float,
    noise_std: float,
    noise_smoothing: float,
    random_std: float,
    init_spread: float,
    energy_fraction: float = 0.0,
    random_centre: str = "middle",
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray], list[str]]:
    """Each episode's start, control noise and kind (`episode_kind`).

    LQR (and MPC) episodes start around the goal, energy and random ones
    (and MPC ones of a task without a goal) around the default pose at rest
    (hanging).

    Episode ``i`` draws from ``np.random.default_rng([seed, i])``.
    """
    mj_model = source.mj_model
    limited = mj_model.actuator_ctrllimited.astype(bool)
    lo, hi = mj_model.actuator_ctrlrange.T
    half_range = np.where(limited, (hi - lo) / 2.0, 1.0)
    centre = np.where(limited, (hi + lo) / 2.0, 0.0)
    check_random_centre(random_centre)
    if random_centre == "zero":
        centre = np.where(limited, np.clip(0.0, lo, hi), 0.0)
    starts, noises, kinds = [], [], []
    rest = (mj_model.qpos0, np.zeros(mj_model.nv))
    for i in indices:
        rng = np.random.default_rng([seed, i])
        kind = episode_kind(policy, i, lqr_fraction, energy_fraction)
        if kind != "random":
            goal = source.task.goal() if kind == "lqr" else None
            start = rest if goal is None else goal
            starts.append(spread_state(mj_model, rng, *start, init_spread))
            std = noise_std * half_range
            noises.append(coloured_noise(rng, steps, std, noise_smoothing))
        else:
            starts.append(spread_state(mj_model, rng, *rest, init_spread))
            std = random_std * half_range
            noises.append(
                centre + coloured_noise(rng, steps, std, noise_smoothing)
            )
        kinds.append(kind)
    return starts, noises, kinds


def exploration_lqr(source: ModelSource) -> LQRController:
    """The LQR at the task's goal, or a one-line ValueError that says why not.

    Raises:
        ValueError: The goal has the wrong shape, MuJoCo cannot linearize the
            model, or no gain stabilizes the linearization (e.g. a floating
            base that no actuator reaches).
    """
    try:
        return LQRController(source.mj_model, *source.task.goal(), 1.0, 10.0)
    except (ValueError, mujoco.FatalError) as err:
        message = " ".join(str(err).split())
        raise ValueError(
            f"{source.name}: no LQR for the lqr and mix policies: {message} "
            "(use policy='random', or a goal the actuators can hold)"
        ) from err
