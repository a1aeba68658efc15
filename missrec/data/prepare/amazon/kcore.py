"""Filtering as UniSRec does it (``process_amazon.py::filter_inters``): items with metadata, then iterative k-core."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from missrec.data.prepare.amazon.raw import Interaction


@dataclass(frozen=True)
class MetaFilterReport:
    """Interactions dropped because their item has no metadata record (reported, not fatal)."""

    interactions: int
    items: int


def filter_by_meta(
    inters: Iterable[Interaction], items_with_meta: Collection[str]
) -> tuple[list[Interaction], MetaFilterReport]:
    """Keep the interactions whose item has metadata; count what was dropped."""
    kept: list[Interaction] = []
    dropped_items: set[str] = set()
    dropped = 0
    for inter in inters:
        if inter[1] in items_with_meta:
            kept.append(inter)
        else:
            dropped += 1
            dropped_items.add(inter[1])
    return kept, MetaFilterReport(interactions=dropped, items=len(dropped_items))


def k_core(inters: list[Interaction], user_k: int = 5, item_k: int = 5) -> tuple[list[Interaction], int]:
    """Iterative k-core: drop users with < ``user_k`` and items with < ``item_k`` interactions until none is left.

    Both sides are filtered in the same pass, as UniSRec does; the fixed point is the unique largest subgraph where
    every user and item has enough interactions, so the pass order does not change the result. Interactions are
    counted with multiplicity (a user who rated an item twice at different times counts 2, as in UniSRec).

    Returns:
        The surviving interactions (input order kept) and the number of filtering passes that removed something.
    """
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
