"""Read Amazon 2018 raw files: interactions (reviews JSON lines or ratings CSV) and item metadata (JSON lines).

Files may be plain or gzipped. A line that cannot be parsed stops the build with one error naming the file and the
line number; optional metadata fields may be missing, strings or lists.

Interactions stream into compact columns (:class:`InteractionTable`: two int32 codes, a float64 rating and an int64
timestamp per record, each distinct id string stored once), so a category of 10M reviews takes a few hundred MB
rather than the GBs a set of Python tuples needs.
"""

from __future__ import annotations

import gzip
import json
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
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
    non_http_image: bool = False  # lists an image, but no http(s) URL (file://, a path): counted and warned about


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


PROGRESS_EVERY = 1 << 15  # lines between progress-bar updates (a per-line update costs more than the parse)
_scan_object = json.JSONDecoder().scan_once  # the C scanner json.loads ends in, without its per-call wrapping
_INF = float("inf")
_MIN_TIME, _MAX_TIME = -(2**63), 2**63 - 1  # an int64 column


def counted_lines(f: IO[str], label: str, desc: str | None) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of ``f``, with a progress bar unless ``desc == ""``."""
    return enumerate(f, 1) if desc == "" else _with_progress(f, desc or label)


def _with_progress(f: IO[str], desc: str) -> Iterator[tuple[int, str]]:
    with tqdm(desc=desc, unit=" lines", unit_scale=True) as bar:
        n = 0
        for n, line in enumerate(f, 1):
            if n % PROGRESS_EVERY == 0:
                bar.update(PROGRESS_EVERY)
            yield n, line
        bar.update(n % PROGRESS_EVERY)


def parse_json_line(line: str) -> Any:
    """``json.loads(line)``, faster for the usual line (one value, then the line end); raises ``JSONDecodeError``."""
    try:
        obj, end = _scan_object(line, 0)
    except StopIteration:
        return json.loads(line)  # leading whitespace or invalid: json.loads decides, and words the error
    if end < len(line) and not line[end:].isspace():
        return json.loads(line)  # trailing content: json.loads raises "Extra data"
    return obj


def _invalid_json(path: str | Path, n: int, line: str, error: json.JSONDecodeError) -> Exception:
    return data_error(
        f"{path}:{n}", "one JSON object per line", f"invalid JSON ({error.msg}): {line.strip()[:80]!r}",
        "re-download the file; Amazon 2018 files are JSON lines",
    )


def iter_json_lines(path: str | Path, desc: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every non-blank line of a JSON-lines file."""
    with open_text(path) as f:
        for n, line in counted_lines(f, Path(path).name, desc):
            try:
                obj = parse_json_line(line)
            except json.JSONDecodeError as e:
                if not line.strip():
                    continue
                raise _invalid_json(path, n, line, e) from None
            if not isinstance(obj, dict):
                raise data_error(f"{path}:{n}", "a JSON object", type(obj).__name__, "re-download the file")
            yield n, obj


@dataclass(frozen=True)
class InteractionTable:
    """Interaction records as compact columns (24 bytes a record; the strings are stored once per distinct id).

    ``users[user[n]]``, ``items[item[n]]``, ``rating[n]``, ``timestamp[n]`` is record ``n`` in file order.
    """

    user: np.ndarray  # int32 [n]: code into users
    item: np.ndarray  # int32 [n]: code into items
    rating: np.ndarray  # float64 [n]: the value read (float64 keeps every Python float exactly)
    timestamp: np.ndarray  # int64 [n]
    users: list[str]  # user code -> raw reviewerID
    items: list[str]  # item code -> raw asin

    def __len__(self) -> int:
        return len(self.user)


def read_interaction_table(path: str | Path, desc: str | None = None) -> InteractionTable:
    """Stream a reviews JSON-lines file or a ratings CSV into an :class:`InteractionTable` (every record read).

    The loop over review lines is flat (no generator per layer) and takes the usual line on a fast path; any line
    the fast path does not accept goes through :func:`iter_json_lines`'s and :func:`review_record`'s checks, so
    the records and the errors are those of :func:`iter_records`.
    """
    user_codes: dict[str, int] = {}
    item_codes: dict[str, int] = {}
    columns = array("i"), array("i"), array("d"), array("q")
    add_user, add_item, add_rating, add_time = (c.append for c in columns)
    user_code, item_code = user_codes.setdefault, item_codes.setdefault
    if _is_csv(path):
        for u, i, r, t in _read_ratings_csv(path, desc):
            add_user(user_code(u, len(user_codes)))
            add_item(item_code(i, len(item_codes)))
            add_rating(r)
            add_time(t)
    else:
        with open_text(path) as f:
            for n, line in counted_lines(f, Path(path).name, desc):
                try:  # the fast path: a JSON object on the whole line with the four fields, well typed
                    obj, end = _scan_object(line, 0)
                    if end < len(line) and not line[end:].isspace():
                        raise ValueError
                    u, i, t = obj["reviewerID"], obj["asin"], obj["unixReviewTime"]
                    r = float(obj["overall"])
                    if type(u) is not str or type(i) is not str or type(t) is not int or not (u and i):
                        raise ValueError
                    if r != r or r in (_INF, -_INF) or not _MIN_TIME <= t <= _MAX_TIME:
                        raise ValueError
                except (StopIteration, ValueError, KeyError, TypeError, IndexError):
                    record = _slow_review(path, n, line)
                    if record is None:  # a blank line
                        continue
                    u, i, r, t = record
                add_user(user_code(u, len(user_codes)))
                add_item(item_code(i, len(item_codes)))
                add_rating(r)
                add_time(t)
    return InteractionTable(
        user=np.frombuffer(columns[0], dtype=np.int32),
        item=np.frombuffer(columns[1], dtype=np.int32),
        rating=np.frombuffer(columns[2], dtype=np.float64),
        timestamp=np.frombuffer(columns[3], dtype=np.int64),
        users=list(user_codes),
        items=list(item_codes),
    )


