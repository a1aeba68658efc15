"""What a recommender shows and accepts: raw item ids and texts by internal item id, and the known users.

Internal item ids are the model's rows (RecBole's ids for the sequential models, with ``[PAD]`` = 0; ``0..I-1`` for
the graph models). Raw ids are what the dataset's users know: the keys of ``<ds>.item2index`` / ``<ds>.user2index``
(MovieLens ids for ML100K_mm_full), or the dataset's own integer ids where there is no id map.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from missrec.errors import closest
from missrec.recommend.errors import RecommendError, UnknownItemsError


class UnknownItemsWarning(UserWarning):
    """Unknown item ids were skipped (``skip_unknown=True``)."""


class Catalogue:
    """Items by internal id: ``raw_ids[i]``, ``texts[i]``; items from ``first_item`` on can be recommended.

    Args:
        raw_ids: raw id of every internal id (row 0 is ``[PAD]`` for the sequential models).
        texts: item text (title) of every internal id ("" where the dataset has none).
        first_item: the first real item (1 with a PAD row, else 0).
    """

    def __init__(self, raw_ids: Sequence[str], texts: Sequence[str], first_item: int) -> None:
        if len(raw_ids) != len(texts):
            raise ValueError(f"{len(raw_ids)} ids but {len(texts)} texts")
        self.raw_ids = [str(r) for r in raw_ids]
        self.texts = [str(t) for t in texts]
        self.first_item = first_item
        self.n_trained = len(self.raw_ids)  # items the model was trained with; later ones came from add_items
        self._index = {r: i for i, r in enumerate(self.raw_ids) if i >= first_item}
        self.skipped_unknown = 0  # unknown ids skipped so far (skip_unknown=True)

    def __len__(self) -> int:
        return len(self.raw_ids)

    def __contains__(self, raw_id: object) -> bool:
        return str(raw_id) in self._index

    def internal(self, raw_ids: Iterable[object], field: str = "history", skip_unknown: bool = False) -> list[int]:
        """Internal ids of ``raw_ids`` (order kept). Unknown ids are one :class:`UnknownItemsError` listing them, or,
        with ``skip_unknown``, dropped with an :class:`UnknownItemsWarning` that counts them."""
        ids, unknown = [], []
        for raw in raw_ids:
            internal = self._index.get(str(raw))
            if internal is None:
                unknown.append(str(raw))
            else:
                ids.append(internal)
        if unknown and not skip_unknown:
            hint = closest(unknown[0], self._index, n=1) if len(self._index) < 200_000 else []
            fix = (f"did you mean {hint[0]!r}? " if hint else "") + (
                "use raw ids of the dataset's .item2index (or skip_unknown=True / --skip-unknown to drop them)"
            )
            raise UnknownItemsError(field, unknown, fix)
        if unknown:
            self.skipped_unknown += len(unknown)
            warnings.warn(f"{field}: skipped {len(unknown)} unknown item id(s): {', '.join(unknown[:10])}", UnknownItemsWarning, stacklevel=3)
        return ids

    def add(self, raw_ids: Sequence[object], texts: Sequence[str] | None = None) -> range:
        """Append new items (checked by :meth:`check_new`); returns their internal ids."""
        raw = self.check_new(raw_ids, texts)
        start = len(self.raw_ids)
        self.raw_ids.extend(raw)
        self.texts.extend(str(t) for t in (texts if texts is not None else []))
        self.texts.extend([""] * (len(self.raw_ids) - len(self.texts)))
        self._index.update({r: start + n for n, r in enumerate(raw)})
        return range(start, len(self.raw_ids))

    def check_new(self, raw_ids: Sequence[object], texts: Sequence[str] | None = None) -> list[str]:
        """The new ids as strings; an empty id, an id already in the catalogue or given twice is refused."""
        raw = [str(r).strip() for r in raw_ids]
        if not raw:
            raise RecommendError("ids: expected at least one new item id, found none")
        if texts is not None and len(texts) != len(raw):
            raise RecommendError(f"texts: expected one text per id ({len(raw)}), found {len(texts)}")
        empty = [i for i, r in enumerate(raw) if not r]
        if empty:
            raise RecommendError(f"ids: position(s) {empty[:10]} hold an empty id. Fix: give every new item an id")
        existing = [r for r in raw if r in self._index]
        if existing:
            raise RecommendError(
                f"ids: {len(existing)} item(s) already in the catalogue: {', '.join(map(repr, existing[:10]))}. "
                "Fix: give new items ids the dataset does not use (an existing item is ranked already)"
            )
        counts: dict[str, int] = {}
        for r in raw:
            counts[r] = counts.get(r, 0) + 1
        repeated = sorted(r for r, c in counts.items() if c > 1)
        if repeated:
            raise RecommendError(f"ids: {', '.join(map(repr, repeated[:10]))} given more than once. Fix: one row per new item")
        return raw


class Users:
    """Known users: raw id <-> internal id, each user's latest history and every item they interacted with.

    Args:
        raw_ids: raw id of every internal user id (entries before ``first_user`` are padding).
        history: CSR ``(indptr [U+1], items)`` of each user's most recent items, oldest first (sequential models).
        seen: CSR ``(indptr [U+1], items)`` of every item of each user in any split.
        first_user: the first real user (1 with a PAD row, else 0).
    """

    def __init__(
        self,
        raw_ids: Sequence[str],
        history: tuple[np.ndarray, np.ndarray] | None,
        seen: tuple[np.ndarray, np.ndarray],
        first_user: int,
    ) -> None:
        self.raw_ids = [str(r) for r in raw_ids]
        self.history = history
        self.seen = seen
        self.first_user = first_user
        self._index = {r: i for i, r in enumerate(self.raw_ids) if i >= first_user}

    def __len__(self) -> int:
        return len(self.raw_ids) - self.first_user

    def internal(self, raw_id: object) -> int:
        """Internal id of a raw user id; an unknown user is a :class:`RecommendError` naming close ids."""
        internal = self._index.get(str(raw_id))
        if internal is None:
            hint = closest(str(raw_id), self._index, n=3) if len(self._index) < 200_000 else []
            raise RecommendError(
                f"user: {raw_id!r} is not a user of this dataset ({len(self)} users). Fix: "
                + (f"did you mean {', '.join(hint)}? " if hint else "") + "use a raw id of the dataset's .user2index"
            )
        return internal

    def all_internal(self) -> range:
        """Every real user, in internal id order."""
        return range(self.first_user, len(self.raw_ids))

    def latest_history(self, user: int) -> np.ndarray:
        """Internal item ids of the user's latest history, oldest first."""
        if self.history is None:
            raise RecommendError("this model has no sequence encoder, so users have no history to encode")
        indptr, items = self.history
        return items[indptr[user] : indptr[user + 1]]

    def seen_items(self, user: int) -> np.ndarray:
        """Every internal item id the user interacted with."""
        indptr, items = self.seen
        return items[indptr[user] : indptr[user + 1]]


def csr(rows: np.ndarray, cols: np.ndarray, n_rows: int, unique: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr [n_rows + 1], cols)`` of (row, col) pairs, rows in order, cols in the given order within a row
    (or sorted and deduplicated with ``unique``)."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if unique:
        width = int(cols.max()) + 1 if len(cols) else 1
        keys = np.unique(rows * width + cols)
        rows, cols = keys // width, keys % width
    else:
        order = np.argsort(rows, kind="stable")
        rows, cols = rows[order], cols[order]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols
