"""Errors of the recommendation API: one message naming the field, what was wrong and the fix."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from missrec.errors import MissrecError

SHOWN = 10  # unknown ids listed in one message


class RecommendError(MissrecError):
    """A request a recommender cannot answer as given (k, history, user, new items)."""


class UnknownItemsError(RecommendError):
    """Item ids that are not in the catalogue; ``unknown`` holds all of them."""

    def __init__(self, field: str, unknown: Sequence[str], fix: str) -> None:
        self.unknown = list(unknown)
        shown = ", ".join(map(repr, self.unknown[:SHOWN])) + (f" and {len(self.unknown) - SHOWN} more" if len(self.unknown) > SHOWN else "")
        super().__init__(f"{field}: {len(self.unknown)} item id(s) not in the catalogue: {shown}. Fix: {fix}")


def check_k(k: int) -> int:
    """``k`` as an int >= 1, else :class:`RecommendError`."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
        raise RecommendError(f"k: expected a positive integer (how many items to return), found {k!r}. Fix: e.g. k=10")
    return int(k)
