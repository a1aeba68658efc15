"""MMRec's format (MMRec, BM3, FREEDOM, SEA; graph_models.md §1.1).

``<folder>/<name>.inter``: TAB-separated with a header holding ``userID``, ``itemID`` and ``x_label`` (0 train,
1 valid, 2 test; other columns ignored), ids already 0-based; ``image_feat.npy``/``text_feat.npy`` (any other
modality through ``modality_files``) with row i = item i; optionally ``labels.npy``, one integer category per item
(for SGFD; MMRec's own datasets have none), read when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from missrec.data.general.dataset import GeneralDataset, resolve_n_items
from missrec.data.general.features import default_files, load_modalities, to_tensors
from missrec.errors import data_error

MMREC_FEATURES = {"image": "image_feat.npy", "text": "text_feat.npy"}
LABEL_FILE = "labels.npy"
COLUMNS = ("userID", "itemID", "x_label")


def read_int_columns(path: Path, frame: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named columns as int64 arrays; a missing column or a non-integer value is one error naming it."""
    out = {}
    for col in columns:
        if col not in frame.columns:
            raise data_error(path, f"a header with columns {list(columns)}", f"columns {list(frame.columns)}", "rename the header")
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise data_error(f"{path}:{line}", f"an integer {col}", repr(frame[col].iloc[line - 2]), "fix the row")
        out[col] = values.to_numpy(dtype=np.int64)
    return out


def load_mmrec(folder: str | Path, name: str, modality_files: Mapping[str, str] | None = None) -> GeneralDataset:
    """Read an MMRec dataset folder.

    Args:
        folder: the dataset folder (holding ``<name>.inter``).
        name: dataset name.
        modality_files: ``{modality: file}`` relative to ``folder``; ``None`` loads whichever of
            ``image_feat.npy``/``text_feat.npy`` exist.
    """
    folder = Path(folder)
    path = folder / f"{name}.inter"
    if not path.is_file():
        raise data_error(path, "MMRec interactions <name>.inter", "no such file", "check data_path and the dataset name")
    if path.stat().st_size == 0:
        raise data_error(path, f"a header line with {list(COLUMNS)}, then one row per interaction", "an empty file",
                         "rebuild or re-export the dataset")
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    cols = read_int_columns(path, frame, COLUMNS)
    labels = cols["x_label"]
    if len(labels) and not np.isin(labels, (0, 1, 2)).all():
        found = sorted(set(labels.tolist()) - {0, 1, 2})[:5]
        raise data_error(path, "x_label in {0, 1, 2} (train, valid, test)", f"labels {found}", "relabel the rows")
    pairs = np.stack([cols["userID"], cols["itemID"]], 1)
    files = dict(modality_files) if modality_files is not None else default_files(folder, MMREC_FEATURES)
    arrays = load_modalities(folder, files)
    where = str(folder)
    n_items = resolve_n_items(int(pairs[:, 1].max()) if len(pairs) else -1, arrays, where)
    labels_path = folder / LABEL_FILE
    item_labels = torch.from_numpy(_read_labels(labels_path)) if labels_path.is_file() else None
    return GeneralDataset(
        name=name,
        n_users=int(pairs[:, 0].max()) + 1 if len(pairs) else 0,
        n_items=n_items,
        splits={"train": pairs[labels == 0], "valid": pairs[labels == 1], "test": pairs[labels == 2]},
        features=to_tensors(arrays),
        item_labels=item_labels,
        source=f"mmrec:{folder}",
    )


def _read_labels(path: Path) -> np.ndarray:
    """SGFD's label reader (imported here: :mod:`sgfd` imports this module)."""
    from missrec.data.general.sgfd import read_labels

    return read_labels(path)
