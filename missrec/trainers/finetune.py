"""The trainer every model goes through: RecBole's ``Trainer`` with hooks, safe checkpoints and throughput.

What it changes in RecBole 1.2.1's ``Trainer`` and why:

* no side effects in the working directory: TensorBoard, checkpoints and logs go under ``output_dir``;
* checkpoints are safetensors + JSON (RecBole pickles its ``Config``, which torch >= 2.6 refuses to load);
* model hooks, called when the model defines them: ``pre_epoch(trainer)`` before every training epoch (MISSRec's
  interest discovery, graph rebuilds, edge pruning) and ``aux_step(interaction)`` after every optimiser step
  (auxiliary optimisers: discriminators, mutual-information estimators);
* evaluation goes through an evaluator object (``run(model, show_progress) -> {metric: value}``), so sequential
  and general models share the loop;
* sequences/s of every training epoch are logged and written to TensorBoard;
* the optimiser owns the parameters that require gradients when the trainer is built: frozen transferred layers
  and auxiliary networks that a model freezes outside their own step (MMSSL's discriminator, SEA's CLUB estimator)
  stay out of it.

Early stopping (:mod:`missrec.trainers.early_stopping`): ``tie_counts_as_improvement`` says whether a value equal to
the best counts as better (RecBole/MISSRec: yes; MMRec and the graph scripts: no); training stops at the
``(stopping_step + 1)``-th consecutive validation without improvement, as in RecBole and MMRec. The best model
(buffers included) is what ``evaluate(load_best_model=True)`` reloads.

Resumable runs (:mod:`missrec.trainers.epoch_state`): every ``state_every_epochs`` epochs (and at the last) the
trainer saves the model, optimisers, random states and its own counters under ``output_dir/state``; :meth:`resume`
restores them, and :meth:`fit` continues with the next epoch exactly as the uninterrupted run would.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from recbole.trainer import Trainer
from recbole.trainer.trainer import AbstractTrainer
from torch.nn.utils import clip_grad_norm_
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from missrec.checkpoint import load_checkpoint, load_into, save_checkpoint
from missrec.errors import CheckpointError, TrainingError
from missrec.logging_utils import get_logger
from missrec.trainers.early_stopping import early_stopping
from missrec.trainers.epoch_state import load_epoch_state, save_epoch_state


def total_loss(losses: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The loss to back-propagate: ``calculate_loss``'s scalar, or the sum of its tuple of terms."""
    return sum(losses) if isinstance(losses, tuple) else losses


class Evaluator(Protocol):
    """What the trainer needs from an evaluation split."""

    def run(self, model: torch.nn.Module, show_progress: bool = False, desc: str = "Evaluate") -> dict[str, float]:
        ...


