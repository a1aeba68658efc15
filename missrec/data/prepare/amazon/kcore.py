"""Filtering as UniSRec does it (``process_amazon.py::filter_inters``), on integer columns: de-duplication, items with
metadata, then the iterative k-core.

Every function takes and returns a :class:`~missrec.data.prepare.amazon.raw.InteractionTable` restricted by a row
mask (the id lists are shared, never copied), so memory stays at a few arrays of the record count. The plain
in-memory version these are tested against is :mod:`missrec.data.prepare.amazon.reference`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np

from missrec.data.prepare.amazon.raw import InteractionTable


@dataclass(frozen=True)
class MetaFilterReport:
    """Interactions dropped because their item has no metadata record (reported, not fatal)."""

    interactions: int
    items: int


def take(table: InteractionTable, rows: np.ndarray) -> InteractionTable:
    """The records selected by ``rows`` (a boolean mask or indices), in that order."""
    return replace(table, user=table.user[rows], item=table.item[rows], rating=table.rating[rows],
                   timestamp=table.timestamp[rows])


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """For rows sorted by ``keys``: True where a row differs from the previous one in any key (first row True)."""
    starts = np.ones(len(keys[0]), dtype=bool)
    if len(starts) > 1:
        starts[1:] = np.any(np.stack([k[1:] != k[:-1] for k in keys]), axis=0)
    return starts


def dedup_exact(table: InteractionTable) -> InteractionTable:
    """Distinct ``(user, item, rating, timestamp)`` records (UniSRec keeps its ratings in a set)."""
    order = np.lexsort((table.rating, table.timestamp, table.item, table.user))
    sorted_table = take(table, order)
    keys = (sorted_table.user, sorted_table.item, sorted_table.timestamp, sorted_table.rating)
    return take(sorted_table, _group_starts(*keys))


def dedup_pairs(table: InteractionTable) -> tuple[InteractionTable, int]:
    """One record per (user, item): the earliest (ties: lower rating). Returns (kept, number removed).

    UniSRec only removes exact duplicate records (``--dedup exact``, the default), so an item a user rated twice at
    different times stays twice in the sequence; ``--dedup pair`` is for data where that is unwanted.
    """
    order = np.lexsort((table.rating, table.timestamp, table.item, table.user))
    sorted_table = take(table, order)
    kept = take(sorted_table, _group_starts(sorted_table.user, sorted_table.item))
    return kept, len(table) - len(kept)


def filter_by_meta(table: InteractionTable, items_with_meta: Collection[str]) -> tuple[InteractionTable,
                                                                                       MetaFilterReport]:
    """Keep the records whose item has metadata; count what was dropped."""
    has_meta = np.fromiter((asin in items_with_meta for asin in table.items), dtype=bool, count=len(table.items))
    keep = has_meta[table.item]
    dropped_items = int((np.bincount(table.item[~keep], minlength=len(table.items)) > 0).sum())
    report = MetaFilterReport(interactions=int((~keep).sum()), items=dropped_items)
    return take(table, keep), report


def k_core(table: InteractionTable, user_k: int = 5, item_k: int = 5) -> tuple[InteractionTable, int]:
    """Iterative k-core: drop users with < ``user_k`` and items with < ``item_k`` interactions until none is left.

    Both sides are filtered in the same pass, as UniSRec does; the fixed point is the unique largest subgraph where
    every user and item has enough interactions, so the pass order does not change the result. Interactions are
    counted with multiplicity (a user who rated an item twice at different times counts 2, as in UniSRec).

    Returns:
        The surviving records (input order kept) and the number of filtering passes that removed something.
    """
    passes = 0
    while True:
        user_count = np.bincount(table.user, minlength=len(table.users))
        item_count = np.bincount(table.item, minlength=len(table.items))
        keep = (user_count[table.user] >= user_k) & (item_count[table.item] >= item_k)
        if keep.all():
            return table, passes
        table = take(table, keep)
        passes += 1
