"""Ensemble rows of ``bench_learning.py``: training and planning cost of N.

At the demo's configuration (double cart pole, recurrent GRU hidden 128,
H = 6, K = 40, batch 32, learning rate 3e-3):

1. seconds per training epoch (``Trainer.train_epoch`` and the validation
   pass, inside ``reused_host_buffers`` as ``Trainer.fit`` runs them) of one
   model and of a 5-member ensemble, interleaved, and their ratio beside a
   bound: 5 x the matmul FLOPs at the measured matmul peak;
2. replanning rate of predictive sampling, 128 samples x 50 steps, with one
   model and with 5 members (``"mean"``, ``"ts"`` and ``"members"``;
   ``"mean"`` also with the recurrent products in bfloat16,
   ``matmul_dtype="bfloat16"``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_common import (
    ANGLES,
    COORDS,
    STEPS,
    Bench,
    interleaved,
    learned_dynamics,
    matmul_peak,
    prepared,
    replanning,
)
from flax import nnx

from hydrax.dynamics_model_training.data_loader import DynamicsDataset
from hydrax.dynamics_model_training.host_memory import reused_host_buffers
from hydrax.dynamics_model_training.model import DynamicsNetwork
from hydrax.dynamics_model_training.train import prepare_trainer
from hydrax.dynamics_model_training.training_setup import model_config
from hydrax.tasks.double_cart_pole import DoubleCartPole

HIDDEN, H, K, BATCH, MEMBERS = 128, 6, 40, 32, 5


def ensemble_dataset(data_dir: Path) -> DynamicsDataset:
    """The demo's windows (H = 6, K = 40) of the logs in ``data_dir``."""
    return DynamicsDataset(
        data_dir,
        angle_indices=ANGLES,
        coordinate_indices=COORDS,
        history_length=H,
        prediction_horizon=K,
        verbose=False,
    )


def network(dataset: DynamicsDataset, seed: int) -> DynamicsNetwork:
    """A recurrent network of the demo's size with the data's statistics."""
    net = DynamicsNetwork(
        dataset.layout, HIDDEN, H, rngs=nnx.Rngs(seed), mode="recurrent"
    )
    net.set_statistics(dataset.statistics)
    return net


def epoch_bench(dataset: DynamicsDataset, num_models: int, tmp: Path) -> Bench:
    """One training epoch and its validation, as train_dynamics_model runs
    them (same steps, shuffles and placement), in epochs."""
    net = network(dataset, 0)
    hyper = {
        "batch_size": BATCH,
        "num_epochs": 10,
        "learning_rate": 3e-3,
        "weight_decay": 1e-5,
        "seed": 0,
        "grad_clip": 1.0,
        "lr_schedule": "cosine",
        "patience": None,
    }
    config = model_config(dataset, net, K, "bench", hyper, num_models)
    trainer, state, _ = prepare_trainer(dataset, net, config, tmp)
    epoch = [0]

    def call() -> np.ndarray:
        trainer.train_epoch(state, epoch[0] % 10, 10)
        epoch[0] += 1
        return trainer.evaluate(state.params)

    return prepared(call, 1.0)


def flops_per_epoch(dataset: DynamicsDataset, num_models: int) -> float:
    """Matmul FLOPs of an epoch's training steps (forward + backward).

    Per window: H + K GRU cells (the window's, then one per fed-back row,
    the last one's output unused), each 2·(F + h)·3h, and K heads 2·h·D;
    backward ≈ 2 × forward. The validation pass is left out.
    """
    f = int(dataset.statistics["in_mean"].shape[0])
    d = dataset.layout.state_dim
    cell = 2 * (f + HIDDEN) * 3 * HIDDEN
    per_window = 3.0 * ((H + K) * cell + K * 2 * HIDDEN * d)
    steps = sum(-(-n // BATCH) for n in dataset.block_windows("train"))
    return num_models * steps * BATCH * per_window


def measure_ensembles(
    data_dir: Path,
    seconds: float,
    rounds: int,
    say: Callable[[str], None],
) -> dict:
    """Every figure of the ensemble rows, from the logs in ``data_dir``."""
    dataset = ensemble_dataset(data_dir)
    m: dict = {"windows": dataset.num_windows["train"]}
    with tempfile.TemporaryDirectory() as tmp, reused_host_buffers():
        say(f"compiling training epochs, 1 and {MEMBERS} members ...")
        group = {n: epoch_bench(dataset, n, Path(tmp)) for n in (1, MEMBERS)}
        group["peak"] = matmul_peak()
        say(f"  timing 3 interleaved, {rounds} x {seconds:g} s ...")
        rates = interleaved(group, seconds, rounds)
    m["epoch_s"] = {n: 1.0 / rates[n] for n in (1, MEMBERS)}
    m["peak"] = rates["peak"]
    m["flops"] = {n: flops_per_epoch(dataset, n) for n in (1, MEMBERS)}

    task = DoubleCartPole()
    members = [network(dataset, seed) for seed in range(MEMBERS)]
    group = {}
    for name, nets, strategy, dtype in (
        ("1 model", members[0], "mean", "float32"),
        (f"{MEMBERS} members, mean", members, "mean", "float32"),
        (f"{MEMBERS} members, ts", members, "ts", "float32"),
        (f"{MEMBERS} members, members", members, "members", "float32"),
        (f"{MEMBERS} members, mean, bfloat16", members, "mean", "bfloat16"),
    ):
        say(f"compiling the controller, {name} ...")
        learned = learned_dynamics(nets, task, strategy, dtype)
        group[name] = replanning(DoubleCartPole(custom_dynamics=learned))
    say(f"  timing {len(group)} interleaved, {rounds} x {seconds:g} s ...")
    rates = interleaved(group, seconds, rounds)
    m["replan"] = {k: (r, group[k].compile_s(r)) for k, r in rates.items()}
    return m


def add_ensemble_rows(table, m: dict) -> None:  # noqa: ANN001 (a Table)
    """The ensemble rows, with their targets."""
    one, many = m["epoch_s"][1], m["epoch_s"][MEMBERS]
    cfg = f"recurrent h{HIDDEN} H={H} K={K} batch {BATCH}"
    table.add(
        f"train epoch, 1 model ({m['windows']} windows, {cfg})",
        one,
        "s",
        fmt=".2f",
    )
    table.add(
        f"train epoch, {MEMBERS} members / 1 model",
        many,
        "s",
        ratio=many / one,
        ratio_of="of 1 model",
        target=1.5,
        better="lower",
        fmt=".2f",
    )
    bound = m["flops"][MEMBERS] / (m["peak"] * 1e9)
    table.add(
        f"  bound: {MEMBERS} members' matmul FLOPs at the matmul peak",
        bound,
        "s",
        ratio=bound / one,
        ratio_of="of 1 model",
        fmt=".2f",
    )
    for name, (hz, comp) in m["replan"].items():
        table.add(
            f"replan PS 128 x {STEPS}, learned recurrent H={H}, {name}",
            hz,
            "Hz",
            comp,
            target=None if name == "1 model" else 30.0,
            fmt=",.1f",
        )


if __name__ == "__main__":
    from bench_table import not_a_command

    not_a_command(__file__)
