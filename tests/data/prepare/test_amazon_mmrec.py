"""MMRec export: the per-user 8:1:1 split rule, file contents, shared item indices, feature checks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from missrec.data.features import write_feature_file
from missrec.data.prepare.amazon.build import build_category
from missrec.data.prepare.amazon.cli import main
from missrec.data.prepare.amazon.mmrec import export_mmrec, mmrec_rows, split_labels
from missrec.data.prepare.amazon.staging import check_folder
from missrec.errors import DataError

try:
    from . import amazon_fixtures as fx
except ImportError:
    import amazon_fixtures as fx


def test_split_labels_follow_mmrec():
    assert split_labels(5) == [0, 0, 0, 1, 2]
    assert (split_labels(2), split_labels(1), split_labels(0)) == ([1, 2], [2], [])
    assert split_labels(9) == [0] * 7 + [1, 2]
    assert split_labels(10) == [0] * 8 + [1, 2]
    assert split_labels(15) == [0] * 12 + [1, 2, 2]  # int(0.2*15) = 3 held out: 1 valid, 2 test
    assert split_labels(23) == [0] * 19 + [1, 1, 2, 2]
    assert split_labels(100) == [0] * 80 + [1] * 10 + [2] * 10


def test_rows_are_a_seeded_shuffle_within_each_user():
    inters = [(u, i, "5.0", str(i)) for u in range(3) for i in range(12)] + [(0, 0, "1.0", "99")]
    rows, dropped = mmrec_rows(inters, seed=1)
    assert dropped == 1 and len(rows) == 36
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # grouped by user, users ascending
    assert Counter(r[4] for r in rows) == {0: 30, 1: 3, 2: 3}
    assert rows == mmrec_rows(inters, seed=1)[0]
    other = mmrec_rows(inters, seed=2)[0]
    assert other != rows
    assert Counter(r[4] for r in other) == {0: 30, 1: 3, 2: 3}
    assert sorted(r[:4] for r in other) == sorted(r[:4] for r in rows)


@pytest.fixture()
def alpha(tmp_path):
    raw = fx.write_raw(tmp_path / "raw")
    folder = tmp_path / "out" / "Alpha_mm_full"
    build_category(raw / f"{fx.ALPHA}_5.json", raw / f"meta_{fx.ALPHA}.json", folder, show_progress=False)
    text = np.arange(40, dtype=np.float32).reshape(10, 4)
    image = np.ones((10, 2), dtype=np.float32)
    image[[2, 6]] = 0
    write_feature_file(folder / "Alpha_mm_full.feat1CLS", text)
    write_feature_file(folder / "Alpha_mm_full.feat3CLS", image)
    return folder


def test_export_contents(alpha, tmp_path):
    assert main(["export-mmrec", "--folder", str(alpha), "--out", str(tmp_path / "mmrec")]) == 0
    out = tmp_path / "mmrec" / "Alpha"
    assert sorted(p.name for p in out.iterdir()) == ["Alpha.inter", "Alpha.sha256", "image_feat.npy", "text_feat.npy"]
    lines = (out / "Alpha.inter").read_text().splitlines()
    assert lines[0] == "userID\titemID\trating\ttimestamp\tx_label"
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) == 180  # 181 interactions, A20's second rating of P00 merged
    assert Counter(r[4] for r in rows) == {"0": 120, "1": 30, "2": 30}
    per_user = Counter((r[0], r[4]) for r in rows)
    assert all(per_user[(str(u), "1")] == per_user[(str(u), "2")] == 1 for u in range(30))
    # the same indices as the benchmark: user 0 = A00 rated items 0..5, first at T0 with rating 1
    assert sorted(int(r[1]) for r in rows if r[0] == "0") == [0, 1, 2, 3, 4, 5]
    assert ["0", "0", "1.0", str(fx.T0)] in [r[:4] for r in rows]
    text = np.load(out / "text_feat.npy", allow_pickle=False)
    image = np.load(out / "image_feat.npy", allow_pickle=False)
    assert (text.dtype, text.shape, image.shape) == (np.float32, (10, 4), (10, 2))
    np.testing.assert_array_equal(text[3], [12, 13, 14, 15])
    assert not image[2].any() and image[0].all()
    assert check_folder(out) == []
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["export-mmrec", "--folder", str(alpha), "--out", str(tmp_path / "mmrec")]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["export-mmrec", "--folder", str(alpha), "--out", str(tmp_path / "mmrec"), "--check"]) == 0


def test_mean_imputation_of_missing_images(alpha, tmp_path):
    stats = export_mmrec(alpha, tmp_path / "Alpha", missing_image="mean")
    assert (stats["train"], stats["valid"], stats["test"], stats["duplicate_pairs_dropped"]) == (120, 30, 30, 1)
    image = np.load(tmp_path / "Alpha" / "image_feat.npy")
    np.testing.assert_array_equal(image, np.ones((10, 2)))


def test_feature_file_that_does_not_match_the_items(alpha, tmp_path):
    write_feature_file(alpha / "Alpha_mm_full.feat3CLS", np.ones((9, 2), dtype=np.float32))
    with pytest.raises(DataError, match="10 rows"):
        export_mmrec(alpha, tmp_path / "Alpha")
    assert not (tmp_path / "Alpha").exists()
    (alpha / "Alpha_mm_full.feat3CLS").unlink()
    with pytest.raises(DataError, match="no such file"):
        export_mmrec(alpha, tmp_path / "Alpha")
