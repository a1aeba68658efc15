"""One small real-data run: MISSRec on the embedded MovieLens-100K (tiny model, one epoch)."""

import pytest

from missrec.runner import run_finetune

pytestmark = pytest.mark.slow


def test_one_epoch_on_the_embedded_dataset(in_tmp_cwd):
    results = run_finetune(
        "MISSRec", "ML100K_mm_full", "transductive", epochs=1, output_dir=in_tmp_cwd / "run",
        overrides={"hidden_size": 16, "inner_size": 16, "n_heads": 2, "MAX_ITEM_LIST_LENGTH": 10,
                   "train_batch_size": 1024, "show_progress": False, "device": "cpu", "kmeans_iters": 5},
    )
    assert results["history"][0]["interest_clusters"] == 1682  # ceil(0.5 * 2 modalities * 1682 items)
    # a random ranker over 1682 items has hit@50 ~= 0.03; one epoch already ranks far better
    assert results["test"]["hit@50"] > 0.1
    assert set(results["test"]) == {"hit@10", "ndcg@10", "hit@50", "ndcg@50"}
