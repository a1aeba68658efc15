"""Tiny trained runs for the recommender tests (trained once per session, a few seconds each).

The sequential dataset ``recs``: four clusters of eight items (users walk one cluster in a cyclic order) and a fifth
cluster "Z" whose users only ever see three items D0, D1, D2. Three more items H0, H1, H2 are near-duplicates of
D0..D2 (the same features plus noise of 0.01) that no user ever saw: they are in the feature files but not in the
trained catalogue, the held-out items that ``add_items`` brings in. Text features are 384-d (MiniLM's size, so real
texts can be added), kg features 8-d with a zero row (missing modality) for every fifth item.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from missrec.data.features import write_feature_file
from missrec.data.general.synthetic import planted_dataset, write_mmrec_folder
from missrec.data.prepare.benchmark_writer import write_benchmark
from missrec.io_utils import atomic_write_text
from missrec.runner import run_finetune
from missrec.runner_general import run_general
from tests.conftest import tiny_overrides

NAME = "recs"
CLUSTER_ITEMS = 8
N_CLUSTERS = 4
TWINS = [32, 33, 34]  # D0..D2: cluster Z, trained
HELD_OUT = [35, 36, 37]  # H0..H2: their near-duplicates, never in an interaction
N_ITEMS = 38
DIMS = {"feat1CLS": 384, "featKG": 8}


def raw_item(i: int) -> str:
    return f"m{i + 100}"


def write_recs_dataset(root: Path) -> dict[str, np.ndarray]:
    """Write ``<root>/recs/``; returns the feature tables ``{suffix: [N_ITEMS, d]}`` by item index."""
    rng = np.random.default_rng(7)
    cluster_of = [i // CLUSTER_ITEMS for i in range(N_CLUSTERS * CLUSTER_ITEMS)] + [N_CLUSTERS] * 6
    sequences = []
    for u in range(50):
        c = u % (N_CLUSTERS + 1)
        pool = TWINS if c == N_CLUSTERS else list(range(c * CLUSTER_ITEMS, (c + 1) * CLUSTER_ITEMS))
        offset = int(rng.integers(len(pool)))
        sequences.append([pool[(offset + t) % len(pool)] for t in range(int(rng.integers(6, 11)))])
    folder = root / NAME
    write_benchmark(folder, NAME, sequences, [f"user{u}" for u in range(50)], [raw_item(i) for i in range(N_ITEMS)])
    tables = {}
    for suffix, d in DIMS.items():
        table = rng.normal(0.0, 0.3, (N_ITEMS, d)).astype(np.float32)
        table[np.arange(N_ITEMS), np.asarray(cluster_of) % d] += 2.0
        if suffix == "featKG":
            table[::5] = 0.0
        table[HELD_OUT] = table[TWINS] + rng.normal(0.0, 0.01, (3, d)).astype(np.float32)
        write_feature_file(folder / f"{NAME}.{suffix}", table)
        tables[suffix] = table
    texts = "".join(f"{raw_item(i)}\tMovie {i} of cluster {cluster_of[i]}\n" for i in range(N_ITEMS))
    atomic_write_text(folder / f"{NAME}.text", "item_id:token\ttext:token_seq\n" + texts)
    return tables


SEQUENTIAL = {"modalities": {"text": "feat1CLS", "kg": "featKG"}, "learning_rate": 0.01, "topk": [10],
              "stopping_step": 20, "MAX_ITEM_LIST_LENGTH": 8}
RUNS = {  # name: (model, mode, epochs)
    "missrec": ("MISSRec", "inductive", 3),
    "unisrec": ("UniSRec", "inductive", 3),
    "sasrec": ("SASRec", "transductive", 3),
    "missrec_transductive": ("MISSRec", "transductive", 2),
}


@pytest.fixture(scope="session")
def recs_data(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """``(data_path, feature tables)`` of the ``recs`` dataset."""
    root = tmp_path_factory.mktemp("recs_data")
    return root, write_recs_dataset(root)


@pytest.fixture(scope="session")
def runs(recs_data, tmp_path_factory) -> dict[str, Path]:
    """Run folders of the tiny models (sequential on ``recs``, LightGCN on the planted general dataset)."""
    data_path, _ = recs_data
    out = tmp_path_factory.mktemp("recs_runs")
    folders = {}
    for name, (model, mode, epochs) in RUNS.items():
        extra = {"train_batch_size": 32} if model == "UniSRec" else {}
        run_finetune(model, NAME, mode, epochs=epochs, output_dir=out / name,
                     overrides=tiny_overrides(data_path, **SEQUENTIAL, **extra))
        folders[name] = out / name
    general = planted_dataset(seed=0)
    write_mmrec_folder(general, data_path / general.name)
    run_general("LightGCN", general.name, epochs=2, output_dir=out / "lightgcn",
                overrides={"data_path": str(data_path), "device": "cpu", "train_batch_size": 32, "learning_rate": 0.05})
    folders["lightgcn"] = out / "lightgcn"
    return folders
