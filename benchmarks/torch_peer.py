"""A PyTorch peer of hydrax's GRU dynamics model, for benchmarks only.

The same model and loss as ``hydrax.dynamics_model_training.model``, written
as a PyTorch user would: ``nn.GRU(batch_first=True)`` and an ``nn.Linear``
head; the same features (cos/sin of angles, coordinates relative to the
window's first row, standardization), the same autoregressive K-step loss
with the same delta application (θ + atan2(s, c) for angles, additive
otherwise), AdamW with ``clip_grad_norm_``. Weights can be copied from a
hydrax network (same gate convention r, z, n), so the two losses can be
checked equal on one batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

_NORM_EPS = 1e-12


class TorchDynamicsNetwork(nn.Module):
    """GRU over a window of raw (qpos, qvel, ctrl) rows → the next delta.

    Args:
        layout: A ``StateLayout`` (nq, nv, nu, angle and coordinate indices).
        hidden_size: The GRU's hidden size.
        history_length: Rows per input window (H).
    """

    def __init__(
        self, layout, hidden_size: int = 128, history_length: int = 11
    ):
        super().__init__()
        self.nq, self.nv, self.nu = layout.nq, layout.nv, layout.nu
        self.history_length = history_length
        self.n_ang = len(layout.angle_indices)
        d = layout.state_dim
        f = d + layout.nu
        self.gru = nn.GRU(f, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, d)
        row = layout.nq + layout.nv + layout.nu
        coord_mask = torch.zeros(row)
        coord_mask[list(layout.coordinate_indices)] = 1.0
        self.register_buffer("coord_mask", coord_mask)
        self.register_buffer(
            "angles", torch.tensor(layout.angle_indices, dtype=torch.long)
        )
        self.register_buffer(
            "others", torch.tensor(layout.other_indices, dtype=torch.long)
        )
        # qpos increments come as [angles..., others...]; this puts them back
        # in qpos order.
        order = list(layout.angle_indices) + list(layout.other_indices)
        self.register_buffer(
            "unpermute", torch.tensor(np.argsort(order), dtype=torch.long)
        )
        for name, n in (("in", f), ("out", d)):
            self.register_buffer(f"{name}_mean", torch.zeros(n))
            self.register_buffer(f"{name}_std", torch.ones(n))

    # --- weights and statistics from hydrax --------------------------------

    @torch.no_grad()
    def copy_from_hydrax(self, network) -> None:
        """Copy weights and statistics from a hydrax ``DynamicsNetwork``."""

        def t(x) -> torch.Tensor:
            return torch.from_numpy(np.array(x, dtype=np.float32))

        gru = network.gru
        self.gru.weight_ih_l0.copy_(t(gru.w_in[...]).T)  # (3h, F)
        self.gru.weight_hh_l0.copy_(t(gru.w_rec[...]).T)  # (3h, h)
        self.gru.bias_ih_l0.copy_(t(gru.b_in[...]))
        self.gru.bias_hh_l0.copy_(t(gru.b_rec[...]))
        self.head.weight.copy_(t(network.head.kernel[...]).T)  # (D, h)
        self.head.bias.copy_(t(network.head.bias[...]))
        for name in ("in_mean", "in_std", "out_mean", "out_std"):
            getattr(self, name).copy_(t(getattr(network, name)[...]))

    # --- the data conventions ----------------------------------------------

    def transform(self, state: torch.Tensor) -> torch.Tensor:
        """Raw (qpos, qvel) → [cos, sin per angle, other qpos, qvel]."""
        ang = state[..., self.angles]
        pairs = torch.stack([torch.cos(ang), torch.sin(ang)], dim=-1)
        pairs = pairs.flatten(-2)
        other = state[..., self.others]
        return torch.cat([pairs, other, state[..., self.nq :]], dim=-1)

    def features(self, window: torch.Tensor) -> torch.Tensor:
        """Standardized features of raw rows, (B, T, R) → (B, T, F)."""
        window = window - window[:, :1] * self.coord_mask
        ns = self.nq + self.nv
        feats = torch.cat(
            [self.transform(window[..., :ns]), window[..., ns:]], dim=-1
        )
        return (feats - self.in_mean) / self.in_std

    def state_delta(
        self, state: torch.Tensor, next_state: torch.Tensor
    ) -> torch.Tensor:
        """The delta taking ``state`` to ``next_state`` (raw, (B, nq+nv))."""
        diff = next_state - state
        ang = diff[..., self.angles]
        pairs = torch.stack([torch.cos(ang), torch.sin(ang)], dim=-1)
        pairs = pairs.flatten(-2)
        other = diff[..., self.others]
        return torch.cat([pairs, other, diff[..., self.nq :]], dim=-1)

    def apply_delta(
        self, state: torch.Tensor, delta: torch.Tensor
    ) -> torch.Tensor:
        """θ + atan2(s, c) for angles (zero norm: unchanged); add the rest."""
        na = self.n_ang
        c, s = delta[..., 0 : 2 * na : 2], delta[..., 1 : 2 * na : 2]
        tiny = c.square() + s.square() < _NORM_EPS
        dtheta = torch.atan2(
            torch.where(tiny, torch.zeros_like(s), s),
            torch.where(tiny, torch.ones_like(c), c),
        )
        add = delta[..., 2 * na :]
        nq = self.nq
        inc = torch.cat([dtheta, add[..., : nq - na]], dim=-1)
        qpos = state[..., :nq] + inc[..., self.unpermute]
        qvel = state[..., nq:] + add[..., nq - na :]
        return torch.cat([qpos, qvel], dim=-1)

    # --- model and loss ----------------------------------------------------

    def predict_standardized(self, window: torch.Tensor) -> torch.Tensor:
        """The standardized delta after a window, (B, H, R) → (B, D)."""
        _, h = self.gru(self.features(window))
        return self.head(h[0])

    def multi_step_errors(self, rows: torch.Tensor) -> torch.Tensor:
        """Per-sample, per-step standardized MSE of the rollout, (B, K)."""
        ns = self.nq + self.nv
        hl = self.history_length
        win = rows[:, :hl]
        errs = []
        for k in range(rows.shape[1] - hl):
            u_next, target = rows[:, hl + k, ns:], rows[:, hl + k, :ns]
            current = win[:, -1, :ns]
            pred_std = self.predict_standardized(win)
            true = self.state_delta(current, target)
            true_std = (true - self.out_mean) / self.out_std
            errs.append((pred_std - true_std).square().mean(dim=-1))
            nxt = self.apply_delta(
                current, self.out_mean + self.out_std * pred_std
            )
            row = torch.cat([nxt, u_next], dim=-1)
            win = torch.cat([win[:, 1:], row[:, None]], dim=1)
        return torch.stack(errs, dim=1)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """The multi-step loss of example rows (B, H + K, R): a scalar."""
        return self.multi_step_errors(rows).mean()


def gather_windows(
    data: torch.Tensor,
    rows: torch.Tensor,
    file_starts: torch.Tensor,
    offsets: torch.Tensor,
    ns: int,
) -> torch.Tensor:
    """hydrax's ``gather_windows``: padding rows are (first state, 0 ctrl)."""
    idx = rows[:, None] + offsets[None, :]
    starts = file_starts[:, None]
    pad = idx < starts
    win = data[torch.maximum(idx, starts)]
    ctrl = torch.arange(win.shape[-1]) >= ns
    return torch.where(
        pad[..., None] & ctrl, torch.zeros((), dtype=win.dtype), win
    )


