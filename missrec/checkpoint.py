"""Self-describing checkpoints: ``<stem>.safetensors`` (tensors) + ``<stem>.json`` (config, epoch, metrics, data).

Nothing is ever unpickled: weights are safetensors, metadata is JSON. Both files are written atomically (temp file +
rename), the JSON last, so a ``.json`` beside a ``.safetensors`` always describes a complete weight file. The card
records the weight file's sha256, and so may a shipped model card ``<stem>.md`` (a ``sha256 (safetensors)`` row):
loading checks every recorded digest, so a card never describes a file it was not written for.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from missrec.data.prepare.checksums import sha256_file
from missrec.errors import CheckpointError
from missrec.io_utils import atomic_write_bytes, atomic_write_json

FORMAT_VERSION = 1


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """``(<stem>.safetensors, <stem>.json)``; a path given with either suffix is accepted."""
    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_checkpoint(stem: str | Path, state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> Path:
    """Write ``state_dict`` and ``meta`` (JSON-serialisable) atomically; returns the ``.safetensors`` path."""
    weights, info = checkpoint_paths(stem)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    data = save(tensors)
    atomic_write_bytes(weights, data)
    atomic_write_json(info, {"format_version": FORMAT_VERSION, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **meta,
                             "sha256": hashlib.sha256(data).hexdigest()})
    return weights


def load_checkpoint(stem: str | Path, device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(state_dict, meta)``."""
    weights, info = checkpoint_paths(stem)
    if not weights.is_file():
        raise CheckpointError(f"{weights}: no such checkpoint. Fix: pass the .safetensors file (or its stem)")
    meta = read_card(info)
    check_recorded_digests(weights, meta)
    try:
        state = load_file(str(weights), device=str(device))
    except Exception as e:  # safetensors raises its own error types for truncated/corrupt files
        raise CheckpointError(f"{weights}: not a readable safetensors file ({e}). Fix: re-download or re-save it") from e
    return state, meta


def read_card(info: Path) -> dict:
    """The JSON card ``<stem>.json`` (``{}`` when there is none); one error naming it when it is not a JSON object."""
    if not info.is_file():
        return {}
    try:
        meta = json.loads(info.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{info}: expected a JSON model card, found invalid JSON ({e}). Fix: restore the card "
                              "from where the checkpoint came from, or delete it to load the weights without one") from e
    if not isinstance(meta, dict):
        raise CheckpointError(f"{info}: expected a JSON model card (an object), found {type(meta).__name__}. "
                              "Fix: restore the card, or delete it")
    return meta


MODEL_CARD_SHA256 = re.compile(r"sha256 \(safetensors\)\s*\|\s*`([0-9a-f]{64})`")


def check_recorded_digests(weights: Path, meta: dict) -> None:
    """Compare the weight file's sha256 with the one its JSON card and its markdown model card record, if any."""
    recorded = []
    if isinstance(meta.get("sha256"), str):
        recorded.append((meta["sha256"], weights.with_suffix(".json").name))
    card = weights.with_suffix(".md")
    if card.is_file():
        match = MODEL_CARD_SHA256.search(card.read_text(encoding="utf-8", errors="replace"))
        if match:
            recorded.append((match.group(1), card.name))
    if not recorded:
        return
    actual = sha256_file(weights)
    for expected, source in recorded:
        if expected != actual:
            raise CheckpointError(f"{weights}: expected sha256 {expected[:16]}... (recorded in {source}), found "
                                  f"{actual[:16]}...: this is not the file the card describes. Fix: re-download "
                                  "the checkpoint, or use the card written with it")


def load_into(model: torch.nn.Module, state: Mapping[str, torch.Tensor], strict_shapes: bool = True) -> dict:
    """Load ``state`` into ``model`` non-strictly and report exactly what did not match.

    Returns:
        ``{"loaded": [...], "missing": [...], "unexpected": [...], "shape_mismatch": [...]}``; a shape mismatch is
        an error unless ``strict_shapes`` is False (then those keys are skipped and listed).
    """
    own = model.state_dict()
    mismatched = [k for k, v in state.items() if k in own and own[k].shape != v.shape and not _resizable(k)]
    if mismatched and strict_shapes:
        details = ", ".join(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in mismatched)
        raise CheckpointError(f"checkpoint does not fit the model ({details}). Fix: use the same hidden size/modalities")
    usable = {k: v for k, v in state.items() if k not in mismatched}
    result = model.load_state_dict(usable, strict=False)
    return {
        "loaded": sorted(k for k in usable if k in own),
        "missing": sorted(result.missing_keys),
        "unexpected": sorted(result.unexpected_keys),
        "shape_mismatch": sorted(mismatched),
    }


def _resizable(key: str) -> bool:
    """Buffers whose size legitimately changes between runs (MISSRec's interest tables)."""
    return key.rsplit(".", 1)[-1] in ("interest_lookup", "interest_embeddings")
