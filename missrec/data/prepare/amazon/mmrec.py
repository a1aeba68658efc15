"""Export a benchmark folder in MMRec's general-recommendation format (spec graph_models.md §1.1).

``<out>/<ds>/``:

* ``<ds>.inter``: TAB-separated, header ``userID itemID rating timestamp x_label``; ``userID``/``itemID`` are the
  indices of the benchmark's ``.user2index``/``.item2index``, so graph and sequential models see the same items;
* ``text_feat.npy`` / ``image_feat.npy``: float32 ``[n_items, d]`` copies of the folder's feature files, saved with
  ``np.save`` (no pickle), row i = item i.

The split is MMRec's ``preprocessing/1splitting.ipynb``: shuffle all interactions, group them by user, then per user
with n interactions label them in that order

* n < 10: n - 2 train, 1 valid, 1 test;
* otherwise: ``int(0.2 n)`` held out, of which ``int(0.2 n) // 2`` valid and the rest test, the remaining train.

MMRec shuffles with ``DataFrame.sample`` and groups with an unstable quicksort, so its order is not reproducible;
here the shuffle is ``numpy.random.RandomState(seed).permutation`` over the interactions in ``.interactions.tsv``
order and the grouping a stable sort by user, which gives the same per-user random 8:1:1 split, reproducibly.

Two choices differ from the benchmark files on purpose: a (user, item) pair that occurs twice (UniSRec keeps a
re-rating at a different time) is written once, with its earliest record, since a graph has one edge per pair; and
MMRec fills a missing image with the mean feature, which ``missing_image="mean"`` reproduces (default: zero rows,
as MISSRec's files have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from missrec.data.prepare.amazon.folder import BenchmarkFolder
from missrec.data.prepare.amazon.staging import ensure_writable, refresh_manifest, staged_folder
from missrec.io_utils import atomic_open

INTER_HEADER = "userID\titemID\trating\ttimestamp\tx_label\n"
TRAIN, VALID, TEST = 0, 1, 2


def split_labels(n: int) -> list[int]:
    """MMRec's x_label sequence for a user with ``n`` interactions (in shuffled order).

    A user left with fewer than 3 (possible only after merging repeated pairs) keeps the last ``n`` labels.
    """
    if n < 10:
        return ([TRAIN] * (n - 2) + [VALID, TEST])[-n:] if n else []
    held_out = int(0.2 * n)
    valid = held_out // 2
    return [TRAIN] * (n - held_out) + [VALID] * valid + [TEST] * (held_out - valid)


def mmrec_rows(interactions: list[tuple[int, int, str, str]], seed: int) -> tuple[list[tuple], int]:
    """Label interactions ``(user, item, rating, timestamp)``; returns rows with x_label and the duplicates dropped."""
    seen: set[tuple[int, int]] = set()
    unique = []
    for row in interactions:  # file order is time order per user: the first occurrence is the earliest
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            unique.append(row)
    order = np.random.RandomState(seed).permutation(len(unique))
    users = np.fromiter((unique[i][0] for i in order), dtype=np.int64, count=len(order))
    order = order[np.argsort(users, kind="stable")]
    rows: list[tuple] = []
    start = 0
    while start < len(order):
        user = unique[order[start]][0]
        end = start
        while end < len(order) and unique[order[end]][0] == user:
            end += 1
        for i, label in zip(order[start:end], split_labels(end - start), strict=True):
            rows.append((*unique[i], label))
        start = end
    return rows, len(interactions) - len(unique)


def export_mmrec(
    folder: str | Path,
    out_dir: str | Path,
    text_suffix: str = "feat1CLS",
    image_suffix: str = "feat3CLS",
    seed: int = 2020,
    missing_image: str = "zero",
) -> dict[str, Any]:
    """Write the MMRec dataset folder ``out_dir`` (its name is the MMRec dataset name) from a benchmark folder.

    Returns:
        Counts: users, items, interactions, per-split sizes, duplicate pairs dropped, feature shapes.
    """
    if missing_image not in ("zero", "mean"):
        raise ValueError(f"missing_image must be 'zero' or 'mean', got {missing_image!r}")
    bench = BenchmarkFolder(folder)
    ensure_writable(Path(out_dir).parent)  # before the features are read
    n_items = len(bench.item_ids())
    n_users = len(bench.user_ids())
    text = bench.read_features(text_suffix, n_items)
    image = bench.read_features(image_suffix, n_items)
    if missing_image == "mean":
        image = _mean_fill(image)
    rows, duplicates = mmrec_rows(bench.interactions(), seed)
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        with atomic_open(staging / f"{out_dir.name}.inter") as f:
            f.write(INTER_HEADER)
            for user, item, rating, timestamp, label in rows:
                f.write(f"{user}\t{item}\t{rating}\t{timestamp}\t{label}\n")
        for name, array in (("text_feat.npy", text), ("image_feat.npy", image)):
            with atomic_open(staging / name, "wb") as f:
                np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        refresh_manifest(staging, out_dir.name)
    labels = np.array([r[4] for r in rows])
    return {
        "users": n_users,
        "items": n_items,
        "interactions": len(rows),
        "train": int((labels == TRAIN).sum()),
        "valid": int((labels == VALID).sum()),
        "test": int((labels == TEST).sum()),
        "duplicate_pairs_dropped": duplicates,
        "text_feat": list(text.shape),
        "image_feat": list(image.shape),
    }


def _mean_fill(features: np.ndarray) -> np.ndarray:
    """Replace all-zero rows by the mean of the others (MMRec's imputation of missing image features)."""
    zero = ~features.any(axis=1)
    if zero.all() or not zero.any():
        return features
    filled = features.copy()
    filled[zero] = features[~zero].mean(axis=0)
    return filled