class TorchTrainer:
    """One AdamW step with gradient clipping, eager or ``torch.compile``d.

    Args:
        model: The network.
        data: All rows (N, R), float32.
        offsets: Window row offsets (H + K,).
        compile: Compile the loss (forward and backward) with
            ``torch.compile``.
        learning_rate: AdamW's learning rate.
        weight_decay: AdamW's weight decay.
        grad_clip: Global-norm clipping.
    """

    def __init__(
        self,
        model: TorchDynamicsNetwork,
        data: np.ndarray,
        offsets: np.ndarray,
        compile: bool = False,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        grad_clip: float = 1.0,
    ):
        self.model = model
        self.data = torch.from_numpy(np.ascontiguousarray(data, np.float32))
        self.offsets = torch.from_numpy(np.asarray(offsets, np.int64))
        self.ns = model.nq + model.nv
        self.grad_clip = grad_clip
        self.opt = torch.optim.AdamW(
            model.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
        self.loss_fn = torch.compile(model) if compile else model

    def step(self, rows: np.ndarray, starts: np.ndarray) -> torch.Tensor:
        """One training step on the windows at ``rows``; returns the loss."""
        batch = gather_windows(
            self.data,
            torch.from_numpy(rows),
            torch.from_numpy(starts),
            self.offsets,
            self.ns,
        )
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(batch)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.opt.step()
        return loss.detach()


if __name__ == "__main__":
    from bench_table import not_a_command

    not_a_command(__file__)
