import pytest

from missrec.data.atomic import validate_benchmark, validate_split_file
from missrec.errors import DataError

HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"


def test_valid_file_counts_rows(tmp_path):
    path = tmp_path / "d.train.inter"
    path.write_text(HEADER + "0\t1 2\t3\n0\t1 2 3\t4\n")
    assert validate_split_file(path) == 2


def test_missing_header(tmp_path):
    path = tmp_path / "d.train.inter"
    path.write_text("0\t1 2\t3\n")
    with pytest.raises(DataError, match=r"d\.train\.inter:1: expected a TAB-separated 'name:type' header .*missing"):
        validate_split_file(path)


def test_malformed_header_type(tmp_path):
    path = tmp_path / "d.train.inter"
    path.write_text("user_id:token\titem_id_list:token\titem_id:token\n0\t1\t2\n")
    with pytest.raises(DataError, match=r"missing \['item_id_list:token_seq'\]"):
        validate_split_file(path)


def test_row_with_wrong_field_count_names_the_line(tmp_path):
    path = tmp_path / "d.valid.inter"
    path.write_text(HEADER + "0\t1 2\t3\n1\t4 5\n")
    with pytest.raises(DataError, match=r"d\.valid\.inter:3: expected 3 TAB-separated fields .* found 2 fields"):
        validate_split_file(path)


def test_empty_split(tmp_path):
    path = tmp_path / "d.test.inter"
    path.write_text(HEADER)
    with pytest.raises(DataError, match="an empty split"):
        validate_split_file(path)


def test_missing_split_points_to_the_readme(tmp_path):
    with pytest.raises(DataError, match=r"d\.train\.inter: expected a benchmark split file, found no such file.*datasets/README.md"):
        validate_benchmark(tmp_path, "d", ["train"])
