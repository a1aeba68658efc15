"""Resumable fine-tuning and graph runs: a run interrupted after an epoch and resumed is the run that was not
interrupted (same history, metrics and weights), for every model; the refusals that keep two runs from mixing."""

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from missrec.data.general.synthetic import planted_dataset, write_mmrec_folder
from missrec.errors import ConfigError, OutputError
from missrec.runner import run_finetune
from missrec.runner_general import general_models, run_general
from missrec.trainers.finetune import FinetuneTrainer
from tests.conftest import make_benchmark, tiny_overrides
from tests.models.graph.conftest import FAST
from tests.models.graph.test_sgfd import write_sgfd_folder

TIMING = ("_seconds", "_per_s")
SGFD = ("SGFD-BM3", "SGFD-GRCN")


def interrupt_after(monkeypatch, epochs_done: int) -> None:
    """Ctrl-C right after the state of ``epochs_done`` epochs is saved."""
    real = FinetuneTrainer.save_state

    def save_then_stop(self, next_epoch):
        real(self, next_epoch)
        if next_epoch == epochs_done:
            raise KeyboardInterrupt

    monkeypatch.setattr(FinetuneTrainer, "save_state", save_then_stop)


def comparable(results: dict) -> dict:
    """What must not depend on the interruption: metrics, best epoch, history without timings."""
    history = [{k: v for k, v in h.items() if not k.endswith(TIMING)} for h in results["history"]]
    subsets = {k: v for k, v in results.items() if k.startswith("test")}
    return {"valid": results["valid"], **subsets, "best_epoch": results["best_epoch"], "history": history}


def assert_same_run(a: dict, b: dict) -> None:
    assert comparable(a) == comparable(b)
    weights_a, weights_b = load_file(a["checkpoint"]), load_file(b["checkpoint"])
    assert weights_a.keys() == weights_b.keys()
    for key in weights_a:
        assert weights_a[key].equal(weights_b[key]), key
    assert not (Path(b["output_dir"]) / "state").exists() and not (Path(b["output_dir"]) / "state.old").exists()


@pytest.fixture(scope="module")
def sequential_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seq")
    make_benchmark(root)
    return root


@pytest.fixture(scope="module")
def graph_root(tmp_path_factory) -> Path:
    data = planted_dataset(seed=0)
    root = tmp_path_factory.mktemp("graph")
    write_mmrec_folder(data, root / data.name)
    write_sgfd_folder(data, root / "planted_sgfd")
    return root


def sequential_run(root: Path, model: str, out: Path, **kwargs) -> dict:
    overrides = tiny_overrides(root, stopping_step=50, learning_rate=0.01, topk=[10])
    return run_finetune(model, "tiny", kwargs.pop("mode", "transductive"), epochs=kwargs.pop("epochs", 3),
                        output_dir=out, overrides={**overrides, **kwargs.pop("overrides", {})}, **kwargs)


def graph_run(root: Path, model: str, out: Path, **kwargs) -> dict:
    dataset = "planted_sgfd" if model in SGFD else planted_dataset(seed=0).name
    return run_general(model, dataset, epochs=kwargs.pop("epochs", 3), output_dir=out,
                       overrides={**FAST, "stopping_step": 50, "data_path": str(root)}, **kwargs)


@pytest.mark.parametrize("model,mode", [("MISSRec", "transductive"), ("MISSRec", "inductive"),
                                        ("SASRec", "transductive"), ("UniSRec", "transductive")])
