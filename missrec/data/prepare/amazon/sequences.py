"""Time-ordered user sequences and the id maps (UniSRec ``make_inters_in_order`` + ``convert_inters2dict``).

UniSRec walks its users in the iteration order of a Python set and sorts each user's interactions by timestamp with
ties left in set order, so its indices change from run to run (its README says so). Here every order is fixed:

* a user's interactions are sorted by ``(timestamp, asin, rating)``: same-second ties go by item id;
* users are indexed in the sorted order of their raw ``reviewerID``;
* items are indexed by first appearance when the users' sequences are read one after the other in user-index order
  (UniSRec's rule, with its user order made deterministic).

:func:`build_timeline` does it with one sort of integer columns; only the surviving ids' strings are sorted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from missrec.data.prepare.amazon.raw import InteractionTable

DEDUP_MODES = ("exact", "pair")


@dataclass(frozen=True)
class Timeline:
    """Every user's time-ordered interactions, in index space, as flat columns.

    User ``u``'s interactions are rows ``user_ptr[u]:user_ptr[u + 1]``, oldest first.
    """

    user_ids: list[str]  # user index -> raw reviewerID
    item_ids: list[str]  # item index -> raw asin
    user_ptr: np.ndarray  # int64 [U + 1]
    items: np.ndarray  # int64 [n]: item index
    ratings: np.ndarray  # float64 [n]
    timestamps: np.ndarray  # int64 [n]

    @property
    def sequences(self) -> Sequence[list[int]]:
        """``sequences[u]`` = user u's item indices, oldest first (what the benchmark writer takes)."""
        return _Sequences(self.user_ptr, self.items)

    @property
    def n_interactions(self) -> int:
        return int(self.user_ptr[-1])


class _Sequences(Sequence):
    """A read-only view ``[U]`` of per-user item lists; each list is made when asked for."""

    def __init__(self, user_ptr: np.ndarray, items: np.ndarray) -> None:
        self.user_ptr, self.items = user_ptr, items

    def __len__(self) -> int:
        return len(self.user_ptr) - 1

    def __getitem__(self, u):  # type: ignore[override]
        if isinstance(u, slice):
            return [self[i] for i in range(*u.indices(len(self)))]
        if not -len(self) <= u < len(self):
            raise IndexError(u)
        u %= len(self)
        return self.items[self.user_ptr[u] : self.user_ptr[u + 1]].tolist()


def _by_name(codes: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``codes`` sorted by their ``names`` ``[P]``, and ``rank [len(names)]`` (position there, else -1)."""
    ordered = np.array(sorted(np.unique(codes).tolist(), key=names.__getitem__), dtype=np.int64)
    rank = np.full(len(names), -1, dtype=np.int64)
    rank[ordered] = np.arange(len(ordered))
    return ordered, rank


def build_timeline(table: InteractionTable) -> Timeline:
    """Order and index interactions by the rules in the module docstring."""
    users_in_rank, user_rank = _by_name(table.user, table.users)
    _, item_rank = _by_name(table.item, table.items)  # asin order, for same-second ties
    order = np.lexsort((table.rating, item_rank[table.item], table.timestamp, user_rank[table.user]))
    items_in_order = table.item[order]
    present, first = np.unique(items_in_order, return_index=True)
    by_appearance = present[np.argsort(first)]
    index_of = np.full(len(table.items), -1, dtype=np.int64)
    index_of[by_appearance] = np.arange(len(by_appearance))
    counts = np.bincount(user_rank[table.user], minlength=len(users_in_rank))
    return Timeline(
        user_ids=[table.users[c] for c in users_in_rank.tolist()],
        item_ids=[table.items[c] for c in by_appearance.tolist()],
        user_ptr=np.concatenate([np.zeros(1, np.int64), np.cumsum(counts)]),
        items=index_of[items_in_order],
        ratings=table.rating[order],
        timestamps=table.timestamp[order],
    )


@dataclass(frozen=True)
class Processed:
    """What the processing of one category yields: the timeline and the counts of every step."""

    timeline: Timeline
    records_read: int
    distinct_records: int
    same_pair_merged: int
    without_meta_interactions: int
    without_meta_items: int
    kcore_passes: int
