"""The training loop: epochs of jitted steps, validation, checkpoints.

:class:`Trainer` runs the epochs of one run with the steps of
``train_steps``: shuffle (from the seed and the epoch number, so a resumed
run draws the same batches), step, validate, write checkpoints
(``best_model.pkl``, ``model_epoch_<N>.pkl``, and ``last.pkl`` with the
optimizer state, from which a resumed run continues exactly).

An ensemble of ``num_models`` members trains in the same loop: one vmapped
step trains the stacked members, each on its own shuffle of the same windows
(member 0's is the single model's). Epoch losses are the members' mean (it
picks the best model); per member: ``train_loss_members``, ``val_loss_members``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from hydrax.atomic import raise_kept_sigint, sigint_kept
from hydrax.dynamics_model_training import windows as win
from hydrax.dynamics_model_training.checkpoint import (
    clear_earlier_run,
    write_checkpoint,
)
from hydrax.dynamics_model_training.data_loader import DynamicsDataset, RowBlock
from hydrax.dynamics_model_training.host_memory import reused_host_buffers
from hydrax.dynamics_model_training.model_io import library_versions
from hydrax.dynamics_model_training.parallel import DataParallel
from hydrax.dynamics_model_training.train_steps import (
    Batch,
    StepSpec,
    ensemble_eval_step,
    ensemble_train_step,
    eval_step,
    padded_batches,
    train_step,
)

EVAL_BATCH = 512
"""Windows per validation step."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during the epochs; the message says where the checkpoints are.

    ``checkpoint_dir``: the folder of the last good model (None: none yet).
    """

    checkpoint_dir: Path | None = None


@dataclass
class TrainState:
    """Where a run stands after ``epoch`` completed epochs."""

    params: nnx.State
    opt_state: optax.OptState
    history: dict[str, Any]
    epoch: int = 0
    best_val: float = math.inf
    best_params: nnx.State | None = None
    epochs_since_best: int = 0


class Trainer:
    """Runs the epochs of one training run and writes its checkpoints."""

    def __init__(
        self,
        dataset: DynamicsDataset,
        spec: StepSpec,
        stats: nnx.State,
        schedule: optax.Schedule,
        dp: DataParallel,
        *,
        batch_size: int,
        seed: int,
        config: dict,
        ckpt_dir: Path,
        progress: bool,
        say: Callable[[str], None],
        num_models: int = 1,
        file_weights: np.ndarray | None = None,
    ) -> None:
        """Hold a run's fixed parts.

        Args:
            dataset: The windows (train and val splits).
            spec: The jitted steps' fixed parts.
            stats: The standardization statistics, replicated.
            schedule: The learning rate per step (recorded per epoch).
            dp: Where arrays live.
            batch_size: Windows per step (a multiple of the devices).
            seed: Seeds the shuffles.
            config: The checkpoints' ``config`` (``ModelConfig.to_dict``).
            ckpt_dir: The checkpoint folder.
            progress: Show a progress bar.
            say: Where epoch lines go.
            num_models: Ensemble members (stacked on a leading axis).
            file_weights: Each file's sampling weight, (F,) int: an epoch
                takes each training window that many times (None: once).
        """
        self.dataset, self.spec, self.stats = dataset, spec, stats
        self.schedule, self.dp = schedule, dp
        self.batch_size, self.seed, self.config = batch_size, seed, config
        self.ckpt_dir, self.progress, self.say = ckpt_dir, progress, say
        self.file_weights, self.num_models = file_weights, num_models
        counts = dataset.block_windows("train", file_weights)
        self.num_train = sum(counts)
        self.steps_per_epoch = sum(math.ceil(n / batch_size) for n in counts)
        self._placed: tuple[RowBlock | None, Any] = (None, None)
        self.samples_per_second = 0.0
        self.replaces: list[Path] = []  # an earlier run's, for a new run

    def _batch(
        self,
        block: RowBlock,
        starts: np.ndarray,
        part: np.ndarray,
        w: np.ndarray,
    ) -> Batch:
        # Each block is placed once, when its first batch comes: in memory
        # the one block once per run, streamed each block once per epoch.
        if self._placed[0] is not block:
            self._placed = (block, self.dp.replicate(block.data))
        dp, axis = self.dp, part.ndim - 1
        if axis:  # an ensemble's (members, batch)
            w = np.broadcast_to(w, part.shape)
        return Batch(
            self._placed[1],
            dp.shard(block.example_rows[part], axis),
            dp.shard(starts[part], axis),
            dp.shard(np.ascontiguousarray(w), axis),
        )

    def batches(self, epoch: int) -> Iterator[tuple[Batch, float]]:
        """The epoch's batches and their real sizes, shuffled by the seed.

        The blocks come in a per-epoch order, the windows shuffled in each.
        An ensemble's batches are (members, batch): member 0 draws the
        single model's shuffle, member m its own (from the seed, the epoch,
        the block and m). Every member sees each window once an epoch (its
        file's weight times, repeated in id order before the shuffle), so
        the padding of the last batch is the same for all.
        """
        epoch_key = jax.random.fold_in(jax.random.key(self.seed), epoch)
        order = win.seeded(self.seed, "block order", epoch).permutation(
            self.dataset.num_blocks("train")
        )
        blocks = self.dataset.blocks("train", order)
        for b, (block, block_ids) in enumerate(blocks):
            ids = win.weighted_windows(block, block_ids, self.file_weights)
            if self.dataset.streaming:
                # numpy: a jitted permutation compiles per block length.
                perm = win.seeded(
                    self.seed, "block shuffle", epoch, b
                ).permutation(len(ids))
            else:
                perm = np.asarray(jax.random.permutation(epoch_key, len(ids)))
            starts = block.window_starts()
            rngs = (
                np.random.default_rng([self.seed, epoch, b, m])
                for m in range(1, self.num_models)
            )
            orders = [ids[perm]] + [ids[r.permutation(len(ids))] for r in rngs]
            members = [padded_batches(o, self.batch_size) for o in orders]
            for parts in zip(*members, strict=True):
                w = parts[0][1]
                part = (
                    parts[0][0]
                    if self.num_models == 1
                    else np.stack([p for p, _ in parts])
                )
                yield self._batch(block, starts, part, w), float(w.sum())

    def train_epoch(
        self, state: TrainState, epoch: int, num_epochs: int
    ) -> float:
        """One pass over the training windows; returns the mean loss."""
        fetch, losses = self.dp.fetch, []
        step = ensemble_train_step if self.num_models > 1 else train_step
        # Closed on any exit, so a streamed read-ahead stops with it.
        with contextlib.closing(self.batches(epoch)) as batches:
            bar = tqdm(
                batches,
                total=self.steps_per_epoch,
                desc=f"epoch {epoch + 1}/{num_epochs}",
                leave=False,
                disable=not self.progress,
                unit="batch",
            )
            for i, (batch, n) in enumerate(bar):
                raise_kept_sigint()
                state.params, state.opt_state, loss = step(
                    self.spec, state.params, self.stats, state.opt_state, batch
                )
                losses.append((loss, n))
                if i > 0:  # check the previous step while this one runs
                    self._check_finite(fetch(losses[-2][0]), epoch, i - 1)
                if self.progress and i % 20 == 0:
                    bar.set_postfix(loss=f"{float(np.mean(fetch(loss))):.4g}")
        self._check_finite(fetch(losses[-1][0]), epoch, len(losses) - 1)
        if self.num_models == 1:
            total = sum(float(fetch(x)) * n for x, n in losses)
            return float(total / self.num_train)
        total = sum(np.asarray(fetch(x), np.float64) * n for x, n in losses)
        return total / self.num_train  # (M,)

    def evaluate(self, params: nnx.State) -> np.ndarray:
        """The validation windows' mean error per prediction step, (K,).

        An ensemble's is every member's, (M, K).
        """
        k = self.config["prediction_horizon"]
        ensemble = self.num_models > 1
        total = np.zeros((self.num_models, k) if ensemble else k)
        step = ensemble_eval_step if ensemble else eval_step
        count = 0
        size = self.dp.round_batch(EVAL_BATCH)
        for block, ids in self.dataset.blocks("val"):
            starts = block.window_starts()
            for part, w in padded_batches(ids, size):
                batch = self._batch(block, starts, part, w)
                total += self.dp.fetch(
                    step(self.spec, params, self.stats, batch)
                )
            count += len(ids)
        return total / max(count, 1)

    def _check_finite(self, loss: jax.Array, epoch: int, step: int) -> None:
        value = float(np.max(loss))  # a member's NaN or inf shows in the max
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"the training loss became {value} at epoch {epoch + 1}, step "
                f"{step + 1}; {self._saved()}. Try a lower learning_rate, "
                "keep grad_clip on, or check the data for extreme values."
            )

    def _saved(self, then: str = "") -> str:
        """What a stopped run leaves: its last good model, or nothing."""
        if self.replaces or not (self.ckpt_dir / "last.pkl").exists():
            return "no checkpoint was written yet"  # (an earlier run's: kept)
        return (
            f"the checkpoints in {self.ckpt_dir} hold the last good model{then}"
        )

    def _record(self, kind: str, state: TrainState, params: nnx.State) -> dict:
        fetch = self.dp.fetch
        return {
            "kind": kind,
            "epoch": state.epoch,
            "library_versions": library_versions(),
            "config": self.config,
            "params": fetch(nnx.to_pure_dict(params)),
            "statistics": fetch(nnx.to_pure_dict(self.stats)),
            "history": state.history,
        }

    def _write(self, name: str, record: dict) -> None:
        if self.dp.is_main:  # one writer in a multi-host run
            write_checkpoint(self.ckpt_dir / name, record)

    def save(self, state: TrainState, improved: bool, save_every: int) -> None:
        """Write the checkpoints due after ``state.epoch`` epochs.

        The first removes ``replaces`` (an earlier run's files) first.
        """
        if self.replaces:
            clear_earlier_run(self.ckpt_dir, self.replaces, self.say)
            self.replaces = []
        if improved:
            self._write(
                "best_model.pkl", self._record("best", state, state.params)
            )
        if save_every and state.epoch % save_every == 0:
            self._write(
                f"model_epoch_{state.epoch}.pkl",
                self._record("epoch", state, state.params),
            )
        last = self._record("last", state, state.params)
        last["optimizer"] = self.dp.fetch(jax.tree.leaves(state.opt_state))
        last["best_val"] = state.best_val
        self._write("last.pkl", last)

    def run_epoch(self, state: TrainState, num_epochs: int) -> tuple[bool, str]:
        """Train, validate and record one epoch.

        Returns:
            Whether it was the best so far, and its losses as a line.
        """
        epoch, history = state.epoch, state.history
        t0 = time.perf_counter()
        train_loss = self.train_epoch(state, epoch, num_epochs)
        have_val = self.dataset.num_windows["val"] > 0
        per_step = self.evaluate(state.params) if have_val else None
        if self.num_models > 1:
            train_loss, per_step = self._record_members(
                history, train_loss, per_step
            )
        val_loss = float(per_step.mean()) if have_val else train_loss
        if not math.isfinite(val_loss):
            raise TrainingDiverged(
                f"the validation loss became {val_loss} after epoch "
                f"{epoch + 1}; {self._saved()}. Try a lower learning_rate."
            )
        seconds = time.perf_counter() - t0
        state.epoch = epoch + 1
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss if have_val else None)
        if have_val:
            history["val_loss_per_step"] = per_step.tolist()
        history["epoch_seconds"].append(seconds)
        step = state.epoch * self.steps_per_epoch
        history["learning_rate"].append(float(self.schedule(step)))
        improved = val_loss < state.best_val
        if improved:
            state.best_val, state.best_params = val_loss, state.params
            state.epochs_since_best = 0
            history["best_epoch"] = epoch + 1
            history["best_val_loss"] = val_loss
        else:
            state.epochs_since_best += 1
        val_text = f"val {val_loss:.5g}" if have_val else "val -"
        line = (
            f"epoch {state.epoch:3d}/{num_epochs}  train {train_loss:.5g}  "
            f"{val_text}  {seconds:5.1f} s" + ("  *best*" if improved else "")
        )
        return improved, line

    @staticmethod
    def _record_members(
        history: dict, train: np.ndarray, per_step: np.ndarray | None
    ) -> tuple[float, np.ndarray | None]:
        """Record an ensemble's per-member losses; returns their means."""
        history.setdefault("train_loss_members", []).append(train.tolist())
        if per_step is not None:
            members = per_step.mean(axis=1)
            history.setdefault("val_loss_members", []).append(members.tolist())
            per_step = per_step.mean(axis=0)
        return float(train.mean()), per_step

    def fit(
        self,
        state: TrainState,
        num_epochs: int,
        patience: int | None = None,
        save_every: int = 10,
    ) -> TrainState:
        """Run epochs ``state.epoch + 1 .. num_epochs`` (or stop early).

        Checkpoints are written after every epoch; on Ctrl-C they are
        complete and the interrupt propagates.
        """
        if state.best_params is None:
            state.best_params = state.params
        t_start, epochs_run = time.perf_counter(), 0
        try:  # a step's buffers stay mapped; a swallowed Ctrl-C is kept
            with reused_host_buffers(), sigint_kept():
                while state.epoch < num_epochs:
                    improved, line = self.run_epoch(state, num_epochs)
                    epochs_run += 1
                    self.say(line)  # before the save Ctrl-C waits for
                    self.save(state, improved, save_every)
                    if state.epochs_since_best >= (patience or math.inf):
                        self.say(
                            "early stop: no better validation loss in "
                            f"{patience} epochs"
                        )
                        break
        except KeyboardInterrupt:
            stop = TrainingInterrupted(
                "training interrupted; "
                + self._saved(" (continue with resume=True)")
            )
            if not self.replaces and (self.ckpt_dir / "last.pkl").exists():
                stop.checkpoint_dir = self.ckpt_dir
            raise stop from None
        elapsed = max(time.perf_counter() - t_start, 1e-9)
        self.samples_per_second = epochs_run * self.num_train / elapsed
        return state
