"""Early stopping: the tie rule and the count at which training stops."""

from __future__ import annotations

import pytest

from missrec.config import build_config
from missrec.registry import get_model
from missrec.runner_general import build_general_config
from missrec.trainers.early_stopping import early_stopping


def run(scores: list[float], max_step: int, tie_improves: bool, bigger: bool = True) -> tuple[int, list[int]]:
    """Feed validation scores; return (validations seen when it stopped, epochs that improved)."""
    best, cur, improved_at = (-float("inf") if bigger else float("inf")), 0, []
    for epoch, score in enumerate(scores):
        best, cur, stop, improved = early_stopping(score, best, cur, max_step, bigger, tie_improves)
        if improved:
            improved_at.append(epoch)
        if stop:
            return epoch + 1, improved_at
    return len(scores), improved_at


def test_ties_count_as_improvement_only_when_asked() -> None:
    scores = [0.1, 0.2, 0.2, 0.2, 0.1]
    assert run(scores, 10, tie_improves=True)[1] == [0, 1, 2, 3]  # RecBole's >=
    assert run(scores, 10, tie_improves=False)[1] == [0, 1]  # MMRec's >


def test_stops_at_the_stopping_step_plus_first_non_improving_validation() -> None:
    scores = [0.5] + [0.4] * 20
    stopped_after, _ = run(scores, max_step=3, tie_improves=False)
    assert stopped_after == 1 + 4  # best, then 4 = stopping_step + 1 non-improving validations
    assert run([0.5, 0.4], max_step=0, tie_improves=False)[0] == 2


def test_a_tie_resets_the_counter_under_recbole_rule_only() -> None:
    scores = [0.5, 0.4, 0.4, 0.5, 0.4, 0.4, 0.4]
    assert run(scores, max_step=2, tie_improves=True)[0] == 7  # the tie at epoch 3 reset the count
    assert run(scores, max_step=2, tie_improves=False)[0] == 4


def test_smaller_is_better() -> None:
    assert run([3.0, 2.0, 2.0, 5.0], 10, tie_improves=False, bigger=False)[1] == [0, 1]


@pytest.mark.parametrize("stage,expected", [("finetune", True), ("general", False)])
def test_stage_defaults(stage: str, expected: bool) -> None:
    if stage == "finetune":
        cfg = build_config(get_model("SASRec").cls, "ML100K_mm_full", "finetune", (), {"device": "cpu"})
    else:
        cfg = build_general_config(get_model("BPR").cls, "ML100K_general", (), {"device": "cpu"})
        assert cfg["neg_sample_pool"] == "train"  # MMRec samples negatives among the items seen in training
    assert cfg["tie_counts_as_improvement"] is expected
