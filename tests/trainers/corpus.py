"""A tiny two-domain pre-training corpus in the UniSRec/MISSRec layout."""

from pathlib import Path

from missrec.data.prepare.amazon.pretrain import build_corpus
from tests.conftest import make_benchmark

PRETRAIN_TINY = {
    "hidden_size": 16, "inner_size": 16, "n_heads": 2, "train_batch_size": 32, "show_progress": False,
    "kmeans_iters": 5, "interest_ratio": 0.2,
}


def make_corpus(root: Path, aug: bool = True) -> Path:
    """``<root>/AB/`` from domains DomA (40 items) and DomB (32 items); returns the data_path ``root``."""
    dims = {"feat1CLS": 16, "feat3CLS": 8, **({"feat2CLS": 16} if aug else {})}
    a = make_benchmark(root / "domains", "DomA", n_users=30, n_items=40, dims=dims, seed=1)
    b = make_benchmark(root / "domains", "DomB", n_users=30, n_items=32, dims=dims, seed=2)
    build_corpus([a, b], root / "AB")
    return root
