import torch

from missrec.modules.augment import item_drop, word_drop_mask


def test_item_drop_keeps_the_right_items_in_order():
    """Spec appendix A: [11,12,13,14,15] with keep (T,F,F,T,F) must give [11,14], not the original's [13,15]."""
    seq = torch.tensor([[11, 12, 13, 14, 15, 0, 0]])
    g = torch.Generator().manual_seed(0)
    draws = torch.rand(1, 7, generator=torch.Generator().manual_seed(0))
    ratio = float(draws[0, 1:5].sort().values[2])  # drop exactly positions with draw < ratio among 1..4
    kept, length = item_drop(seq, torch.tensor([5]), ratio, generator=g)
    expected = [11] + [int(seq[0, p]) for p in range(1, 5) if draws[0, p] >= ratio]
    assert kept[0, : len(expected)].tolist() == expected and int(length) == len(expected)
    assert kept[0, len(expected):].eq(0).all()


def test_item_drop_never_empties_a_sequence_and_respects_padding():
    torch.manual_seed(0)
    seq = torch.randint(1, 50, (64, 10))
    lengths = torch.randint(1, 11, (64,))
    seq[torch.arange(10) >= lengths[:, None]] = 0
    kept, new_len = item_drop(seq, lengths, 0.9)
    assert new_len.ge(1).all() and new_len.le(lengths).all()
    for row in range(64):
        original = seq[row, : lengths[row]].tolist()
        survivors = kept[row, : new_len[row]].tolist()
        assert survivors[0] == original[0]
        it = iter(original)  # survivors are a subsequence of the original, in order
        assert all(any(x == y for y in it) for x in survivors)
        assert kept[row, new_len[row]:].eq(0).all()


def test_word_drop_touches_real_positions_only():
    mask = word_drop_mask(torch.tensor([2, 5]), 6, 1.0)
    assert mask.tolist() == [[True, True, False, False, False, False], [True] * 5 + [False]]
    assert not word_drop_mask(torch.tensor([3]), 4, 0.0).any()
