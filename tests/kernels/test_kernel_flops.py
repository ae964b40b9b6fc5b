"""FLOP counters against a brute-force pair count."""
import pytest
import torch

from cramcog.kernels import attention_flops, dense_causal_flops


def _brute_pairs(positions, window):
    return sum(sum(1 for j in range(p + 1) if window is None or j > p - window) for p in positions)


@pytest.mark.parametrize("window", [None, 1, 3, 50])
def test_attention_flops_counts_visible_pairs(window):
    pos = [0, 2, 5, 9, 9]
    assert attention_flops(torch.tensor(pos), window, H=3, Dh=8) == 4 * 3 * 8 * _brute_pairs(pos, window)


@pytest.mark.parametrize("N,window", [(0, None), (1, None), (7, None), (7, 3), (7, 7), (7, 20)])
def test_dense_equals_all_positions_routed(N, window):
    assert dense_causal_flops(N, window, 2, 4) == attention_flops(list(range(N)), window, 2, 4)


def test_flops_reject_bad_arguments():
    with pytest.raises(ValueError, match="window"):
        attention_flops([1], 0, 1, 1)
    with pytest.raises(ValueError, match="H and Dh"):
        dense_causal_flops(4, None, 0, 2)
    with pytest.raises(ValueError, match="non-negative"):
        attention_flops([-1], None, 1, 1)
    with pytest.raises(ValueError, match="N must be"):
        dense_causal_flops(-3, None, 1, 1)
