"""Multi-domain pre-training corpus: domain folders, merged prefixed rows, .pt_datasets, placed feature files."""

from __future__ import annotations

import os

import numpy as np
import pytest

from missrec.data.features import read_feature_file, write_feature_file
from missrec.data.prepare.amazon.cli import main
from missrec.data.prepare.amazon.pretrain import build_corpus, short_name
from missrec.data.prepare.amazon.staging import check_folder, refresh_manifest
from missrec.errors import DataError

try:
    from . import amazon_fixtures as fx
except ImportError:
    import amazon_fixtures as fx

DOMAINS = f"Alpha={fx.ALPHA},Beta={fx.BETA}"


def _lines(path):
    return path.read_text().splitlines()


def test_short_name():
    assert short_name(["Food", "Home", "CDs", "Kindle", "Movies"]) == "FHCKM"


@pytest.fixture()
def root(tmp_path):
    raw = fx.write_raw(tmp_path / "raw")
    root = tmp_path / "pretrain"
    assert main(["pretrain", "--domains", DOMAINS, "--raw-dir", str(raw), "--out", str(root)]) == 0
    return root


def test_corpus_layout(root):
    corpus = root / "AB_mm_full"
    assert (root / "Alpha" / "Alpha.train.inter").is_file() and (root / "Beta" / "Beta.train.inter").is_file()
    assert (corpus / "AB_mm_full.pt_datasets").read_bytes() == b"Alpha,Beta"
    train, valid, test = (_lines(corpus / f"AB_mm_full.{s}.inter") for s in ("train", "valid", "test"))
    assert [len(x) - 1 for x in (train, valid, test)] == [91 + 48, 30 + 24, 30 + 24]
    assert train[0] == "user_id:token\titem_id_list:token_seq\titem_id:token"
    assert train[1:3] == ["0-0\t0-0\t0-1", "0-0\t0-0 0-1\t0-2"]
    assert train[92] == "1-0\t1-0\t1-1"  # Beta's first row follows Alpha's 91
    assert test[31] == "1-0\t1-0 1-1 1-2 1-3\t1-4"
    assert all(line.split("\t")[0].startswith("0-") for line in train[1:92])
    # id maps and texts of each domain are placed under <domain>.<suffix>
    assert (corpus / "Alpha.item2index").read_bytes() == (root / "Alpha" / "Alpha.item2index").read_bytes()
    assert os.readlink(corpus / "Beta.text") == os.path.join("..", "Beta", "Beta.text")
    assert check_folder(corpus) == []


def test_features_are_linked_after_the_domains_get_them(root, tmp_path, capsys):
    for name, n_items in (("Alpha", 10), ("Beta", 8)):
        write_feature_file(root / name / f"{name}.feat1CLS", np.full((n_items, 2), n_items, dtype=np.float32))
        refresh_manifest(root / name)
    capsys.readouterr()
    before = (root / "AB_mm_full" / "AB_mm_full.train.inter").read_bytes()
    assert main(["pretrain", "--domains", DOMAINS, "--raw-dir", str(tmp_path / "raw"), "--out", str(root)]) == 0
    assert "reused" in capsys.readouterr().out
    corpus = root / "AB_mm_full"
    assert (corpus / "AB_mm_full.train.inter").read_bytes() == before
    assert os.readlink(corpus / "Alpha.feat1CLS") == os.path.join("..", "Alpha", "Alpha.feat1CLS")
    np.testing.assert_array_equal(read_feature_file(corpus / "Beta.feat1CLS", 2, 8), np.full((8, 2), 8))
    assert main(["pretrain", "--domains", DOMAINS, "--out", str(root), "--check"]) == 0

    assert main(["pretrain", "--domains", DOMAINS, "--out", str(root), "--copy-features"]) == 0
    assert not (corpus / "Alpha.feat1CLS").is_symlink()
    assert (corpus / "Alpha.feat1CLS").read_bytes() == (root / "Alpha" / "Alpha.feat1CLS").read_bytes()
    assert check_folder(corpus) == []


def test_the_features_record_is_not_taken_for_a_feature_file(root, tmp_path, capsys):
    """`amazon features` writes <ds>.features.json beside <ds>.feat1CLS: only .feat<tag> files are features."""
    for name, n_items in (("Alpha", 10), ("Beta", 8)):
        write_feature_file(root / name / f"{name}.feat1CLS", np.zeros((n_items, 2), dtype=np.float32))
        (root / name / f"{name}.features.json").write_text("{}")
        refresh_manifest(root / name)
    assert main(["pretrain", "--domains", DOMAINS, "--raw-dir", str(tmp_path / "raw"), "--out", str(root)]) == 0
    corpus = root / "AB_mm_full"
    assert (corpus / "Alpha.feat1CLS").exists() and not (corpus / "Alpha.features.json").exists()


def test_missing_domain_folder_without_raw_files(tmp_path, capsys):
    assert main(["pretrain", "--domains", "Alpha", "--out", str(tmp_path)]) == 2
    assert "pass --raw-dir" in capsys.readouterr().err
    with pytest.raises(DataError, match="distinct domain names"):
        build_corpus([tmp_path / "A", tmp_path / "A"], tmp_path / "AA_mm_full")


def test_feature_files_must_match_the_domain_items(root, capsys):
    corpus = root / "AB_mm_full"
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    write_feature_file(root / "Alpha" / "Alpha.feat1CLS", np.ones((10, 4), dtype=np.float32))
    write_feature_file(root / "Beta" / "Beta.feat1CLS", np.ones((8, 2), dtype=np.float32))
    with pytest.raises(DataError, match=r"one feature dimension per suffix .*'feat1CLS': \[2, 4\]"):
        build_corpus([root / "Alpha", root / "Beta"], corpus)
    write_feature_file(root / "Beta" / "Beta.feat1CLS", np.ones((7, 4), dtype=np.float32))
    with pytest.raises(DataError, match="8 rows"):
        build_corpus([root / "Alpha", root / "Beta"], corpus)
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before
