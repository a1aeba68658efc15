"""The plain in-memory processing, as UniSRec's ``process_amazon.py`` writes it: sets and lists of Python tuples.

Easy to check by eye, and the reference the column-based build (:mod:`.kcore`, :mod:`.sequences`) is tested against:
``build_category(..., reference=True)`` runs it, and tests and ``benchmarks/amazon_pipeline.py`` compare the two
folders byte for byte. It needs about 1 KB of memory per record (GBs on a large category), so it is not the default.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from pathlib import Path

import numpy as np

from missrec.data.prepare.amazon.raw import Interaction, iter_records
from missrec.data.prepare.amazon.sequences import Processed, Timeline


def read_interactions(path: str | Path, desc: str | None = None) -> tuple[set[Interaction], int]:
    """The set of distinct ``(user, item, rating, timestamp)`` records, and the number of records read."""
    inters: set[Interaction] = set()
    n_read = 0
    for record in iter_records(path, desc):
        inters.add(record)
        n_read += 1
    return inters, n_read


def dedup_pairs(inters: Iterable[Interaction]) -> tuple[list[Interaction], int]:
    """One interaction per (user, item): the earliest (ties: lower rating). Returns (kept, number removed)."""
    first: dict[tuple[str, str], Interaction] = {}
    n = 0
    for inter in inters:
        n += 1
        best = first.get((inter[0], inter[1]))
        if best is None or (inter[3], inter[2]) < (best[3], best[2]):
            first[(inter[0], inter[1])] = inter
    return list(first.values()), n - len(first)


def filter_by_meta(inters: Iterable[Interaction], items_with_meta: Collection[str]) -> tuple[list[Interaction],
                                                                                           int, int]:
    """Keep the interactions whose item has metadata; returns (kept, interactions dropped, items dropped)."""
    kept = [x for x in inters if x[1] in items_with_meta]
    dropped = [x[1] for x in inters if x[1] not in items_with_meta]
    return kept, len(dropped), len(set(dropped))


def k_core(inters: list[Interaction], user_k: int = 5, item_k: int = 5) -> tuple[list[Interaction], int]:
    """Iterative k-core with multiplicity; returns the survivors and the passes that removed something."""
    passes = 0
    while True:
        user_count = Counter(u for u, _, _, _ in inters)
        item_count = Counter(i for _, i, _, _ in inters)
        users = {u for u, c in user_count.items() if c >= user_k}
        items = {i for i, c in item_count.items() if c >= item_k}
        if len(users) == len(user_count) and len(items) == len(item_count):
            return inters, passes
        inters = [x for x in inters if x[0] in users and x[1] in items]
        passes += 1


def build_timeline(inters: Iterable[Interaction]) -> Timeline:
    """Users by raw id, each user's interactions by (timestamp, asin, rating), items by first appearance."""
    by_user: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for user, item, rating, timestamp in inters:
        by_user[user].append((timestamp, item, rating))
    user_ids = sorted(by_user)
    item_index: dict[str, int] = {}
    rows: list[tuple[int, float, int]] = []
    ptr = [0]
    for user in user_ids:
        for timestamp, item, rating in sorted(by_user[user]):
            rows.append((item_index.setdefault(item, len(item_index)), rating, timestamp))
        ptr.append(len(rows))
    return Timeline(
        user_ids=user_ids,
        item_ids=list(item_index),
        user_ptr=np.array(ptr, dtype=np.int64),
        items=np.array([r[0] for r in rows], dtype=np.int64),
        ratings=np.array([r[1] for r in rows], dtype=np.float64),
        timestamps=np.array([r[2] for r in rows], dtype=np.int64),
    )


def process(reviews: str | Path, items_with_meta: Collection[str], user_k: int, item_k: int, dedup: str,
            desc: str | None = None) -> Processed:
    """The whole processing of one category's interactions (same contract as ``build.process_columns``)."""
    inters, n_read = read_interactions(reviews, desc)
    n_distinct = len(inters)
    kept, merged = dedup_pairs(inters) if dedup == "pair" else (list(inters), 0)
    kept, dropped, dropped_items = filter_by_meta(kept, items_with_meta)
    kept, passes = k_core(kept, user_k, item_k)
    return Processed(build_timeline(kept), n_read, n_distinct, merged, dropped, dropped_items, passes)
