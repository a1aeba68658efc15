"""Every general model trains through train_graph's runner on a planted dataset, and the model hooks behave."""

import json

import pytest
import torch

from missrec.data.general.synthetic import planted_dataset, write_mmrec_folder
from missrec.errors import ConfigError
from missrec.registry import get_model
from missrec.runner_general import build_general_config, general_models, run_general
from tests.models.graph.conftest import FAST


@pytest.fixture(scope="module")
def planted_dir(tmp_path_factory):
    data = planted_dataset(seed=0)
    root = tmp_path_factory.mktemp("data")
    write_mmrec_folder(data, root / data.name)
    return root, data


LABELLED_ONLY = ("SGFD-BM3", "SGFD-GRCN")  # need item category labels: trained on an SGFD folder in test_sgfd.py


@pytest.mark.parametrize("model", [m for m in general_models() if m not in LABELLED_ONLY])
def test_model_trains_two_epochs_and_beats_random(model, planted_dir, tmp_path, random_recall):
    root, data = planted_dir
    results = run_general(model, data.name, epochs=2, output_dir=tmp_path / "run", overrides={**FAST, "data_path": str(root)})
    losses = [h["train_loss"] for h in results["history"]]
    assert len(losses) == 2 and losses[1] < losses[0], losses
    baseline = random_recall(data)
    print(model, "recall@10", results["test"]["recall@10"], "random", baseline, "losses", losses)
    assert results["test"]["recall@10"] > baseline + 0.15, (results["test"], baseline)
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["best_epoch"] in (0, 1) and set(saved["test"]) == {f"{m}@{k}" for m in ("recall", "precision", "ndcg") for k in (10, 20)}
    assert (tmp_path / "run" / "curves.png").is_file() and (tmp_path / "run" / "checkpoints" / "best.safetensors").is_file()


def build(model, data, **overrides):
    entry = get_model(model)
    config = build_general_config(entry.cls, "planted", (), {**FAST, **overrides})
    torch.manual_seed(0)
    return entry.cls(config, data)


def batch_of(data, rows=32):
    from missrec.data.general import BPRTrainLoader

    return next(iter(BPRTrainLoader(data, rows, "cpu", seed=0)))


def test_eval_cache_is_invalidated_by_mode_changes():
    data = planted_dataset(seed=0)
    net = build("LightGCN", data)
    users = {"user_id": torch.tensor([0, 1])}
    from recbole.data.interaction import Interaction

    net.eval()
    first = net.full_sort_predict(Interaction(users))
    assert net._scoring_cache is not None
    with torch.no_grad():
        net.item_embedding.weight.add_(1.0)
    assert torch.equal(net.full_sort_predict(Interaction(users)), first)  # cached within one evaluation
    net.train()
    net.eval()
    assert not torch.equal(net.full_sort_predict(Interaction(users)), first)
    pairs = Interaction({"user_id": torch.tensor([0, 1]), "item_id": torch.tensor([3, 4])})
    scores = net.full_sort_predict(Interaction(users))
    torch.testing.assert_close(net.predict(pairs), scores[[0, 1], [3, 4]])


def test_lattice_learns_its_item_graph_on_the_first_batch_of_an_epoch_only():
    data = planted_dataset(seed=0)
    net = build("LATTICE", data)
    net.train()
    batch = batch_of(data)
    net.calculate_loss(batch).backward()
    assert net.projections[0].weight.grad is not None and net.projections[0].weight.grad.abs().sum() > 0
    assert net.modal_weight.grad is not None
    net.zero_grad(set_to_none=True)
    net.calculate_loss(batch).backward()
    assert net.projections[0].weight.grad is None  # later batches reuse the detached graph
    builds = net.item_graph_schedule.builds
    net.eval()
    net.full_sort_predict(batch)
    net.full_sort_predict(batch)
    assert net.item_graph_schedule.builds == builds + 1  # once per evaluation, not per chunk


def test_freedom_prunes_per_epoch_and_evaluates_on_the_full_graph():
    data = planted_dataset(seed=0)
    net = build("FREEDOM", data, dropout=0.5)

    class Trainer:
        current_epoch = 0
        learning_rate = 0.02
        optimizer = torch.optim.Adam(net.parameters())

    record = net.pre_epoch(Trainer())
    n_edges = len(data.splits["train"])
    assert record["kept_edges"] == int(0.5 * n_edges)
    first = net.masked_adj.to_dense().clone()
    assert (first != 0).sum() == 2 * int(0.5 * n_edges)
    Trainer.current_epoch = 1
    net.pre_epoch(Trainer())
    assert not torch.equal(first, net.masked_adj.to_dense())
    Trainer.current_epoch = 0
    net.pre_epoch(Trainer())
    assert torch.equal(first, net.masked_adj.to_dense())  # seeded by (seed, epoch)
    net.eval()
    users, items = net.forward()
    full = build("FREEDOM", data, dropout=0.0).norm_adj.to_dense()
    torch.testing.assert_close(net.norm_adj.to_dense(), full)


def test_models_take_any_number_of_modalities():
    data = planted_dataset(dims={"text": 8, "image": 12, "audio": 4}, seed=2)
    batch = batch_of(data)
    for model in ("VBPR", "LATTICE", "FREEDOM"):
        net = build(model, data, modality_weights={"text": 0.5, "image": 0.3, "audio": 0.2})
        loss = net.calculate_loss(batch)
        assert torch.isfinite(loss)
    assert build("VBPR", data).item_linear.in_features == 24


def test_multimodal_models_need_features_and_weights_for_every_modality():
    data = planted_dataset(dims={}, seed=0)
    with pytest.raises(ConfigError, match="needs modality features"):
        build("FREEDOM", data)
    data = planted_dataset(dims={"text": 4, "kg": 4}, seed=0)
    with pytest.raises(ConfigError, match="no weight for modalities \\['kg'\\]"):
        build("FREEDOM", data)  # FREEDOM.yaml names image and text only


def test_state_dict_holds_no_graph():
    data = planted_dataset(seed=0)
    for model in ("LightGCN", "LATTICE", "FREEDOM"):
        state = build(model, data).state_dict()
        assert all(not t.is_sparse and t.layout == torch.strided for t in state.values())
        assert not any("adj" in k or "graph" in k for k in state)


def test_general_props_layering():
    lattice = get_model("LATTICE").cls
    config = build_general_config(lattice, "ML100K_general")
    assert config["learning_rate"] == 0.0005 and config["learning_rate_scheduler"] == [0.96, 50]  # model over stage
    assert config["epochs"] == 1000 and config["valid_metric"] == "Recall@20"  # stage defaults
    assert config["modality_weights"] == {"text": 0.9, "kg": 0.1}  # dataset over model
    assert build_general_config(lattice, "ML100K_general", overrides={"learning_rate": 0.1})["learning_rate"] == 0.1


def test_cli_lists_the_models_and_reports_errors_in_one_line(capsys):
    from missrec.cli.train_graph import build_parser, main

    text = build_parser().format_help()
    assert all(name in text for name in ("BPR", "LightGCN", "VBPR", "LATTICE", "FREEDOM", "ML100K_general"))
    assert main(["--model", "LightGCN", "--epochs", "1", "reg_wieght=0.1"]) == 2
    assert "unknown config key 'reg_wieght'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="MISSRec is a sequential model"):
        run_general("MISSRec")
