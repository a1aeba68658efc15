"""Transfer: load a pre-trained checkpoint into a fine-tuning model and freeze what spec §2.2 freezes.

What transfers: everything in the checkpoint that the model has with the same shape (position embedding,
transformer, input LayerNorm, adaptors, fusion). What is new by design: the item-ID table (a new item set) and the
interest buffers (recomputed by interest discovery). Every other missing or unexpected key is reported, never
silently ignored.
"""

from __future__ import annotations

from pathlib import Path

import torch

from missrec.checkpoint import load_checkpoint, load_into
from missrec.errors import CheckpointError

NEW_BY_DESIGN = ("item_embedding.", "interest_lookup", "interest_embeddings")
FROZEN_BY_FIX_ENC = ("position_embedding.", "trm_model.", "trm_encoder.")


def load_pretrained(model: torch.nn.Module, path: str | Path, fix_enc: bool = True) -> dict:
    """Load ``path`` into ``model`` (strict shapes) and, with ``fix_enc``, freeze position embedding and transformer.

    Returns:
        The load report (``loaded``, ``missing``, ``unexpected``, ``new_by_design``, ``frozen``, ``meta``).
    """
    state, meta = load_checkpoint(path)
    state = {k: v for k, v in state.items() if not k.startswith(NEW_BY_DESIGN)}
    report = load_into(model, state)
    if not report["loaded"]:
        raise CheckpointError(f"{path}: no parameter of the checkpoint matches the model {type(model).__name__}")
    report["new_by_design"] = [k for k in report["missing"] if k.startswith(NEW_BY_DESIGN)]
    report["missing"] = [k for k in report["missing"] if not k.startswith(NEW_BY_DESIGN)]
    report["frozen"] = freeze_encoder(model) if fix_enc else []
    report["meta"] = meta
    return report


def freeze_encoder(model: torch.nn.Module) -> list[str]:
    """``requires_grad = False`` for the position embedding and the transformer (spec §2.2); returns their names."""
    frozen = []
    for name, param in model.named_parameters():
        if name.startswith(FROZEN_BY_FIX_ENC):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


def count_trainable(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
