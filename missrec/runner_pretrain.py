"""One pre-training run: config -> multi-domain corpus -> model -> Accelerate loop -> checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.utils import set_seed

from missrec.config import REPO_ROOT, build_config
from missrec.data.pretrain import MultiDomainSequentialDataset
from missrec.errors import ConfigError
from missrec.io_utils import atomic_write_json
from missrec.logging_utils import run_logger
from missrec.registry import get_model
from missrec.runner import data_fingerprint
from missrec.trainers.pretrain import POSITION_FILE, STATE_DIR, AcceleratePretrainer

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
) -> list[dict[str, Any]]:
    """Pre-train ``model`` on the corpus ``dataset`` (a folder under ``data_path``) in every launched process.

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

    Returns:
        Per-epoch records (loss parts, seconds, sequences/s).
    """
    entry = get_model(model)
    if not hasattr(entry.cls, "pretrain_loss"):
        raise ConfigError(f"{model} has no pre-training objective")
    accelerator = make_accelerator(cpu)
    flags: dict[str, Any] = {"train_stage": "pretrain", "device": str(accelerator.device)}
    if epochs is not None:
        flags["pretrain_epochs"] = epochs
    config = build_config(entry.cls, dataset, "pretrain", props, {**(overrides or {}), **flags})
    output_dir = Path(output_dir) if output_dir else Path("runs") / f"pretrain-{model}-{dataset}"
    if not resume and (output_dir / STATE_DIR / POSITION_FILE).is_file():
        raise ConfigError(f"{output_dir} already holds a pre-training state. Fix: add --resume, or choose another --output")
    checkpoint_dir = Path(checkpoint_dir or config["checkpoint_dir"] or "saved")
    if not checkpoint_dir.is_absolute() and not checkpoint_dir.parent.exists():
        checkpoint_dir = REPO_ROOT / checkpoint_dir
    logger = run_logger(output_dir if accelerator.is_main_process else None)
    if not accelerator.is_main_process:
        logger.setLevel("WARNING")
    set_seed(config["seed"])

    corpus = MultiDomainSequentialDataset(config)
    (train_split,) = corpus.build()
    set_seed(config["seed"])
    net = entry.cls(config, train_split)
    fingerprint = {**data_fingerprint(corpus), "domains": corpus.domains}
    logger.info(f"pre-training {model} on {dataset}: {len(corpus.domains)} domains, {fingerprint['n_items'] - 1} items, "
                f"{len(train_split)} rows; {accelerator.num_processes} process(es) on {accelerator.device}, "
                f"global batch {config['train_batch_size']}, negatives {'gathered' if config['gather_negatives'] else 'local'}, "
                f"word drop {'on' if getattr(train_split, 'text_aug_features', None) is not None else 'off (no .feat2CLS)'}")
    if accelerator.is_main_process:
        atomic_write_json(output_dir / "config.json", dict(config.final_config_dict))
    trainer = AcceleratePretrainer(config, net, train_split.inter_feat, accelerator, output_dir, checkpoint_dir,
                                   {"data": fingerprint})
    history = trainer.fit(resume=resume, max_steps=max_steps)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return history