def test_a_resumed_sequential_run_is_the_uninterrupted_run(model, mode, sequential_root, tmp_path, monkeypatch):
    whole = sequential_run(sequential_root, model, tmp_path / "whole", mode=mode)
    with monkeypatch.context() as patch:
        interrupt_after(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            sequential_run(sequential_root, model, tmp_path / "cut", mode=mode)
    assert not (tmp_path / "cut" / "results.json").exists()
    resumed = sequential_run(sequential_root, model, tmp_path / "cut", mode=mode, resume=True)
    assert len(resumed["history"]) == 3
    assert_same_run(whole, resumed)


@pytest.mark.parametrize("model", general_models())
def test_a_resumed_graph_run_is_the_uninterrupted_run(model, graph_root, tmp_path, monkeypatch):
    whole = graph_run(graph_root, model, tmp_path / "whole", epochs=2)
    with monkeypatch.context() as patch:
        interrupt_after(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            graph_run(graph_root, model, tmp_path / "cut", epochs=2)
    resumed = graph_run(graph_root, model, tmp_path / "cut", epochs=2, resume=True)
    assert_same_run(whole, resumed)


def test_a_run_cut_after_its_last_epoch_resumes_to_the_test_only(sequential_root, tmp_path, monkeypatch):
    whole = sequential_run(sequential_root, "SASRec", tmp_path / "whole", epochs=2)
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            sequential_run(sequential_root, "SASRec", tmp_path / "cut", epochs=2)
    trained = []
    real = FinetuneTrainer._train_epoch
    monkeypatch.setattr(FinetuneTrainer, "_train_epoch", lambda self, *a, **k: trained.append(1) or real(self, *a, **k))
    resumed = sequential_run(sequential_root, "SASRec", tmp_path / "cut", epochs=2, resume=True)
    assert trained == [] and len(resumed["history"]) == 2
    assert_same_run(whole, resumed)


def test_an_unreadable_newest_state_falls_back_to_the_one_before(sequential_root, tmp_path, monkeypatch, capsys):
    whole = sequential_run(sequential_root, "MISSRec", tmp_path / "whole")
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            sequential_run(sequential_root, "MISSRec", tmp_path / "cut")
    newest = tmp_path / "cut" / "state" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])  # a truncated file
    assert json.loads((tmp_path / "cut" / "state.old" / "position.json").read_text())["epoch"] == 1
    capsys.readouterr()
    resumed = sequential_run(sequential_root, "MISSRec", tmp_path / "cut", resume=True)
    assert "cannot be read" in capsys.readouterr().out
    assert_same_run(whole, resumed)


def test_refusals_keep_runs_apart(sequential_root, tmp_path, monkeypatch):
    out = tmp_path / "cut"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            sequential_run(sequential_root, "SASRec", out)
    with pytest.raises(OutputError, match="unfinished run's resumable state.*--resume"):
        sequential_run(sequential_root, "SASRec", out)
    with pytest.raises(ConfigError, match=r"another configuration \(learning_rate: 0.01 -> 0.02\)"):
        sequential_run(sequential_root, "SASRec", out, resume=True, overrides={"learning_rate": 0.02})
    with pytest.raises(ConfigError, match="pass one"):
        sequential_run(sequential_root, "SASRec", out, resume=True, overwrite=True)
    with pytest.raises(ConfigError, match="nothing to resume"):
        sequential_run(sequential_root, "SASRec", tmp_path / "empty", resume=True)
    saved = json.loads((out / "config.json").read_text())
    saved = {**{k: v for k, v in saved.items() if k != "legacy_topk_ties"}, "a_key_since_removed": False}
    (out / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ConfigError, match=r"another configuration \(legacy_topk_ties: None -> True\)"):
        sequential_run(sequential_root, "SASRec", out, resume=True, overrides={"legacy_topk_ties": True})
    # a key added to the props after the run was saved, left at its default by the resumed run, is no change, and
    # a key the code no longer has is read by nothing
    sequential_run(sequential_root, "SASRec", out, resume=True, epochs=4)  # a longer budget is the same run
    with pytest.raises(ConfigError, match="finished run"):
        sequential_run(sequential_root, "SASRec", out, resume=True)
    fresh = sequential_run(sequential_root, "SASRec", out, overwrite=True, epochs=1)
    assert len(fresh["history"]) == 1
