"""Chunked exact top-k equals a full sort; re-ranking masks PAD, exclusions, missing and duplicate candidates."""

import numpy as np
import pytest
import torch

from missrec.recommend.topk import chunk_size_for, chunked_topk, exclusion_pairs, rerank


def full_reference(scores, k, first_item, excluded):
    scores = scores.clone()
    scores[:, :first_item] = float("-inf")
    for row, items in enumerate(excluded):
        scores[row, list(items)] = float("-inf")
    return scores.topk(k, dim=1)


@pytest.mark.parametrize("chunk", [1, 3, 7, 50, None])
def test_chunked_topk_equals_the_full_sort_whatever_the_chunk(chunk):
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 23, generator=g)
    excluded = [[1, 2, 22], [], [5], list(range(1, 19)), [0, 3]]  # row 3 keeps exactly 4 items
    values, items = chunked_topk(lambda q, s, e: scores[:, s:e].clone(), torch.zeros(5, 1), 23, 4, 1,
                                 exclusion_pairs(excluded, "cpu"), chunk)
    ref = full_reference(scores, 4, 1, excluded)
    assert torch.equal(items, ref.indices) and torch.equal(values, ref.values)
    assert not any(set(items[r].tolist()) & set(excluded[r]) for r in range(5))


def test_rows_with_too_few_items_end_in_minus_infinity_and_k_is_capped():
    scores = torch.arange(12.0).view(2, 6)
    values, items = chunked_topk(lambda q, s, e: scores[:, s:e].clone(), torch.zeros(2, 1), 6, 10, 1,
                                 exclusion_pairs([[1, 2, 3], []], "cpu"), 2)
    assert values.shape == (2, 5)  # 6 items minus PAD
    assert items[0, :2].tolist() == [5, 4] and torch.isinf(values[0, 2:]).all()
    assert items[1].tolist() == [5, 4, 3, 2, 1]


def test_exclusions_are_none_when_empty_and_chunks_bound_the_score_matrix():
    assert exclusion_pairs(None, "cpu") is None and exclusion_pairs([[], []], "cpu") is None
    rows, items = exclusion_pairs([np.array([4, 2]), [], [7]], "cpu")
    assert rows.tolist() == [0, 0, 2] and items.tolist() == [4, 2, 7]
    assert chunk_size_for(256) * 256 <= 1 << 22 and chunk_size_for(1) == 1 << 22 and chunk_size_for(10**7) == 1024


def test_rerank_masks_pad_missing_excluded_and_duplicate_candidates():
    table = torch.tensor([9.0, 1.0, 2.0, 3.0, 4.0, 5.0])  # item i scores table[i] for every query

    def score(q, cand):
        return table[cand] + 0 * q[:, :1]

    candidates = torch.tensor([[0, 5, 5, 4, -1, 3], [2, 1, 0, -1, -1, -1]])
    values, items = rerank(score, torch.zeros(2, 1), candidates, 3, 1, exclusion_pairs([[4], [1]], "cpu"), 6)
    assert items[0, :2].tolist() == [5, 3]
    assert values[0, :2].tolist() == [5.0, 3.0] and torch.isinf(values[0, 2])  # the duplicate 5 is masked
    assert items[1, 0].item() == 2 and values[1, 0].item() == 2.0 and torch.isinf(values[1, 1:]).all()
