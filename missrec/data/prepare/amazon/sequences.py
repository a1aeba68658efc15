"""Time-ordered user sequences and the id maps (UniSRec ``make_inters_in_order`` + ``convert_inters2dict``).

UniSRec walks its users in the iteration order of a Python set and sorts each user's interactions by timestamp with
ties left in set order, so its indices change from run to run (its README says so). Here every order is fixed:

* a user's interactions are sorted by ``(timestamp, asin, rating)``: same-second ties go by item id;
* users are indexed in the sorted order of their raw ``reviewerID``;
* items are indexed by first appearance when the users' sequences are read one after the other in user-index order
  (UniSRec's rule, with its user order made deterministic).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from missrec.data.prepare.amazon.raw import Interaction

DEDUP_MODES = ("exact", "pair")


def dedup_pairs(inters: Iterable[Interaction]) -> tuple[list[Interaction], int]:
    """Keep one interaction per (user, item): the earliest (ties: lower rating). Returns (kept, number removed).

    UniSRec only removes exact duplicate records (``--dedup exact``, the default), so an item a user rated twice at
    different times stays twice in the sequence; ``--dedup pair`` is for data where that is unwanted.
    """
    first: dict[tuple[str, str], Interaction] = {}
    n = 0
    for inter in inters:
        n += 1
        key = (inter[0], inter[1])
        best = first.get(key)
        if best is None or (inter[3], inter[2]) < (best[3], best[2]):
            first[key] = inter
    return list(first.values()), n - len(first)


@dataclass(frozen=True)
class Timeline:
    """Every user's time-ordered interactions, in index space."""

    user_ids: list[str]  # user index -> raw reviewerID
    item_ids: list[str]  # item index -> raw asin
    events: list[list[tuple[int, float, int]]]  # events[u] = [(item index, rating, timestamp), ...], oldest first

    @property
    def sequences(self) -> list[list[int]]:
        """``sequences[u]`` = user u's item indices, oldest first (what the benchmark writer takes)."""
        return [[item for item, _, _ in user_events] for user_events in self.events]

    @property
    def n_interactions(self) -> int:
        return sum(len(e) for e in self.events)


def build_timeline(inters: Iterable[Interaction]) -> Timeline:
    """Order and index interactions by the rules in the module docstring."""
    by_user: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for user, item, rating, timestamp in inters:
        by_user[user].append((timestamp, item, rating))
    user_ids = sorted(by_user)
    item_index: dict[str, int] = {}
    events: list[list[tuple[int, float, int]]] = []
    for user in user_ids:
        user_events = []
        for timestamp, item, rating in sorted(by_user[user]):
            index = item_index.setdefault(item, len(item_index))
            user_events.append((index, rating, timestamp))
        events.append(user_events)
    return Timeline(user_ids=user_ids, item_ids=list(item_index), events=events)
