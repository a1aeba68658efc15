"""Evaluator and data-path parity, exactly: one model trained by RecBole 1.2.1, scored by RecBole's evaluator and by
ours on the same weights.

    python benchmarks/parity_crosseval.py            # SASRec (ML100K_mm_full) and BPR (ML100K_general), 3 epochs

The RecBole side is ``benchmarks/parity_recbole.py``'s pipeline. Our side reads the split through OUR data path
(``MultimodalSequentialDataset`` + ``DeviceBatchLoader`` for SASRec, ``load_general_dataset`` for BPR) and ranks
with OUR evaluators (``NextItemEvaluator``, ``TopKEvaluator`` with validation items masked at test, as RecBole
does); the RecBole model is wrapped so that it scores our item ids (ids are mapped through the tokens, which are the
same strings on both sides). Equal metrics mean that whatever differs between the two training runs of
``benchmarks/parity.py``, it is not the data or the evaluation.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parity_recbole  # noqa: E402  (restores numpy's removed aliases for RecBole, this process only)
from parity import SEQUENTIAL, TOPK, export_recbole_files, our_config, recbole_config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.utils import get_model, init_seed  # noqa: E402

METRICS = ["hit", "recall", "ndcg"]


def train_recbole(model: str, epochs: int, data_dir: Path):
    """A RecBole-trained model (best validation state), RecBole's test metrics and its dataset."""
    export_recbole_files(model, 0, data_dir)
    spec = {**recbole_config(model, 0, data_dir), "epochs": epochs, "metric_decimal_place": 6}
    config = parity_recbole.NoArgvConfig(model=model, dataset=spec["dataset"], config_dict=spec)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    net = get_model(model)(config, train._dataset)
    trainer = parity_recbole.InMemoryBestTrainer(config, net)
    trainer.fit(train, valid, saved=True, show_progress=False, verbose=False)
    net.load_state_dict(trainer.best_state)
    theirs = trainer.evaluate(test, load_best_model=False)
    return net.eval(), {k.lower(): float(v) for k, v in theirs.items()}, dataset


def id_map(our_tokens: list[str], recbole_tokens: list[str]) -> torch.Tensor:
    """``[n_ours]``: RecBole's internal id of each of our ids (same token strings; 0 where RecBole lacks one)."""
    index = {t: i for i, t in enumerate(recbole_tokens)}
    return torch.tensor([index.get(t, 0) for t in our_tokens])


def ours_sequential(model: str, net, dataset) -> dict[str, float]:
    from missrec.data.dataset import MultimodalSequentialDataset
    from missrec.data.loaders import DeviceBatchLoader
    from missrec.evaluation.sequential import NextItemEvaluator

    data = MultimodalSequentialDataset(our_config(model, 0))
    _, _, test = data.build()
    items = id_map(list(data.field2id_token["item_id"]), list(dataset.field2id_token["item_id"]))

    class OnOurIds(torch.nn.Module):
        def full_sort_predict(self, batch):
            seq = net.forward(items[batch["item_id_list"]], batch["item_length"])  # [B, D]
            return (seq @ net.item_embedding.weight.T)[:, items]  # [B, n_ours]

    loader = DeviceBatchLoader(test.inter_feat, 1024, False, torch.device("cpu"))
    return NextItemEvaluator(loader, "item_id", TOPK, METRICS).run(OnOurIds())


def ours_general(model: str, net, dataset) -> dict[str, float]:
    from missrec.data.general import load_general_dataset
    from missrec.evaluation.general import TopKEvaluator

    data = load_general_dataset(our_config(model, 0))
    users = id_map([str(u) for u in range(data.n_users)], list(dataset.field2id_token["user_id"]))
    items = id_map([str(i) for i in range(data.n_items)], list(dataset.field2id_token["item_id"]))

    class OnOurIds(torch.nn.Module):
        def full_sort_predict(self, batch):
            return net.user_embedding.weight[users[batch["user_id"]]] @ net.item_embedding.weight[items].T

    return TopKEvaluator(data, "test", TOPK, METRICS, "cpu", mask_valid=True).run(OnOurIds())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["SASRec", "BPR"], choices=["SASRec", "BPR"])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    root = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # RecBole writes log/, saved/ and log_tensorboard/ into the working directory
        print("| model | metric | RecBole's evaluator | ours | difference |\n|---|---|---|---|---|")
        for model in args.models:
            net, theirs, dataset = train_recbole(model, args.epochs, Path(scratch) / "data")
            with torch.no_grad():
                ours = (ours_sequential if model in SEQUENTIAL else ours_general)(model, net, dataset)
            for metric in (f"{m}@{k}" for m in METRICS for k in TOPK):
                print(
                    f"| {model} | {metric} | {theirs[metric]:.6f} | {ours[metric]:.6f} | "
                    f"{ours[metric] - theirs[metric]:+.1e} |",
                    flush=True,
                )
        os.chdir(root)


if __name__ == "__main__":
    main()