class FinetuneTrainer(Trainer):
    """Train a RecBole-contract model with early stopping on a validation evaluator.

    Args:
        config: RecBole config (``epochs``, ``learning_rate``, ``learner``, ``weight_decay``, ``stopping_step``,
            ``eval_step``, ``valid_metric``, ``clip_grad_norm``, ``enable_amp``, ``enable_scaler``, ``device``).
        model: the model, already on ``config["device"]``.
        output_dir: run folder (``tensorboard/``, ``checkpoints/``).
        checkpoint_meta: extra JSON metadata stored with every checkpoint (dataset fingerprint ...).
    """

    def __init__(self, config, model: torch.nn.Module, output_dir: str | Path, checkpoint_meta: dict | None = None):
        AbstractTrainer.__init__(self, config, model)  # not Trainer.__init__: it writes ./log_tensorboard
        self.logger = get_logger()
        self.output_dir = Path(output_dir)
        self.learner = config["learner"]
        self.learning_rate = config["learning_rate"]
        self.weight_decay = config["weight_decay"]
        self.epochs = config["epochs"]
        self.eval_step = max(1, min(config["eval_step"], max(self.epochs, 1)))
        self.stopping_step = config["stopping_step"]
        self.tie_improves = config["tie_counts_as_improvement"] is not False  # absent (RecBole configs): RecBole's >=
        self.clip_grad_norm = config["clip_grad_norm"]
        self.valid_metric = config["valid_metric"].lower()
        self.valid_metric_bigger = config["valid_metric_bigger"]
        self.device = config["device"]
        self.enable_amp = bool(config["enable_amp"])
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=bool(config["enable_scaler"]) and self.device.type == "cuda")
        self.optimizer = self._build_optimizer(params=[p for p in model.parameters() if p.requires_grad])
        self.tensorboard = SummaryWriter(log_dir=str(self.output_dir / "tensorboard"))
        self.checkpoint_stem = self.output_dir / "checkpoints" / "best"
        self.checkpoint_meta = dict(checkpoint_meta or {})
        self.start_epoch = 0
        self.current_epoch = 0
        self.cur_step = 0
        self.best_epoch: int | None = None
        self.best_valid_score = -np.inf if self.valid_metric_bigger else np.inf
        self.best_valid_result: dict[str, float] | None = None
        self.history: list[dict[str, Any]] = []
        self.stopped = False  # early stopping ended the run (a resumed run then trains no further)
        self.state_every = int(config["state_every_epochs"] or 0)

    def _build_optimizer(self, **kwargs):
        """RecBole's optimiser, with Adam and AdamW fused (same update, one kernel): the single-tensor form holds two
        parameter-sized temporaries per step, 2 GB on LATTICE/MICRO's trainable 63k x 4096 features, and is several
        times slower on CPU (benchmarks/RESULTS.md, "Item-graph models as the catalogue grows")."""
        learner = str(kwargs.get("learner", self.learner)).lower()
        params = list(kwargs.pop("params", self.model.parameters()))
        if learner in ("adam", "adamw") and params and all(
            p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params
        ):
            cls = torch.optim.Adam if learner == "adam" else torch.optim.AdamW
            return cls(params, lr=kwargs.get("learning_rate", self.learning_rate),
                       weight_decay=kwargs.get("weight_decay", self.weight_decay) or 0.0, fused=True)
        return super()._build_optimizer(params=params, **kwargs)

    # ---- one epoch ---------------------------------------------------------------------------------------------
    def _train_epoch(self, train_data: Iterable, epoch_idx: int, loss_func=None, show_progress: bool = False) -> float:
        """Train one epoch; returns the mean batch loss. Sets ``self.last_epoch_rows`` and ``self.last_epoch_terms``:
        the mean of each term when the loss is a tuple and the model names its terms (``LOSS_TERMS``, one name per
        term; a tuple of another length is refused)."""
        self.model.train()
        loss_func = loss_func or self.model.calculate_loss
        aux_step = getattr(self.model, "aux_step", None)
        if hasattr(train_data, "set_epoch"):
            train_data.set_epoch(epoch_idx)
        params = [p for p in self.model.parameters() if p.requires_grad]
        batches = tqdm(train_data, total=len(train_data), ncols=100, desc=f"Train {epoch_idx:>4}", disable=not show_progress)
        total = torch.zeros((), device=self.device)
        names = getattr(self.model, "LOSS_TERMS", None)
        terms = None
        steps = rows = 0
        for interaction in batches:
            interaction = interaction.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=self.device.type, enabled=self.enable_amp):
                losses = loss_func(interaction)
            loss = total_loss(losses)
            self.scaler.scale(loss).backward()
            if self.clip_grad_norm:
                self.scaler.unscale_(self.optimizer)
                clip_grad_norm_(params, **self.clip_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if aux_step is not None:
                aux_step(interaction)
            total += loss.detach().float()
            if names and isinstance(losses, tuple):
                if len(losses) != len(names):
                    raise TrainingError(f"{type(self.model).__name__}.calculate_loss returned {len(losses)} terms, "
                                        f"LOSS_TERMS names {len(names)}: {names}. Fix: name every term, in order")
                step_terms = torch.stack([term.detach().float() for term in losses])  # [T]
                terms = step_terms if terms is None else terms + step_terms
            steps += 1
            rows += len(interaction)
            if show_progress and steps % 20 == 0:
                batches.set_postfix(loss=f"{total.item() / steps:.4f}")
        self.last_epoch_rows = rows
        means = terms.tolist() if terms is not None else []
        self.last_epoch_terms = {name: value / max(steps, 1) for name, value in zip(names or (), means)}
        mean = total.item() / max(steps, 1)
        if not np.isfinite(mean):
            raise TrainingError(f"training loss is {mean} in epoch {epoch_idx}. Likely cause: learning_rate="
                                f"{self.learning_rate} too high for this model, or extreme feature values. "
                                "Fix: lower learning_rate (e.g. 10x) or check the data")
        return mean

    # ---- the loop ----------------------------------------------------------------------------------------------
    def fit(
        self,
        train_data: Iterable,
        valid_data: Evaluator | None = None,
        verbose: bool = True,
        saved: bool = True,
        show_progress: bool = False,
        callback_fn=None,
    ) -> tuple[float, dict[str, float] | None]:
        """Train with early stopping on ``valid_data``; returns ``(best valid score, best valid result)``."""
        end_epoch = self.start_epoch if self.stopped else self.epochs  # a resumed run that early stopping ended: no epoch
        for epoch_idx in range(self.start_epoch, end_epoch):
            self.current_epoch = epoch_idx
            record: dict[str, Any] = {"epoch": epoch_idx, **self._pre_epoch()}
            t0 = time.perf_counter()
            record["train_loss"] = self._train_epoch(train_data, epoch_idx, show_progress=show_progress)
            record["train_seconds"] = time.perf_counter() - t0
            record["train_seq_per_s"] = self.last_epoch_rows / max(record["train_seconds"], 1e-9)
            record.update({f"train_{name}": value for name, value in self.last_epoch_terms.items()})
            parts = ", ".join(f"{name} {value:.4g}" for name, value in self.last_epoch_terms.items())
            message = (
                f"epoch {epoch_idx} train loss {record['train_loss']:.4f}" + (f" ({parts})" if parts else "")
                + f" | {record['train_seconds']:.1f}s, {record['train_seq_per_s']:.0f} seq/s"
            )
            if "interest_inertia" in record:
                message += (f" | interests {record['interest_clusters_used']}/{record['interest_clusters']} used, "
                            f"k-means inertia {record['interest_inertia']:.5g}")
            stop = False
            if valid_data is not None and (epoch_idx + 1) % self.eval_step == 0:
                result, record["valid_seconds"] = self._validate(valid_data, show_progress, f"Valid {epoch_idx:>4}")
                record.update({f"valid/{k}": v for k, v in result.items()})
                score = result[self.valid_metric]
                self.best_valid_score, self.cur_step, stop, improved = early_stopping(
                    score, self.best_valid_score, self.cur_step, max_step=self.stopping_step,
                    bigger=self.valid_metric_bigger, tie_improves=self.tie_improves,
                )
                message += f" | valid {self.valid_metric} {score:.4f} ({record['valid_seconds']:.1f}s)"
                if improved:
                    self.best_valid_result, self.best_epoch = result, epoch_idx
                    message += " *"
                    if saved:
                        self._save_checkpoint(epoch_idx, verbose=False)
                if callback_fn:
                    callback_fn(epoch_idx, score)
            elif valid_data is None and saved:
                self.best_epoch = epoch_idx
                self._save_checkpoint(epoch_idx, verbose=False)
            self.history.append(record)
            self._log_epoch(record)
            if verbose:
                self.logger.info(message)
            self.stopped = stop
            if self.state_every and (stop or (epoch_idx + 1) % self.state_every == 0 or epoch_idx + 1 == self.epochs):
                self.save_state(epoch_idx + 1)
            if stop:
                if verbose:
                    self.logger.info(f"early stop: no better valid {self.valid_metric} in {self.cur_step} validations; best epoch {self.best_epoch}")
                break
        self.tensorboard.flush()
        return self.best_valid_score, self.best_valid_result

    def evaluate_untrained(self, valid_data: Evaluator, show_progress: bool = False) -> dict[str, Any]:
        """Zero-shot: prepare the model as an epoch start does (``pre_epoch``: MISSRec discovers its interests over
        this dataset's items), validate it without any training step and save it as the best checkpoint (epoch -1,
        ``best_epoch`` stays None). Returns what the hook reported and the validation time."""
        self.current_epoch = 0
        record = self._pre_epoch()
        result, record["valid_seconds"] = self._validate(valid_data, show_progress, "Valid zero-shot")
        self.best_valid_result, self.best_valid_score = result, result[self.valid_metric]
        self._save_checkpoint(-1, verbose=False)
        self.logger.info(f"zero-shot: valid {self.valid_metric} {self.best_valid_score:.4f} "
                         f"({record['valid_seconds']:.1f}s), no training step")
        return record

    def _pre_epoch(self) -> dict[str, Any]:
        """The model's ``pre_epoch`` hook, if it has one: what it reports, and ``pre_epoch_seconds``."""
        pre_epoch = getattr(self.model, "pre_epoch", None)
        if pre_epoch is None:
            return {}
        t0 = time.perf_counter()
        record = dict(pre_epoch(self) or {})
        record["pre_epoch_seconds"] = time.perf_counter() - t0
        return record

    def _validate(self, valid_data: Evaluator, show_progress: bool, desc: str) -> tuple[dict[str, float], float]:
        """``(metrics, seconds)`` of one validation pass."""
        t0 = time.perf_counter()
        result = valid_data.run(self.model, show_progress=show_progress, desc=desc)
        return result, time.perf_counter() - t0

    # ---- resumable state ---------------------------------------------------------------------------------------
    def save_state(self, next_epoch: int) -> None:
        """Save what the epoch ``next_epoch`` starts from (:func:`~missrec.trainers.epoch_state.save_epoch_state`)."""
        progress = {
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "best_valid_result": self.best_valid_result,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "stopped": self.stopped,
        }
        position = {"epoch": next_epoch, "step": 0, "global_step": next_epoch, "trainer": progress}
        save_epoch_state(self.output_dir, self.model, self.optimizer, self.scaler, position)

    def resume(self) -> int:
        """Restore the newest saved state; returns the number of epochs already done."""
        position = load_epoch_state(self.output_dir, self.model, self.optimizer, self.scaler, self.device)
        progress = position["trainer"]
        self.start_epoch = self.current_epoch = int(position["epoch"])
        self.cur_step = int(progress["cur_step"])
        self.best_valid_score = float(progress["best_valid_score"])
        self.best_valid_result = progress["best_valid_result"]
        self.best_epoch = progress["best_epoch"]
        self.history = list(progress["history"])
        self.stopped = bool(progress["stopped"])
        return self.start_epoch

    def _log_epoch(self, record: dict[str, Any]) -> None:
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)):
                self.tensorboard.add_scalar(key, value, record["epoch"])

    # ---- evaluation and checkpoints ---------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, eval_data: Evaluator, load_best_model: bool = True, model_file=None, show_progress: bool = False):
        """Evaluate on ``eval_data``; with ``load_best_model`` the best checkpoint (or ``model_file``) is loaded first."""
        if load_best_model:
            stem = model_file or self.checkpoint_stem
            state, _ = load_checkpoint(stem, device=self.device)
            report = load_into(self.model, state)
            if report["missing"] or report["unexpected"]:
                raise CheckpointError(f"{stem}: reloading the best model left keys unmatched: {report}")
        return eval_data.run(self.model, show_progress=show_progress, desc="Test")

    def _save_checkpoint(self, epoch: int, verbose: bool = True, **kwargs) -> None:
        meta = {
            **self.checkpoint_meta,
            "model": self.config["model"],
            "dataset": self.config["dataset"],
            "epoch": epoch,
            "valid": self.best_valid_result,
        }
        path = save_checkpoint(kwargs.get("saved_model_file", self.checkpoint_stem), self.model.state_dict(), meta)
        if verbose:
            self.logger.info(f"saved {path}")

    def resume_checkpoint(self, resume_file) -> None:
        """Load model weights and the epoch counter from one of our checkpoints (the optimiser restarts)."""
        state, meta = load_checkpoint(resume_file, device=self.device)
        load_into(self.model, state)
        self.start_epoch = int(meta.get("epoch", -1)) + 1
