"""Contrastive pre-training under real data parallelism with Accelerate (``accelerate launch ddp_pretrain.py``).

Unlike the original (spec missrec.md §1.3), gradients really synchronise: the loss is computed inside the prepared
(DDP-wrapped) module's ``forward``, so DDP's all-reduce hooks fire. Each process draws different rows (Accelerate
shards a seeded sampler); the global batch is ``train_batch_size`` whatever the number of processes; in-batch
negatives are gathered across processes (``gather_negatives``). Interest discovery runs once per epoch on the main
process and is broadcast. Checkpoints ``<model>-<corpus>-<epoch>`` are safetensors + JSON written atomically by the
main process; the resumable state (model, optimiser, RNG, data position, the epoch's running loss sums) is saved
every ``state_every_steps`` steps (:mod:`missrec.trainers.pretrain_state`). A non-finite loss stops the run before
anything is saved from it.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast
from recbole.data.interaction import Interaction
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from missrec.checkpoint import save_checkpoint
from missrec.errors import ConfigError, TrainingError
from missrec.hardware import describe_hardware
from missrec.logging_utils import get_logger
from missrec.trainers.pretrain_state import StateKeeper
from missrec.trainers.state_folders import POSITION_FILE, STATE_DIR

__all__ = ["POSITION_FILE", "STATE_DIR", "AcceleratePretrainer", "PretrainObjective", "rows_dataset"]
LOSS_PARTS = ("loss", "si", "ss", "reg")


class PretrainObjective(nn.Module):
    """The module Accelerate prepares: its ``forward`` is the model's pre-training loss, so DDP hooks fire."""

    def __init__(self, model: nn.Module, gather_negatives: bool, mask_same_target: bool) -> None:
        super().__init__()
        self.model = model
        self.gather_negatives = gather_negatives
        self.mask_same_target = mask_same_target

    def forward(self, item_seq: torch.Tensor, item_length: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        m = self.model
        batch = Interaction({m.ITEM_SEQ: item_seq, m.ITEM_SEQ_LEN: item_length, m.POS_ITEM_ID: target})
        return m.pretrain_loss(batch, gather_negatives=self.gather_negatives, mask_same_target=self.mask_same_target)


def rows_dataset(interaction: Interaction, seq_field: str, len_field: str, target_field: str) -> TensorDataset:
    """The training rows as a ``TensorDataset`` (histories, lengths, targets)."""
    return TensorDataset(interaction[seq_field], interaction[len_field], interaction[target_field])


class AcceleratePretrainer:
    """Run pre-training epochs; resumable.

    Args:
        config: RecBole config (keys of ``props/pretrain.yaml``).
        model: the model (``pretrain_loss``, optional ``discover_interests``/``allocate_interests``).
        rows: training rows (``dataset.inter_feat``).
        accelerator: the run's Accelerator.
        output_dir: run folder (``state/`` for resuming, ``tensorboard/``).
        checkpoint_dir: where ``<model>-<corpus>-<epoch>`` checkpoints go.
        checkpoint_meta: JSON metadata stored with every checkpoint (data fingerprint ...).
        run_id: this run's id, written into its state and checkpoints (a resumed run keeps the one of its state).
    """

    def __init__(self, config, model: nn.Module, rows: Interaction, accelerator: Accelerator, output_dir: Path,
                 checkpoint_dir: Path, checkpoint_meta: dict[str, Any], run_id: str | None = None) -> None:
        self.config, self.accelerator, self.logger = config, accelerator, get_logger()
        self.run_id = run_id or uuid.uuid4().hex
        self.output_dir, self.checkpoint_dir = Path(output_dir), Path(checkpoint_dir)
        self.checkpoint_meta = checkpoint_meta
        world = accelerator.num_processes
        if config["train_batch_size"] % world:
            raise ConfigError(f"train_batch_size={config['train_batch_size']} is the global batch; it must be divisible "
                              f"by the {world} processes")
        self.per_process_batch = config["train_batch_size"] // world
        self.epochs = config["pretrain_epochs"]
        if hasattr(model, "allocate_interests"):
            model.allocate_interests()
        objective = PretrainObjective(model, bool(config["gather_negatives"]), bool(config["mask_same_target"]))
        optimizer = torch.optim.Adam(objective.parameters(), lr=config["learning_rate"], weight_decay=config["weight_decay"] or 0.0)
        loader = DataLoader(rows_dataset(rows, model.ITEM_SEQ, model.ITEM_SEQ_LEN, model.POS_ITEM_ID),
                            batch_size=self.per_process_batch, shuffle=True)
        with warnings.catch_warnings():  # torch renamed DDP's broadcast_buffers; accelerate has no new field yet
            warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
            self.objective, self.optimizer, self.loader = accelerator.prepare(objective, optimizer, loader)
        self.model = model
        self.state_dir = self.output_dir / STATE_DIR
        self.states = StateKeeper(accelerator, self.output_dir)
        self.tensorboard = SummaryWriter(str(self.output_dir / "tensorboard")) if accelerator.is_main_process else None
        self.history: list[dict[str, Any]] = []
        self.epoch, self.step, self.global_step = 0, 0, 0
        self.epoch_sums, self.epoch_steps = dict.fromkeys(LOSS_PARTS, 0.0), 0  # the epoch in progress

    # ---- resumable state ---------------------------------------------------------------------------------------
    def save_state(self) -> None:
        """Model, optimiser, RNG states, the data position and the epoch's running loss sums (see
        :class:`~missrec.trainers.pretrain_state.StateKeeper`)."""
        self.states.save({"epoch": self.epoch, "step": self.step, "global_step": self.global_step,
                          "run_id": self.run_id, "epoch_sums": self.epoch_sums, "epoch_steps": self.epoch_steps})

    def load_state(self) -> bool:
        """Restore the newest state that loads (falling back to the previous one); False when there is none."""
        position = self.states.load()
        if position is None:
            return False
        self.epoch, self.step, self.global_step = position["epoch"], position["step"], position["global_step"]
        self.run_id = position.get("run_id") or self.run_id
        if self.step:  # mid-epoch: the loss of the steps before the interruption counts in this epoch's mean
            self.epoch_sums = {k: float(position.get("epoch_sums", {}).get(k, 0.0)) for k in LOSS_PARTS}
            self.epoch_steps = int(position.get("epoch_steps", 0))
        return True

    # ---- the loop ----------------------------------------------------------------------------------------------
    def discover_interests(self) -> dict[str, float]:
        """Main process clusters, every process receives the result."""
        model = self.model
        if not hasattr(model, "discover_interests"):
            return {}
        t0 = time.perf_counter()
        stats: dict[str, float] = {}
        if self.accelerator.is_main_process:
            interests = model.discover_interests(epoch=self.epoch)
            stats = {"interest_clusters": interests.num_clusters, "interest_clusters_used": interests.clusters_used(),
                     "interest_inertia": interests.inertia}
        if self.accelerator.num_processes > 1:
            model.interest_lookup.copy_(broadcast(model.interest_lookup, from_process=0))
            model.interest_embeddings.copy_(broadcast(model.interest_embeddings, from_process=0))
        stats["interest_seconds"] = time.perf_counter() - t0
        return stats

    def fit(self, resume: bool = False, max_steps: int | None = None) -> list[dict[str, Any]]:
        """Train until ``pretrain_epochs`` (or ``max_steps`` optimiser steps, for tests); returns per-epoch records."""
        acc = self.accelerator
        resumed = resume and self.load_state()
        state_every = max(1, int(self.config["state_every_steps"] or 10**9))
        while self.epoch < self.epochs:
            record: dict[str, Any] = {"epoch": self.epoch}
            if not (resumed and self.step > 0):  # mid-epoch resume: this epoch's interests come back with the state
                record.update(self.discover_interests())
            resumed = False
            self.loader.set_epoch(self.epoch)
            batches = acc.skip_first_batches(self.loader, self.step) if self.step else self.loader
            self.objective.train()
            if not self.step:
                self.epoch_sums, self.epoch_steps = dict.fromkeys(LOSS_PARTS, 0.0), 0
            sums = self.epoch_sums
            rows, t0 = 0, time.perf_counter()
            # starting an epoch's iterator draws a seed from the global RNG (at the first batch): keep that draw out
            # of the stream, so the stream is identical whether the epoch starts fresh or resumes mid-way
            with torch.random.fork_rng(devices=[]):
                batch_iter = iter(batches)
                first = next(batch_iter, None)
            batch_iter = itertools.chain([] if first is None else [first], batch_iter)
            bar = tqdm(batch_iter, total=len(self.loader), initial=self.step, ncols=100,
                       desc=f"Pretrain {self.epoch:>4}", disable=not (acc.is_local_main_process and self.config["show_progress"]))
            for item_seq, item_length, target in bar:
                out = self.objective(item_seq, item_length, target)
                acc.backward(out["loss"])
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                self.global_step += 1
                self.epoch_steps += 1
                rows += item_seq.shape[0]
                for key in sums:
                    sums[key] += float(out[key].detach())
                if not math.isfinite(sums["loss"]):
                    raise TrainingError(self._divergence(float(out["loss"].detach())))
                if self.global_step % state_every == 0:
                    self.save_state()
                if max_steps is not None and self.global_step >= max_steps:
                    return self.history
            seconds = time.perf_counter() - t0
            record.update({f"train_{k}": v / max(self.epoch_steps, 1) for k, v in sums.items()})
            record.update(train_seconds=seconds, seq_per_s_per_process=rows / max(seconds, 1e-9),
                          seq_per_s=rows * acc.num_processes / max(seconds, 1e-9))
            self.history.append(record)
            self._log(record)
            self.epoch, self.step = self.epoch + 1, 0
            if self.epoch % self.config["save_step"] == 0 or self.epoch == self.epochs:
                self.save_checkpoint(record)
            self.save_state()
        return self.history

    def close(self) -> None:
        """Close the TensorBoard writer (its event file is complete afterwards)."""
        if self.tensorboard is not None:
            self.tensorboard.close()

    def _divergence(self, loss: float) -> str:
        """The message for a non-finite loss, naming the likely causes with this run's values."""
        c = self.config
        return (f"pre-training loss is {loss} at epoch {self.epoch}, step {self.step} (nothing of this step was "
                f"saved). Likely cause: learning_rate={c['learning_rate']} too high, or temperature={c['temperature']} "
                "too low for these features. Fix: lower learning_rate (e.g. 10x), then resume or rerun")

    def _log(self, record: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        self.logger.info(
            f"epoch {record['epoch']} loss {record['train_loss']:.4f} (si {record['train_si']:.4f}, ss {record['train_ss']:.4f}, "
            f"R {record['train_reg']:.2f}) | {record['train_seconds']:.1f}s, {record['seq_per_s']:.0f} seq/s "
            f"({record['seq_per_s_per_process']:.0f} per process x {self.accelerator.num_processes})"
            + (f" | k-means inertia {record['interest_inertia']:.5g}" if "interest_inertia" in record else "")
        )
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                self.tensorboard.add_scalar(f"pretrain/{key}", value, record["epoch"])
        self.tensorboard.flush()

    def save_checkpoint(self, record: dict[str, Any]) -> Path | None:
        """``<checkpoint_dir>/<model>-<corpus>-<epoch>.safetensors`` + ``.json`` (main process, atomic)."""
        self.accelerator.wait_for_everyone()
        if not self.accelerator.is_main_process:
            return None
        state = {k: v for k, v in self.model.state_dict().items() if not k.startswith("interest_")}
        stem = self.checkpoint_dir / f"{self.config['model']}-{self.config['dataset']}-{self.epoch}"
        config_keys = ("hidden_size", "inner_size", "n_layers", "n_heads", "hidden_dropout_prob", "layer_norm_eps",
                       "MAX_ITEM_LIST_LENGTH", "temperature", "lambda", "gamma", "interest_ratio", "train_batch_size",
                       "learning_rate", "gather_negatives", "mask_same_target", "item_mm_fusion", "modalities", "seed")
        meta = {
            **self.checkpoint_meta,
            "model": self.config["model"],
            "stage": "pretrain",
            "corpus": self.config["dataset"],
            "epoch": self.epoch,
            "global_step": self.global_step,
            "run_id": self.run_id,
            "final_loss": record.get("train_loss"),
            "config": {k: self.config[k] for k in config_keys if self.config[k] is not None},
            "processes": self.accelerator.num_processes,
            "hardware": describe_hardware(self.accelerator.device),
        }
        path = save_checkpoint(stem, state, meta)
        self.logger.info(f"saved {path}")
        return path

