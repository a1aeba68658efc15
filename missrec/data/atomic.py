"""Checks on RecBole atomic benchmark files before RecBole parses them, so bad input gets one clear error.

A benchmark split ``<ds>.<split>.inter`` is TAB-separated with a ``name:type`` header that must contain
``user_id:token``, ``item_id_list:token_seq`` and ``item_id:token`` (spec missrec.md §4.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from missrec.errors import data_error
from missrec.logging_utils import get_logger

REQUIRED_COLUMNS = ("user_id:token", "item_id_list:token_seq", "item_id:token")
DATASETS_README = "datasets/README.md"


def split_path(data_dir: str | Path, name: str, split: str) -> Path:
    """``<data_dir>/<name>.<split>.inter``."""
    return Path(data_dir) / f"{name}.{split}.inter"


def validate_split_file(path: str | Path, required: Sequence[str] = REQUIRED_COLUMNS) -> int:
    """Validate one ``.inter`` file: header, column count of every row, non-empty. Returns the row count.

    Rows repeating an earlier row exactly (same user, history and target) are accepted with a warning that
    counts them: a benchmark writer never repeats a row, so they are usually a concatenation gone wrong, and they
    weigh their sequences more in training and in the metrics.
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(
            path,
            "a benchmark split file",
            "no such file",
            f"put the dataset folder under the data path (see {DATASETS_README}) or build it with its prepare command",
        )
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        columns = header.split("\t")
        missing = [c for c in required if c not in columns]
        if missing:
            raise data_error(
                f"{path}:1",
                f"a TAB-separated 'name:type' header with {list(required)}",
                f"{header[:120]!r} (missing {missing})",
                "add the header line; UniSRec/MISSRec files start with "
                "'user_id:token<TAB>item_id_list:token_seq<TAB>item_id:token'",
            )
        rows = 0
        seen: set[int] = set()
        repeats = 0
        for n, line in enumerate(f, 2):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(columns):
                raise data_error(
                    f"{path}:{n}",
                    f"{len(columns)} TAB-separated fields like the header",
                    f"{len(fields)} fields: {line.rstrip()[:120]!r}",
                    "repair or regenerate this file",
                )
            rows += 1
            key = hash(line.rstrip("\n"))
            repeats += key in seen
            seen.add(key)
    if rows == 0:
        raise data_error(path, "at least one interaction row", "an empty split (header only)", "regenerate the split")
    if repeats:
        get_logger().warning(f"{path}: {repeats} of {rows} rows repeat an earlier row exactly, so their sequences "
                             "weigh more in training and metrics. Fix: remove the repeats (or rebuild the split) "
                             "unless they are intended")
    return rows


def validate_benchmark(data_dir: str | Path, name: str, splits: Sequence[str]) -> dict[str, int]:
    """Validate every split file of a benchmark dataset; returns ``{split: rows}``."""
    return {split: validate_split_file(split_path(data_dir, name, split)) for split in splits}
