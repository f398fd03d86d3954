"""The closed loop and its trials, and the comparison command.

``python -m hydrax.simulation.closed_loop`` runs the true-vs-learned
comparison (`hydrax.simulation.compare.main`). From Python this module
offers the closed loop (`hydrax.simulation.loop`: `run_closed_loop`,
`Episode`, `HistoryBuffer`, `running_costs`) and the trials
(`hydrax.simulation.trials`: `run_trial`, `balance_trial`, `swingup_trial`,
`TrialResult`, `TRIALS`) under one name.
"""

from __future__ import annotations

import sys

from hydrax.simulation.compare import main
from hydrax.simulation.loop import (
    Episode,
    HistoryBuffer,
    run_closed_loop,
    running_costs,
)
from hydrax.simulation.trials import (
    TRIALS,
    TrialResult,
    balance_trial,
    run_trial,
    swingup_trial,
)

__all__ = [
    "TRIALS",
    "Episode",
    "HistoryBuffer",
    "TrialResult",
    "balance_trial",
    "main",
    "run_closed_loop",
    "run_trial",
    "running_costs",
    "swingup_trial",
]

if __name__ == "__main__":
    sys.exit(main())
