"""Synthetic raw Amazon Review Data (2018) files shaped like a large category, for pipeline benchmarks.

    python benchmarks/amazon_raw_generator.py --out /tmp/amazon_raw --reviews 10000000 --meta 1000000

Writes ``<out>/<Category>.json`` (reviews, JSON lines) and ``<out>/meta_<Category>.json`` with the fields and the
shape of the real files (Home_and_Kitchen has 21.9M reviews and 1.3M metadata lines), generated, never committed:

* item popularity ``p_k ~ (k + 10)^-1`` over the ``--meta`` items: the top items get ~10^5 reviews at 10M, about
  90% of the items fewer than 10; users ``p_u ~ (u + 20)^-0.85`` over ``0.4 x --reviews`` users, so most review once;
* day-resolution ``unixReviewTime`` (as in the real files), so same-second ties are common; ratings 1-5 skewed to 5;
* 2% of the review lines are exact duplicates of others, and a user who reviews an item twice keeps both records;
* 3% of the items have no metadata record (their reviews are dropped by the build), 3% of the metadata lines repeat
  an asin (the first record wins), 10% of the items have no image URL;
* review texts of 20-800 characters from a fixed pool, with escaped quotes, backslashes and non-ASCII characters.

The same arguments give the same bytes (numpy ``default_rng(seed)``). Rows are produced a chunk at a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

CATEGORY = "Synthetic_Large_Category"
CHUNK = 1 << 20
FIRST_DAY = 10_957  # 2000-01-01 in days since the epoch
N_DAYS = 6_848  # to 2018-10-01
WORDS = ("great", "quality", "works", "small", "\"perfect\"", "broke", "after", "a", "week", "gift", "caf\u00e9",
         "r\u00e9sum\u00e9", "size", "fits", "\\back\\slash", "love", "it", "would", "buy", "again", "5\u2605", "ok")


def _texts(rng: np.random.Generator, n: int, low: int, high: int) -> list[str]:
    """``n`` JSON-escaped texts of ``low``..``high`` characters (escape sequences included)."""
    texts = []
    for length in rng.integers(low, high, n):
        words = rng.choice(len(WORDS), size=int(length) // 4 + 1)
        texts.append(json.dumps(" ".join(WORDS[w] for w in words)[: int(length)])[1:-1])
    return texts


def _power_sampler(rng: np.random.Generator, n: int, offset: float, exponent: float):
    """Draw ids in ``[0, n)`` with ``p_k ~ (k + offset)^-exponent``, ids shuffled so popularity is not id order."""
    weights = (np.arange(n, dtype=np.float64) + offset) ** -exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ids = rng.permutation(n)
    return lambda size: ids[np.minimum(np.searchsorted(cdf, rng.random(size)), n - 1)]


def asin(k: int) -> str:
    """An ASIN-like id (``B`` + 9 base-36 characters), distinct for every ``k < 36^9``."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(9):
        k, r = divmod(k, 36)
        out.append(digits[r])
    return "B" + "".join(reversed(out))


def reviewer(u: int) -> str:
    """A reviewerID-like id: ``A`` + 13 hex digits of a bijective scramble of ``u`` (not sorted like ``u``)."""
    return f"A{(u * 0x9E3779B97F4A7C15) % (1 << 52):013X}"


def write_reviews(path: Path, n_reviews: int, n_items: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users = max(1, int(0.4 * n_reviews))
    items = _power_sampler(rng, n_items, 10.0, 1.0)
    users = _power_sampler(rng, n_users, 20.0, 0.85)
    texts, summaries = _texts(rng, 512, 20, 800), _texts(rng, 64, 5, 40)
    day_names = [(dt.date(1970, 1, 1) + dt.timedelta(days=FIRST_DAY + d)).strftime("%m %-d, %Y") for d in range(N_DAYS)]
    n_unique = n_reviews - n_reviews // 50
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n_unique, CHUNK):
            size = min(CHUNK, n_unique - start)
            item, user = items(size).tolist(), users(size).tolist()
            day = rng.integers(0, N_DAYS, size).tolist()
            rating = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], size, p=[0.06, 0.05, 0.09, 0.2, 0.6]).tolist()
            text, summary = rng.integers(0, len(texts), size).tolist(), rng.integers(0, len(summaries), size).tolist()
            lines = [
                f'{{"overall": {rating[n]}, "verified": true, "reviewTime": "{day_names[day[n]]}", '
                f'"reviewerID": "{reviewer(user[n])}", "asin": "{asin(item[n])}", "reviewerName": "Reviewer", '
                f'"reviewText": "{texts[text[n]]}", "summary": "{summaries[summary[n]]}", '
                f'"unixReviewTime": {(FIRST_DAY + day[n]) * 86_400}}}\n'
                for n in range(size)
            ]
            duplicates = rng.integers(0, size, size * (n_reviews - n_unique) // n_unique)
            lines += [lines[d] for d in duplicates.tolist()]
            order = rng.permutation(len(lines)).tolist()
            f.writelines(lines[i] for i in order)


def write_metadata(path: Path, n_meta: int, seed: int) -> None:
    rng = np.random.default_rng(seed + 1)
    n_items = n_meta
    without = set(rng.choice(n_items, n_items * 3 // 100, replace=False).tolist())
    kept = [k for k in range(n_items) if k not in without]
    repeats = rng.choice(kept, n_meta - len(kept)).tolist()
    titles = _texts(rng, 256, 10, 120)
    records = kept + repeats  # the repeats come after their first record
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, len(records), CHUNK):
            lines = []
            for k in records[start : start + CHUNK]:
                a = asin(k)
                image = "" if k % 10 == 3 else (f'"imageURL": ["https://images-na.ssl-images-amazon.com/images/I/{a}._SS40_.jpg"], '
                                                f'"imageURLHighRes": ["https://images-na.ssl-images-amazon.com/images/I/{a}.jpg"], ')
                lines.append(
                    f'{{"category": ["Home &amp; Kitchen", "Sub {k % 97}"], "description": ["{titles[(k * 7) % 256]}"], '
                    f'"title": "{titles[k % 256]} {k}", "brand": "Brand {k % 5003}", "feature": [], "rank": "", '
                    f'"also_view": [], "main_cat": "Home", "price": "$12.99", {image}"asin": "{a}", "details": {{}}}}\n'
                )
            f.writelines(lines)


def generate(out: Path, n_reviews: int, n_meta: int, seed: int = 0, category: str = CATEGORY) -> tuple[Path, Path]:
    """Write both files (if a marker with the same arguments is not there yet); returns (reviews, metadata)."""
    out.mkdir(parents=True, exist_ok=True)
    reviews, meta = out / f"{category}.json", out / f"meta_{category}.json"
    spec = {"reviews": n_reviews, "meta": n_meta, "seed": seed, "generator": 1}
    marker = out / f".{category}.spec.json"
    if reviews.is_file() and meta.is_file() and marker.is_file() and json.loads(marker.read_text()) == spec:
        return reviews, meta
    write_metadata(meta, n_meta, seed)
    write_reviews(reviews, n_reviews, n_meta, seed)
    marker.write_text(json.dumps(spec))
    return reviews, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the two raw files (not in the repository)")
    parser.add_argument("--reviews", type=int, default=10_000_000)
    parser.add_argument("--meta", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for path in generate(args.out, args.reviews, args.meta, args.seed):
        print(f"{path}: {path.stat().st_size / 2**30:.2f} GB")


if __name__ == "__main__":
    main()
