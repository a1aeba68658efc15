"""The column-based build equals the plain in-memory reference byte for byte, and the pipeline's refusals (issue 9):
an unwritable output found before any input is read, names that would escape --out, an empty reviews file, image
URLs that are not http(s)."""

from __future__ import annotations

import errno
import json
import random
from pathlib import Path

import pytest

from missrec.data.prepare.amazon import build as build_module
from missrec.data.prepare.amazon import staging
from missrec.data.prepare.amazon.build import BuildOptions, build_category
from missrec.data.prepare.amazon.cli import main
from missrec.errors import DataError

try:
    from . import amazon_fixtures as fx
except ImportError:
    import amazon_fixtures as fx


def random_category(raw: Path, seed: int, n_reviews: int = 1500) -> tuple[Path, Path]:
    """Skewed random reviews with exact duplicates, re-ratings, same-second ties and items without metadata."""
    rng = random.Random(seed)
    items = [f"I{k:03d}" for k in range(60)]
    weights = [1.0 / (k + 1) for k in range(60)]  # a few popular items, a long tail
    reviews = []
    for _ in range(n_reviews):
        user = f"U{int(rng.paretovariate(1.2)) % 150:03d}"
        reviews.append(fx._review(user, rng.choices(items, weights)[0], fx.T0 + rng.randrange(40),
                                  float(rng.randint(1, 5))))
    reviews += [dict(r) for r in rng.sample(reviews, 100)]  # exact duplicates
    rng.shuffle(reviews)
    metas = [{"asin": a, "title": f"Item {a}", "brand": "B"} for a in items if a not in ("I001", "I007")]
    metas += [{"asin": "I003", "title": "a later record of I003, ignored"}]
    return fx.write_lines(raw / f"r{seed}.json", reviews, gz=seed % 2 == 1), fx.write_lines(raw / "m.json", metas)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dedup", ["exact", "pair"])
def test_columns_equal_the_reference_byte_for_byte(tmp_path, seed, dedup):
    reviews, meta = random_category(tmp_path, seed)
    options = BuildOptions(dedup=dedup, user_k=3, item_k=4, max_len=7)
    stats = build_category(reviews, meta, tmp_path / "a" / "R_mm_full", options, show_progress=False)
    build_category(reviews, meta, tmp_path / "b" / "R_mm_full", options, show_progress=False,
                   reference_processing=True)
    got, want = folder_bytes(tmp_path / "a" / "R_mm_full"), folder_bytes(tmp_path / "b" / "R_mm_full")
    assert got == want
    assert stats["records_read"] == 1600 and stats["duplicate_records"] >= 100
    assert stats["without_metadata"]["items"] == 2 and stats["kcore_passes"] >= 1
    assert 0 < stats["items"] <= 58 and stats["interactions"] > 0


def test_columns_equal_the_reference_on_the_hand_built_category(tmp_path):
    raw = fx.write_raw(tmp_path / "raw")
    for ref, sub in ((False, "a"), (True, "b")):
        build_category(raw / f"{fx.ALPHA}_5.json", raw / f"meta_{fx.ALPHA}.json", tmp_path / sub / "Alpha_mm_full",
                       show_progress=False, reference_processing=ref)
    assert folder_bytes(tmp_path / "a" / "Alpha_mm_full") == folder_bytes(tmp_path / "b" / "Alpha_mm_full")


# --- refusals -----------------------------------------------------------------------------------------------------


def _one_error(capsys) -> str:
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
def test_unwritable_output_is_refused_before_reading_the_input(tmp_path, monkeypatch, capsys, code):
    raw = fx.write_raw(tmp_path / "raw")

    def no_space(*args, **kwargs):
        raise OSError(code, "simulated")

    def must_not_read(*args, **kwargs):
        raise AssertionError("the input was read before the output was checked")

    monkeypatch.setattr(staging.tempfile, "mkstemp", no_space)
    monkeypatch.setattr(build_module, "read_metadata", must_not_read)
    out = tmp_path / "out"
    assert main(["build", "--name", "Alpha", "--category", fx.ALPHA, "--raw-dir", str(raw), "--out", str(out)]) == 2
    error = _one_error(capsys)
    assert str(out) in error and "writable" in error and "Fix:" in error
    assert not out.exists()


