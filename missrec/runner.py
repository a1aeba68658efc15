"""One fine-tuning run, end to end: config -> data -> model (-> transfer) -> train -> test -> report."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recbole.data.interaction import Interaction
from recbole.utils import init_seed

from missrec.compat import SafeConfig
from missrec.config import build_config, explicit_keys, run_settings
from missrec.data.dataset import MultimodalSequentialDataset
from missrec.data.loaders import DeviceBatchLoader
from missrec.data.prepare import ml100k
from missrec.errors import ConfigError
from missrec.evaluation.sequential import NextItemEvaluator
from missrec.evaluation.subsets import subset_files, subset_rows
from missrec.io_utils import atomic_write_json
from missrec.logging_utils import run_logger
from missrec.registry import get_model
from missrec.reporting import default_run_dir, finish_run, mean, trainer_summary
from missrec.run_folder import prepare_training_folder
from missrec.trainers.epoch_state import remove_epoch_states
from missrec.trainers.finetune import FinetuneTrainer
from missrec.transfer import count_trainable, load_pretrained, read_pretrained
from missrec.validation import warn_topk_above_items

MODES = {"transductive": "transductive_ft", "inductive": "inductive_ft"}
DEFAULT_DATASET = ml100k.NAME


def data_fingerprint(dataset: MultimodalSequentialDataset) -> dict[str, Any]:
    """What a checkpoint needs to say about the data it was trained on."""
    tokens = "\n".join(dataset.field2id_token[dataset.iid_field][1:])
    return {
        "dataset": dataset.dataset_name,
        "n_items": int(dataset.item_num),
        "n_users": int(dataset.user_num),
        "split_rows": dataset.split_rows,
        "item_tokens_sha256": hashlib.sha256(tokens.encode()).hexdigest(),
        "modalities": {m: int(f.shape[1]) for m, f in dataset.modality_features.items()},
    }


def build_model(cls: type, config, dataset):
    """``cls(config, dataset)``; a model refusing its configuration (a ``ValueError``) is one :class:`ConfigError`."""
    try:
        return cls(config, dataset)
    except ValueError as e:
        raise ConfigError(f"{cls.__name__}: {e}") from e


def read_test_subsets(config, data: MultimodalSequentialDataset, test_split) -> dict[str, Interaction]:
    """The test rows of every ``<dataset>.test_<name>`` subset file (:mod:`missrec.evaluation.subsets`), checked
    against the test split before any training."""
    folder = Path(config["data_path"])  # RecBole's config already ends it with the dataset folder
    rows = test_split.inter_feat
    tokens = (list(data.field2id_token[data.uid_field]), list(data.field2id_token[data.iid_field]))
    return {name: rows[subset_rows(path, rows, *tokens, data.uid_field, data.iid_field)]
            for name, path in subset_files(folder, config["dataset"]).items()}


def check_zero_shot(pretrained, mode: str, epochs: int | None, resume: bool) -> None:
    """A zero-shot evaluation needs a checkpoint and the inductive mode, and has no epochs to set or resume."""
    if not pretrained:
        raise ConfigError("--zero-shot evaluates a pre-trained checkpoint without training, and none was given. "
                          "Fix: add -p <checkpoint>")
    if mode != "inductive":
        raise ConfigError(f"--zero-shot with -mode {mode}: transductive scores add an item-ID table that only "
                          "training fills, so untrained they are noise. Fix: -mode inductive")
    if epochs is not None or resume:
        raise ConfigError("--zero-shot trains no epoch, so --epochs and --resume mean nothing with it. "
                          "Fix: drop them")


def ensure_dataset(config) -> None:
    """Prepare the embedded MovieLens-100K the first time it is used."""
    data_dir = Path(config["data_path"])
    if config["dataset"] == ml100k.NAME and not ml100k.is_prepared(data_dir):
        ml100k.prepare(data_dir)


def check_mode(model: str, mode: str):
    """The registry entry of ``model``, once ``mode`` is known and supported by it."""
    entry = get_model(model)
    if mode not in MODES:
        raise ConfigError(f"unknown mode '{mode}'. Fix: one of {sorted(MODES)}")
    if mode not in entry.modes:
        raise ConfigError(f"{model} has no {mode} mode (it supports {list(entry.modes)}). Fix: -mode {entry.modes[0]}")
    return entry


def finetune_config(
    model: str,
    dataset: str,
    mode: str,
    device: str | None = None,
    epochs: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    props: Sequence[str | Path] = (),
) -> tuple[SafeConfig, dict[str, Any]]:
    """The validated config of a fine-tuning run, and the settings it applied over the props (its overrides and
    the flags ``train_stage``, ``device``, ``epochs``): what ``finetune.py`` builds, without reading any data."""
    entry = check_mode(model, mode)
    settings = run_settings(overrides, device, epochs, train_stage=MODES[mode])
    return build_config(entry.cls, dataset, "finetune", props, settings), settings


def run_finetune(
    model: str = "MISSRec",
    dataset: str = DEFAULT_DATASET,
    mode: str = "transductive",
    pretrained: str | Path | None = None,
    device: str | None = None,
    epochs: int | None = None,
    output_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    props: Sequence[str | Path] = (),
    overwrite: bool = False,
    resume: bool = False,
    zero_shot: bool = False,
) -> dict[str, Any]:
    """Fine-tune (or train from scratch) one model on one dataset and evaluate it on the test split.

    Every value is checked, the checkpoint read and the run folder made writable before any data is read.

    Args:
        model: registered model name (``MISSRec``, ``SASRec`` ...).
        dataset: dataset folder name under ``data_path``.
        mode: ``transductive`` (with item IDs) or ``inductive`` (without).
        pretrained: checkpoint to transfer from: ours (``.safetensors`` or its stem) or the authors' ``.pth``.
        device: ``cpu``, ``cuda``, ``cuda:N``; default cuda when available.
        epochs: maximum epochs (overrides the props).
        output_dir: run folder; default ``runs/<model>-<dataset>-<mode>-<time>``.
        overrides: ``key: value`` config overrides (validated against the props).
        props: extra props yaml files.
        overwrite: replace what ``output_dir`` holds (otherwise a non-empty folder is refused).
        resume: continue the unfinished run in ``output_dir`` from its last saved epoch (same configuration).
        zero_shot: evaluate ``pretrained`` without any training step (inductive mode); ``results.json`` says so.

    Returns:
        The content of ``results.json``: valid/test metrics, best epoch, history, trainable parameters, paths.
    """
    entry = check_mode(model, mode)
    if zero_shot:
        check_zero_shot(pretrained, mode, epochs, resume)
    config, settings = finetune_config(model, dataset, mode, device, epochs, overrides, props)
    source = read_pretrained(pretrained) if pretrained else None
    output_dir = prepare_training_folder(output_dir or default_run_dir(model, dataset, mode), overwrite, resume,
                                         config.final_config_dict,
                                         explicit_keys(props, settings))
    logger = run_logger(output_dir)
    init_seed(config["seed"], config["reproducibility"])
    ensure_dataset(config)

    data = MultimodalSequentialDataset(config)
    train_split, valid_split, test_split = data.build()
    test_subsets = read_test_subsets(config, data, test_split)
    warn_topk_above_items(config["topk"], int(data.item_num) - 1, logger)
    init_seed(config["seed"], config["reproducibility"])
    net = build_model(entry.cls, config, train_split).to(config["device"])
    transfer = None
    if pretrained:
        fix_enc = config["fix_enc"] if config["fix_enc"] is not None else True
        transfer = load_pretrained(net, pretrained, fix_enc=fix_enc, source=source)
        logger.info(f"loaded {pretrained}: {len(transfer['loaded'])} tensors; new: {transfer['new_by_design']}; "
                    f"missing: {transfer['missing']}; unexpected: {transfer['unexpected']}; frozen: {len(transfer['frozen'])}")
    trainable = count_trainable(net)
    fingerprint = data_fingerprint(data)
    logger.info(f"{model} {mode} on {dataset}: {fingerprint['n_users'] - 1} users, {fingerprint['n_items'] - 1} items, "
                f"rows {data.split_rows}, modalities {fingerprint['modalities']}; trainable parameters {trainable:,}")
    atomic_write_json(output_dir / "config.json", {k: v for k, v in config.final_config_dict.items()})

    device_ = config["device"]
    train_loader = DeviceBatchLoader(train_split.inter_feat, config["train_batch_size"], True, device_, config["seed"])

    tie_rule = "topk" if config["legacy_topk_ties"] else "pessimistic"

    def evaluator(rows) -> NextItemEvaluator:
        loader = DeviceBatchLoader(rows, config["eval_batch_size"], False, device_)
        return NextItemEvaluator(loader, net.POS_ITEM_ID, config["topk"], config["metrics"], config["legacy_topk_offset"],
                                 tie_rule=tie_rule)

    trainer = FinetuneTrainer(config, net, output_dir, checkpoint_meta={"data": fingerprint, "train_stage": MODES[mode]})
    show = bool(config["show_progress"])
    if zero_shot:
        untrained = trainer.evaluate_untrained(evaluator(valid_split.inter_feat), show_progress=show)
    else:
        if resume:
            trainer.resume()
        trainer.fit(train_loader, evaluator(valid_split.inter_feat), show_progress=show)
        if trainer.best_epoch is None:
            raise ConfigError("no epoch was trained, so there is no model to test. Fix: epochs >= 1")
    valid_result = trainer.best_valid_result
    test_result = trainer.evaluate(evaluator(test_split.inter_feat), load_best_model=True, show_progress=show)
    subset_results = {f"test_{name}": trainer.evaluate(evaluator(rows), load_best_model=False) if len(rows) else {}
                      for name, rows in test_subsets.items()}

    results = {
        "model": model,
        "dataset": dataset,
        "mode": mode,
        "zero_shot": untrained if zero_shot else None,
        "pretrained": str(pretrained) if pretrained else None,
        "pretrained_sha256": transfer["meta"].get("sha256") if transfer else None,
        "metric_definition": "legacy @K+1 (MISSRec's vendored RecBole)" if config["legacy_topk_offset"] else "standard @K",
        "protocol": "full ranking over all items, history not masked, PAD excluded, "
        + ("ties in torch.topk order (legacy)" if tie_rule == "topk" else "ties counted against the target"),
        "tie_rule": tie_rule,
        "trainable_parameters": trainable,
        "valid": valid_result,
        "test": test_result,
        **subset_results,
        "test_subset_rows": {f"test_{name}": len(rows) for name, rows in test_subsets.items()},
        "train_seq_per_s": mean([h["train_seq_per_s"] for h in trainer.history[1:] or trainer.history]),
        "transfer": {k: v for k, v in transfer.items() if k != "meta"} if transfer else None,
        **trainer_summary(trainer),
        "output_dir": str(output_dir),
    }
    stage = "zero-shot (no training)" if zero_shot else f"best epoch {trainer.best_epoch}"
    title = f"{model} ({mode}) on {dataset}, {stage}, {results['metric_definition']}"
    finish_run(results, config["valid_metric"], title)
    remove_epoch_states(output_dir)
    return results
