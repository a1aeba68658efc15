"""SGFD on BM3 and GRCN: training through the runner on planted SGFD-format data, the distillation terms by hand,
the legacy switches, and what the students replace in each host."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from recbole.data.interaction import Interaction

from missrec.data.general import BPRTrainLoader, GeneralDataset
from missrec.data.general.synthetic import planted_dataset
from missrec.errors import ConfigError
from missrec.models.graph.grcn import GRCN
from missrec.models.graph.sgfd_distiller import SemanticDistiller, teacher_pyramid, teacher_widths
from missrec.registry import get_model
from missrec.runner_general import build_general_config, run_general
from tests.models.graph.conftest import FAST


def write_sgfd_folder(data: GeneralDataset, folder) -> None:
    """SGFD's layout: train.csv (train + valid rows; the loader carves its own validation), test.csv, the .npy files."""
    folder.mkdir(parents=True)
    train = np.concatenate([data.splits["train"], data.splits["valid"]])
    for name, rows in (("train", train), ("test", data.splits["test"])):
        lines = ["itemID,userID,reviewerID,asin"] + [f"{i},{u},r{u},a{i}" for u, i in rows]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    np.save(folder / "FeatureText_normal.npy", data.features["text"].numpy())
    np.save(folder / "FeatureImage_normal.npy", data.features["image"].numpy())
    np.save(folder / "MetaData_normal.npy", data.item_labels.numpy())


@pytest.fixture(scope="module")
def sgfd_dir(tmp_path_factory):
    data = planted_dataset(seed=0)
    root = tmp_path_factory.mktemp("data")
    write_sgfd_folder(data, root / "planted_sgfd")
    return root


@pytest.mark.parametrize("model", ["SGFD-BM3", "SGFD-GRCN"])
def test_trains_two_epochs_through_the_runner_and_beats_random(model, sgfd_dir, tmp_path, random_recall):
    overrides = {**FAST, "data_path": str(sgfd_dir)}
    results = run_general(model, "planted_sgfd", epochs=2, output_dir=tmp_path / "run", overrides=overrides)
    losses = [h["train_loss"] for h in results["history"]]
    assert len(losses) == 2 and losses[1] < losses[0], losses
    config = build_general_config(get_model(model).cls, "planted_sgfd", (), overrides)
    from missrec.data.general import load_general_dataset

    data = load_general_dataset(config)
    baseline = random_recall(data)
    assert results["test"]["recall@10"] > baseline + 0.15, (results["test"], baseline)


# ---- the distiller by hand ------------------------------------------------------------------------------------
def test_teacher_pyramid_widths_and_activations():
    assert teacher_widths(4096, 128) == [4096, 1024, 256, 128]  # the spec's example
    assert teacher_widths(384, 64) == [384, 96, 64]  # ML100K_general text
    assert teacher_widths(64, 64) == [64, 64]  # ML100K_general kg: one layer
    assert teacher_widths(100, 8) == [100, 25, 8]  # no int(dim/4)*4 width mismatch
    fixed, legacy = teacher_pyramid(384, 64), teacher_pyramid(384, 64, linear_only=True)
    assert [type(m).__name__ for m in fixed] == ["Linear", "LeakyReLU", "Linear"]
    assert [type(m).__name__ for m in legacy] == ["Linear", "Linear"]
    x, y = torch.randn(3, 384), torch.randn(3, 384)
    torch.testing.assert_close(legacy(0.3 * x + 0.7 * y), 0.3 * legacy(x) + 0.7 * legacy(y))  # affine: no activation
    assert not torch.allclose(fixed(0.3 * x + 0.7 * y), 0.3 * fixed(x) + 0.7 * fixed(y))


def tiny_distiller(**kwargs) -> SemanticDistiller:
    torch.manual_seed(0)
    features = [torch.randn(5, 16), torch.randn(5, 6)]
    labels = torch.tensor([0, 1, 2, 1, 0])
    return SemanticDistiller(features, labels, 2, ce_weight=0.5, kd_weight=2.0, temperature=3.0, **kwargs)


def linear(layer, x):
    return x @ layer.weight.T + layer.bias


def test_distillation_terms_by_hand():
    net = tiny_distiller()
    assert teacher_widths(16, 2) == [16, 4, 2] and teacher_widths(6, 2) == [6, 2]
    items = torch.tensor([0, 3, 4])
    y = torch.tensor([0, 1, 0])
    x_text, x_image = net.raw(0, items), net.raw(1, items)
    first, last = net.teachers[0][0], net.teachers[0][2]
    teachers = [
        F.normalize(linear(last, F.leaky_relu(linear(first, x_text))), dim=1),
        F.normalize(linear(net.teachers[1][0], x_image), dim=1),
    ]
    students = [F.normalize(linear(net.students[m], x), dim=1) for m, x in enumerate((x_text, x_image))]
    ce, response, feature = [], [], []
    for m in range(2):
        t_logits, s_logits = linear(net.classifiers[m], teachers[m]), linear(net.classifiers[m], students[m])
        ce.append(-torch.log_softmax(t_logits, 1)[torch.arange(3), y].mean())
        response.append((torch.softmax(t_logits / 3, 1) - torch.softmax(s_logits / 3, 1)).abs().mean())
        feature.append(((students[m] - teachers[m]) ** 2).mean())
    fused = net.fusion_classifier(F.leaky_relu(net.fusion(torch.cat(teachers, 1))))
    fuse = -torch.log_softmax(fused, 1)[torch.arange(3), y].mean()
    terms = net.loss_terms(items)
    torch.testing.assert_close(terms["ce"], (ce[0] + ce[1]) / 2)
    torch.testing.assert_close(terms["fuse"], fuse)
    torch.testing.assert_close(terms["kd_response"], (response[0] + response[1]) / 2)
    torch.testing.assert_close(terms["kd_feature"], (feature[0] + feature[1]) / 2)
    expected = 0.5 * (terms["ce"] + terms["fuse"]) + 2.0 * (terms["kd_response"] + terms["kd_feature"])
    torch.testing.assert_close(net.loss(items), expected)
    terms["kd_feature"].backward()  # the teacher is not detached (as released): the feature KD reaches it
    assert net.teachers[0][0].weight.grad.abs().sum() > 0 and net.students[1].weight.grad.abs().sum() > 0


