import numpy as np
import pytest

from missrec.data.features import infer_feature_dim, read_feature_file, read_index, write_feature_file
from missrec.errors import DataError


def test_roundtrip_is_little_endian_float32(tmp_path):
    feats = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "x.feat1CLS"
    write_feature_file(path, feats)
    assert path.read_bytes() == feats.astype("<f4").tobytes()
    assert np.array_equal(read_feature_file(path, 4, 3), feats)
    assert infer_feature_dim(path, 3) == 4


def test_size_not_a_multiple_of_the_row(tmp_path):
    path = tmp_path / "x.feat3CLS"
    path.write_bytes(np.zeros(10, dtype="<f4").tobytes())
    with pytest.raises(DataError, match=r"x\.feat3CLS: expected rows of 4 float32 values .* found 40 bytes"):
        read_feature_file(path, 4)


def test_rows_differ_from_items(tmp_path):
    path = tmp_path / "x.feat1CLS"
    write_feature_file(path, np.zeros((5, 2), np.float32))
    with pytest.raises(DataError, match=r"expected 6 rows \(one per item in .item2index\), found 5 rows"):
        read_feature_file(path, 2, 6)


def test_nan_and_inf_are_rejected_with_row_numbers(tmp_path):
    feats = np.zeros((6, 2), np.float32)
    feats[1, 0], feats[4, 1] = np.nan, np.inf
    path = tmp_path / "x.feat1CLS"
    path.write_bytes(feats.tobytes())
    with pytest.raises(DataError, match=r"NaN/inf in 2 rows \(first: \[1, 4\]\)"):
        read_feature_file(path, 2, 6)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_feature_file(tmp_path / "nope.feat1CLS", 2)


def test_index_reader_rejects_malformed_line(tmp_path):
    path = tmp_path / "x.item2index"
    path.write_text("A\t0\nB 1\n")
    with pytest.raises(DataError, match=r"x\.item2index:2"):
        read_index(path)
    path.write_text("A\t0\nB\t1\n")
    assert read_index(path) == {"A": 0, "B": 1}