def test_a_disk_that_fills_mid_build_is_one_line_and_keeps_the_old_folder(tmp_path, monkeypatch, capsys):
    raw = fx.write_raw(tmp_path / "raw")
    out = tmp_path / "out"
    argv = ["build", "--name", "Alpha", "--category", fx.ALPHA, "--raw-dir", str(raw), "--out", str(out)]
    assert main(argv) == 0
    before = folder_bytes(out / "Alpha_mm_full")

    def full(path, timeline):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(build_module, "_write_interactions", full)
    capsys.readouterr()
    assert main(argv) == 2
    assert "No space left on device" in _one_error(capsys)
    assert folder_bytes(out / "Alpha_mm_full") == before
    assert sorted(p.name for p in out.iterdir()) == ["Alpha_mm_full"]


@pytest.mark.parametrize("argv", [
    ["build", "--name", "../../X", "--category", "C", "--reviews", "r", "--meta", "m"],
    ["build", "--name", "X", "--suffix", "/../../Y", "--reviews", "r", "--meta", "m"],
    ["build", "--name", "..", "--reviews", "r", "--meta", "m"],
    ["export-mmrec", "--folder", "f", "--name", "../X"],
    ["pretrain", "--domains", "Food,../Home"],
])
def test_names_that_would_write_outside_out_are_refused(tmp_path, capsys, argv):
    out = tmp_path / "a" / "b" / "out"
    assert main([*argv, "--out", str(out)]) == 2
    assert "expected a plain name" in _one_error(capsys)
    assert list(tmp_path.iterdir()) == []  # refused before anything is created


def test_unknown_name_suggests_the_closest(tmp_path, capsys):
    assert main(["build", "--name", "Scientfic", "--raw-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "did you mean 'Scientific'?" in _one_error(capsys)


def test_empty_reviews_file_is_named_as_empty(tmp_path):
    raw = fx.write_raw(tmp_path / "raw")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.json: expected interaction records, found none \(an empty file\)"):
        build_category(empty, raw / f"meta_{fx.ALPHA}.json", tmp_path / "o" / "A_mm_full", show_progress=False)


def test_non_http_image_urls_are_counted_and_warned_about(tmp_path, capsys):
    raw = fx.write_raw(tmp_path / "raw", image_base="file:///mirror/images/")
    out = tmp_path / "out"
    assert main(["build", "--name", "Alpha", "--category", fx.ALPHA, "--raw-dir", str(raw), "--out", str(out)]) == 0
    stats = json.loads((out / "Alpha_mm_full" / "Alpha_mm_full.stats.json").read_text())
    assert stats["items_with_image_url"] == 0 and stats["items_with_non_http_image_url"] == 8
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "8 of 10 items" in warnings[0] and "--image-dir" in warnings[0]


def test_the_fast_reader_takes_unusual_lines_like_the_checked_one(tmp_path):
    from missrec.data.prepare.amazon.raw import iter_records, read_interaction_table

    lines = [
        '{"reviewerID": "u1", "asin": "a", "overall": 5.0, "unixReviewTime": 10}\n',
        '  {"reviewerID": "u1", "asin": "b", "overall": "4", "unixReviewTime": "11"}  \r\n',  # strings, spaces
        "\n",
        '{"reviewerID": 7, "asin": "a", "overall": 3, "unixReviewTime": 12.0}\n',  # numbers where strings go
        '{"asin": "c", "unixReviewTime": 13, "overall": 1.0, "reviewerID": "u2", "extra": [1, {"x": null}]}',
    ]
    path = tmp_path / "r.json"
    path.write_text("".join(lines))
    table = read_interaction_table(path, desc="")
    got = list(zip([table.users[c] for c in table.user], [table.items[c] for c in table.item],
                   table.rating.tolist(), table.timestamp.tolist()))
    assert got == list(iter_records(path, desc="")) == [
        ("u1", "a", 5.0, 10), ("u1", "b", 4.0, 11), ("7", "a", 3.0, 12), ("u2", "c", 1.0, 13)]
    for bad, message in (('{"reviewerID": "u", "asin": "a", "overall": NaN, "unixReviewTime": 1}', "finite"),
                         ('{"reviewerID": "", "asin": "a", "overall": 1, "unixReviewTime": 1}', "reviewerID"),
                         ('{"reviewerID": "u", "asin": "a", "overall": 1, "unixReviewTime": 1} {}', "Extra data"),
                         ('[1, 2]', "a JSON object")):
        path.write_text(lines[0] + bad + "\n")
        with pytest.raises(DataError, match=rf"r\.json:2: .*{message}"):
            read_interaction_table(path, desc="")
