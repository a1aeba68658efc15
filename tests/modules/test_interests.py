import torch

from missrec.modules.interests import discover_interests, interest_regulariser, interest_tokens


def test_interest_tokens_match_a_per_row_unique():
    lookup = torch.tensor([[0, 3, 3, 5, 1], [0, 2, 3, 2, 4]])  # 2 modalities, items 1..4
    item_seq = torch.tensor([[1, 2, 3, 0], [4, 4, 0, 0], [1, 2, 3, 4]])
    ids, n_valid = interest_tokens(item_seq, lookup)
    for row, seq in enumerate(item_seq):
        labels = lookup[:, seq].flatten()
        expected = torch.unique(labels[labels > 0]).tolist()
        assert ids[row, : len(expected)].tolist() == expected
        assert ids[row, len(expected):].eq(0).all()
        assert n_valid[row] == len(expected)
    # width = max over rows of (distinct ids + 1 if the row has padding), as torch.unique with the 0 entry
    assert ids.shape[1] == max(len(torch.unique(lookup[:, s].flatten())) for s in item_seq)


def test_discover_interests_reserves_zero_for_padding():
    emb = torch.randn(2, 11, 4)  # 2 modalities, PAD + 10 items
    interests = discover_interests(emb, ratio=0.5, n_iter=5, backend="torch")
    assert interests.num_clusters == 10  # ceil(0.5 * 20 points)
    assert interests.lookup.shape == (2, 11)
    assert interests.lookup[:, 0].eq(0).all() and interests.lookup[:, 1:].ge(1).all()
    assert interests.embeddings[0].eq(0).all()
    assert not interests.embeddings.requires_grad


def test_regulariser_is_the_squared_norm_of_the_weighted_pooled_memory():
    memory = torch.tensor([[[1.0, 2.0], [3.0, 0.0], [5.0, 1.0]]])  # B=1, Q=3, D=2
    r = interest_regulariser(memory, torch.tensor([2]))
    pooled = (2 / 3) * torch.tensor([9.0, 3.0])
    assert torch.isclose(r, pooled.pow(2).sum() / 2)
