"""LATTICE / MICRO / MMSSL's JSON format (graph_models.md §1.2).

``train.json``, ``val.json``, ``test.json`` (dicts ``{"<user id>": [item ids]}``) in ``<folder>/5-core/``
(LATTICE, MICRO) or directly in ``<folder>`` (MMSSL); ``image_feat.npy``, ``text_feat.npy`` (and MMSSL Tiktok's
``audio_feat.npy``) in ``<folder>``. MMSSL's ``train_mat`` is a pickled scipy matrix: it is never loaded (unpickling
can run code); the same matrix is rebuilt from ``train.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from missrec.data.general.dataset import GeneralDataset, resolve_n_items
from missrec.data.general.features import default_files, load_modalities, to_tensors
from missrec.errors import data_error
from missrec.logging_utils import get_logger

JSON_FEATURES = {"image": "image_feat.npy", "text": "text_feat.npy", "audio": "audio_feat.npy"}
JSON_FILES = {"train": "train.json", "valid": "val.json", "test": "test.json"}


def split_folder(folder: Path) -> Path:
    """``<folder>/5-core`` when it holds the JSON files, else ``<folder>``."""
    core = folder / "5-core"
    return core if (core / JSON_FILES["train"]).is_file() else folder


def read_user_items(path: Path) -> np.ndarray:
    """``{"u": [i, ...]}`` -> int64 ``[E, 2]`` pairs; anything else is one error naming the file and the entry."""
    if not path.is_file():
        raise data_error(path, "a JSON split file", "no such file", "check data_path and the dataset name")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise data_error(path, "valid JSON", f"a parse error ({e})", "re-create the file") from e
    if not isinstance(content, dict):
        raise data_error(path, 'a mapping {"user id": [item ids]}', type(content).__name__, "re-create the file")
    users, items = [], []
    for key, values in content.items():
        if not str(key).lstrip("-").isdigit() or not isinstance(values, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            found = f"entry {key!r}: {values!r}"[:120]
            raise data_error(path, "integer user keys mapping to lists of integer item ids", found, "fix the entry")
        users.extend([int(key)] * len(values))
        items.extend(values)
    return np.stack([np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)], 1).reshape(-1, 2)


def load_json_split(folder: str | Path, name: str, modality_files: Mapping[str, str] | None = None) -> GeneralDataset:
    """Read a LATTICE/MICRO/MMSSL dataset folder (see the module doc)."""
    folder = Path(folder)
    splits_dir = split_folder(folder)
    if (folder / "train_mat").exists() or (splits_dir / "train_mat").exists():
        get_logger().info(f"{folder}: ignoring the pickled train_mat; the training matrix is rebuilt from train.json")
    splits = {split: read_user_items(splits_dir / file) for split, file in JSON_FILES.items()}
    files = dict(modality_files) if modality_files is not None else default_files(folder, JSON_FEATURES)
    arrays = load_modalities(folder, files)
    every = np.concatenate(list(splits.values()))
    n_items = resolve_n_items(int(every[:, 1].max()) if len(every) else -1, arrays, str(folder))
    return GeneralDataset(
        name=name,
        n_users=int(every[:, 0].max()) + 1 if len(every) else 0,
        n_items=n_items,
        splits=splits,
        features=to_tensors(arrays),
        source=f"json:{splits_dir}",
    )
