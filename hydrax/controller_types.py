"""What a sampling-based controller carries between replannings and returns.

``SamplingParams`` (the plan: knot times, mean knots, the sampling key, and
the measured history a learned model conditions on) and ``Trajectory`` (one
round's scored rollouts), as upstream hydrax defines them; both are
re-exported by ``hydrax.alg_base``. And the checks of a controller's
constructor arguments.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import struct


@struct.dataclass
class SamplingParams:
    """The parameters of a sampling-based controller.

    Attributes:
        tk: The knot times, (num_knots,).
        mean: The mean control knots, (num_knots, nu).
        rng: The random key for the next sampling.
        history: The measured (qpos, qvel, ctrl) rows before the current
            state, (history_length - 1, nq + nv + nu), oldest first, for
            dynamics that condition on a history (a learned model); None
            otherwise, and a learned model then starts from the current
            state repeated with zero control. Keyword-only, so subclasses
            add fields as upstream's do.
    """

    tk: jax.Array
    mean: jax.Array
    rng: jax.Array
    history: jax.Array | None = struct.field(default=None, kw_only=True)


@struct.dataclass
class Trajectory:
    """The rollouts of one sampling round; T is the number of control steps.

    Attributes:
        controls: The control sequences, (num_samples, T, nu).
        knots: The control knots, (num_samples, num_knots, nu).
        costs: Per-step costs, dt · ℓ(xₜ₊₁, uₜ), then the terminal cost
            ϕ(x_T), (num_samples, T + 1).
        trace_sites: The trace sites' positions at x₀ … x_T,
            (num_samples, T + 1, num_sites, 3).
    """

    controls: jax.Array
    knots: jax.Array
    costs: jax.Array
    trace_sites: jax.Array

    def __len__(self) -> int:
        """The number of control steps T."""
        return self.costs.shape[-1] - 1


def check_controller_arguments(
    dt: float,
    num_randomizations: object,
    plan_horizon: float,
    spline_type: str,
    num_knots: int,
    iterations: int,
) -> None:
    """Refuse a sampling controller's bad arguments, naming each.

    Raises:
        ValueError: for a horizon not above the timestep ``dt``, too few
            knots (for the spline), fewer than one iteration, or
            ``num_randomizations`` not an integer >= 1.
    """
    if (
        isinstance(num_randomizations, bool)
        or not isinstance(num_randomizations, int | np.integer)
        or num_randomizations < 1
    ):
        # Catches the old positional form (..., plan_horizon) too.
        raise ValueError(
            "num_randomizations must be an integer >= 1, got "
            f"{num_randomizations!r} (pass plan_horizon by keyword)"
        )
    if not dt < plan_horizon < float("inf"):  # NaN too
        raise ValueError(
            f"plan_horizon must exceed the timestep {dt}, got {plan_horizon}"
        )
    if num_knots < 2:
        raise ValueError(f"num_knots must be >= 2, got {num_knots}")
    if spline_type == "cubic" and num_knots < 4:
        raise ValueError("a cubic spline needs num_knots >= 4")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
