import numpy as np
import pytest
import torch

from missrec.config import build_config
from missrec.data.pretrain import MultiDomainSequentialDataset
from missrec.errors import DataError
from missrec.models.missrec import MISSRec
from tests.trainers.corpus import make_corpus


def _config(data_path, **extra):
    return build_config(MISSRec, "AB", "pretrain", overrides={"data_path": str(data_path), "device": "cpu", **extra})


def test_features_come_from_each_tokens_domain(tmp_path):
    root = make_corpus(tmp_path)
    data = MultiDomainSequentialDataset(_config(root))
    assert data.domains == ["DomA", "DomB"]
    domain_a = np.fromfile(root / "AB" / "DomA.feat1CLS", "<f4").reshape(-1, 16)
    domain_b = np.fromfile(root / "AB" / "DomB.feat1CLS", "<f4").reshape(-1, 16)
    text = data.modality_features["text"]
    for internal, token in enumerate(data.field2id_token["item_id"][1:], 1):
        domain, row = map(int, str(token).split("-"))
        assert torch.equal(text[internal], torch.from_numpy((domain_a, domain_b)[domain][row]))
        assert int(data.item_domain[internal]) == domain
    assert data.text_aug_features is not None and data.text_aug_features.shape == text.shape
    (train,) = data.build()
    assert len(train) == data.split_rows["train"]


def test_missing_domain_list(tmp_path):
    root = make_corpus(tmp_path)
    (root / "AB" / "AB.sha256").unlink()  # a hand-made corpus: no manifest, the loader's own checks speak
    (root / "AB" / "AB.pt_datasets").unlink()
    with pytest.raises(DataError, match=r"AB\.pt_datasets: expected the corpus's domain list"):
        MultiDomainSequentialDataset(_config(root))


def test_token_of_an_unknown_domain(tmp_path):
    root = make_corpus(tmp_path)
    (root / "AB" / "AB.sha256").unlink()
    (root / "AB" / "AB.pt_datasets").write_text("DomA")
    with pytest.raises(DataError, match=r"expected item tokens '<domain>-<index>' with domain < 1, found token '1-"):
        MultiDomainSequentialDataset(_config(root))


def test_a_built_corpus_changed_afterwards_is_refused(tmp_path):
    root = make_corpus(tmp_path)
    (root / "AB" / "AB.pt_datasets").write_text("DomA")
    with pytest.raises(DataError, match=r"AB\.pt_datasets: expected the file listed in AB\.sha256 .* changed after"):
        MultiDomainSequentialDataset(_config(root))


def test_word_drop_off_without_feat2cls(tmp_path):
    root = make_corpus(tmp_path, aug=False)
    assert MultiDomainSequentialDataset(_config(root)).text_aug_features is None
