"""Read Amazon 2018 raw files: interactions (reviews JSON lines or ratings CSV) and item metadata (JSON lines).

Files may be plain or gzipped. A line that cannot be parsed stops the build with one error naming the file and the
line number; optional metadata fields may be missing, strings or lists.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from missrec.data.prepare.amazon.text import item_text
from missrec.errors import data_error

# (user, item, rating, timestamp): one interaction, as in UniSRec's ratings set
Interaction = tuple[str, str, float, int]

REVIEW_FIELDS = ("reviewerID", "asin", "overall", "unixReviewTime")


@dataclass(frozen=True)
class ItemMeta:
    """What the benchmark keeps of one metadata record."""

    text: str  # cleaned "title category brand" (text.item_text)
    image_url: str  # first high-resolution image URL, else first image URL, else ""


def open_text(path: str | Path) -> IO[str]:
    """Open a plain or gzipped UTF-8 text file (gzip detected from the magic bytes, not the name)."""
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "a raw Amazon file", "no such file", "check the path (datasets/README.md)")
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")


def iter_json_lines(path: str | Path, desc: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every non-blank line of a JSON-lines file."""
    with open_text(path) as f:
        for n, line in enumerate(tqdm(f, desc=desc or Path(path).name, unit=" lines", disable=desc == ""), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise data_error(
                    f"{path}:{n}", "one JSON object per line", f"invalid JSON ({e.msg}): {line.strip()[:80]!r}",
                    "re-download the file; Amazon 2018 files are JSON lines",
                ) from None
            if not isinstance(obj, dict):
                raise data_error(f"{path}:{n}", "a JSON object", type(obj).__name__, "re-download the file")
            yield n, obj


def read_interactions(path: str | Path, desc: str | None = None) -> tuple[set[Interaction], int]:
    """Read a reviews JSON-lines file or a ratings CSV (``item,user,rating,timestamp``, no header).

    Returns:
        The set of distinct ``(user, item, rating, timestamp)`` records (UniSRec keeps its ratings as a set, so
        exact duplicate records count once) and the number of records read before de-duplication.
    """
    name = Path(path).name.lower()
    records = _read_ratings_csv(path, desc) if name.endswith((".csv", ".csv.gz")) else _read_reviews(path, desc)
    # one object per distinct id, rating and timestamp: a category has ~10x fewer of each than records, and
    # sharing them cuts the memory of a 20M-record ratings file by more than half
    users: dict[str, str] = {}
    items: dict[str, str] = {}
    ratings: dict[float, float] = {}
    times: dict[int, int] = {}
    inters: set[Interaction] = set()
    n_read = 0
    for user, item, rating, timestamp in records:
        inters.add((users.setdefault(user, user), items.setdefault(item, item), ratings.setdefault(rating, rating),
                    times.setdefault(timestamp, timestamp)))
        n_read += 1
    return inters, n_read


def _read_reviews(path: str | Path, desc: str | None) -> Iterator[Interaction]:
    for n, obj in iter_json_lines(path, desc):
        missing = [k for k in REVIEW_FIELDS if obj.get(k) in (None, "")]
        if missing:
            raise data_error(
                f"{path}:{n}", f"a review with {list(REVIEW_FIELDS)}", f"no {missing}",
                "use the Amazon 2018 review files (reviewerID, asin, overall, unixReviewTime)",
            )
        yield _record(path, n, obj["reviewerID"], obj["asin"], obj["overall"], obj["unixReviewTime"])


def _read_ratings_csv(path: str | Path, desc: str | None) -> Iterator[Interaction]:
    with open_text(path) as f:
        for n, line in enumerate(tqdm(f, desc=desc or Path(path).name, unit=" lines", disable=desc == ""), 1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split(",")
            if len(fields) != 4:
                raise data_error(
                    f"{path}:{n}", "4 comma-separated fields 'item,user,rating,timestamp'",
                    f"{len(fields)} fields: {line.strip()[:80]!r}", "use the Amazon 2018 'ratings only' CSV",
                )
            item, user, rating, timestamp = fields
            yield _record(path, n, user, item, rating, timestamp)


def _record(path: str | Path, n: int, user: Any, item: Any, rating: Any, timestamp: Any) -> Interaction:
    try:
        return str(user), str(item), float(rating), int(float(timestamp))
    except (TypeError, ValueError):
        raise data_error(
            f"{path}:{n}", "a numeric rating and a unix timestamp", f"rating={rating!r}, timestamp={timestamp!r}",
            "repair or re-download the file",
        ) from None


def read_metadata(path: str | Path, desc: str | None = None) -> dict[str, ItemMeta]:
    """Read ``meta_<Category>.json`` into ``{asin: ItemMeta}``; a repeated asin keeps its first record (UniSRec)."""
    metas: dict[str, ItemMeta] = {}
    for n, obj in iter_json_lines(path, desc):
        asin = obj.get("asin")
        if not isinstance(asin, str) or not asin:
            raise data_error(f"{path}:{n}", "a metadata record with an 'asin'", f"asin={asin!r}",
                             "re-download the file")
        if asin not in metas:
            metas[asin] = ItemMeta(text=item_text(obj), image_url=first_image_url(obj))
    return metas


def first_image_url(record: dict[str, Any]) -> str:
    """The item's image URL: the first of ``imageURLHighRes``, else the first of ``imageURL``; "" if none."""
    for key in ("imageURLHighRes", "imageURL"):
        value = record.get(key)
        urls = value if isinstance(value, list) else [value]
        for url in urls:
            if isinstance(url, str) and url.strip().startswith(("http://", "https://")):
                return url.strip()
    return ""
