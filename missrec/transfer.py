"""Transfer: load a pre-trained checkpoint into a fine-tuning model and freeze what the model's paper freezes.

Accepted checkpoints: ours (``<stem>.safetensors`` + ``<stem>.json``, or the stem) and the original authors' ``.pth``
files (read by :mod:`missrec.checkpoint_import` without unrestricted unpickling, keys mapped to our names).

What transfers: everything in the checkpoint that the model has (position embedding, transformer, input LayerNorm,
adaptors, fusion). What is new by design: the item-ID table (a new item set) and the interest buffers (recomputed by
interest discovery). Every other missing or unexpected key is reported, never silently ignored; a checkpoint whose
shapes do not fit the model is one error that names the settings to use.

With ``fix_enc``, the parameters under the model's ``transfer_frozen_prefixes`` are frozen (MISSRec, spec §2.2:
position embedding + the whole ``trm_model``; UniSRec, §8.4: position embedding + ``trm_encoder``); a model that
declares none gets :data:`DEFAULT_FROZEN`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from missrec.checkpoint import load_checkpoint, load_into
from missrec.checkpoint_import import import_checkpoint
from missrec.errors import CheckpointError

NEW_BY_DESIGN = ("item_embedding.", "interest_lookup", "interest_embeddings")
DEFAULT_FROZEN = ("position_embedding.", "trm_model.", "trm_encoder.")
AUTHOR_SUFFIXES = (".pth", ".pt")


def read_pretrained(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, meta)`` of one of our checkpoints, or of an authors' ``.pth`` (dispatch on the suffix)."""
    if Path(path).suffix in AUTHOR_SUFFIXES:
        return import_checkpoint(path)
    return load_checkpoint(path)


def load_pretrained(model: torch.nn.Module, path: str | Path, fix_enc: bool = True) -> dict:
    """Load ``path`` into ``model`` (strict shapes) and, with ``fix_enc``, freeze the transferred encoder.

    Returns:
        The load report: ``loaded``, ``missing``, ``unexpected``, ``shape_mismatch`` (always empty: a mismatch is
        an error), ``new_by_design``, ``dropped`` (keys an authors' ``.pth`` holds that are rebuilt or obsolete,
        with the reason), ``frozen`` and ``meta``.
    """
    state, meta = read_pretrained(path)
    _check_same_model(model, meta, path)
    state = {k: v for k, v in state.items() if not k.startswith(NEW_BY_DESIGN)}
    _check_fits(model, state, meta, path)
    report = load_into(model, state)
    if not report["loaded"]:
        raise CheckpointError(f"{path}: no parameter of the checkpoint matches the model {type(model).__name__}")
    report["new_by_design"] = [k for k in report["missing"] if k.startswith(NEW_BY_DESIGN)]
    report["missing"] = [k for k in report["missing"] if not k.startswith(NEW_BY_DESIGN)]
    report["dropped"] = dict(meta.get("dropped", {}))
    report["frozen"] = freeze_encoder(model) if fix_enc else []
    report["meta"] = meta
    return report


def freeze_encoder(model: torch.nn.Module) -> list[str]:
    """``requires_grad = False`` under the model's ``transfer_frozen_prefixes``; returns the frozen names."""
    prefixes = tuple(getattr(model, "transfer_frozen_prefixes", DEFAULT_FROZEN))
    frozen = []
    for name, param in model.named_parameters():
        if name.startswith(prefixes):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


def count_trainable(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---- fit checks --------------------------------------------------------------------------------------------------
def _check_same_model(model: torch.nn.Module, meta: Mapping[str, Any], path: str | Path) -> None:
    source, target = meta.get("model"), type(model).__name__
    if isinstance(source, str) and source != target:
        raise CheckpointError(f"{path} holds a {source} checkpoint, which cannot initialise {target}. "
                              f"Fix: fine-tune it with --model {source}")


def _check_fits(model: torch.nn.Module, state: Mapping[str, torch.Tensor], meta: Mapping[str, Any], path) -> None:
    """One error, naming the settings to use, when shapes or the number of attention heads differ."""
    own = model.state_dict()
    mismatched = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    heads = meta.get("config", {}).get("n_heads")
    model_heads = _attention_heads(model)
    wrong_heads = isinstance(heads, int) and model_heads is not None and heads != model_heads
    if not mismatched and not wrong_heads:
        return
    details = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in mismatched[:3]]
    if len(mismatched) > 3:
        details.append(f"{len(mismatched) - 3} more")
    if wrong_heads:
        details.append(f"attention heads: checkpoint {heads} vs model {model_heads}")
    raise CheckpointError(f"{path} does not fit the model ({'; '.join(details)}). Fix: {_fit_hint(state, meta)}")


def _fit_hint(state: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> str:
    """The checkpoint's sizes as settings: ``hidden_size=300 ... and 512-d features for text, image``."""
    settings: dict[str, int] = {}
    dims: dict[str, int] = {}
    pos = state.get("position_embedding.weight")
    if pos is not None:
        settings["hidden_size"], settings["MAX_ITEM_LIST_LENGTH"] = pos.shape[1], pos.shape[0]
    for key, value in state.items():
        if key.endswith(("linear1.weight", "feed_forward.dense_1.weight")):
            settings["inner_size"] = value.shape[0]
        if key.startswith("adaptors.") and key.endswith(".weight"):
            dims[key.split(".")[1]] = value.shape[1]
        if key == "moe_adaptor.experts.0.lin.weight":
            dims["text"] = value.shape[1]
    heads = meta.get("config", {}).get("n_heads")
    if isinstance(heads, int):
        settings["n_heads"] = heads
    hint = "set " + " ".join(f"{k}={v}" for k, v in settings.items()) if settings else "use the checkpoint's sizes"
    if dims:
        by_dim: dict[int, list[str]] = {}
        for name, d in dims.items():
            by_dim.setdefault(d, []).append(name)
        hint += " and use " + ", ".join(f"{d}-d features for {', '.join(names)}" for d, names in by_dim.items())
    return hint + " (the sizes the checkpoint was trained with)"


def _attention_heads(model: torch.nn.Module) -> int | None:
    """Heads of the model's first attention layer (torch's or RecBole's), or None."""
    for module in model.modules():
        if isinstance(module, torch.nn.MultiheadAttention):
            return module.num_heads
        if hasattr(module, "num_attention_heads"):
            return int(module.num_attention_heads)
    return None