def test_default_cross_entropy_takes_log_probabilities_once():
    net, legacy = tiny_distiller(), tiny_distiller(legacy_double_softmax=True)
    items = torch.arange(5)
    y = net.labels
    teachers = net.teacher_features(items)
    logits = [c(t) for c, t in zip(net.classifiers, teachers)]
    once = sum(F.nll_loss(F.log_softmax(z, 1), y) for z in logits) / 2
    twice = sum(F.nll_loss(F.log_softmax(F.softmax(z, 1), 1), y) for z in logits) / 2
    torch.testing.assert_close(net.loss_terms(items)["ce"], once)
    torch.testing.assert_close(legacy.loss_terms(items)["ce"], twice)
    assert abs(float((once - twice).detach())) > 1e-3
    # a perfectly confident classifier: CE on logits goes to 0, the double softmax stays at log(1 + (C-1)/e)
    confident = torch.tensor([[50.0, 0.0, 0.0]])
    from missrec.modules.losses import semantic_ce

    assert semantic_ce(confident, torch.tensor([0])).item() == pytest.approx(0.0, abs=1e-6)
    legacy_floor = semantic_ce(confident, torch.tensor([0]), double_softmax=True).item()
    assert legacy_floor == pytest.approx(math.log(1 + 2 / math.e), rel=1e-5)


def test_activation_switch_applies_leaky_relu_before_normalising():
    net = tiny_distiller(activation=True)
    x = net.raw(1)
    torch.testing.assert_close(net.student_features()[1], F.normalize(F.leaky_relu(net.students[1](x)), dim=1))


# ---- the hosts --------------------------------------------------------------------------------------------------
def build(model, data, **overrides):
    entry = get_model(model)
    config = build_general_config(entry.cls, "planted", (), {**FAST, **overrides})
    torch.manual_seed(0)
    return entry.cls(config, data)


def test_students_replace_the_host_encoders_and_the_teacher_is_unused_at_prediction():
    data = planted_dataset(seed=0)
    users = Interaction({"user_id": torch.arange(6)})
    for model in ("SGFD-BM3", "SGFD-GRCN"):
        net = build(model, data)
        assert not hasattr(net, "encoders") and not hasattr(net, "features")  # no raw trainable features
        net.eval()
        scores = net.full_sort_predict(users)
        with torch.no_grad():
            for teacher in net.distiller.teachers:
                teacher[0].weight.add_(1.0)
        net.train()
        net.eval()
        torch.testing.assert_close(net.full_sort_predict(users), scores)
    grcn = build("SGFD-GRCN", data)
    students = grcn.distiller.student_features()
    torch.testing.assert_close(grcn.content_features()[0], F.leaky_relu(students[0]))
    bm3 = build("SGFD-BM3", data)
    items = torch.tensor([1, 5])
    torch.testing.assert_close(bm3.modality_features(items)[1], bm3.distiller.student_features()[1][items])


def test_sgfd_losses_add_the_distiller_on_the_right_items():
    data = planted_dataset(seed=0)
    batch = next(iter(BPRTrainLoader(data, 32, "cpu", seed=0)))
    grcn = build("SGFD-GRCN", data)
    items = torch.cat([batch["item_id"], batch["neg_item_id"]])
    expected = GRCN.calculate_loss(grcn, batch) + grcn.distiller.loss(items)  # positives and negatives
    torch.testing.assert_close(grcn.calculate_loss(batch), expected)
    bm3 = build("SGFD-BM3", data)
    torch.manual_seed(1)
    got = bm3.calculate_loss(batch)
    torch.manual_seed(1)
    t = bm3.loss_terms(batch["user_id"], batch["item_id"])
    host = t["rec"] + bm3.reg_weight * t["reg"] + bm3.cl_weight * (t["align"] + t["mask"])
    torch.testing.assert_close(got, host + bm3.distiller.loss(batch["item_id"]))  # positives only


def test_needs_labels_and_props_follow_the_class_name():
    data = planted_dataset(seed=0)
    data.item_labels = None
    with pytest.raises(ConfigError, match="SGFD-BM3 needs item category labels"):
        build("SGFD-BM3", data)
    config = build_general_config(get_model("SGFD-GRCN").cls, "ML100K_general")
    sgfd_keys = (config["ce_weight"], config["kd_weight"], config["t_decay"], config["learning_rate"])
    assert sgfd_keys == (0.1, 1.0, 10, 0.0001)
    assert config["legacy_double_softmax"] is False and config["legacy_linear_teacher"] is False
    from missrec.cli.train_graph import build_parser

    assert build_parser().parse_args(["--model", "SGFD-BM3"]).model == "SGFD-BM3"
