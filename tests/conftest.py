"""Shared fixtures: tiny generated benchmark datasets with planted structure, and a clean working directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import missrec  # noqa: F401  (compat shim before recbole)
from missrec.data.features import write_feature_file
from missrec.data.prepare.benchmark_writer import write_benchmark


def make_benchmark(
    root: Path,
    name: str = "tiny",
    n_users: int = 40,
    n_items: int = 48,
    n_clusters: int = 4,
    seq_len: tuple[int, int] = (6, 12),
    dims: dict[str, int] | None = None,
    seed: int = 0,
) -> Path:
    """Write ``<root>/<name>/`` in the UniSRec layout with planted sequential structure.

    Items are split into ``n_clusters`` clusters; a user walks through one cluster in a fixed cyclic order, so the
    next item is predictable from the last one. Each modality's features are the cluster one-hot (scaled) plus noise,
    so content also carries the cluster. Returns the dataset folder.
    """
    rng = np.random.default_rng(seed)
    dims = dims or {"feat1CLS": 16, "feat3CLS": 8}
    per = n_items // n_clusters
    cluster_items = [list(range(c * per, (c + 1) * per)) for c in range(n_clusters)]
    sequences = []
    for u in range(n_users):
        items = cluster_items[u % n_clusters]
        start = int(rng.integers(len(items)))
        length = int(rng.integers(seq_len[0], seq_len[1] + 1))
        sequences.append([items[(start + t) % len(items)] for t in range(length)])
    folder = root / name
    write_benchmark(folder, name, sequences, [f"u{u}" for u in range(n_users)], [f"i{i}" for i in range(n_items)])
    for suffix, d in dims.items():
        feats = rng.normal(0, 0.3, size=(n_items, d)).astype(np.float32)
        for i in range(n_items):
            feats[i, (i // per) % d] += 2.0
        write_feature_file(folder / f"{name}.{suffix}", feats)
    return folder


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A tiny benchmark dataset under ``tmp_path``; returns its data_path (the parent of the dataset folder)."""
    make_benchmark(tmp_path)
    return tmp_path


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test with the working directory in a temp folder (to catch stray writes)."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


TINY_MODEL = {
    "hidden_size": 16,
    "inner_size": 16,
    "n_heads": 2,
    "train_batch_size": 64,
    "eval_batch_size": 64,
    "show_progress": False,
    "device": "cpu",
    "kmeans_iters": 5,
}


def tiny_overrides(data_path: Path, **extra) -> dict:
    """Config overrides for fast tests on a :func:`make_benchmark` dataset."""
    return {**TINY_MODEL, "data_path": str(data_path), **extra}


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
