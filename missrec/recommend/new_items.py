"""Features of new items for an inductive model: from texts (the dataset's text encoder) or given per modality.

A model reads raw features of fixed dimensions per modality (MISSRec: every modality of its dataset; UniSRec: its
``text_modality``). Texts are encoded by the text encoder the dataset's text features come from (MiniLM for
ML100K_mm_full and ML1M_genres) into the text modality; every modality a new item has no features for gets an
all-zero row, which is how the datasets mark a missing modality (spec missrec.md §3.1).

Files for ``recommend.py --add-items``: a TSV of ``id<TAB>text`` rows (optional header ``item_id<TAB>text``), or a
folder with ``items.tsv`` (the same, text optional) and one ``<modality>.npy`` float32 ``[n, d]`` per modality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from missrec.errors import data_error
from missrec.recommend.errors import RecommendError

TEXT_MODALITY = "text"


def encode_texts(texts: Sequence[str], modality: str, dim: int, encoder: Any = "minilm") -> np.ndarray:
    """``[n, dim]`` features of ``texts`` from ``encoder`` (a name of :mod:`missrec.encoders` or an object with
    ``dim`` and ``encode``); its dimension must be the modality's."""
    if isinstance(encoder, str):
        from missrec.encoders import get_text_encoder

        encoder = get_text_encoder(encoder)
    if int(encoder.dim) != dim:
        raise RecommendError(
            f"texts: the model's '{modality}' features are {dim}-d but the {getattr(encoder, 'name', 'given')} encoder "
            f"gives {encoder.dim}-d. Fix: pass the text encoder the dataset was built with, or features={{'{modality}': ...}}"
        )
    empty = [i for i, t in enumerate(texts) if not str(t).strip()]
    if empty:
        raise RecommendError(f"texts: position(s) {empty[:10]} are empty. Fix: give every new item a text (e.g. its title)")
    return np.asarray(encoder.encode(list(texts), show_progress=False), dtype=np.float32)


def text_modality_of(dims: Mapping[str, int], preferred: str | None = None) -> str:
    """The modality texts are encoded into: ``preferred`` (UniSRec's ``text_modality``) or ``text``."""
    name = preferred or TEXT_MODALITY
    if name not in dims:
        raise RecommendError(
            f"texts: this model has no '{name}' modality (it reads {sorted(dims)}). Fix: pass features={{modality: array}}"
        )
    return name


def check_features(features: Mapping[str, Any], dims: Mapping[str, int], n: int) -> dict[str, torch.Tensor]:
    """Validate per-modality features ``{modality: [n, d_m]}``; modalities not given become zero rows.

    Returns:
        ``{modality: float32 [n, d_m]}`` for every modality of ``dims``, in its order.
    """
    unknown = sorted(set(features) - set(dims))
    if unknown:
        raise RecommendError(f"features: unknown modality {unknown}. Fix: use the model's modalities {sorted(dims)}")
    if not features:
        raise RecommendError(f"features: no modality given. Fix: pass at least one of {sorted(dims)}")
    out: dict[str, torch.Tensor] = {}
    for modality, dim in dims.items():
        if modality not in features:
            out[modality] = torch.zeros(n, dim)
            continue
        table = torch.as_tensor(np.asarray(features[modality], dtype=np.float32))
        if table.dim() == 1 and n == 1:
            table = table.unsqueeze(0)
        if tuple(table.shape) != (n, dim):
            raise RecommendError(f"features['{modality}']: expected shape ({n}, {dim}) (one row per new item), found {tuple(table.shape)}")
        if not torch.isfinite(table).all():
            raise RecommendError(f"features['{modality}']: NaN/inf values. Fix: a missing modality is an all-zero row")
        out[modality] = table
    return out


def read_items_tsv(path: str | Path) -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of an ``id<TAB>text`` file (text may be absent: then "")."""
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "a TSV of new items (id<TAB>text per line)", "no such file", "check the --add-items path")
    ids, texts = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or (number == 1 and line.split("\t")[0].split(":")[0].strip() == "item_id"):
            continue
        raw, _, text = line.partition("\t")
        if not raw.strip():
            raise data_error(f"{path}:{number}", "'id<TAB>text'", repr(line[:80]), "start every line with the new item's id")
        ids.append(raw.strip())
        texts.append(text.strip())
    if not ids:
        raise data_error(path, "at least one 'id<TAB>text' line", "none", "add the new items")
    return ids, texts


def read_items_folder(folder: str | Path) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """``(ids, texts, {modality: [n, d]})`` of a folder with ``items.tsv`` and ``<modality>.npy`` files."""
    folder = Path(folder)
    ids, texts = read_items_tsv(folder / "items.tsv")
    features = {p.stem: np.load(p, allow_pickle=False) for p in sorted(folder.glob("*.npy"))}
    if not features:
        raise data_error(folder, "one <modality>.npy per modality (float32 [n, d])", "none", "save the features with numpy.save")
    return ids, texts, features
