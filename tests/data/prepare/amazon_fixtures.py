"""Tiny raw Amazon 2018 categories whose processed sizes are known by construction.

Category ``Alpha_Things`` (short name Alpha), 221 review lines:

* core: users A00..A29 each review 6 of the items P00..P09 (``(u + k) % 10`` for k = 0..5, at
  ``T0 + 100 u + 10 k``) -> 180 interactions, 18 per item; A05 reviews all six in the same second (tie: by asin);
* A20 reviews P00 a second time, later: kept with ``dedup="exact"`` (UniSRec), merged with ``dedup="pair"``;
* A07's review of P07 appears twice, identical: one duplicate record;
* B0 has 4 reviews (dropped in pass 1), item J0 has 4 (pass 1); C0 reviews J0, K0 and 3 core items, so it falls to 4
  (pass 2), then K0 falls to 4 (pass 3), then C1..C4 (K0 + 4 core items each) fall to 4 (pass 4): 4 passes;
* M0 (6 reviews) and N0 (1 review) have no metadata: 7 interactions of 2 items dropped before the k-core.

Result: 30 users, 10 items (P0k -> index k), 181 interactions, 91/30/30 train/valid/test rows.

Category ``Beta_Stuff`` (Beta): users Bu00..Bu23 review 5 of Q0..Q7 (``(u + k) % 8``) -> 24 users, 8 items,
120 interactions, 48/24/24 rows; reviews gzipped.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

T0 = 1_500_000_000
ALPHA = "Alpha_Things"
BETA = "Beta_Stuff"
# items of Alpha without an image URL in the metadata
ALPHA_NO_URL = ("P02", "P06")
# expected .text rows of the items with special metadata
ALPHA_TEXTS = {
    "P00": "Red & Blue Paint Set. Arts Paint. Acme.",
    "P01": "Brush.",
    "P02": "Arts. Zed.",
    "P03": "Glue Stick. Arts Sub 3. Brand 3.",
}


def _review(user: str, item: str, t: int, rating: float = 5.0) -> dict[str, Any]:
    return {"overall": rating, "verified": True, "reviewTime": "01 1, 2018", "reviewerID": user, "asin": item,
            "reviewText": "ok", "unixReviewTime": t}


def alpha_reviews() -> list[dict[str, Any]]:
    rows = []
    for u in range(30):
        for k in range(6):
            t = T0 + 100 * u + (0 if u == 5 else 10 * k)
            rows.append(_review(f"A{u:02d}", f"P{(u + k) % 10:02d}", t, float(1 + (u + k) % 5)))
    rows.append(_review("A20", "P00", T0 + 100 * 20 + 99, 3.0))
    rows.append(dict(rows[7 * 6 + 0]))  # A07 -> P07, an identical record
    rows += [_review("B0", f"P0{k}", T0 + 5000 + k) for k in range(4)]
    rows += [_review(f"A0{u}", "J0", T0 + 6000 + u) for u in range(3)]
    rows += [_review("C0", item, T0 + 7000 + k) for k, item in enumerate(["J0", "K0", "P00", "P01", "P02"])]
    for c in range(1, 5):
        rows += [_review(f"C{c}", item, T0 + 8000 + 10 * c + k)
                 for k, item in enumerate(["K0", "P03", "P04", "P05", "P06"])]
    rows += [_review(f"A{u}", "M0", T0 + 9000 + u) for u in range(10, 16)]
    rows.append(_review("A16", "N0", T0 + 9100))
    return rows


def alpha_metadata(image_base: str = "https://images.example/") -> list[dict[str, Any]]:
    def url(asin: str, ext: str = "jpg") -> str:
        return f"{image_base.rstrip('/')}/{asin}.{ext}"

    metas = [
        {"asin": "P00", "title": 'Red &amp; Blue "Paint" Set\n', "category": ["Arts", "Paint"], "brand": "Acme",
         "description": ["ignored"], "imageURLHighRes": [url("P00", "png")], "imageURL": [url("small")]},
        {"asin": "P01", "title": "Brush...", "brand": "", "imageURL": [url("P01")]},
        {"asin": "P01", "title": "a later duplicate record, ignored"},
        {"asin": "P02", "title": "x" * 2500, "category": ["Arts"], "brand": "Zed", "imageURLHighRes": []},
        {"asin": "P03", "title": "Glue\tStick", "category": ["Arts", "Sub 3"], "brand": "Brand 3",
         "imageURLHighRes": [url("P03")]},
    ]
    for k in range(4, 10):
        asin = f"P{k:02d}"
        meta: dict[str, Any] = {"asin": asin, "title": f"Item {asin}", "category": ["Arts", f"Sub {k}"],
                                "brand": f"Brand {k}"}
        if asin not in ALPHA_NO_URL:
            meta["imageURLHighRes"] = [url(asin)]
        metas.append(meta)
    metas += [{"asin": "J0", "title": "Jar"}, {"asin": "K0", "title": "Kit"}, {"asin": "Z9", "title": "Unreviewed"}]
    return metas


def beta_reviews() -> list[dict[str, Any]]:
    return [_review(f"Bu{u:02d}", f"Q{(u + k) % 8}", T0 + 100 * u + k, 4.0) for u in range(24) for k in range(5)]


def beta_metadata() -> list[dict[str, Any]]:
    return [{"asin": f"Q{k}", "title": f"Beta {k}", "category": ["Beta"], "brand": "B"} for k in range(8)]


def write_lines(path: Path, records: list[dict[str, Any]], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_raw(raw_dir: Path, image_base: str = "https://images.example/") -> Path:
    """Both categories as a user downloads them: ``<Category>_5.json[.gz]`` and ``meta_<Category>.json``."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    write_lines(raw_dir / f"{ALPHA}_5.json", alpha_reviews())
    write_lines(raw_dir / f"meta_{ALPHA}.json", alpha_metadata(image_base))
    write_lines(raw_dir / f"{BETA}_5.json.gz", beta_reviews(), gz=True)
    write_lines(raw_dir / f"meta_{BETA}.json.gz", beta_metadata(), gz=True)
    return raw_dir


def png_bytes(color: tuple[int, ...], size: tuple[int, int] = (40, 30), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt)
    return buffer.getvalue()


# local image folder of Alpha: 5 decodable, P07 corrupt, P08/P09 absent (they have URLs), P02/P06 have no URL
ALPHA_COLORS = {"P00": (255, 0, 0), "P01": (0, 255, 0), "P03": (0, 0, 255), "P05": (10, 20, 30)}


def write_alpha_images(image_dir: Path) -> Path:
    image_dir.mkdir(parents=True, exist_ok=True)
    for asin, color in ALPHA_COLORS.items():
        fmt, ext = ("JPEG", "jpg") if asin == "P05" else ("PNG", "png")
        (image_dir / f"{asin}.{ext}").write_bytes(png_bytes(color, fmt=fmt))
    # fully transparent: composited on white
    (image_dir / "P04.png").write_bytes(png_bytes((0, 0, 0, 0), mode="RGBA"))
    (image_dir / "P07.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    return image_dir
