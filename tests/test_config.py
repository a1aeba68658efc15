import pytest

from missrec.config import build_config, parse_overrides
from missrec.errors import ConfigError
from missrec.models.missrec import MISSRec


def test_props_layering_gives_the_papers_defaults(tiny_data):
    cfg = build_config(MISSRec, "tiny", overrides={"data_path": str(tiny_data), "device": "cpu"})
    assert (cfg["hidden_size"], cfg["n_heads"], cfg["n_layers"], cfg["inner_size"]) == (300, 4, 2, 256)
    assert (cfg["train_batch_size"], cfg["eval_batch_size"], cfg["temperature"], cfg["interest_ratio"]) == (512, 1024, 0.07, 0.5)
    assert cfg["topk"] == [10, 50] and cfg["valid_metric"] == "NDCG@10" and cfg["stopping_step"] == 10
    assert str(cfg["device"]) == "cpu"


def test_unknown_key_names_the_closest_valid_keys(tiny_data):
    with pytest.raises(ConfigError, match=r"unknown config key 'learnig_rate'.*did you mean learning_rate"):
        build_config(MISSRec, "tiny", overrides={"data_path": str(tiny_data), "learnig_rate": 0.1})


def test_unknown_key_in_a_props_file(tiny_data, tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("hiden_size: 8\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: unknown config key 'hiden_size'.*hidden_size"):
        build_config(MISSRec, "tiny", extra_props=[extra], overrides={"data_path": str(tiny_data)})


def test_overrides_are_parsed_as_yaml():
    assert parse_overrides(["epochs=5", "topk=[10, 20]", "legacy_topk_offset=true", "device=cpu"]) == {
        "epochs": 5, "topk": [10, 20], "legacy_topk_offset": True, "device": "cpu"}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["epochs"])


def test_config_reads_no_argv_and_sets_no_cuda_env(tiny_data, monkeypatch):
    import os
    import sys

    monkeypatch.setattr(sys, "argv", ["prog", "--hidden_size=7"])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    cfg = build_config(MISSRec, "tiny", overrides={"data_path": str(tiny_data), "device": "cpu"})
    assert cfg["hidden_size"] == 300
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
