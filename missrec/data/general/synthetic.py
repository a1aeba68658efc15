"""Tiny generated general datasets with planted structure, for tests and smoke runs.

Users and items are split into ``n_clusters`` clusters; a user interacts with random items of its own cluster (plus
an occasional random item), and every modality's features are the item's cluster one-hot, scaled, plus noise. A
model that learns anything ranks a user's own cluster first and beats a random ranker by a wide margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from missrec.data.general.dataset import GeneralDataset
from missrec.data.general.split import random_user_split


def planted_dataset(
    n_users: int = 60,
    n_items: int = 48,
    n_clusters: int = 4,
    per_user: tuple[int, int] = (8, 12),
    dims: dict[str, int] | None = None,
    noise_items: float = 0.05,
    seed: int = 0,
    name: str = "planted",
) -> GeneralDataset:
    """A planted-cluster dataset split 8:1:1 per user (see module doc); labels = item clusters."""
    rng = np.random.default_rng(seed)
    dims = {"text": 16, "image": 24} if dims is None else dims
    user_cluster = np.arange(n_users) % n_clusters
    item_cluster = np.arange(n_items) % n_clusters
    pairs = []
    for u in range(n_users):
        own = np.flatnonzero(item_cluster == user_cluster[u])
        n = int(rng.integers(per_user[0], per_user[1] + 1))
        items = rng.choice(own, size=min(n, len(own)), replace=False)
        extra = rng.random(len(items)) < noise_items
        items[extra] = rng.integers(0, n_items, int(extra.sum()))
        pairs.extend((u, int(i)) for i in np.unique(items))
    train, valid, test = random_user_split(np.asarray(pairs, dtype=np.int64), seed)
    features = {}
    for m, (modality, d) in enumerate(dims.items()):
        table = rng.normal(0.0, 0.3, (n_items, d)).astype(np.float32)
        table[np.arange(n_items), (item_cluster + m) % d] += 3.0
        features[modality] = torch.from_numpy(table)
    return GeneralDataset(
        name=name,
        n_users=n_users,
        n_items=n_items,
        splits={"train": train, "valid": valid, "test": test},
        features=features,
        item_labels=torch.from_numpy(item_cluster.astype(np.int64)),
        source=f"planted clusters, seed {seed}",
    )


def write_mmrec_folder(dataset: GeneralDataset, folder: str | Path) -> Path:
    """Write ``dataset`` in MMRec's layout: ``<folder>/<name>.inter`` (x_label) and ``<modality>_feat.npy``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["userID\titemID\trating\ttimestamp\tx_label"]
    for label, split in enumerate(("train", "valid", "test")):
        lines += [f"{u}\t{i}\t5\t0\t{label}" for u, i in dataset.splits[split]]
    (folder / f"{dataset.name}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for modality, table in dataset.features.items():
        np.save(folder / f"{modality}_feat.npy", table.numpy())
    return folder