def _slow_review(path: str | Path, n: int, line: str) -> Interaction | None:
    """The fully checked parse of one review line: None for a blank line, else the record or a ``DataError``."""
    try:
        obj = parse_json_line(line)
    except json.JSONDecodeError as e:
        if not line.strip():
            return None
        raise _invalid_json(path, n, line, e) from None
    if not isinstance(obj, dict):
        raise data_error(f"{path}:{n}", "a JSON object", type(obj).__name__, "re-download the file")
    return review_record(path, n, obj)


def _is_csv(path: str | Path) -> bool:
    return Path(path).name.lower().endswith((".csv", ".csv.gz"))


def iter_records(path: str | Path, desc: str | None = None) -> Iterator[Interaction]:
    """``(user, item, rating, timestamp)`` of every record of a reviews JSON-lines file or a ratings CSV
    (``item,user,rating,timestamp``, no header; chosen by the ``.csv[.gz]`` name)."""
    return _read_ratings_csv(path, desc) if _is_csv(path) else _read_reviews(path, desc)


def _read_reviews(path: str | Path, desc: str | None) -> Iterator[Interaction]:
    for n, obj in iter_json_lines(path, desc):
        yield review_record(path, n, obj)


def review_record(path: str | Path, n: int, obj: dict[str, Any]) -> Interaction:
    """The record of review ``obj`` (line ``n``), or a ``DataError`` naming the missing or malformed field."""
    missing = [k for k in REVIEW_FIELDS if obj.get(k) in (None, "")]
    if missing:
        raise data_error(
            f"{path}:{n}", f"a review with {list(REVIEW_FIELDS)}", f"no {missing}",
            "use the Amazon 2018 review files (reviewerID, asin, overall, unixReviewTime)",
        )
    return _record(path, n, obj["reviewerID"], obj["asin"], obj["overall"], obj["unixReviewTime"])


def _read_ratings_csv(path: str | Path, desc: str | None) -> Iterator[Interaction]:
    with open_text(path) as f:
        for n, line in counted_lines(f, Path(path).name, desc):
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
        record = str(user), str(item), float(rating), timestamp if type(timestamp) is int else int(float(timestamp))
    except (TypeError, ValueError, OverflowError):
        record = None
    if record is None or not math.isfinite(record[2]) or not _MIN_TIME <= record[3] <= _MAX_TIME:
        raise data_error(
            f"{path}:{n}", "a finite numeric rating and a unix timestamp",
            f"rating={rating!r}, timestamp={timestamp!r}", "repair or re-download the file",
        )
    return record


def read_metadata(path: str | Path, desc: str | None = None) -> dict[str, ItemMeta]:
    """Read ``meta_<Category>.json`` into ``{asin: ItemMeta}``; a repeated asin keeps its first record (UniSRec)."""
    metas: dict[str, ItemMeta] = {}
    for n, obj in iter_json_lines(path, desc):
        asin = obj.get("asin")
        if not isinstance(asin, str) or not asin:
            raise data_error(f"{path}:{n}", "a metadata record with an 'asin'", f"asin={asin!r}",
                             "re-download the file")
        if asin not in metas:
            url = first_image_url(obj)
            metas[asin] = ItemMeta(item_text(obj), url, non_http_image=not url and bool(_image_values(obj)))
    return metas


def _image_values(record: dict[str, Any]) -> list[str]:
    """Non-empty string entries of ``imageURLHighRes`` then ``imageURL``."""
    values = []
    for key in ("imageURLHighRes", "imageURL"):
        value = record.get(key)
        entries = value if isinstance(value, list) else [value]
        values += [v.strip() for v in entries if isinstance(v, str) and v.strip()]
    return values


def first_image_url(record: dict[str, Any]) -> str:
    """The item's image URL: the first http(s) one of ``imageURLHighRes``, else of ``imageURL``; "" if none.

    Other entries (``file://`` URLs, paths) are not downloaded (``images --download`` fetches http(s) only); items
    that list only those are counted in ``<ds>.stats.json`` with a warning: put such images in a folder as
    ``<asin>.<ext>`` and pass it as ``images --image-dir``.
    """
    for url in _image_values(record):
        if url.startswith(("http://", "https://")):
            return url
    return ""
