"""The in-memory dataset every general (graph) recommender trains on.

One canonical form whatever the source format (MMRec ``.inter``, LATTICE/MICRO/MMSSL JSON, SGFD csv, the
embedded MovieLens-100K): users ``0..U-1``, items ``0..I-1``, three splits of (user, item) pairs, an ordered list of
modality feature tables (any number: text, image, audio, knowledge graph ...) with row ``i`` = item ``i``, and
optional per-item category labels (SGFD).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from missrec.errors import DataError

SPLITS = ("train", "valid", "test")


def dedup_pairs(pairs: np.ndarray, n_items: int) -> np.ndarray:
    """Unique ``(user, item)`` rows ``[E, 2]`` sorted by (user, item)."""
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    key = np.unique(pairs[:, 0].astype(np.int64) * n_items + pairs[:, 1].astype(np.int64))
    return np.stack([key // n_items, key % n_items], 1)


@dataclass
class GeneralDataset:
    """Users, items, splits, modalities and labels of one general-recommendation dataset.

    Attributes:
        name: dataset name.
        n_users: U (every user id is below it).
        n_items: I (= rows of every feature table).
        splits: ``{"train"|"valid"|"test": int64 [E, 2]}`` unique (user, item) pairs sorted by (user, item).
        features: ``{modality: float32 [I, d_m]}`` in declaration order.
        item_labels: int64 ``[I]`` category label per item, or None.
        source: where it came from (format and folder), for logs and checkpoints.
    """

    name: str
    n_users: int
    n_items: int
    splits: dict[str, np.ndarray]
    features: dict[str, torch.Tensor] = field(default_factory=dict)
    item_labels: torch.Tensor | None = None
    source: str = ""

    def __post_init__(self) -> None:
        self.splits = {s: np.asarray(self.splits.get(s, np.zeros((0, 2))), dtype=np.int64).reshape(-1, 2) for s in SPLITS}
        validate(self)  # before deduplication, which assumes ids in range
        self.splits = {s: dedup_pairs(p, self.n_items) for s, p in self.splits.items()}

    # ---- views -------------------------------------------------------------------------------------------------
    @property
    def modalities(self) -> list[str]:
        """Modality names in declaration order."""
        return list(self.features)

    @property
    def feature_list(self) -> list[torch.Tensor]:
        """Feature tables ``[I, d_m]`` in declaration order."""
        return list(self.features.values())

    def pairs(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """``(users [E], items [E])`` int64 tensors of a split."""
        p = self.splits[split]
        return torch.from_numpy(p[:, 0].copy()), torch.from_numpy(p[:, 1].copy())

    def user_items(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """CSR of a split: ``indptr [U+1]`` and ``indices [E]`` (items of user u = indices[indptr[u]:indptr[u+1]])."""
        p = self.splits[split]
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(p[:, 0], minlength=self.n_users), out=indptr[1:])
        return indptr, p[:, 1].copy()

    def stats(self) -> dict:
        """Sizes for logs and results."""
        inter = sum(len(p) for p in self.splits.values())
        return {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": inter,
            "sparsity": 1.0 - inter / max(self.n_users * self.n_items, 1),
            **{f"{s}_rows": len(self.splits[s]) for s in SPLITS},
            "modalities": {m: int(f.shape[1]) for m, f in self.features.items()},
            "labels": int(self.item_labels.max()) + 1 if self.item_labels is not None and len(self.item_labels) else 0,
        }

    def fingerprint(self) -> dict:
        """What a checkpoint records about its data: sizes and a hash of the splits."""
        digest = hashlib.sha256()
        for s in SPLITS:
            digest.update(s.encode())
            digest.update(np.ascontiguousarray(self.splits[s]).tobytes())
        return {"dataset": self.name, "source": self.source, **self.stats(), "splits_sha256": digest.hexdigest()}


def validate(data: GeneralDataset) -> None:
    """Raise one :class:`DataError` naming the first inconsistency (ids, empty train, feature shapes, labels)."""
    where = f"dataset '{data.name}'" + (f" ({data.source})" if data.source else "")
    if data.n_users <= 0 or data.n_items <= 0:
        raise DataError(f"{where}: expected users and items, found U={data.n_users}, I={data.n_items}. "
                        "Fix: check that the interaction file has rows (and its feature files rows)")
    for split, p in data.splits.items():
        if len(p) and (p.min() < 0 or p[:, 0].max() >= data.n_users or p[:, 1].max() >= data.n_items):
            raise DataError(
                f"{where}: {split} split has ids outside [0, U={data.n_users}) x [0, I={data.n_items}). "
                "Fix: re-index users and items from 0"
            )
    if len(data.splits["train"]) == 0:
        raise DataError(f"{where}: expected training interactions, found none. Fix: check the split labels/files")
    for name, table in data.features.items():
        _check_table(where, name, table, data.n_items)
    if data.item_labels is not None:
        labels = data.item_labels
        if labels.dim() != 1 or labels.shape[0] != data.n_items or labels.dtype != torch.int64:
            raise DataError(
                f"{where}: expected item labels int64 [{data.n_items}], found {labels.dtype} {tuple(labels.shape)}. "
                "Fix: one integer category per item"
            )
        if len(labels) and labels.min() < 0:
            raise DataError(f"{where}: item labels must be >= 0, found {int(labels.min())}")


def _check_table(where: str, name: str, table: torch.Tensor, n_items: int) -> None:
    if table.dim() != 2 or table.shape[0] != n_items:
        raise DataError(
            f"{where}: modality '{name}' expected [{n_items}, d] (one row per item), found {tuple(table.shape)}. "
            "Fix: use the feature file that belongs to this item list"
        )
    if not torch.isfinite(table).all():
        rows = torch.nonzero(~torch.isfinite(table).all(1)).flatten()[:5].tolist()
        raise DataError(f"{where}: modality '{name}' has NaN/inf (first rows {rows}). Fix: re-extract those items")


def resolve_n_items(max_item_id: int, features: Mapping[str, np.ndarray | torch.Tensor], where: str) -> int:
    """The item count: the feature tables' row count (all must agree and cover every item id), else max id + 1.

    Feature tables may have rows for items that never occur in an interaction (LATTICE's JSON takes I = max id + 1,
    which is then wrong by the missing tail); they may not have fewer rows than the largest item id needs.
    """
    rows = {name: int(t.shape[0]) for name, t in features.items()}
    if not rows:
        return max_item_id + 1
    if len(set(rows.values())) > 1:
        raise DataError(f"{where}: expected the same number of rows in every feature file, found {rows}. Fix: use matching files")
    n = next(iter(rows.values()))
    if n < max_item_id + 1:
        raise DataError(
            f"{where}: expected at least {max_item_id + 1} feature rows (largest item id {max_item_id}), found {rows}. "
            "Fix: use the feature files that belong to these interactions"
        )
    return n
