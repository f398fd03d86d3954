"""Open-loop prediction with a learned model, outside MPC.

``NeuralNetworkDynamics.predict`` rolls a batch of measured histories
forward under given controls; its arguments are checked here, so a wrong
shape is named with the shape it should have instead of failing inside JAX.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from hydrax.dynamics_model_training.model import rollout
from hydrax.dynamics_model_training.transforms import StateLayout
from hydrax.logs import startup_history


def check_shapes(
    layout: StateLayout, history: tuple, state: tuple, controls: tuple
) -> None:
    """Refuse shapes ``predict`` cannot take, naming the argument.

    Raises:
        ValueError: the argument, the shape it must have and the one given.
    """
    ns, row = layout.nq + layout.nv, layout.row_dim
    b = state[0] if len(state) == 2 else "B"
    expected = {
        "history": (
            f"({b}, n, {row})",
            len(history) == 3 and history[-1] == row,
        ),
        "state": (f"(B, {ns})", len(state) == 2 and state[-1] == ns),
        "controls": (
            f"({b}, K, {layout.nu}) with K >= 1",
            len(controls) == 3 and controls[-1] == layout.nu and controls[1],
        ),
    }
    given = {"history": history, "state": state, "controls": controls}
    for name, (shape, ok) in expected.items():
        if not ok:
            raise ValueError(
                f"predict: {name} must have shape {shape} (nq={layout.nq} "
                f"nv={layout.nv} nu={layout.nu}; history rows are qpos, qvel,"
                f" ctrl), got {given[name]}"
            )
    if not history[0] == state[0] == controls[0]:
        raise ValueError(
            "predict: history, state and controls must share their batch "
            f"size, got {history[0]}, {state[0]} and {controls[0]}"
        )


def predict(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    layout: StateLayout,
    history_length: int,
    inputs: tuple[jax.Array, jax.Array, jax.Array],
    stacked: bool = False,
) -> jax.Array:
    """``NeuralNetworkDynamics.predict``: the (qpos, qvel) after each control.

    Args:
        graphdef: The network's graph.
        params: Its state, or with ``stacked`` an ensemble's members'
            states stacked on a leading axis (the members are vmapped).
        layout: The state layout.
        history_length: The network's H.
        inputs: (history, state, controls), checked by :func:`check_shapes`.
        stacked: Whether ``params`` holds stacked members.

    Returns:
        (B, K, nq + nv); with ``stacked``, (M, B, K, nq + nv).

    Raises:
        ValueError: an input of another shape (:func:`check_shapes`).
    """
    history, state, controls = (jnp.asarray(x, jnp.float32) for x in inputs)
    check_shapes(layout, history.shape, state.shape, controls.shape)
    n = history_length - 1
    if history.shape[1] < n:
        first = history[:, 0, : state.shape[-1]] if history.shape[1] else state
        pad = startup_history(first, n - history.shape[1], layout.nu)
        history = jnp.concatenate([pad, history], axis=1)
    history = history[:, history.shape[1] - n :]
    row = jnp.concatenate([state, controls[:, 0]], axis=-1)
    window = jnp.concatenate([history, row[:, None]], axis=1)
    later = jnp.concatenate([controls[:, 1:], controls[:, -1:]], axis=1)
    if not stacked:
        return _predict_jit(graphdef, params, window, later)
    return jax.vmap(_predict_jit, in_axes=(None, 0, None, None))(
        graphdef, params, window, later
    )


@jax.jit
def _predict_jit(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    window: jax.Array,
    controls: jax.Array,
) -> jax.Array:
    return rollout(nnx.merge(graphdef, state), window, controls)[0]
