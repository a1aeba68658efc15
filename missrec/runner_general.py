"""One general (graph) recommender run, end to end: config -> data -> model -> train -> test -> report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recbole.utils import init_seed

from missrec.compat import SafeConfig
from missrec.config import DATASET_PROPS_DIR, PROPS_DIR, build_config, explicit_keys, run_settings
from missrec.data.general import BPRTrainLoader, GeneralDataset, load_general_dataset
from missrec.data.general.ml100k import NAME as ML100K_GENERAL
from missrec.errors import ConfigError, DataError
from missrec.evaluation.general import TopKEvaluator
from missrec.io_utils import atomic_write_json
from missrec.logging_utils import run_logger
from missrec.registry import MODELS, get_model
from missrec.reporting import default_run_dir, finish_run, mean, trainer_summary
from missrec.run_folder import prepare_training_folder
from missrec.runner import build_model
from missrec.trainers.epoch_state import remove_epoch_states
from missrec.trainers.finetune import FinetuneTrainer
from missrec.transfer import count_trainable
from missrec.validation import warn_topk_above_items

DEFAULT_DATASET = ML100K_GENERAL
STAGE = "general"


def general_models() -> list[str]:
    """Names of the registered general models."""
    get_model("BPR")  # populates the registry
    return sorted(name for name, entry in MODELS.items() if entry.kind == "general")


def build_general_config(
    model_cls: type, dataset: str, props: Sequence[str | Path] = (), overrides: Mapping[str, Any] | None = None
) -> SafeConfig:
    """The config of a general run: ``general.yaml < <Model>.yaml < datasets/<dataset>.yaml < props < overrides``.

    :func:`missrec.config.build_config` layers the model file *before* the stage file; re-applying the model and
    dataset files after it lets a model change stage defaults (LATTICE's learning rate, MMSSL's user sampler and
    batch size) and a dataset set model keys (ML100K_general's modality weights).
    """
    again = [PROPS_DIR / f"{model_cls.__name__}.yaml", DATASET_PROPS_DIR / f"{dataset}.yaml"]
    return build_config(model_cls, dataset, STAGE, [*(p for p in again if p.is_file()), *props], overrides)


def general_config(
    model: str,
    dataset: str,
    device: str | None = None,
    epochs: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    props: Sequence[str | Path] = (),
) -> tuple[SafeConfig, dict[str, Any]]:
    """The validated config of a graph-model run, and the settings it applied over the props (its overrides and
    the flags ``device``, ``epochs``): what ``train_graph.py`` builds, without reading any data."""
    entry = get_model(model)
    if entry.kind != "general":
        raise ConfigError(f"{model} is a {entry.kind} model. Fix: use finetune.py, or one of {general_models()}")
    settings = run_settings(overrides, device, epochs)
    return build_general_config(entry.cls, dataset, props, settings), settings


def check_evaluation_splits(data: GeneralDataset) -> None:
    """Refuse a dataset without validation or test rows: no epoch could be selected, or nothing tested."""
    for split, label in (("valid", "validation"), ("test", "test")):
        if len(data.splits[split]) == 0:
            raise DataError(
                f"dataset '{data.name}' ({data.source}): no {label} rows, so "
                + ("no epoch can be selected" if split == "valid" else "nothing can be tested")
                + ". Fix: split the interactions into train/valid/test (MMRec: x_label 0/1/2; "
                "python -m missrec.data.prepare.amazon export-mmrec writes all three)"
            )


def build_evaluator(config, dataset: GeneralDataset, split: str, user_field: str) -> TopKEvaluator:
    """The valid/test evaluator the config describes."""
    return TopKEvaluator(
        dataset,
        split,
        config["topk"],
        config["metrics"],
        config["device"],
        batch_size=config["eval_batch_size"],
        user_field=user_field,
        mask_valid=bool(config["mask_valid_in_test"]),
        hit_normalised_ndcg=bool(config["legacy_hit_normalised_ndcg"]),
        filter_cold_start=bool(config["filter_cold_start_users"]),
    )


def run_general(
    model: str = "LightGCN",
    dataset: str = DEFAULT_DATASET,
    device: str | None = None,
    epochs: int | None = None,
    output_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    props: Sequence[str | Path] = (),
    overwrite: bool = False,
    resume: bool = False,
) -> dict[str, Any]:
    """Train one general model on one dataset, select on validation, report test at the best validation epoch.

    Every value is checked and the run folder made writable before any data is read.

    Args:
        model: registered general model (``BPR``, ``LightGCN``, ``VBPR``, ``LATTICE``, ``FREEDOM`` ...).
        dataset: dataset folder under ``data_path`` (default: the embedded ``ML100K_general``).
        device: ``cpu``, ``cuda``, ``cuda:N``; default cuda when available.
        epochs: maximum epochs (overrides the props).
        output_dir: run folder; default ``runs/<model>-<dataset>-<time>``.
        overrides: ``key: value`` config overrides (validated against the props).
        props: extra props yaml files.
        overwrite: replace what ``output_dir`` holds (otherwise a non-empty folder is refused).
        resume: continue the unfinished run in ``output_dir`` from its last saved epoch (same configuration).

    Returns:
        The content of ``results.json``: valid/test metrics, best epoch, history, seconds per epoch, paths.
    """
    entry = get_model(model)
    config, settings = general_config(model, dataset, device, epochs, overrides, props)
    output_dir = prepare_training_folder(output_dir or default_run_dir(model, dataset), overwrite, resume,
                                         config.final_config_dict,
                                         explicit_keys(props, settings))
    logger = run_logger(output_dir)
    init_seed(config["seed"], config["reproducibility"])

    data = load_general_dataset(config)
    check_evaluation_splits(data)
    warn_topk_above_items(config["topk"], data.n_items, logger)
    fingerprint = data.fingerprint()
    init_seed(config["seed"], config["reproducibility"])
    net = build_model(entry.cls, config, data).to(config["device"])
    trainable = count_trainable(net)
    logger.info(f"{model} on {dataset}: {data.n_users} users, {data.n_items} items, rows "
                f"{[len(data.splits[s]) for s in ('train', 'valid', 'test')]}, modalities {fingerprint['modalities']}; "
                f"trainable parameters {trainable:,}")
    atomic_write_json(output_dir / "config.json", dict(config.final_config_dict))

    train_loader = BPRTrainLoader(
        data,
        config["train_batch_size"],
        config["device"],
        config["seed"],
        fields=(net.USER_ID, net.ITEM_ID, net.NEG_ITEM_ID),
        negatives=net.NEEDS_NEGATIVES,
        sampler=config["train_sampler"],
        neg_pool=config["neg_sample_pool"],
    )
    trainer = FinetuneTrainer(config, net, output_dir, checkpoint_meta={"data": fingerprint})
    show = bool(config["show_progress"])
    if resume:
        trainer.resume()
    trainer.fit(train_loader, build_evaluator(config, data, "valid", net.USER_ID), show_progress=show)
    if trainer.best_epoch is None:
        raise ConfigError("no epoch was trained, so there is no model to test. Fix: epochs >= 1")
    valid_result = trainer.best_valid_result
    test_result = trainer.evaluate(build_evaluator(config, data, "test", net.USER_ID), load_best_model=True, show_progress=show)

    legacy = bool(config["legacy_hit_normalised_ndcg"])
    results = {
        "model": model,
        "dataset": dataset,
        "metric_definition": "legacy hit-normalised NDCG (LATTICE/MMSSL)" if legacy else "standard (MMRec)",
        "protocol": "full ranking over all items, training items masked"
        + (", validation items masked at test" if config["mask_valid_in_test"] else "")
        + "; test at the best validation epoch",
        "trainable_parameters": trainable,
        "data": fingerprint,
        "valid": valid_result,
        "test": test_result,
        "seconds_per_epoch": mean([h["train_seconds"] + h.get("pre_epoch_seconds", 0.0) for h in trainer.history]),
        "valid_seconds": mean([h.get("valid_seconds", 0.0) for h in trainer.history]),
        **trainer_summary(trainer),
        "output_dir": str(output_dir),
    }
    title = f"{model} on {dataset}, best epoch {trainer.best_epoch}, {results['metric_definition']}"
    finish_run(results, config["valid_metric"], title)
    remove_epoch_states(output_dir)
    return results
