"""Pop: the most-popular baseline ranks every user's candidates by the training targets' counts."""

from collections import Counter

import numpy as np
import pytest
import torch

from missrec.checkpoint import load_checkpoint
from missrec.config import build_config
from missrec.data.dataset import MultimodalSequentialDataset
from missrec.data.features import write_feature_file
from missrec.data.prepare.benchmark_writer import write_benchmark
from missrec.models.pop import Pop
from missrec.runner import run_finetune
from tests.conftest import tiny_overrides


def test_pop_scores_the_training_target_counts_and_ranks_as_they_say(tmp_path):
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, 21)  # 30 users drawing 20 items, Zipf-like: item 0 most popular
    sequences = [list(rng.choice(20, size=int(rng.integers(6, 15)), p=weights / weights.sum())) for _ in range(30)]
    folder = tmp_path / "skewed"
    write_benchmark(folder, "skewed", sequences, [f"u{u}" for u in range(30)], [f"i{i}" for i in range(20)])
    write_feature_file(folder / "skewed.feat1CLS", rng.normal(size=(20, 4)).astype(np.float32))
    overrides = tiny_overrides(tmp_path, topk=[3, 10], modalities={"text": "feat1CLS"})

    results = run_finetune("Pop", "skewed", output_dir=tmp_path / "pop", overrides=overrides)
    assert results["epochs_run"] == 1 and results["trainable_parameters"] == 1  # nothing learned
    state, _ = load_checkpoint(tmp_path / "pop" / "checkpoints" / "best")

    data = MultimodalSequentialDataset(build_config(Pop, "skewed", "finetune", (), overrides))
    internal = data.field2token_id[data.iid_field]  # token (the item's index) -> RecBole's id; 0 = PAD
    expected = torch.zeros(len(internal))
    for item, n in Counter(item for seq in sequences for item in seq[1:-2]).items():  # train targets s_2..s_{n-2}
        expected[internal[str(item)]] = n
    assert torch.equal(state["item_count"], expected)

    scores = expected.clone()
    scores[0] = -torch.inf
    for k in (3, 10):
        hits = []
        for seq in sequences:
            target = scores[internal[str(seq[-1])]]
            rank = int((scores > target).sum() + (scores == target).sum() - 1)  # ties count against the target
            hits.append(rank < k)
        assert results["test"][f"hit@{k}"] == pytest.approx(np.mean(hits))
    assert 0 < results["test"]["hit@3"] < results["test"]["hit@10"] < 1
