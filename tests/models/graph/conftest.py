"""What the graph-model tests share: the recall@10 a random ranker reaches, the bar every trained model must clear."""

import numpy as np
import pytest
import torch

from missrec.evaluation.general import TopKEvaluator


class RandomScores(torch.nn.Module):
    """Uniform random scores ``[B, I]`` from a fixed generator."""

    def __init__(self, n_items):
        super().__init__()
        self.generator = torch.Generator().manual_seed(0)
        self.n_items = n_items

    def full_sort_predict(self, interaction):
        return torch.rand(len(interaction["user_id"]), self.n_items, generator=self.generator)


@pytest.fixture
def random_recall():
    """``random_recall(data)``: test recall@10 of a random ranker on ``data``, mean of five draws."""

    def compute(data) -> float:
        evaluator = TopKEvaluator(data, "test", [10, 20], ["recall"], "cpu")
        return float(np.mean([evaluator.run(RandomScores(data.n_items))["recall@10"] for _ in range(5)]))

    return compute
