"""Amazon 2018 raw files -> UniSRec benchmark folder: counts, rows, id maps, text, determinism, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from missrec.data.prepare.amazon.build import BuildOptions, build_category
from missrec.data.prepare.amazon.categories import category_of, find_raw_files
from missrec.data.prepare.amazon.cli import main
from missrec.data.prepare.amazon import reference
from missrec.data.prepare.amazon.kcore import dedup_exact, dedup_pairs, filter_by_meta, k_core
from missrec.data.prepare.amazon.raw import InteractionTable, first_image_url, read_interaction_table
from missrec.data.prepare.amazon.sequences import build_timeline
from missrec.data.prepare.amazon.staging import check_folder
from missrec.data.prepare.amazon.text import clean_field, item_text
from missrec.errors import DataError

try:
    from . import amazon_fixtures as fx
except ImportError:
    import amazon_fixtures as fx


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fx.write_raw(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def alpha(raw, tmp_path_factory) -> Path:
    reviews, meta = find_raw_files(raw, fx.ALPHA)
    folder = tmp_path_factory.mktemp("out") / "Alpha_mm_full"
    build_category(reviews, meta, folder, show_progress=False)
    return folder


# --- pieces -------------------------------------------------------------------------------------------------------


def test_clean_field_follows_unisrec():
    assert clean_field('Red &amp; Blue "Paint"\r\n Set..') == "Red & Blue Paint Set."
    assert clean_field(["Arts, Crafts", "Paint"]) == "Arts, Crafts Paint."
    assert clean_field("a\tb") == "a b."
    assert clean_field("x" * 1998) == "x" * 1998 + "."  # 1999 chars: kept
    assert clean_field("x" * 1999) == ""  # 2000 chars with the dot: dropped
    assert clean_field(None) == clean_field("") == clean_field("...") == ""
    assert item_text({"title": "T", "brand": "B", "category": [], "description": "not used"}) == "T. B."


def test_first_image_url_prefers_high_resolution():
    both = {"imageURLHighRes": ["https://h/1.jpg"], "imageURL": ["https://l/1.jpg"]}
    assert first_image_url(both) == "https://h/1.jpg"
    assert first_image_url({"imageURLHighRes": [], "imageURL": "https://l/2.jpg"}) == "https://l/2.jpg"
    assert first_image_url({"imageURL": ["not a url"]}) == ""


def table_of(inters: list[tuple[str, str, float, int]]) -> InteractionTable:
    """Records ``(user, item, rating, timestamp)`` as columns (codes by first appearance)."""
    users, items = {}, {}
    codes = [(users.setdefault(u, len(users)), items.setdefault(i, len(items))) for u, i, _, _ in inters]
    return InteractionTable(
        user=np.array([c[0] for c in codes], np.int32), item=np.array([c[1] for c in codes], np.int32),
        rating=np.array([x[2] for x in inters], np.float64), timestamp=np.array([x[3] for x in inters], np.int64),
        users=list(users), items=list(items),
    )


def records(table: InteractionTable) -> list[tuple[str, str, float, int]]:
    return sorted(zip([table.users[c] for c in table.user], [table.items[c] for c in table.item],
                      table.rating.tolist(), table.timestamp.tolist()))


def test_k_core_iterates_to_the_fixed_point(raw):
    table = read_interaction_table(raw / f"{fx.ALPHA}_5.json", desc="")
    distinct = dedup_exact(table)
    assert (len(table), len(distinct)) == (221, 220)
    kept, report = filter_by_meta(distinct, {f"P0{k}" for k in range(10)} | {"J0", "K0"})
    assert (report.interactions, report.items) == (7, 2)
    core, passes = k_core(kept, 5, 5)
    assert (len(core), passes) == (181, 4)
    assert {core.users[c] for c in core.user} == {f"A{u:02d}" for u in range(30)}
    # the plain in-memory reference agrees at every step
    inters, n_read = reference.read_interactions(raw / f"{fx.ALPHA}_5.json", desc="")
    assert (n_read, sorted(inters)) == (221, records(distinct))
    ref_kept, dropped, dropped_items = reference.filter_by_meta(inters, {f"P0{k}" for k in range(10)} | {"J0", "K0"})
    ref_core, ref_passes = reference.k_core(ref_kept, 5, 5)
    assert (dropped, dropped_items, ref_passes, sorted(ref_core)) == (7, 2, 4, records(core))


def test_timeline_breaks_ties_by_asin_and_indexes_by_first_appearance():
    inters = [("u2", "b", 5.0, 10), ("u2", "a", 4.0, 10), ("u1", "c", 3.0, 5), ("u1", "a", 1.0, 7)]
    for timeline in (build_timeline(table_of(inters)), reference.build_timeline(inters)):
        assert timeline.user_ids == ["u1", "u2"]
        assert timeline.item_ids == ["c", "a", "b"]
        assert list(timeline.sequences) == [[0, 1], [1, 2]]
        assert timeline.user_ptr.tolist() == [0, 2, 4]
        assert timeline.ratings.tolist() == [3.0, 1.0, 4.0, 5.0] and timeline.timestamps.tolist() == [5, 7, 10, 10]


def test_dedup_pairs_keeps_the_earliest():
    inters = [("u", "i", 5.0, 20), ("u", "i", 3.0, 10), ("u", "j", 1.0, 30), ("u", "j", 2.0, 30)]
    kept, removed = dedup_pairs(table_of(inters))
    assert removed == 2 and records(kept) == [("u", "i", 3.0, 10), ("u", "j", 1.0, 30)]
    ref_kept, ref_removed = reference.dedup_pairs(inters)
    assert (ref_removed, sorted(ref_kept)) == (2, records(kept))


def test_category_names_and_raw_file_discovery(raw):
    assert category_of("Scientific") == "Industrial_and_Scientific"
    assert category_of("Pantry") == "Prime_Pantry"
    with pytest.raises(DataError, match="--category"):
        category_of("Alpha")
    reviews, meta = find_raw_files(raw, fx.BETA)
    assert (reviews.name, meta.name) == ("Beta_Stuff_5.json.gz", "meta_Beta_Stuff.json.gz")
    with pytest.raises(DataError, match="Amazon Review Data"):
        find_raw_files(raw, "Nope")


# --- the built folder ---------------------------------------------------------------------------------------------


def test_counts_after_5_core(alpha):
    stats = json.loads((alpha / "Alpha_mm_full.stats.json").read_text())
    assert stats["records_read"] == 221 and stats["duplicate_records"] == 1
    assert stats["without_metadata"] == {"interactions": 7, "items": 2}
    assert stats["kcore_passes"] == 4
    assert (stats["users"], stats["items"], stats["interactions"]) == (30, 10, 181)
    assert stats["rows"] == {"train": 91, "valid": 30, "test": 30}
    assert stats["avg_seq_len"] == 6.03
    assert (stats["items_with_image_url"], stats["items_without_image_url"]) == (8, 2)


def test_id_maps(alpha):
    assert _lines(alpha / "Alpha_mm_full.item2index") == [f"P0{k}\t{k}" for k in range(10)]
    assert _lines(alpha / "Alpha_mm_full.user2index") == [f"A{u:02d}\t{u}" for u in range(30)]


def test_split_rows(alpha):
    header = "user_id:token\titem_id_list:token_seq\titem_id:token"
    train, valid, test = (_lines(alpha / f"Alpha_mm_full.{s}.inter") for s in ("train", "valid", "test"))
    assert [len(x) - 1 for x in (train, valid, test)] == [91, 30, 30]
    assert train[0] == valid[0] == test[0] == header
    assert train[1:4] == ["0\t0\t1", "0\t0 1\t2", "0\t0 1 2\t3"]
    assert (valid[1], test[1]) == ("0\t0 1 2 3\t4", "0\t0 1 2 3 4\t5")
    # A05 reviewed six items in the same second: ordered by asin
    assert [r for r in test if r.startswith("5\t")] == ["5\t0 5 6 7 8\t9"]
    # A20 re-rated P00 last: 7 interactions, the repeat is the test target
    assert [r for r in test if r.startswith("20\t")] == ["20\t0 1 2 3 4 5\t0"]
    assert sum(r.startswith("20\t") for r in train) == 4


def test_text_file(alpha):
    rows = _lines(alpha / "Alpha_mm_full.text")
    assert rows[0] == "item_id:token\ttext:token_seq"
    assert len(rows) == 11
    assert dict(r.split("\t") for r in rows[1:5]) == fx.ALPHA_TEXTS
    assert rows[10] == "P09\tItem P09. Arts Sub 9. Brand 9."


def test_interactions_and_image_urls(alpha):
    rows = _lines(alpha / "Alpha_mm_full.interactions.tsv")
    assert len(rows) == 182 and rows[1] == "0\t0\t1.0\t1500000000"
    urls = dict(r.split("\t") for r in _lines(alpha / "Alpha_mm_full.image_urls.tsv")[1:])
    assert urls["P00"] == "https://images.example/P00.png" and urls["P01"] == "https://images.example/P01.jpg"
    assert [a for a, u in urls.items() if not u] == list(fx.ALPHA_NO_URL)


def test_rerun_is_byte_identical_and_checks(alpha, raw, tmp_path):
    again = tmp_path / "elsewhere" / "Alpha_mm_full"
    assert main(["build", "--name", "Alpha", "--category", fx.ALPHA, "--raw-dir", str(raw),
                 "--out", str(again.parent)]) == 0
    names = sorted(p.name for p in alpha.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert len(names) == 10
    for name in names:
        assert (alpha / name).read_bytes() == (again / name).read_bytes(), name
    assert check_folder(again) == []
    assert main(["build", "--name", "Alpha", "--out", str(again.parent), "--check"]) == 0
    with open(again / "Alpha_mm_full.test.inter", "a") as f:
        f.write("tampered\n")
    assert check_folder(again) == [f"{again / 'Alpha_mm_full.test.inter'}: checksum differs from Alpha_mm_full.sha256"]
    assert main(["build", "--name", "Alpha", "--out", str(again.parent), "--check"]) == 1


def test_ratings_csv_gives_the_same_benchmark(alpha, raw, tmp_path):
    rows = [f"{r['asin']},{r['reviewerID']},{r['overall']},{r['unixReviewTime']}" for r in fx.alpha_reviews()]
    csv = tmp_path / f"{fx.ALPHA}.csv"
    csv.write_text("\n".join(rows) + "\n")
    folder = tmp_path / "Alpha_mm_full"
    build_category(csv, raw / f"meta_{fx.ALPHA}.json", folder, show_progress=False)
    for split in ("train", "valid", "test"):
        name = f"Alpha_mm_full.{split}.inter"
        assert (folder / name).read_bytes() == (alpha / name).read_bytes()


def test_dedup_pair_and_max_len(raw, tmp_path):
    folder = tmp_path / "Alpha_mm_full"
    stats = build_category(raw / f"{fx.ALPHA}_5.json", raw / f"meta_{fx.ALPHA}.json", folder,
                           BuildOptions(dedup="pair", max_len=3), show_progress=False)
    assert (stats["interactions"], stats["same_pair_merged"], stats["rows"]["train"]) == (180, 1, 90)
    test = _lines(folder / "Alpha_mm_full.test.inter")
    assert test[1] == "0\t2 3 4\t5"  # history truncated to the last 3 items


def test_rebuild_carries_features_over_only_if_the_items_are_unchanged(raw, tmp_path):
    folder = tmp_path / "Alpha_mm_full"
    reviews, meta = raw / f"{fx.ALPHA}_5.json", raw / f"meta_{fx.ALPHA}.json"
    build_category(reviews, meta, folder, show_progress=False)
    (folder / "Alpha_mm_full.feat1CLS").write_bytes(b"\0" * 40)
    stats = build_category(reviews, meta, folder, BuildOptions(max_len=4), show_progress=False)
    assert stats["carried_over"] == ["Alpha_mm_full.feat1CLS"]
    assert check_folder(folder) == []
    no_p09 = fx.write_lines(tmp_path / "meta.json", [m for m in fx.alpha_metadata() if m["asin"] != "P09"])
    stats = build_category(reviews, no_p09, folder, show_progress=False)
    assert stats["items"] == 9 and stats["dropped"] == ["Alpha_mm_full.feat1CLS"]
    assert not (folder / "Alpha_mm_full.feat1CLS").exists()


# --- bad input ----------------------------------------------------------------------------------------------------


def _no_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_malformed_json_names_file_and_line(raw, tmp_path, capsys):
    bad = tmp_path / "bad_5.json"
    lines = (raw / f"{fx.ALPHA}_5.json").read_text().splitlines()
    lines[6] = lines[6][:-1]  # line 7 loses its closing brace
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"bad_5\.json:7: expected one JSON object per line"):
        build_category(bad, raw / f"meta_{fx.ALPHA}.json", out / "Alpha_mm_full", show_progress=False)
    assert _no_leftovers(out) == []
    code = main(["build", "--name", "Alpha", "--reviews", str(bad), "--meta", str(raw / f"meta_{fx.ALPHA}.json"),
                 "--out", str(out)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "bad_5.json:7" in errors[0]


def test_missing_review_field_is_an_error(tmp_path, raw):
    reviews = fx.write_lines(tmp_path / "r.json", [{"reviewerID": "u", "asin": "P00", "overall": 5.0}])
    with pytest.raises(DataError, match=r"r\.json:1: .*unixReviewTime"):
        build_category(reviews, raw / f"meta_{fx.ALPHA}.json", tmp_path / "X_mm_full", show_progress=False)


def test_empty_after_k_core_leaves_no_folder_and_keeps_the_old_one(raw, tmp_path):
    few = fx.write_lines(tmp_path / "few.json", fx.alpha_reviews()[:40])
    out = tmp_path / "out"
    with pytest.raises(DataError, match="no interaction survives the 5-core"):
        build_category(few, raw / f"meta_{fx.ALPHA}.json", out / "Alpha_mm_full", show_progress=False)
    assert _no_leftovers(out) == []
    # a failing rebuild leaves the previous folder as it was
    folder = out / "Alpha_mm_full"
    build_category(raw / f"{fx.ALPHA}_5.json", raw / f"meta_{fx.ALPHA}.json", folder, show_progress=False)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(DataError):
        build_category(few, raw / f"meta_{fx.ALPHA}.json", folder, show_progress=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert _no_leftovers(out) == ["Alpha_mm_full"]


def test_reviews_of_another_category_report_missing_metadata(raw, tmp_path):
    with pytest.raises(DataError, match=r"120 without metadata"):
        build_category(raw / f"{fx.BETA}_5.json.gz", raw / f"meta_{fx.ALPHA}.json", tmp_path / "B_mm_full",
                       show_progress=False)
