"""f_sem without autograd runs its rows in chunks (speed): the same numbers as one pass."""
import torch

from cramcog.configs import CRAMConfig
from cramcog.model import semantic


def test_chunked_inference_gives_the_one_pass_numbers():
    torch.manual_seed(0)
    f = semantic.SemanticMemory(CRAMConfig(d_model=32, n_heads=2, semantic_hidden=64))
    x = torch.randn(3 * semantic.INFERENCE_CHUNK + 17, 32)       # 3 full chunks and a rest
    one_pass = f(x)                                               # grad enabled: one pass
    with torch.no_grad():
        chunked = f(x)
    with torch.inference_mode():
        assert torch.equal(f(x), chunked)
    # rows are independent: bit for bit with MKL (measured); any BLAS: float32 rounding
    torch.testing.assert_close(chunked, one_pass.detach(), rtol=1e-6, atol=1e-7)
    with torch.no_grad():                                        # a short input: one pass,
        short = f(x[:5])                                         # the same matrix products
    assert torch.equal(short, f(x[:5]).detach())                 # (any thread count)
