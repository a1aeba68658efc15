"""Reading back a built benchmark folder ``<folder>/<ds>.*`` (``<ds>`` = the folder's name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from missrec.data.features import infer_feature_dim, read_feature_file, read_index
from missrec.errors import data_error
from missrec.io_utils import atomic_write_json

FEATURES_JSON = "features.json"


class BenchmarkFolder:
    """A folder written by ``build``; every reader validates what it returns against ``.item2index``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not self.file("item2index").is_file():
            raise data_error(
                self.path, f"a benchmark folder with {self.name}.item2index", "no such file",
                "build it first: python -m missrec.data.prepare.amazon build ...",
            )

    def file(self, suffix: str) -> Path:
        """``<folder>/<ds>.<suffix>``."""
        return self.path / f"{self.name}.{suffix}"

    def _ids(self, suffix: str) -> list[str]:
        path = self.file(suffix)
        mapping = read_index(path)
        ids = sorted(mapping, key=mapping.__getitem__)
        if [mapping[i] for i in ids] != list(range(len(ids))):
            raise data_error(path, "indices 0..n-1, each once", "gaps or repeats", "rebuild the folder")
        return ids

    def item_ids(self) -> list[str]:
        """Raw item ids (ASINs) in index order."""
        return self._ids("item2index")

    def user_ids(self) -> list[str]:
        """Raw user ids in index order."""
        return self._ids("user2index")

    def _column(self, suffix: str, item_ids: list[str]) -> list[str]:
        """Second column of a ``ASIN<TAB>value`` file with a header, aligned to ``item_ids``."""
        path = self.file(suffix)
        if not path.is_file():
            raise data_error(path, f"the {suffix} file of the folder", "no such file", "rebuild the folder")
        values: dict[str, str] = {}
        with open(path, encoding="utf-8") as f:
            f.readline()
            for n, line in enumerate(f, 2):
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 2:
                    raise data_error(f"{path}:{n}", "'ASIN<TAB>value'", repr(line[:80]), "rebuild the folder")
                values.setdefault(parts[0], parts[1])
        missing = [i for i in item_ids if i not in values]
        if missing:
            raise data_error(path, "a row for every item of .item2index", f"{len(missing)} missing "
                             f"(e.g. {missing[:3]})", "rebuild the folder")
        return [values[i] for i in item_ids]

    def texts(self, item_ids: list[str]) -> list[str]:
        """Item texts from ``<ds>.text``, one per item of ``item_ids``."""
        return self._column("text", item_ids)

    def image_urls(self, item_ids: list[str]) -> list[str]:
        """Image URLs from ``<ds>.image_urls.tsv`` ("" where the metadata has none)."""
        return self._column("image_urls.tsv", item_ids)

    def interactions(self) -> list[tuple[int, int, str, str]]:
        """``(user index, item index, rating, timestamp)`` rows of ``<ds>.interactions.tsv``, in file order."""
        path = self.file("interactions.tsv")
        if not path.is_file():
            raise data_error(path, "the interactions file written by build", "no such file", "rebuild the folder")
        rows = []
        with open(path, encoding="utf-8") as f:
            f.readline()
            for n, line in enumerate(f, 2):
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
                    raise data_error(f"{path}:{n}", "'user<TAB>item<TAB>rating<TAB>timestamp'", repr(line[:80]),
                                     "rebuild the folder")
                rows.append((int(parts[0]), int(parts[1]), parts[2], parts[3]))
        return rows

    def feature_info(self) -> dict[str, Any]:
        """``{suffix: {encoder, dim, rows, zero_rows, ...}}`` from ``<ds>.features.json`` ({} if absent)."""
        path = self.file(FEATURES_JSON)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def record_features(self, suffix: str, info: dict[str, Any]) -> None:
        """Add or replace the entry of ``suffix`` in ``<ds>.features.json`` (keys sorted: stable bytes)."""
        table = self.feature_info()
        table[suffix] = info
        atomic_write_json(self.file(FEATURES_JSON), dict(sorted(table.items())))

    def read_features(self, suffix: str, n_items: int) -> np.ndarray:
        """Load ``<ds>.<suffix>`` as float32 ``[n_items, d]``; a row count that differs from the items is an error."""
        path = self.file(suffix)
        if not path.is_file():
            raise data_error(path, "a feature file", "no such file",
                             "extract it: python -m missrec.data.prepare.amazon features ...")
        dim = self.feature_info().get(suffix, {}).get("dim")
        if dim is None:
            dim = infer_feature_dim(path, n_items)
        return read_feature_file(path, int(dim), n_rows=n_items)
