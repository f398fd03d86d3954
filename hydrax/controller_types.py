"""What a sampling-based controller carries between replannings and returns.

``SamplingParams`` (the plan: knot times, mean knots, the sampling key, and
the measured history a learned model conditions on) and ``Trajectory`` (one
round's scored rollouts), as upstream hydrax defines them; both are
re-exported by ``hydrax.alg_base``.
"""

from __future__ import annotations

import jax
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
