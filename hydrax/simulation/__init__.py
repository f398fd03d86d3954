"""Headless simulation: the closed loop, trials, CSV logs and data collection.

Core (imports nothing above it):

- `hydrax.simulation.loop`: MPC against the MuJoCo C plant (`run_closed_loop`).
- `hydrax.simulation.trials`: the balance and swing-up trials.
- `hydrax.simulation.logging`: the trajectory CSV format.
- `hydrax.simulation.model_source`: what is collected from, and its
  description in the manifest.
- `hydrax.simulation.policies`: exploration policies and episode runners.
- `hydrax.simulation.collection`: `collect()`.
- `hydrax.simulation.controllers`: `default_controller` for each task.

Commands and pipelines above it:

- `hydrax.simulation.collect`: the data collection command.
- `hydrax.simulation.compare`: true vs learned planner model in trials;
  `hydrax.simulation.closed_loop` re-exports the loop and the trials and
  runs this command.
- `hydrax.simulation.aggregate`: data aggregation rounds.
- `hydrax.simulation.deterministic` and `hydrax.simulation.asynchronous`:
  upstream's `run_interactive`, the plant and the controller in one loop,
  or the plant in its own process in real time.

LQR moved to `hydrax.control.lqr` (`hydrax.simulation.lqr` re-exports it).
"""
