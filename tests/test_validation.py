"""Up-front checks: every shipped props layering passes them, bad values fail with the key, names stay plain,
k-means points that would abort faiss are refused."""

from __future__ import annotations

import pytest
import torch

from missrec.config import build_config
from missrec.errors import ConfigError, MissrecError
from missrec.numeric import check_kmeans_points, magnitude_problem
from missrec.registry import MODELS, get_model
from missrec.runner_general import build_general_config
from missrec.validation import check_dataset_name

get_model("MISSRec")  # populate the registry


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_default_config_passes(name, tmp_path):
    entry = MODELS[name]
    overrides = {"data_path": str(tmp_path), "device": "cpu"}
    if entry.kind == "general":
        build_general_config(entry.cls, "ML100K_general", overrides=overrides)
        return
    build_config(entry.cls, "ML100K_mm_full", "finetune", overrides=overrides)
    if hasattr(entry.cls, "pretrain_loss"):
        build_config(entry.cls, "ML1M_genres", "pretrain", overrides={**overrides, "train_stage": "pretrain"})


@pytest.mark.parametrize("override,message", [
    ({"train_batch_size": "abc"}, r"^train_batch_size: expected an integer >= 1, found 'abc'\. Fix: train_batch_size="),
    ({"hidden_size": 16, "n_heads": 3}, r"^n_heads=3 does not divide hidden_size=16 .* n_heads one of \[1, 2, 4, 8, 16\]"),
    ({"hidden_dropout_prob": 1.5}, r"^hidden_dropout_prob: expected a number in \[0, 1\), found 1\.5"),
    ({"valid_metric": "NDCG@5"}, r"^valid_metric=NDCG@5: @5 is not in topk \[10, 50\].*Fix: valid_metric=NDCG@10"),
    ({"learning_rate": 1e-3, "interest_ratio": 0}, r"^interest_ratio: expected a number in \(0, 1\]"),
])  # fmt: skip
def test_bad_values_name_the_key_and_the_fix(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        build_config(get_model("MISSRec").cls, "tiny", overrides={"data_path": str(tmp_path), **override})


@pytest.mark.parametrize("override,message", [
    ({"reg_weight": "abc"},
     r"^overrides: reg_weight expects a number \(its default is 0\.0001\), found 'abc'\. Fix: reg_weight="),
    ({"reg_weight": [0.1, 0.01]}, r"^overrides: reg_weight expects a number"),
    ({"tie_counts_as_improvement": 1},
     r"^overrides: tie_counts_as_improvement expects true or false .* found 1\. Fix: "),
])  # fmt: skip
def test_a_value_of_another_kind_than_its_default_is_refused(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        build_general_config(get_model("BPR").cls, "ML100K_general", overrides={"data_path": str(tmp_path), **override})


@pytest.mark.parametrize("model,override,message", [
    ("SEA", {"club_learning_rate": "fast"}, r"^club_learning_rate: expected a number > 0, found 'fast'"),
    ("MMSSL", {"D_max_width": 0.5}, r"^D_max_width: expected an integer >= 1, found 0\.5"),
    ("MISSRec", {"fix_enc": "flase"}, r"^overrides: fix_enc expects true or false"),
])  # fmt: skip
def test_keys_whose_default_is_empty_or_a_boolean_are_checked_too(tmp_path, model, override, message):
    entry = get_model(model)
    with pytest.raises(ConfigError, match=message):
        if entry.kind == "general":
            build_general_config(entry.cls, "ML100K_general", overrides={"data_path": str(tmp_path), **override})
        else:
            build_config(entry.cls, "tiny", overrides={"data_path": str(tmp_path), **override})


def test_props_file_values_are_checked_against_the_defaults_too(tmp_path):
    props = tmp_path / "mine.yaml"
    props.write_text("reg_weight: high\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: reg_weight expects a number"):
        build_general_config(get_model("BPR").cls, "ML100K_general", [props], {"data_path": str(tmp_path)})
    props.write_text("reg_weight: 2\nlearning_rate_scheduler: [0.96, 50]\n")  # an int for a float; ~ takes anything
    build_general_config(get_model("BPR").cls, "ML100K_general", [props], {"data_path": str(tmp_path)})


def test_scientific_notation_is_a_number(tmp_path):
    from missrec.config import parse_overrides

    assert parse_overrides(["learning_rate=1e-4", "x=1E3", "y=abc"]) == {"learning_rate": 1e-4, "x": 1000.0, "y": "abc"}


@pytest.mark.parametrize("name", ["ML100K_mm_full", "Scientific_mm_full", "a.b-c+d", "X"])
def test_plain_names_pass(name):
    check_dataset_name(name)


@pytest.mark.parametrize("name", ["../x", "../../X", "/tmp/x", "a/b", "", ".", "..", "a\\b", "-x"])
def test_names_with_a_path_are_refused(name):
    with pytest.raises(ConfigError, match="is not a plain name"):
        check_dataset_name(name)


def test_magnitudes():
    x = torch.randn(5, 3)
    assert magnitude_problem(x) is None
    x[2, 1] = 3e38
    assert magnitude_problem(x) == "3e+38 in 1 rows (first: [2])"
    x[4, 0] = float("nan")
    assert magnitude_problem(x) == "NaN/inf in 1 rows (first: [4])"


def test_kmeans_points_that_would_abort_faiss_are_refused():
    points = torch.randn(10, 4)
    check_kmeans_points(points)
    check_kmeans_points(points * 1e8)  # large but squared norms fit float32
    with pytest.raises(MissrecError, match=r"expected squared norms below .* found 9e\+40"):
        check_kmeans_points(torch.full((2, 1), 3e20))
    points[3, 2] = float("inf")
    with pytest.raises(MissrecError, match="found inf"):
        check_kmeans_points(points)
