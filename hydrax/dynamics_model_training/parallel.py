"""Data-parallel training over every device of every process (jax.sharding).

One mesh axis, ``data``, spans all devices (``jax.devices()``: the local
ones, or those of all hosts after ``jax.distributed.initialize``). The batch
is sharded along it and the parameters, optimizer state and dataset rows are
replicated; XLA inserts the gradient all-reduce. Every process computes the
same batch indices (the shuffles are deterministic), so each one only
materializes the shards of its own devices.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P


class DataParallel:
    """Where arrays live during training: batch sharded, the rest replicated."""

    def __init__(self, devices: list | None = None) -> None:
        """A one-axis mesh over ``devices`` (default: all devices)."""
        devices = devices or jax.devices()
        self.mesh = Mesh(np.array(devices), ("data",))
        self.replicated = NamedSharding(self.mesh, P())
        self.sharded = NamedSharding(self.mesh, P("data"))
        self.num_devices = len(devices)
        self.is_main = jax.process_index() == 0

    def round_batch(self, batch_size: int) -> int:
        """The batch size rounded up to a multiple of the device count."""
        n = self.num_devices
        return -(-batch_size // n) * n

    def replicate(self, tree: Any) -> Any:  # noqa: ANN401
        """Copies of every leaf on every device (the same on all hosts)."""

        def put(x: Any) -> jax.Array:  # noqa: ANN401
            x = np.asarray(x)
            return jax.make_array_from_callback(
                x.shape, self.replicated, lambda idx: x[idx]
            )

        return jax.tree.map(put, tree)

    def shard(self, x: np.ndarray, axis: int = 0) -> jax.Array:
        """A global batch array split along ``axis`` over the devices.

        ``axis=1`` is an ensemble's batch: (members, batch), each member's
        batch split the same way.
        """
        sharding = self.sharded
        if axis:
            sharding = NamedSharding(self.mesh, P(*([None] * axis), "data"))
        return jax.make_array_from_callback(
            x.shape, sharding, lambda idx: x[idx]
        )

    @staticmethod
    def fetch(tree: Any) -> Any:  # noqa: ANN401
        """Replicated arrays back to numpy (this host's copy)."""
        return jax.tree.map(
            lambda x: (
                np.asarray(x.addressable_data(0))
                if isinstance(x, jax.Array)
                else x
            ),
            tree,
        )


def initialize_distributed(
    coordinator_address: str | None,
    num_processes: int | None,
    process_id: int | None,
) -> None:
    """Join a multi-host run (all three given) before any JAX computation."""
    given = [coordinator_address, num_processes, process_id]
    if all(v is None for v in given):
        return
    if any(v is None for v in given):
        raise ValueError(
            "multi-host training needs --coordinator-address, "
            "--num-processes and --process-id together"
        )
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
    )
