"""Modality feature files: raw little-endian float32 ``[n_items, d]``, no header (MISSRec/UniSRec layout).

Row ``i`` belongs to the item whose ``.item2index`` value is ``i``; an item without that modality (no image, no
knowledge-graph link) has an all-zero row. ``.feat1CLS`` is text, ``.feat2CLS`` word-dropped text (pre-training),
``.feat3CLS`` image; a dataset may declare any other suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from missrec.errors import data_error
from missrec.io_utils import atomic_write_bytes
from missrec.numeric import MAX_ABS_VALUE, magnitude_problem

FLOAT32_LE = np.dtype("<f4")


def index_entries(path: str | Path) -> Iterator[tuple[str, int]]:
    """``(raw_id, index)`` of every line of an id map (``raw_id<TAB>index``, no header; blank lines skipped); a
    line of another shape is one error naming it."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise data_error(
                    f"{path}:{n}", "'raw_id<TAB>integer index'", repr(line.rstrip()), "regenerate the id map"
                )
            yield parts[0], int(parts[1])


def read_index(path: str | Path) -> dict[str, int]:
    """Read an id map into ``{raw_id: index}`` (see :func:`index_entries`)."""
    return dict(index_entries(path))


def count_index_rows(path: str | Path) -> int:
    """Number of items in an id map (= rows every feature file of the dataset must have), every line validated."""
    return sum(1 for _ in index_entries(path))


def infer_feature_dim(path: str | Path, n_rows: int) -> int:
    """Feature dimension implied by the file size and the number of rows."""
    size = Path(path).stat().st_size
    row_bytes, rest = divmod(size, n_rows * FLOAT32_LE.itemsize) if n_rows else (0, 1)
    if rest or row_bytes == 0:
        raise data_error(
            path,
            f"{n_rows} rows of float32 (a size divisible by {n_rows * 4} bytes)",
            f"{size} bytes",
            "check that the feature file and the .item2index belong to the same dataset",
        )
    return row_bytes


def read_feature_file(path: str | Path, dim: int, n_rows: int | None = None) -> np.ndarray:
    """Read and validate a feature file.

    Args:
        path: the ``.feat*`` file.
        dim: feature dimension d.
        n_rows: expected number of rows (items in ``.item2index``); ``None`` skips the check.

    Returns:
        float32 array ``[n_rows, dim]``.
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "a feature file", "no such file", "check the dataset folder and the 'modalities' key")
    size = path.stat().st_size
    row_bytes = dim * FLOAT32_LE.itemsize
    if size == 0 or size % row_bytes:
        raise data_error(
            path,
            f"rows of {dim} float32 values (a size divisible by {row_bytes} bytes)",
            f"{size} bytes ({size / row_bytes:.3f} rows)",
            "set the modality's dimension to the one the features were extracted with, or re-extract them",
        )
    features = np.fromfile(path, dtype=FLOAT32_LE).reshape(-1, dim)
    if n_rows is not None and features.shape[0] != n_rows:
        raise data_error(
            path,
            f"{n_rows} rows (one per item in .item2index)",
            f"{features.shape[0]} rows of dimension {dim}",
            "re-extract the features for this item list",
        )
    check_feature_values(features, path)
    return features.astype(np.float32, copy=False)


def check_feature_values(features: np.ndarray, path: str | Path) -> None:
    """One error naming the file unless every value is finite and of magnitude <= :data:`MAX_ABS_VALUE` (finite
    but extreme values, e.g. 3e38, make faiss abort the process during interest discovery)."""
    problem = magnitude_problem(features)
    if problem and problem.startswith("NaN"):
        raise data_error(path, "finite values", problem, "re-extract those items; a missing modality must be an all-zero row")
    if problem:
        raise data_error(path, f"feature values of magnitude <= {MAX_ABS_VALUE:g}", problem,
                         "normalise the features (e.g. divide each row by its norm) or re-extract those items")


def write_feature_file(path: str | Path, features: np.ndarray) -> None:
    """Write ``[n_items, d]`` features as raw little-endian float32, atomically."""
    features = np.ascontiguousarray(features, dtype=FLOAT32_LE)
    if features.ndim != 2:
        raise ValueError(f"features must be 2-D [n_items, d], got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN/inf")
    atomic_write_bytes(path, features.tobytes())
