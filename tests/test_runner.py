"""End to end on a tiny generated dataset: train, early-stop, reload the best model, test, report."""

import json
from pathlib import Path

import pytest
import torch

from missrec.checkpoint import load_checkpoint
from missrec.cli.finetune import main
from missrec.errors import TrainingError
from missrec.models.missrec import MISSRec
from missrec.runner import run_finetune
from tests.conftest import tiny_overrides

RANDOM_HIT10 = 10 / 48  # 48 items, one target per user


def test_loss_terms_that_do_not_match_their_names_are_refused(tiny_data, in_tmp_cwd, monkeypatch):
    monkeypatch.setattr(MISSRec, "LOSS_TERMS", ("ce",))  # two terms returned, one named
    with pytest.raises(TrainingError, match="returned 2 terms, LOSS_TERMS names 1"):
        run_finetune("MISSRec", "tiny", "transductive", epochs=1, output_dir=in_tmp_cwd / "run",
                     overrides=tiny_overrides(tiny_data))


@pytest.mark.parametrize("mode", ["transductive", "inductive"])
def test_missrec_learns_the_planted_sequences(tiny_data, in_tmp_cwd, mode):
    out = in_tmp_cwd / "run"
    results = run_finetune("MISSRec", "tiny", mode, epochs=12, output_dir=out,
                           overrides=tiny_overrides(tiny_data, learning_rate=0.01, topk=[10], stopping_step=3))
    assert results["test"]["hit@10"] > 2 * RANDOM_HIT10
    assert results["history"][0]["train_loss"] > results["history"][-1]["train_loss"]
    assert results["history"][0]["interest_clusters"] == 48  # ceil(0.5 * 2 modalities * 48 items)
    for epoch in results["history"]:  # the loss's terms, logged apart: cross-entropy + gamma * interest regulariser
        assert epoch["train_ce"] + epoch["train_interest_reg"] == pytest.approx(epoch["train_loss"], rel=1e-5)
        assert epoch["train_interest_reg"] > 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["test"] == results["test"] and saved["best_epoch"] == results["best_epoch"]
    assert saved["hardware"].endswith(f"torch {torch.__version__}")
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert list((out / "tensorboard").iterdir())
    state, meta = load_checkpoint(out / "checkpoints" / "best")
    assert meta["epoch"] == results["best_epoch"] and meta["data"]["n_items"] == 49
    assert "interest_embeddings" in state and not any(k.startswith("feature_tables") for k in state)
    assert sorted(p.name for p in in_tmp_cwd.iterdir()) == ["run"]  # nothing else written to the working dir


def test_sasrec_runs_through_the_same_entry_point(tiny_data, in_tmp_cwd):
    results = run_finetune("SASRec", "tiny", "transductive", epochs=8, output_dir=in_tmp_cwd / "sas",
                           overrides=tiny_overrides(tiny_data, learning_rate=0.01, topk=[10], MAX_ITEM_LIST_LENGTH=20))
    assert results["test"]["hit@10"] > 2 * RANDOM_HIT10


def test_legacy_offset_reports_k_plus_one(tiny_data, in_tmp_cwd):
    common = tiny_overrides(tiny_data, topk=[10], metrics=["hit"], valid_metric="hit@10", stopping_step=0)
    std = run_finetune("MISSRec", "tiny", epochs=1, output_dir=in_tmp_cwd / "a", overrides=common)
    legacy = run_finetune("MISSRec", "tiny", epochs=1, output_dir=in_tmp_cwd / "b",
                          overrides={**common, "legacy_topk_offset": True})
    assert legacy["test"]["hit@10"] >= std["test"]["hit@10"]
    assert legacy["metric_definition"].startswith("legacy")


def test_transfer_from_our_checkpoint_freezes_the_transformer(tiny_data, in_tmp_cwd):
    first = run_finetune("MISSRec", "tiny", "inductive", epochs=1, output_dir=in_tmp_cwd / "src",
                         overrides=tiny_overrides(tiny_data))
    second = run_finetune("MISSRec", "tiny", "transductive", pretrained=first["checkpoint"], epochs=1,
                          output_dir=in_tmp_cwd / "dst", overrides=tiny_overrides(tiny_data))
    transfer = second["transfer"]
    assert transfer["missing"] == [] and transfer["unexpected"] == []
    assert transfer["new_by_design"] == ["interest_embeddings", "interest_lookup", "item_embedding.weight"]
    assert any(k.startswith("trm_model.") for k in transfer["frozen"])
    # LN (2*16) + adaptors (16*16+16 + 8*16+16) + fusion 1 + ID table 49*16
    assert second["trainable_parameters"] == 32 + 272 + 144 + 1 + 49 * 16
    card = json.loads(Path(first["checkpoint"]).with_suffix(".json").read_text())
    assert second["pretrained_sha256"] == card["sha256"] and first["pretrained_sha256"] is None


def test_cli_reports_bad_input_in_one_line(tiny_data, in_tmp_cwd, capsys):
    code = main(["-d", "tiny", f"data_path={tiny_data}", "hiden_size=8"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: overrides: unknown config key 'hiden_size'") and "hidden_size" in err
    assert main(["-d", "nowhere", f"data_path={tiny_data}", "device=cpu"]) == 2
    assert "nowhere.train.inter: expected a benchmark split file" in capsys.readouterr().err
    assert main(["--model", "SASRec", "-mode", "inductive", "-d", "tiny", f"data_path={tiny_data}"]) == 2
    assert "SASRec has no inductive mode" in capsys.readouterr().err


def test_zero_shot_evaluates_the_checkpoint_without_a_training_step(tiny_data, in_tmp_cwd, capsys):
    overrides = tiny_overrides(tiny_data, learning_rate=0.01, topk=[10], stopping_step=3)
    source = run_finetune("MISSRec", "tiny", "inductive", epochs=12, output_dir=in_tmp_cwd / "src", overrides=overrides)
    out = in_tmp_cwd / "zero"
    results = run_finetune("MISSRec", "tiny", "inductive", pretrained=source["checkpoint"], output_dir=out,
                           overrides=overrides, zero_shot=True)
    assert results["test"]["hit@10"] > 2 * RANDOM_HIT10  # what the checkpoint learned, with interests found anew
    assert results["best_epoch"] is None and results["epochs_run"] == 0 and results["history"] == []
    assert results["zero_shot"]["interest_clusters"] == 48 and not (out / "curves.png").exists()
    before, _ = load_checkpoint(source["checkpoint"])
    after, meta = load_checkpoint(out / "checkpoints" / "best")
    assert meta["epoch"] == -1 and all(torch.equal(after[k], v) for k, v in before.items() if not k.startswith("interest"))
    assert json.loads((out / "results.json").read_text())["zero_shot"]["interest_clusters"] == 48

    checkpoint = source["checkpoint"]
    for argv, expected in (
        (["-mode", "inductive", "--zero-shot"], "none was given. Fix: add -p <checkpoint>"),
        (["-p", checkpoint, "--zero-shot"], "--zero-shot with -mode transductive"),
        (["-mode", "inductive", "-p", checkpoint, "--zero-shot", "--epochs", "3"], "--epochs and --resume mean nothing"),
    ):
        assert main([*argv, "-d", "tiny", "--output", str(in_tmp_cwd / "refused"), f"data_path={tiny_data}"]) == 2
        assert expected in capsys.readouterr().err and not (in_tmp_cwd / "refused").exists()
