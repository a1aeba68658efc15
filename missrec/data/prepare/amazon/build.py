"""One Amazon category -> one benchmark folder ``<out>/<Name>_mm_full/`` (UniSRec processing, spec missrec.md §4.2).

Files written (``<ds>`` = folder name):

* ``<ds>.train.inter``/``.valid.inter``/``.test.inter``, ``<ds>.item2index``, ``<ds>.user2index`` (shared writer
  ``benchmark_writer.write_benchmark``: leave-one-out, prefix rows, histories truncated to ``max_len``);
* ``<ds>.text``: ``item_id:token<TAB>text:token_seq`` header, one ``ASIN<TAB>text`` row per item in item-index order
  (UniSRec writes them in metadata-file order; index order lets row i of every feature file match line i);
* ``<ds>.interactions.tsv``: every kept interaction ``user index, item index, rating, timestamp``, users in index
  order and each user's in time order (input of the MMRec export);
* ``<ds>.image_urls.tsv``: ``ASIN<TAB>URL`` per item in index order, URL empty when the metadata has none;
* ``<ds>.stats.json``: counts at every step and the options used; ``<ds>.sha256``: the checksum manifest.

No machine path enters a file, so the same inputs give byte-identical folders wherever they live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from missrec.data.prepare.amazon.kcore import filter_by_meta, k_core
from missrec.data.prepare.amazon.raw import ItemMeta, read_interactions, read_metadata
from missrec.data.prepare.amazon.sequences import DEDUP_MODES, Timeline, build_timeline, dedup_pairs
from missrec.data.prepare.amazon.staging import carry_over, refresh_manifest, staged_folder, stale_files
from missrec.data.prepare.benchmark_writer import write_benchmark
from missrec.errors import DataError
from missrec.io_utils import atomic_open, atomic_write_json

TEXT_HEADER = "item_id:token\ttext:token_seq\n"
INTERACTIONS_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
IMAGE_URLS_HEADER = "item_id:token\timage_url:token\n"


@dataclass(frozen=True)
class BuildOptions:
    """Processing options (UniSRec defaults); recorded in ``<ds>.stats.json``."""

    user_k: int = 5
    item_k: int = 5
    max_len: int = 50
    dedup: str = "exact"  # "exact": drop repeated identical records (UniSRec); "pair": one per (user, item)

    def __post_init__(self) -> None:
        if self.dedup not in DEDUP_MODES:
            raise ValueError(f"dedup must be one of {DEDUP_MODES}, got {self.dedup!r}")
        if self.user_k < 3:
            raise ValueError("user_k must be >= 3: leave-one-out needs a train, a valid and a test item per user")


def build_category(
    reviews: str | Path,
    meta: str | Path,
    folder: str | Path,
    options: BuildOptions = BuildOptions(),
    show_progress: bool = True,
) -> dict[str, Any]:
    """Process one category's raw files into the benchmark folder ``folder`` (its name is the dataset name).

    Returns:
        The statistics written to ``<ds>.stats.json``.
    """
    folder = Path(folder)
    name = folder.name
    desc = None if show_progress else ""
    metas = read_metadata(meta, desc=desc)
    inters, n_read = read_interactions(reviews, desc=desc)
    n_distinct = len(inters)
    kept = list(inters)
    del inters  # the set and the lists built from it would otherwise all stay alive (GBs on the big domains)
    n_pairs_merged = 0
    if options.dedup == "pair":
        kept, n_pairs_merged = dedup_pairs(kept)
    kept, without_meta = filter_by_meta(kept, metas)
    kept, passes = k_core(kept, options.user_k, options.item_k)
    if not kept:
        raise DataError(
            f"{reviews}: no interaction survives the {options.user_k}-core (users) / {options.item_k}-core (items) "
            f"filter ({n_distinct} distinct records, {without_meta.interactions} without metadata). "
            "Fix: check that the reviews and metadata files are of the same category, or lower --user-k/--item-k"
        )
    timeline = build_timeline(kept)
    del kept
    stats = _stats(name, reviews, meta, options, n_read, n_distinct, n_pairs_merged, len(metas), without_meta,
                   passes, timeline, metas)

    with staged_folder(folder) as staging:
        stats["rows"] = write_benchmark(
            staging, name, timeline.sequences, timeline.user_ids, timeline.item_ids, max_len=options.max_len
        )
        _write_text(staging / f"{name}.text", timeline.item_ids, metas)
        _write_interactions(staging / f"{name}.interactions.tsv", timeline)
        _write_image_urls(staging / f"{name}.image_urls.tsv", timeline.item_ids, metas)
        atomic_write_json(staging / f"{name}.stats.json", stats)
        dropped = stale_files(folder, staging)
        carried = carry_over(folder, staging, f"{name}.item2index") if folder.is_dir() else []
        refresh_manifest(staging, name)
    stats["carried_over"] = carried
    stats["dropped"] = sorted(set(dropped) - set(carried))
    return stats


def _stats(
    name: str, reviews: str | Path, meta: str | Path, options: BuildOptions, n_read: int, n_distinct: int,
    n_pairs_merged: int, n_meta: int, without_meta: Any, passes: int, timeline: Timeline, metas: dict[str, ItemMeta],
) -> dict[str, Any]:
    n_users, n_items, n_inters = len(timeline.user_ids), len(timeline.item_ids), timeline.n_interactions
    with_url = sum(1 for asin in timeline.item_ids if metas[asin].image_url)
    return {
        "dataset": name,
        "inputs": {"interactions": Path(reviews).name, "metadata": Path(meta).name},
        "options": asdict(options),
        "records_read": n_read,
        "duplicate_records": n_read - n_distinct,
        "same_pair_merged": n_pairs_merged,
        "metadata_items": n_meta,
        "without_metadata": {"interactions": without_meta.interactions, "items": without_meta.items},
        "kcore_passes": passes,
        "users": n_users,
        "items": n_items,
        "interactions": n_inters,
        "avg_seq_len": round(n_inters / n_users, 2),
        "items_with_image_url": with_url,
        "items_without_image_url": n_items - with_url,
    }


def _write_text(path: Path, item_ids: list[str], metas: dict[str, ItemMeta]) -> None:
    with atomic_open(path) as f:
        f.write(TEXT_HEADER)
        for asin in item_ids:
            f.write(f"{asin}\t{metas[asin].text}\n")


def _write_interactions(path: Path, timeline: Timeline) -> None:
    with atomic_open(path) as f:
        f.write(INTERACTIONS_HEADER)
        for user, user_events in enumerate(timeline.events):
            for item, rating, timestamp in user_events:
                f.write(f"{user}\t{item}\t{rating!r}\t{timestamp}\n")


def _write_image_urls(path: Path, item_ids: list[str], metas: dict[str, ItemMeta]) -> None:
    with atomic_open(path) as f:
        f.write(IMAGE_URLS_HEADER)
        for asin in item_ids:
            f.write(f"{asin}\t{metas[asin].image_url}\n")
