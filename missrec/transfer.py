"""Transfer: load a pre-trained checkpoint into a fine-tuning model and freeze what the model's paper freezes.

Accepted checkpoints: ours (``<stem>.safetensors`` + ``<stem>.json``, or the stem) and the original authors' ``.pth``
files (read by :mod:`missrec.checkpoint_import` without unrestricted unpickling, keys mapped to our names).

What transfers: everything in the checkpoint that the model has (position embedding, transformer, input LayerNorm,
adaptors, fusion). What is new by design: the item-ID table (a new item set), the interest buffers (recomputed by
interest discovery) and the adaptor of a modality the checkpoint has no adaptor for (a new modality downstream). Every other missing or unexpected key is reported, never silently ignored; a checkpoint whose
shapes do not fit the model is one error that names the settings to use.

Whether a checkpoint fits is decided from its tensors, not from its card: the encoder (the tensors under the
model's ``transfer_frozen_prefixes``, which ``fix_enc`` freezes) must be there in full, or the transfer is refused
in one line naming the missing keys (another model's checkpoint would otherwise load a LayerNorm and a position
table, then freeze a randomly initialised transformer). A card naming another model only earns a warning when the
tensors fit. Weights must be finite and of moderate magnitude (:mod:`missrec.numeric`).

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
from missrec.logging_utils import get_logger
from missrec.numeric import MAX_ABS_VALUE, magnitude_problem

NEW_BY_DESIGN = ("item_embedding.", "interest_lookup", "interest_embeddings")
ADAPTOR_PREFIX = "adaptors."  # MISSRec's per-modality adaptors: adaptors.<modality>.weight/bias
DEFAULT_FROZEN = ("position_embedding.", "trm_model.", "trm_encoder.")
AUTHOR_SUFFIXES = (".pth", ".pt")


def read_pretrained(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, meta)`` of one of our checkpoints, or of an authors' ``.pth`` (dispatch on the suffix), with
    every weight checked finite and of moderate magnitude."""
    state, meta = import_checkpoint(path) if Path(path).suffix in AUTHOR_SUFFIXES else load_checkpoint(path)
    for key, value in state.items():
        if key.startswith(NEW_BY_DESIGN):
            continue  # not loaded
        problem = magnitude_problem(value)
        if problem and problem.startswith("NaN"):
            raise CheckpointError(f"{path}: expected finite weights, found NaN/inf in {key}. Fix: use a checkpoint "
                                  "saved before training diverged")
        if problem:
            raise CheckpointError(f"{path}: expected weights of magnitude <= {MAX_ABS_VALUE:g}, found "
                                  f"{float(value.abs().max()):.3g} in {key} (k-means and the transformer overflow on "
                                  "them). Fix: use another checkpoint")
    return state, meta


def load_pretrained(
    model: torch.nn.Module,
    path: str | Path,
    fix_enc: bool = True,
    source: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None,
) -> dict:
    """Load ``path`` into ``model`` (strict shapes) and, with ``fix_enc``, freeze the transferred encoder.

    Args:
        model: the fine-tuning model.
        path: the checkpoint (named in messages and the report).
        fix_enc: freeze the transferred encoder.
        source: ``read_pretrained(path)`` when the caller read it already (to check it before loading data).

    Returns:
        The load report: ``loaded``, ``missing``, ``unexpected``, ``shape_mismatch`` (always empty: a mismatch is
        an error), ``new_by_design``, ``dropped`` (keys an authors' ``.pth`` holds that are rebuilt or obsolete,
        with the reason), ``frozen`` and ``meta``.
    """
    state, meta = source if source is not None else read_pretrained(path)
    state = {k: v for k, v in state.items() if not k.startswith(NEW_BY_DESIGN)}
    _check_encoder_present(model, state, meta, path)
    _check_fits(model, state, meta, path)
    _note_card_mismatch(model, meta, path)
    report = load_into(model, state)
    if not report["loaded"]:
        raise CheckpointError(f"{path}: no parameter of the checkpoint matches the model {type(model).__name__}")
    # a modality the checkpoint never saw (e.g. a third one downstream) gets a new adaptor: new by design too
    fresh = tuple(f"{ADAPTOR_PREFIX}{m}." for m in _adaptor_modalities(report["missing"]) - _adaptor_modalities(state))
    report["new_by_design"] = [k for k in report["missing"] if k.startswith(NEW_BY_DESIGN + fresh)]
    report["missing"] = [k for k in report["missing"] if not k.startswith(NEW_BY_DESIGN + fresh)]
    report["dropped"] = dict(meta.get("dropped", {}))
    report["frozen"] = freeze_encoder(model) if fix_enc else []
    report["meta"] = meta
    return report


def _adaptor_modalities(keys) -> set[str]:
    """Modalities of the ``adaptors.<modality>.*`` keys among ``keys``."""
    return {k.split(".")[1] for k in keys if k.startswith(ADAPTOR_PREFIX)}


def freeze_encoder(model: torch.nn.Module) -> list[str]:
    """``requires_grad = False`` under the model's ``transfer_frozen_prefixes``; returns the frozen names."""
    frozen = encoder_keys(model)
    params = dict(model.named_parameters())
    for name in frozen:
        params[name].requires_grad_(False)
    return frozen


def count_trainable(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---- fit checks --------------------------------------------------------------------------------------------------
def encoder_keys(model: torch.nn.Module) -> list[str]:
    """Names of the parameters a transfer with ``fix_enc`` freezes: the encoder the checkpoint must provide."""
    prefixes = tuple(getattr(model, "transfer_frozen_prefixes", DEFAULT_FROZEN))
    return [name for name, _ in model.named_parameters() if name.startswith(prefixes)]


def looks_like(state: Mapping[str, torch.Tensor]) -> str | None:
    """The model whose encoder the tensors hold, from their names (``None`` if unrecognised)."""
    if any(k.startswith("trm_model.") for k in state):
        return "MISSRec"
    if any(k.startswith("trm_encoder.") for k in state):
        return "UniSRec" if any(k.startswith("moe_adaptor.") for k in state) else "SASRec"
    return None


def _check_encoder_present(model: torch.nn.Module, state: Mapping[str, torch.Tensor], meta: Mapping[str, Any],
                           path: str | Path) -> None:
    """Refuse a checkpoint lacking any encoder tensor (with or without ``fix_enc``: an encoder left at its random
    initialisation is not a transfer)."""
    required = encoder_keys(model)
    missing = [k for k in required if k not in state]
    if not missing:
        return
    target = type(model).__name__
    source = looks_like(state) or (meta.get("model") if isinstance(meta.get("model"), str) else None)
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    lacks = f"it lacks {len(missing)} of the {len(required)} encoder tensors a transfer loads and freezes ({shown})"
    if source and source != target:
        raise CheckpointError(f"{path} holds a {source} checkpoint, which cannot initialise {target}: {lacks}. "
                              f"Fix: fine-tune it with --model {source}")
    raise CheckpointError(f"{path}: {lacks}. Fix: pass a checkpoint of a {target} model with the same layers")


def _note_card_mismatch(model: torch.nn.Module, meta: Mapping[str, Any], path: str | Path) -> None:
    claimed, target = meta.get("model"), type(model).__name__
    if isinstance(claimed, str) and claimed != target:
        get_logger().warning(f"{path}: its card says {claimed}, but its tensors hold a complete {target} encoder: "
                             f"loading them. Fix: correct the card's \"model\" if it is wrong")


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
