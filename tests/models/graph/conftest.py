"""What the graph-model tests share: the recall@10 a random ranker reaches (the bar every trained model must clear),
and a two-epoch run through the runner that records the trainer of a model with an auxiliary network."""

import numpy as np
import pytest
import torch

from missrec import runner_general
from missrec.data.general.synthetic import planted_dataset, write_mmrec_folder
from missrec.evaluation.general import TopKEvaluator
from missrec.trainers.finetune import FinetuneTrainer

# small batches and a high learning rate: two epochs on the planted data are enough
FAST = {"train_batch_size": 32, "eval_batch_size": 16, "learning_rate": 0.05, "stopping_step": 5, "device": "cpu"}


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


@pytest.fixture
def run_with_aux_network(tmp_path, monkeypatch, random_recall):
    """``run(model, aux, **overrides) -> (trainer, initial aux state_dict, data)``: two epochs on the planted data
    through :func:`run_general`; asserts the loss falls and test recall@10 clears the random bar by 0.15."""

    def run(model: str, aux: str, **overrides):
        data = planted_dataset(seed=0)
        root = tmp_path / "data"
        write_mmrec_folder(data, root / data.name)
        seen = {}

        class RecordingTrainer(FinetuneTrainer):
            def __init__(self, config, net, *args, **kwargs):
                super().__init__(config, net, *args, **kwargs)
                seen["trainer"] = self
                seen["initial"] = {k: v.clone() for k, v in getattr(net, aux).state_dict().items()}

        monkeypatch.setattr(runner_general, "FinetuneTrainer", RecordingTrainer)
        results = runner_general.run_general(model, data.name, epochs=2, output_dir=tmp_path / "run",
                                             overrides={**FAST, "data_path": str(root), **overrides})
        losses = [h["train_loss"] for h in results["history"]]
        assert len(losses) == 2 and losses[1] < losses[0], losses
        random = random_recall(data)
        assert results["test"]["recall@10"] > random + 0.15, (results["test"], random)
        return seen["trainer"], seen["initial"], data

    return run
