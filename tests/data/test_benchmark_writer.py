import pytest

from missrec.data.prepare.benchmark_writer import write_benchmark
from missrec.errors import DataError


def test_leave_one_out_prefix_rows_and_truncation(tmp_path):
    counts = write_benchmark(tmp_path, "d", [[5, 6, 7, 8, 9], [1, 2, 3]], ["alice", "bob"], [f"i{i}" for i in range(10)], max_len=2)
    assert counts == {"train": 2, "valid": 2, "test": 2}
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    assert (tmp_path / "d.train.inter").read_text() == header + "0\t5\t6\n0\t5 6\t7\n"
    assert (tmp_path / "d.valid.inter").read_text() == header + "0\t6 7\t8\n1\t1\t2\n"
    assert (tmp_path / "d.test.inter").read_text() == header + "0\t7 8\t9\n1\t1 2\t3\n"
    assert (tmp_path / "d.user2index").read_text() == "alice\t0\nbob\t1\n"
    assert (tmp_path / "d.item2index").read_text().splitlines()[9] == "i9\t9"


def test_users_with_fewer_than_three_items_are_rejected(tmp_path):
    with pytest.raises(DataError, match="fewer than 3 interactions"):
        write_benchmark(tmp_path, "d", [[1, 2]], ["u"], ["a", "b", "c"])
    assert not (tmp_path / "d.train.inter").exists()
