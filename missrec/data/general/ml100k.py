"""The embedded MovieLens-100K in general (graph) form: ``ML100K_general``.

* interactions: every rating of recbole's bundled ``ml-100k.inter`` (943 users, 1,682 items, 100,000 pairs); users
  indexed by ascending MovieLens user id, items by ascending MovieLens item id (the order of
  :func:`missrec.data.prepare.ml100k.load_items`, so item ``i`` is row ``i`` of the sequential dataset's features);
* split: MMRec's per-user random 8:1:1 (:func:`missrec.data.general.split.random_user_split`) with ``split_seed``;
* modalities: the sequential dataset's files, MiniLM text (``.feat1CLS``, 384-d) and knowledge graph (``.featKG``,
  64-d, zero rows for the 86 items without a Freebase link), read from ``<data_path>/ML100K_mm_full/``;
* category labels (for SGFD): each movie's first listed genre, indexed in sorted genre order (19 classes).

Nothing is written to disk: the split is rebuilt in memory (well under a second) from the seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from missrec.data.general.dataset import GeneralDataset
from missrec.data.general.features import load_modalities, to_tensors
from missrec.data.general.split import random_user_split
from missrec.data.prepare import ml100k

NAME = "ML100K_general"
FEATURE_DIR = ml100k.NAME
DEFAULT_FILES = {"text": f"{ml100k.NAME}.feat1CLS", "kg": f"{ml100k.NAME}.featKG"}


def genre_labels(classes: list[str]) -> tuple[np.ndarray, list[str]]:
    """First genre of each item's space-separated genre list -> ``(labels [I], sorted genre names)``."""
    first = [c.split()[0] if c.split() else "unknown" for c in classes]
    names = sorted(set(first))
    index = {g: i for i, g in enumerate(names)}
    return np.asarray([index[g] for g in first], dtype=np.int64), names


def load_ml100k_general(
    data_path: str | Path, split_seed: int = 2020, modality_files: Mapping[str, str] | None = None
) -> GeneralDataset:
    """Build ``ML100K_general`` in memory.

    Args:
        data_path: folder holding ``ML100K_mm_full/`` (the shipped feature files).
        split_seed: seed of the 8:1:1 split.
        modality_files: ``{modality: file}`` relative to ``<data_path>/ML100K_mm_full``; default text + kg.
    """
    src = ml100k.source_dir()
    items = ml100k.load_items(src)
    item_index = {item: i for i, item in enumerate(items["item_id"])}
    inter = ml100k._read(src / "ml-100k.inter")
    user_ids = sorted(set(inter["user_id"].astype(int)))
    user_index = {u: i for i, u in enumerate(user_ids)}
    pairs = np.stack(
        [inter["user_id"].astype(int).map(user_index).to_numpy(), inter["item_id"].map(item_index).to_numpy()], 1
    ).astype(np.int64)
    pairs = np.unique(pairs, axis=0)
    train, valid, test = random_user_split(pairs, split_seed)
    files = dict(modality_files) if modality_files is not None else DEFAULT_FILES
    arrays = load_modalities(Path(data_path) / FEATURE_DIR, files, n_rows=len(items))
    labels, _ = genre_labels(list(items["class"]))
    return GeneralDataset(
        name=NAME,
        n_users=len(user_ids),
        n_items=len(items),
        splits={"train": train, "valid": valid, "test": test},
        features=to_tensors(arrays),
        item_labels=torch.from_numpy(labels),
        source=f"recbole ml-100k, random per-user 8:1:1 split, seed {split_seed}",
    )
