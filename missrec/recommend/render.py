"""How recommendations are shown: a terminal table, JSON, and the rows of the ``--all-users`` files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from missrec.recommend.recommender import Recommendation

TSV_HEADER = "user_id\trank\titem_id\tscore\ttext\n"


def as_dicts(recs: Sequence[Recommendation]) -> list[dict[str, Any]]:
    """``[{"rank", "item_id", "score", "text"}]`` (scores rounded to 6 decimals)."""
    return [{"rank": n, "item_id": r.item_id, "score": round(r.score, 6), "text": r.text} for n, r in enumerate(recs, 1)]


def table(recs: Sequence[Recommendation], new_ids: set[str] = frozenset(), width: int = 70) -> str:
    """A terminal table: rank, item id, score, text (new items marked)."""
    rows = [
        [n, r.item_id + (" *" if r.item_id in new_ids else ""), f"{r.score:.4f}", r.text[:width]]
        for n, r in enumerate(recs, 1)
    ]
    text = tabulate(rows, headers=["rank", "item_id", "score", "text"], tablefmt="simple", disable_numparse=True)
    return text + ("\n(* = added with --add-items)" if any(r.item_id in new_ids for r in recs) else "")


def tsv_rows(user: object, recs: Sequence[Recommendation]) -> str:
    """``user<TAB>rank<TAB>item<TAB>score<TAB>text`` lines of one user."""
    return "".join(f"{user}\t{n}\t{r.item_id}\t{r.score:.6f}\t{r.text}\n" for n, r in enumerate(recs, 1))


def json_line(user: object, recs: Sequence[Recommendation]) -> str:
    """One JSON object per line: ``{"user_id", "items": [...]}``."""
    return json.dumps({"user_id": str(user), "items": as_dicts(recs)}, ensure_ascii=False) + "\n"
