"""Amazon Review Data (2018) categories: the short names UniSRec/MISSRec use, their raw files, expected sizes.

Raw files a user downloads for a category ``<Full>`` (e.g. ``Industrial_and_Scientific``), plain or gzipped:

* interactions, looked for in this order: ``<Full>.csv`` (the "ratings only" file ``item,user,rating,timestamp``
  that UniSRec's ``process_amazon.py`` reads), ``<Full>_5.json`` (5-core reviews), ``<Full>.json`` (all reviews);
* metadata: ``meta_<Full>.json``.

The 5-core review file and the ratings file give the same benchmark: the iterative 5-core of a subset of the
ratings (items with metadata) lies inside the 5-core of all ratings, which is what the 5-core file holds.
"""

from __future__ import annotations

from pathlib import Path

from missrec.errors import closest, data_error

# short name (the dataset name in UniSRec/MISSRec folders) -> Amazon 2018 category file name
CATEGORIES: dict[str, str] = {
    # downstream (spec missrec.md §4.4)
    "Scientific": "Industrial_and_Scientific",
    "Pantry": "Prime_Pantry",
    "Instruments": "Musical_Instruments",
    "Arts": "Arts_Crafts_and_Sewing",
    "Office": "Office_Products",
    # pre-training, FHCKM (spec missrec.md §1.1)
    "Food": "Grocery_and_Gourmet_Food",
    "Home": "Home_and_Kitchen",
    "CDs": "CDs_and_Vinyl",
    "Kindle": "Kindle_Store",
    "Movies": "Movies_and_TV",
}

# users, items, interactions after processing, as published (spec missrec.md §4.4 and §1.1)
EXPECTED_STATS: dict[str, tuple[int, int, int]] = {
    "Scientific": (8_442, 4_385, 59_427),
    "Pantry": (13_101, 4_898, 126_962),
    "Instruments": (24_962, 9_964, 208_926),
    "Arts": (45_486, 21_019, 395_150),
    "Office": (87_346, 25_986, 684_837),
    "Food": (115_349, 39_670, 1_027_413),
    "CDs": (94_010, 64_439, 1_118_563),
    "Kindle": (138_436, 98_111, 2_204_596),
    "Movies": (281_700, 59_203, 3_226_731),
    "Home": (731_913, 185_552, 6_451_926),
}

FHCKM = ("Food", "Home", "CDs", "Kindle", "Movies")
_GZ = ("", ".gz")


def category_of(name: str, category: str | None = None) -> str:
    """Amazon category file name for a dataset ``name`` (``Scientific`` -> ``Industrial_and_Scientific``)."""
    if category:
        return category
    if name not in CATEGORIES:
        by_category = [short for short, full in CATEGORIES.items() if full.lower() == name.lower()]
        guesses = by_category or closest(name, CATEGORIES)
        hint = f" (did you mean {' or '.join(repr(g) for g in guesses)}?)" if guesses else ""
        raise data_error(
            f"dataset name {name!r}",
            f"one of {sorted(CATEGORIES)} or an explicit category",
            f"an unknown short name{hint}",
            "pass a known short name, or --category <Amazon 2018 category file name>, "
            "e.g. --category Industrial_and_Scientific",
        )
    return CATEGORIES[name]


def find_raw_files(raw_dir: str | Path, category: str) -> tuple[Path, Path]:
    """Locate ``(interactions file, metadata file)`` of ``category`` in ``raw_dir`` (order: module docstring)."""
    raw_dir = Path(raw_dir)
    stems = (f"{category}.csv", f"{category}_5.json", f"{category}.json")
    reviews = _first_existing(raw_dir, stems)
    meta = _first_existing(raw_dir, (f"meta_{category}.json",))
    for found, stems_, kind in ((reviews, stems, "interactions"), (meta, (f"meta_{category}.json",), "metadata")):
        if found is None:
            wanted = ", ".join(f"{s}[.gz]" for s in stems_)
            raise data_error(
                raw_dir,
                f"the {kind} file of {category} ({wanted})",
                "none of them",
                "download the category's files of the Amazon Review Data (2018) into this folder (datasets/README.md)",
            )
    return reviews, meta  # type: ignore[return-value]


def _first_existing(folder: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for gz in _GZ:
            path = folder / f"{stem}{gz}"
            if path.is_file():
                return path
    return None
