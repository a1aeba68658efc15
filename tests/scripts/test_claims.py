"""scripts/claims.py: margins in pooled standard deviations and verdicts from reproduce.py's summaries."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("claims", ROOT / "scripts" / "claims.py")
claims = importlib.util.module_from_spec(spec)
sys.modules["claims"] = claims  # dataclasses look their module up
spec.loader.exec_module(claims)


def row(ndcg: float, std: float, seeds: int = 3, **labels) -> dict:
    return {
        **labels,
        "seeds_done": seeds,
        "test": {"ndcg@10": [ndcg, std], "hit@10": [2 * ndcg, std]},
        "test_new_items": {"ndcg@10": [ndcg / 2, std]},
    }


def test_margin_is_delta_over_pooled_std_with_welch_t():
    c = claims.compare("x", "t", "a", "b", {"m": (0.30, 0.03)}, {"m": (0.20, 0.04)}, "m", (3, 3))
    assert c.delta == pytest.approx(0.10)
    assert c.sigma == pytest.approx(math.sqrt((0.03**2 + 0.04**2) / 2))
    assert c.margin == pytest.approx(0.10 / c.sigma)
    assert c.welch_t == pytest.approx(0.10 / math.sqrt(0.03**2 / 3 + 0.04**2 / 3))
    assert c.verdict == "holds" and c.metrics_above == (1, 1) and c.other_margins == ()
    two = claims.compare("x", "t", "a", "b", {"m": (0.3, 0.03), "n": (0.1, 0.01)}, {"m": (0.2, 0.04), "n": (0.13, 0.01)},
                         "m", (3, 3))
    assert two.other_margins == (("n", pytest.approx(-3.0)),)
    assert "| n -3.0 |" in claims.markdown([two])
    assert claims.compare("x", "t", "a", "b", {"m": (0.2, 0.05)}, {"m": (0.25, 0.05)}, "m", (3, 3)).verdict == (
        "not separated"
    )
    assert claims.compare("x", "t", "a", "b", {"m": (0.1, 0.01)}, {"m": (0.25, 0.01)}, "m", (3, 3)).verdict == "reversed"
    assert claims.compare("x", "t", "a", "b", {"m": (0.3, 0.0)}, {"m": (0.2, 0.0)}, "m", (1, 1)).verdict == (
        "n/a (one seed)"
    )


def test_sequential_claims_cover_ordering_pretraining_and_new_items(tmp_path):
    rows = {
        "MISSRec-transductive-scratch": row(0.06, 0.002),
        "UniSRec-transductive-scratch": row(0.05, 0.002),
        "SASRec-transductive-scratch": row(0.055, 0.002),
        "MISSRec-transductive-pre-trained": row(0.061, 0.002),
    }
    (tmp_path / "mllatest.json").write_text(json.dumps({"table": "mllatest", "rows": rows}))
    assert claims.main(["--results", str(tmp_path)]) == 0
    text = (tmp_path / "claims.md").read_text()
    found = {(c.claim, c.a, c.b, c.verdict) for c in claims.table_claims({"table": "mllatest", "rows": rows})}
    assert ("MISSRec ≥ UniSRec", "MISSRec-transductive-scratch", "UniSRec-transductive-scratch", "holds") in found
    assert ("UniSRec ≥ SASRec", "UniSRec-transductive-scratch", "SASRec-transductive-scratch", "reversed") in found
    assert (
        "pre-training helps (transductive)",
        "MISSRec-transductive-pre-trained",
        "MISSRec-transductive-scratch",
        "not separated",
    ) in found
    assert any(c[0] == "pre-training helps on new items (transductive)" for c in found)
    assert len(found) == 6  # rows absent from the table are not compared
    assert "- mllatest, UniSRec ≥ SASRec: 0 / 0 / 1 / 0" in text


def test_every_sequential_row_is_compared_with_the_popularity_floor():
    rows = {"MISSRec-inductive-zero-shot": row(0.012, 0.001), "SASRec-transductive-scratch": row(0.06, 0.002),
            "Pop-transductive-scratch": row(0.01, 0.0)}
    found = {(c.claim, c.a, c.verdict) for c in claims.table_claims({"table": "mllatest", "rows": rows})}
    assert found == {
        ("above Pop (sanity floor)", "MISSRec-inductive-zero-shot", "holds"),
        ("above Pop on new items (sanity floor)", "MISSRec-inductive-zero-shot", "not separated"),  # 0.006 vs 0.005
        ("above Pop (sanity floor)", "SASRec-transductive-scratch", "holds"),
        ("above Pop on new items (sanity floor)", "SASRec-transductive-scratch", "holds"),
    }


def test_tally_counts_one_seed_comparisons_apart_from_not_separated():
    rows = {
        "MISSRec-transductive-scratch": row(0.06, 0.002),
        "UniSRec-transductive-scratch": row(0.06, 0.002),
        "SASRec-transductive-scratch": row(0.05, 0.0, seeds=1),
    }
    text = claims.markdown(claims.table_claims({"table": "t", "rows": rows}))
    assert "- t, MISSRec ≥ UniSRec: 0 / 1 / 0 / 0" in text
    assert "- t, MISSRec ≥ SASRec: 0 / 0 / 0 / 1" in text


def test_graph_claims_compare_each_multimodal_model_with_both_baselines():
    rows = {
        f"{m}-D": {"model": m, "dataset": "D", "seeds_done": 3, "test": {"recall@20": [r, 0.001]}}
        for m, r in (("BPR", 0.30), ("LightGCN", 0.28), ("FREEDOM", 0.29), ("MMSSL", 0.35))
    }
    found = {(c.claim, c.a, c.verdict) for c in claims.table_claims({"table": "graph", "rows": rows})}
    assert found == {
        ("multimodal ≥ LightGCN (D)", "FREEDOM-D", "holds"),
        ("multimodal ≥ LightGCN (D)", "MMSSL-D", "holds"),
        ("multimodal ≥ BPR (D)", "FREEDOM-D", "reversed"),
        ("multimodal ≥ BPR (D)", "MMSSL-D", "holds"),
    }


def test_no_tables_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        claims.main(["--results", str(tmp_path)])
    assert "run `python scripts/reproduce.py ml100k`" in capsys.readouterr().err


def test_the_unfrozen_transfer_is_judged_against_scratch():
    rows = {"MISSRec-transductive-scratch": row(0.06, 0.002), "MISSRec-transductive-pre-trained-unfrozen": row(0.07, 0.002)}
    found = {(c.claim, c.verdict) for c in claims.table_claims({"table": "mllatest", "rows": rows})}
    assert found == {("pre-training helps (transductive, transformer fine-tuned too)", "holds"),
                     ("pre-training helps on new items (transductive, transformer fine-tuned too)", "holds")}
