"""Item text as UniSRec builds it (``process_amazon.py::clean_text``; spec missrec.md §4.2).

Each of title, category and brand is HTML-unescaped, stripped of ``"``, ``\\n`` and ``\\r``, and ended with exactly
one ``.``; a field of 2000 characters or more becomes empty. Two deliberate differences, both about the file format
rather than the text: tabs become spaces (the ``.text`` file is TAB-separated), and empty fields are left out and the
fields joined with single spaces (UniSRec appends ``field + ' '``, leaving a lone ``.`` for an empty field and a
trailing space, which RecBole's ``token_seq`` parsing turns into an empty token).
"""

from __future__ import annotations

import html
import re
from typing import Any

TEXT_FIELDS = ("title", "category", "brand")
MAX_FIELD_CHARS = 2000
_DROPPED = re.compile(r'["\n\r]')


def clean_field(raw: Any) -> str:
    """Clean one metadata field (string, list of strings, dict or None) -> text ending in ``.``, or ``""``."""
    if raw is None:
        return ""
    if isinstance(raw, list):
        text = " ".join(str(x) for x in raw)
    else:
        text = str(raw)
    text = _DROPPED.sub("", html.unescape(text)).replace("\t", " ")
    body = text.rstrip(".")
    if not body.strip():
        return ""
    text = body + "."
    return "" if len(text) >= MAX_FIELD_CHARS else text


def item_text(record: dict[str, Any]) -> str:
    """``"<title>. <category>. <brand>."`` of a metadata record, missing or empty fields left out."""
    return " ".join(t for t in (clean_field(record.get(k)) for k in TEXT_FIELDS) if t)
