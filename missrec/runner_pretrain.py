"""One pre-training run: config -> multi-domain corpus -> model -> Accelerate loop -> checkpoints."""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.utils import set_seed

from missrec.checkpoint import checkpoint_paths
from missrec.config import REPO_ROOT, build_config, read_yaml
from missrec.data.pretrain import MultiDomainSequentialDataset
from missrec.errors import CheckpointError, ConfigError, OutputError
from missrec.io_utils import atomic_write_json
from missrec.logging_utils import run_logger
from missrec.registry import get_model
from missrec.run_folder import check_run_folder, ensure_writable, prepare_run_folder
from missrec.runner import build_model, data_fingerprint
from missrec.trainers.pretrain import STATE_DIR, AcceleratePretrainer
from missrec.trainers.state_folders import latest_position, saved_states

DEFAULT_CORPUS = "ML1M_genres"


def make_accelerator(cpu: bool = False) -> Accelerator:
    """Accelerator for pre-training: seeded shardable sampler (exact resume), no per-step buffer broadcast (the
    feature tables are buffers; the interest buffers are broadcast once per epoch instead)."""
    return Accelerator(
        cpu=cpu,
        kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)],
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )


def run_pretrain(
    model: str = "MISSRec",
    dataset: str = DEFAULT_CORPUS,
    epochs: int | None = None,
    output_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    props: Sequence[str | Path] = (),
    resume: bool = False,
    cpu: bool = False,
    max_steps: int | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """Pre-train ``model`` on the corpus ``dataset`` (a folder under ``data_path``) in every launched process.

    Before any data is read: the values are checked, ``--resume`` needs a state to resume, a fresh run needs an
    empty run folder, and no checkpoint this run would write may belong to another run (``overwrite`` lifts the
    last two, clearing the folder and replacing those checkpoints).

    Args:
        model: registered model with a ``pretrain_loss`` (``MISSRec``, ``UniSRec``).
        dataset: corpus name.
        epochs: overrides ``pretrain_epochs``.
        output_dir: run folder (resumable state, TensorBoard, log); default ``runs/pretrain-<model>-<corpus>``.
        checkpoint_dir: where ``<model>-<corpus>-<epoch>`` checkpoints go (default: ``checkpoint_dir`` key, ``saved``).
        overrides: ``key: value`` config overrides.
        props: extra props yaml files.
        resume: continue from the state saved in ``output_dir``.
        cpu: force CPU processes (``ACCELERATE_USE_CPU=1`` does the same under ``accelerate launch``).
        max_steps: stop after this many optimiser steps (tests).
        overwrite: clear ``output_dir`` and replace checkpoints another run wrote under the same names.

    Returns:
        Per-epoch records (loss parts, seconds, sequences/s).
    """
    entry = get_model(model)
    if not hasattr(entry.cls, "pretrain_loss"):
        raise ConfigError(f"{model} has no pre-training objective. Fix: --model MISSRec or --model UniSRec")
    _refuse_finetune_epochs(overrides or {}, props)
    accelerator = make_accelerator(cpu)
    flags: dict[str, Any] = {"train_stage": "pretrain", "device": str(accelerator.device)}
    if epochs is not None:
        flags["pretrain_epochs"] = epochs
    config = build_config(entry.cls, dataset, "pretrain", props, {**(overrides or {}), **flags})
    output_dir = Path(output_dir) if output_dir else Path("runs") / f"pretrain-{model}-{dataset}"
    checkpoint_dir = Path(checkpoint_dir or config["checkpoint_dir"] or "saved")
    if not checkpoint_dir.is_absolute() and not checkpoint_dir.parent.exists():
        checkpoint_dir = REPO_ROOT / checkpoint_dir
    position = _resume_position(output_dir, resume, overwrite)
    run_id = position["run_id"] if position and position.get("run_id") else uuid.uuid4().hex
    start = position["epoch"] if position else 0
    _refuse_foreign_checkpoints(checkpoint_dir, model, dataset, start, config, run_id, overwrite)
    if accelerator.is_main_process:
        prepare_run_folder(output_dir, overwrite=overwrite and not resume, keep=resume)
        ensure_writable(checkpoint_dir, "--checkpoint-dir")
    accelerator.wait_for_everyone()
    logger = run_logger(output_dir if accelerator.is_main_process else None)
    if not accelerator.is_main_process:
        logger.setLevel("WARNING")
    set_seed(config["seed"])

    corpus = MultiDomainSequentialDataset(config)
    (train_split,) = corpus.build()
    set_seed(config["seed"])
    net = build_model(entry.cls, config, train_split)
    fingerprint = {**data_fingerprint(corpus), "domains": corpus.domains}
    logger.info(f"pre-training {model} on {dataset}: {len(corpus.domains)} domains, {fingerprint['n_items'] - 1} items, "
                f"{len(train_split)} rows; {accelerator.num_processes} process(es) on {accelerator.device}, "
                f"global batch {config['train_batch_size']}, negatives {'gathered' if config['gather_negatives'] else 'local'}, "
                f"word drop {'on' if getattr(train_split, 'text_aug_features', None) is not None else 'off (no .feat2CLS)'}")
    if accelerator.is_main_process:
        atomic_write_json(output_dir / "config.json", dict(config.final_config_dict))
    trainer = AcceleratePretrainer(config, net, train_split.inter_feat, accelerator, output_dir, checkpoint_dir,
                                   {"data": fingerprint}, run_id=run_id)
    try:
        history = trainer.fit(resume=resume, max_steps=max_steps)
    finally:
        trainer.close()
    del trainer, net  # the trainer holds the DDP wrapper, which holds the process group
    end_distributed(accelerator)
    return history


def end_distributed(accelerator: Accelerator) -> None:
    """Free what ``accelerator.prepare`` wrapped, then destroy the process group on every process.

    A process that exits while a DDP wrapper still holds the gloo group can abort at exit ("terminate called without
    an active exception") after its work is done. The caller drops its own references to the prepared objects first.
    """
    accelerator.free_memory()
    gc.collect()  # the DDP wrapper sits in reference cycles: refcounting alone does not free it
    accelerator.wait_for_everyone()
    accelerator.end_training()


# ---- checks before any data is read ------------------------------------------------------------------------------
def _refuse_finetune_epochs(overrides: Mapping[str, Any], props: Sequence[str | Path]) -> None:
    """``epochs`` is the fine-tuning key: pre-training reads ``pretrain_epochs`` and would ignore it silently."""
    sources = [("overrides", overrides)] + [(str(p), read_yaml(p)) for p in props]
    for source, values in sources:
        if "epochs" in values:
            raise ConfigError(f"{source}: epochs={values['epochs']} is the fine-tuning key; pre-training reads "
                              f"pretrain_epochs. Fix: --epochs {values['epochs']} or pretrain_epochs={values['epochs']}")


def _resume_position(output_dir: Path, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """The position to resume from (``None`` for a fresh run), or one error saying why there is none."""
    states = saved_states(output_dir)
    if not resume:
        if states and not overwrite:
            raise ConfigError(f"{output_dir} already holds a pre-training state. Fix: add --resume, or choose another "
                              "--output (or add --overwrite to start again there)")
        check_run_folder(output_dir, overwrite)
        return None
    if not states:
        raise ConfigError(f"--resume: no saved state in {output_dir / STATE_DIR} (nor {STATE_DIR}.old), so there is "
                          "nothing to resume. Fix: pass the --output of the run to continue, or drop --resume")
    position = latest_position(output_dir)
    if position is None:
        raise CheckpointError(f"{output_dir / STATE_DIR}: the saved state cannot be resumed (no readable "
                              f"position.json in {', '.join(f.name for f in states)}). Fix: start the run again in a "
                              "new folder (another --output, or --overwrite)")
    return position


def planned_epochs(start: int, epochs: int, save_step: int) -> list[int]:
    """Epochs after ``start`` at which a checkpoint is written (every ``save_step`` and the last)."""
    return [e for e in range(start + 1, epochs + 1) if e % save_step == 0 or e == epochs]


def _refuse_foreign_checkpoints(checkpoint_dir: Path, model: str, dataset: str, start: int, config, run_id: str,
                                overwrite: bool) -> None:
    """No checkpoint this run will write may exist already from another run, unless ``overwrite``."""
    if overwrite:
        return
    for epoch in planned_epochs(start, config["pretrain_epochs"], config["save_step"]):
        weights, card = checkpoint_paths(checkpoint_dir / f"{model}-{dataset}-{epoch}")
        if not (weights.exists() or card.exists()):
            continue
        try:
            owner = json.loads(card.read_text(encoding="utf-8")).get("run_id")
        except (OSError, ValueError, AttributeError):
            owner = None
        if owner != run_id:
            raise OutputError(f"{weights}: written by another run; this run would overwrite it at epoch {epoch}. "
                              "Fix: choose another --checkpoint-dir, or add --overwrite to replace it")
