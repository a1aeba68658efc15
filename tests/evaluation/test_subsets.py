"""Named test subsets: read, checked against the test rows, reported beside the whole split."""

import pytest
import torch
from recbole.data.interaction import Interaction

from missrec.errors import MissrecError
from missrec.evaluation.subsets import subset_files, subset_rows

USERS = ["[PAD]", "u1", "u2", "u3"]
ITEMS = ["[PAD]", "a", "b", "c"]
ROWS = Interaction({"user_id": torch.tensor([1, 2, 3]), "item_id": torch.tensor([3, 1, 2])})


def write(path, lines):
    path.write_text("user_id:token\titem_id:token\tnew_item:token\n" + "".join(f"{line}\n" for line in lines))
    return path


def test_flagged_rows_are_selected_and_files_are_found(tmp_path):
    path = write(tmp_path / "DS.test_new_items", ["u1\tc\t1", "u2\ta\t0", "u3\tb\t1"])
    assert subset_files(tmp_path, "DS") == {"new_items": path}
    assert subset_rows(path, ROWS, USERS, ITEMS, "user_id", "item_id").tolist() == [0, 2]


@pytest.mark.parametrize("lines,fragment", [
    (["u1\tc\t1", "u2\ta\t0"], "u3"),  # a test user without a line
    (["u1\tb\t1", "u2\ta\t0", "u3\tb\t1"], "another build"),  # u1's test item differs: a file of another build
    (["u1\tc\tyes", "u2\ta\t0", "u3\tb\t1"], "line 2"),
])
def test_a_file_that_does_not_describe_these_rows_is_one_error(tmp_path, lines, fragment):
    path = write(tmp_path / "DS.test_new_items", lines)
    with pytest.raises(MissrecError, match=fragment):
        subset_rows(path, ROWS, USERS, ITEMS, "user_id", "item_id")
