"""SGFD's format (graph_models.md §1.3) with a validation split carved out of train.

``train.csv`` / ``test.csv`` (comma-separated, header ``itemID,userID,...``, 0-based ids),
``FeatureImage_normal.npy``, ``FeatureText_normal.npy`` and ``MetaData_normal.npy`` (one integer category label per
item). SGFD ships no validation split and its code selects and early-stops on test; here a seeded per-user
validation split is carved out of train (:func:`missrec.data.general.split.carve_validation`), so the test set is
only ever reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from missrec.data.general.dataset import GeneralDataset, resolve_n_items
from missrec.data.general.features import default_files, load_modalities, to_tensors
from missrec.data.general.mmrec import read_int_columns
from missrec.data.general.split import carve_validation
from missrec.errors import data_error

SGFD_FEATURES = {"image": "FeatureImage_normal.npy", "text": "FeatureText_normal.npy"}
LABEL_FILE = "MetaData_normal.npy"


def read_csv_pairs(path: Path) -> np.ndarray:
    """``(userID, itemID)`` int64 ``[E, 2]`` of an SGFD csv."""
    if not path.is_file():
        raise data_error(path, "an SGFD interaction csv", "no such file", "check data_path and the dataset name")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = read_int_columns(path, frame, ("userID", "itemID"))
    return np.stack([cols["userID"], cols["itemID"]], 1)


def read_labels(path: Path) -> np.ndarray:
    """Per-item integer labels ``[I]`` (no pickle)."""
    if not path.is_file():
        raise data_error(path, "per-item category labels", "no such file", "add MetaData_normal.npy (np.save of one integer label per item)")
    try:
        labels = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise data_error(path, "a numeric .npy array", f"an unreadable or pickled array ({e})", "save it with np.save") from e
    labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.number) or (labels != np.round(labels)).any():
        raise data_error(path, "one integer label per item (1-D)", f"{labels.dtype} of shape {labels.shape}", "save integer labels")
    return labels.astype(np.int64)


def load_sgfd(
    folder: str | Path,
    name: str,
    valid_ratio: float = 0.1,
    seed: int = 2020,
    modality_files: Mapping[str, str] | None = None,
    label_file: str | None = LABEL_FILE,
) -> GeneralDataset:
    """Read an SGFD dataset folder and carve a validation split out of train.

    Args:
        folder: folder with ``train.csv``, ``test.csv`` and the ``.npy`` files.
        name: dataset name.
        valid_ratio: share of each user's training rows moved to validation.
        seed: seed of that carving.
        modality_files: ``{modality: file}``; ``None`` loads whichever standard feature files exist.
        label_file: category labels file, or None.
    """
    folder = Path(folder)
    train = read_csv_pairs(folder / "train.csv")
    test = read_csv_pairs(folder / "test.csv")
    train, valid = carve_validation(train, valid_ratio, seed)
    files = dict(modality_files) if modality_files is not None else default_files(folder, SGFD_FEATURES)
    arrays = load_modalities(folder, files)
    every = np.concatenate([train, valid, test])
    n_items = resolve_n_items(int(every[:, 1].max()), arrays, str(folder))
    labels = None
    if label_file:
        raw = read_labels(folder / label_file)
        if raw.shape[0] != n_items:
            raise data_error(folder / label_file, f"{n_items} labels (one per item)", f"{raw.shape[0]}", "use the labels of this item list")
        labels = torch.from_numpy(raw)
    return GeneralDataset(
        name=name,
        n_users=int(every[:, 0].max()) + 1,
        n_items=n_items,
        splits={"train": train, "valid": valid, "test": test},
        features=to_tensors(arrays),
        item_labels=labels,
        source=f"sgfd:{folder} (validation carved from train, ratio {valid_ratio}, seed {seed})",
    )
