"""Load a trained model for inference: config, dataset, weights, and the check that the data is the same.

A run folder (``runs/<run>/``, written by ``finetune.py`` / ``train_graph.py``) holds ``config.json`` (the run's
final config) and ``checkpoints/best.safetensors`` + ``.json`` (weights and metadata, among them the data
fingerprint). The model is rebuilt from the config and the dataset, the weights are loaded without executing code
(:mod:`missrec.checkpoint`), and the fingerprint of the dataset found now must equal the one stored at training time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from missrec.checkpoint import checkpoint_paths, load_checkpoint, load_into
from missrec.config import PROPS_DIR, build_config, read_yaml
from missrec.errors import CheckpointError, ConfigError
from missrec.recommend.catalogue import Catalogue, Users
from missrec.registry import get_model

CONFIG_FILE = "config.json"
CHECKPOINT_STEM = Path("checkpoints") / "best"
# keys of config.json that are not taken over: where the data is (resolved again), where to run, how to display,
# and RecBole's normalised sampling dict (it re-derives it)
NOT_REUSED = {"data_path", "device", "show_progress", "train_neg_sample_args"}


@dataclass
class LoadedModel:
    """A model in eval mode with what serving it needs."""

    model: torch.nn.Module
    model_name: str
    kind: str  # "sequential" or "general"
    config: Any
    catalogue: Catalogue
    users: Users
    meta: dict
    checkpoint: Path
    seconds: dict[str, float] = field(default_factory=dict)


def run_paths(run_dir: str | Path) -> tuple[Path, Path]:
    """``(config.json, checkpoint stem)`` of a run folder; anything missing is one error naming it."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run folder. Fix: pass a folder written by finetune.py or train_graph.py (runs/<run>)")
    config = run_dir / CONFIG_FILE
    weights, info = checkpoint_paths(run_dir / CHECKPOINT_STEM)
    missing = [str(p.relative_to(run_dir)) for p in (config, weights, info) if not p.is_file()]
    if missing:
        why = " (the run stopped before its first validated epoch, or is still running)" if config.is_file() else ""
        raise CheckpointError(
            f"{run_dir}: the run folder lacks {', '.join(missing)}{why}. Fix: let the run finish an epoch, or use "
            "Recommender.from_checkpoint(<.safetensors>, dataset=...) / recommend.py <file.safetensors> --dataset NAME"
        )
    return config, run_dir / CHECKPOINT_STEM


def config_overrides(saved: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a saved ``config.json`` to pass again: those our props define, except :data:`NOT_REUSED`;
    ``data_path`` is given back without the dataset folder RecBole appended to it."""
    ours = {key for path in PROPS_DIR.rglob("*.yaml") for key in read_yaml(path)}
    overrides = {k: v for k, v in saved.items() if k in ours and k not in NOT_REUSED}
    data_path = Path(str(saved.get("data_path", "datasets/downstream/")))
    if data_path.name == saved.get("dataset"):
        data_path = data_path.parent
    overrides["data_path"] = str(data_path)
    return overrides


def load_model(
    checkpoint: str | Path,
    dataset: str | None = None,
    saved_config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    props: Sequence[str | Path] = (),
    device: str = "cpu",
) -> LoadedModel:
    """Rebuild the checkpoint's model on its dataset, load the weights, check the data fingerprint.

    Args:
        checkpoint: ``.safetensors`` file or its stem (with the ``.json`` beside it).
        dataset: dataset name; default the one the checkpoint records.
        saved_config: the run's ``config.json`` (default: the model's and dataset's props).
        overrides: config keys applied last (e.g. ``data_path``).
        props: extra props yaml files.
        device: where to run.
    """
    from missrec.recommend.sources import general_sources, sequential_sources

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    state, meta = load_checkpoint(checkpoint, device="cpu")
    model_name = meta.get("model") or (saved_config or {}).get("model")
    if not model_name:
        raise CheckpointError(f"{checkpoint}: the metadata (.json) names no model. Fix: use a checkpoint written by finetune.py or train_graph.py")
    if meta.get("stage") == "pretrain":
        raise CheckpointError(f"{checkpoint}: a pre-training checkpoint has no trained item side for a dataset. Fix: fine-tune it first (finetune.py -p {checkpoint})")
    entry = get_model(model_name)
    dataset = dataset or meta.get("dataset") or (saved_config or {}).get("dataset")
    if not dataset:
        raise ConfigError(f"{checkpoint}: no dataset recorded. Fix: pass dataset=NAME (--dataset NAME)")
    settings = config_overrides(saved_config) if saved_config else {}
    if entry.kind == "sequential" and "train_stage" in meta:
        settings["train_stage"] = meta["train_stage"]
    settings.update(dict(overrides or {}))
    settings["device"] = device
    settings["show_progress"] = False
    if entry.kind == "sequential":
        from missrec.data.dataset import MultimodalSequentialDataset
        from missrec.runner import data_fingerprint, ensure_dataset

        config = build_config(entry.cls, dataset, "finetune", props, settings)
        ensure_dataset(config)
        data = MultimodalSequentialDataset(config)
        fingerprint = data_fingerprint(data)
        catalogue, users = sequential_sources(data, Path(config["data_path"]))
    else:
        from missrec.data.general import load_general_dataset
        from missrec.runner_general import build_general_config

        config = build_general_config(entry.cls, dataset, props, settings)
        data = load_general_dataset(config)
        fingerprint = data.fingerprint()
        catalogue, users = general_sources(data, Path(config["data_path"]).parent)
    seconds["dataset"] = time.perf_counter() - t0
    check_fingerprint(meta.get("data"), fingerprint, checkpoint)

    t0 = time.perf_counter()
    model = entry.cls(config, data).to(config["device"])
    report = load_into(model, state)
    if report["missing"] or report["unexpected"]:
        raise CheckpointError(
            f"{checkpoint}: the weights do not match a {model_name} built from this config (missing {report['missing'][:5]}, "
            f"unexpected {report['unexpected'][:5]}). Fix: load it from its run folder (its config.json) or pass the "
            "overrides it was trained with"
        )
    model.eval()
    seconds["model"] = time.perf_counter() - t0
    return LoadedModel(model, model_name, entry.kind, config, catalogue, users, meta, Path(checkpoint), seconds)


def load_run(run_dir: str | Path, device: str = "cpu", overrides: Mapping[str, Any] | None = None) -> LoadedModel:
    """:func:`load_model` for a run folder: its ``config.json`` and ``checkpoints/best``."""
    config_path, stem = run_paths(run_dir)
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    return load_model(stem, saved.get("dataset"), saved, overrides, device=device)


def check_fingerprint(stored: Mapping[str, Any] | None, current: Mapping[str, Any], checkpoint: str | Path) -> None:
    """Refuse a dataset that differs from the one the checkpoint was trained on (one error listing the fields)."""
    if not stored:
        raise CheckpointError(
            f"{checkpoint}: the checkpoint records no data fingerprint, so it cannot be matched to a dataset. "
            "Fix: use a checkpoint written by finetune.py or train_graph.py"
        )
    differ = [key for key in stored if key in current and _plain(stored[key]) != _plain(current[key])]
    if differ:
        details = "; ".join(f"{key}: trained {_short(stored[key])}, now {_short(current[key])}" for key in differ)
        raise CheckpointError(
            f"{checkpoint}: the dataset changed since training ({details}). Fix: recommend from the dataset the model "
            "was trained on, or retrain on the new one"
        )


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _short(value: Any) -> str:
    text = json.dumps(_plain(value))
    return text if len(text) <= 40 else text[:16] + "..." + text[-8:]
