"""Headless simulation: the closed loop, CSV logs, LQR and data collection.

- `hydrax.simulation.closed_loop`: MPC against the MuJoCo C plant, trials.
- `hydrax.simulation.logging`: the trajectory CSV format.
- `hydrax.simulation.lqr`: LQR at a task's goal (exploration policy).
- `hydrax.simulation.collect`: the data collection CLI and `collect()`.
- `hydrax.simulation.controllers`: `default_controller` for each task.
"""
