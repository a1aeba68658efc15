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

Memory: the interactions stream into integer columns (:class:`~.raw.InteractionTable`, 24 bytes a record), the
de-duplication, the metadata filter and the k-core are array operations (:mod:`.kcore`), the ordering is one sort
(:mod:`.sequences`), and the files are written a chunk of rows at a time. The metadata keeps one text and one URL per
item. ``benchmarks/amazon_pipeline.py`` measures it at 10M reviews against the plain in-memory
:mod:`.reference` processing, whose output it must equal.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from missrec.data.prepare.amazon import reference
from missrec.data.prepare.amazon.kcore import dedup_exact, dedup_pairs, filter_by_meta, k_core
from missrec.data.prepare.amazon.raw import ItemMeta, read_interaction_table, read_metadata
from missrec.data.prepare.amazon.sequences import DEDUP_MODES, Processed, Timeline, build_timeline
from missrec.data.prepare.amazon.staging import (
    carry_over,
    ensure_writable,
    refresh_manifest,
    staged_folder,
    stale_files,
    writing_to,
)
from missrec.data.prepare.benchmark_writer import write_benchmark
from missrec.errors import DataError, data_error
from missrec.io_utils import atomic_open, atomic_write_json

TEXT_HEADER = "item_id:token\ttext:token_seq\n"
INTERACTIONS_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
IMAGE_URLS_HEADER = "item_id:token\timage_url:token\n"
WRITE_ROWS = 1 << 16  # rows formatted per write of .interactions.tsv


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


def process_columns(
    reviews: str | Path, items_with_meta: Collection[str], user_k: int, item_k: int, dedup: str,
    desc: str | None = None,
) -> Processed:
    """Read, de-duplicate, filter and order one category's interactions on integer columns (module doc)."""
    table = read_interaction_table(reviews, desc)
    n_read = len(table)
    table = dedup_exact(table)
    n_distinct = len(table)
    merged = 0
    if dedup == "pair":
        table, merged = dedup_pairs(table)
    table, without_meta = filter_by_meta(table, items_with_meta)
    table, passes = k_core(table, user_k, item_k)
    return Processed(build_timeline(table), n_read, n_distinct, merged, without_meta.interactions,
                     without_meta.items, passes)


def build_category(
    reviews: str | Path,
    meta: str | Path,
    folder: str | Path,
    options: BuildOptions = BuildOptions(),
    show_progress: bool = True,
    reference_processing: bool = False,
) -> dict[str, Any]:
    """Process one category's raw files into the benchmark folder ``folder`` (its name is the dataset name).

    Args:
        reference_processing: use the plain in-memory processing (:mod:`.reference`) instead of the columns; the
            output is identical (tested), the memory about 1 KB per record.

    Returns:
        The statistics written to ``<ds>.stats.json``.
    """
    folder = Path(folder)
    name = folder.name
    ensure_writable(folder.parent)  # before minutes of reading
    desc = None if show_progress else ""
    metas = read_metadata(meta, desc=desc)
    if not metas:
        raise data_error(meta, "item metadata records", "none (an empty file)", "re-download the metadata file")
    run = reference.process if reference_processing else process_columns
    processed = run(reviews, metas, options.user_k, options.item_k, options.dedup, desc)
    if processed.records_read == 0:
        raise data_error(reviews, "interaction records", "none (an empty file)",
                         "re-download the reviews (or ratings) file of the category")
    timeline = processed.timeline
    if timeline.n_interactions == 0:
        raise DataError(
            f"{reviews}: no interaction survives the {options.user_k}-core (users) / {options.item_k}-core (items) "
            f"filter ({processed.distinct_records} distinct records, {processed.without_meta_interactions} without "
            "metadata). Fix: check that the reviews and metadata files are of the same category, or lower "
            "--user-k/--item-k"
        )
    stats = _stats(name, reviews, meta, options, processed, len(metas), metas)

    with writing_to(folder), staged_folder(folder) as staging:
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
    name: str, reviews: str | Path, meta: str | Path, options: BuildOptions, processed: Processed, n_meta: int,
    metas: dict[str, ItemMeta],
) -> dict[str, Any]:
    timeline = processed.timeline
    n_users, n_items, n_inters = len(timeline.user_ids), len(timeline.item_ids), timeline.n_interactions
    with_url = sum(1 for asin in timeline.item_ids if metas[asin].image_url)
    non_http = sum(1 for asin in timeline.item_ids if metas[asin].non_http_image)
    stats: dict[str, Any] = {
        "dataset": name,
        "inputs": {"interactions": Path(reviews).name, "metadata": Path(meta).name},
        "options": asdict(options),
        "records_read": processed.records_read,
        "duplicate_records": processed.records_read - processed.distinct_records,
        "same_pair_merged": processed.same_pair_merged,
        "metadata_items": n_meta,
        "without_metadata": {"interactions": processed.without_meta_interactions,
                             "items": processed.without_meta_items},
        "kcore_passes": processed.kcore_passes,
        "users": n_users,
        "items": n_items,
        "interactions": n_inters,
        "avg_seq_len": round(n_inters / n_users, 2),
        "items_with_image_url": with_url,
        "items_without_image_url": n_items - with_url,
    }
    if non_http:
        stats["items_with_non_http_image_url"] = non_http
        stats["warnings"] = [
            f"{non_http} of {n_items} items list an image only as a file:// URL or a path, which images --download "
            "does not fetch. Fix: copy those images into a folder as <asin>.<ext> and pass it as --image-dir"
        ]
    return stats


def _write_text(path: Path, item_ids: list[str], metas: dict[str, ItemMeta]) -> None:
    with atomic_open(path) as f:
        f.write(TEXT_HEADER)
        f.writelines(f"{asin}\t{metas[asin].text}\n" for asin in item_ids)


def _write_interactions(path: Path, timeline: Timeline) -> None:
    """``user, item, rating, timestamp`` per row, ``WRITE_ROWS`` rows formatted at a time."""
    users = np.repeat(np.arange(len(timeline.user_ids)), np.diff(timeline.user_ptr))  # [n]
    with atomic_open(path) as f:
        f.write(INTERACTIONS_HEADER)
        for start in range(0, timeline.n_interactions, WRITE_ROWS):
            rows = slice(start, start + WRITE_ROWS)
            columns = (users[rows].tolist(), timeline.items[rows].tolist(), timeline.ratings[rows].tolist(),
                       timeline.timestamps[rows].tolist())
            f.writelines(f"{u}\t{i}\t{r!r}\t{t}\n" for u, i, r, t in zip(*columns, strict=True))


def _write_image_urls(path: Path, item_ids: list[str], metas: dict[str, ItemMeta]) -> None:
    with atomic_open(path) as f:
        f.write(IMAGE_URLS_HEADER)
        f.writelines(f"{asin}\t{metas[asin].image_url}\n" for asin in item_ids)
