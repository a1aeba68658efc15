"""Reading modality feature files for general datasets: ``.npy`` (MMRec, LATTICE, MMSSL, SGFD) or raw float32.

``.npy`` files are read with ``np.load(allow_pickle=False)``: a pickled object array is refused, never executed.
Any other suffix is a raw little-endian float32 ``[n_items, d]`` file (the MISSRec layout of
:mod:`missrec.data.features`), whose row count must be known.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from missrec.data.features import check_feature_values, infer_feature_dim, read_feature_file
from missrec.errors import DataError, data_error


def load_npy_features(path: str | Path) -> np.ndarray:
    """A finite float32 ``[n, d]`` array from a ``.npy`` file (no pickle)."""
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "a feature file", "no such file", "check the dataset folder and 'modality_files'")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as e:  # object arrays need pickle: refused
        found = f"an unreadable or pickled array ({e})"
        raise data_error(path, "a numeric .npy array", found, "save it with np.save of a float array") from e
    except OSError as e:
        raise data_error(path, "a .npy file", f"an unreadable file ({e})", "re-create it with np.save") from e
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise data_error(path, "a 2-D numeric array [n_items, d]", f"{array.dtype} of shape {array.shape}", "save one row per item")
    array = array.astype(np.float32, copy=False)
    check_feature_values(array, path)
    return array


def load_feature_file(path: str | Path, n_rows: int | None = None) -> np.ndarray:
    """``.npy`` or raw float32 features; raw files need ``n_rows`` to infer the dimension."""
    path = Path(path)
    if path.suffix == ".npy":
        return load_npy_features(path)
    if not path.is_file():
        raise data_error(path, "a feature file", "no such file", "check the dataset folder and 'modality_files'")
    if n_rows is None:
        raise DataError(f"{path}: a raw float32 feature file needs the item count to be known. Fix: use a .npy file")
    return read_feature_file(path, infer_feature_dim(path, n_rows), n_rows)


def load_modalities(
    folder: Path, files: Mapping[str, str], n_rows: int | None = None
) -> dict[str, np.ndarray]:
    """``{modality: array}`` for ``files = {modality: file name relative to folder}``, in the given order."""
    return {name: load_feature_file(folder / file, n_rows) for name, file in files.items()}


def default_files(folder: Path, candidates: Mapping[str, str]) -> dict[str, str]:
    """The standard feature files of a format that exist in ``folder`` (in the candidates' order)."""
    return {name: file for name, file in candidates.items() if (folder / file).is_file()}


def to_tensors(arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """float32 tensors sharing nothing with the arrays."""
    return {name: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32).copy()) for name, a in arrays.items()}
