"""Honest attention counters on the dense path, and the causal interventions of a CRAM layer."""
import numpy as np
import pytest
import torch

from cramcog.model import CRAM
from cramcog.model.cram import Intervention
from cramcog.model.router import EPISODIC, SEMANTIC, WORKING
from cramcog.train import layer_stats

from .conftest import KEYS, OBS, VALUES, random_batch


def _model(cfg, seed=0):
    torch.manual_seed(seed)
    return CRAM(cfg, OBS, KEYS, VALUES).eval()


def _routes(L, B, N, fill, **where):
    r = torch.full((L, B, N), fill, dtype=torch.int64)
    for tier, mask in where.items():
        r[:, mask] = {"episodic": EPISODIC, "semantic": SEMANTIC, "working": WORKING}[tier]
    return r


def test_dense_path_counts_every_token_as_attending(tiny_cfg):
    batch = random_batch(B=2, N=24)
    model = _model(tiny_cfg)
    B, N = 2, 24
    # 75% routed: above dense_threshold 0.5, so ONE dense SDPA runs over all 48 tokens
    mostly = torch.rand(B, N, generator=torch.Generator().manual_seed(1)) < 0.75
    mostly[0, 0], mostly[0, 1] = False, True
    out = model(batch, route_override=_routes(2, B, N, WORKING, episodic=mostly))
    for t in out.layers:
        assert bool(t.executed.all())                      # every token executed attention
        assert t.attention_flops == pytest.approx(t.dense_flops)
        assert not bool(t.route[0, 0] == EPISODIC)         # ...whatever the router decided
        stats = layer_stats(t, batch["category"])
        assert stats["fractions"][1] == pytest.approx(1.0)
        att = stats["attended_fraction"]
        assert np.all(att[np.isfinite(att)] == 1.0)
        assert stats["fractions"][WORKING] > 0     # the decisions still show the unrouted ones
    # below the threshold: exactly the routed tokens execute attention
    few = torch.zeros(B, N, dtype=torch.bool)
    few[0, 3], few[1, 7] = True, True
    out = model(batch, route_override=_routes(2, B, N, WORKING, episodic=few))
    for t in out.layers:
        assert torch.equal(t.executed, few)
        assert t.attention_flops < 0.2 * t.dense_flops
        assert layer_stats(t, batch["category"])["fractions"][1] == pytest.approx(2 / 48)


def test_semantic_zero_equals_the_working_route(tiny_cfg):
    batch = random_batch(B=2, N=16, seed=3)
    model = _model(tiny_cfg, seed=1)
    sem = torch.zeros(2, 16, dtype=torch.bool)
    sem[:, 5:9] = True
    with torch.no_grad():
        zeroed = model(batch, route_override=_routes(2, 2, 16, WORKING, semantic=sem),
                       intervention=Intervention(semantic_zero=sem))
        working = model(batch, route_override=_routes(2, 2, 16, WORKING))
        plain = model(batch, route_override=_routes(2, 2, 16, WORKING, semantic=sem))
    torch.testing.assert_close(zeroed.value_logits, working.value_logits)
    assert not torch.allclose(plain.value_logits, working.value_logits)


def test_semantic_swap_feeds_the_partners_f_sem_output(tiny_cfg):
    layer_cfg = tiny_cfg
    model = _model(layer_cfg, seed=2)
    layer = model.layers[0]
    B, N, d = 2, 10, layer_cfg.d_model
    x = torch.randn(B, N, d, generator=torch.Generator().manual_seed(0))
    dt = torch.rand(B, N)
    sem = torch.zeros(B, N, dtype=torch.bool)
    sem[0, 4], sem[1, 2] = True, True
    src = torch.full((B, N), -1, dtype=torch.int64)
    src[0, 4] = 1 * N + 2          # token (0, 4) receives f_sem of token (1, 2)
    src[1, 2] = 0 * N + 4          # and the other way round
    route = torch.where(sem, SEMANTIC, WORKING)
    with torch.no_grad():
        swapped, _ = layer(x, dt, sample=False, route_override=route,
                           intervention=Intervention(semantic_source=src))
        plain, _ = layer(x, dt, sample=False, route_override=route)
        h, z, _, _ = layer.before_attention(x, dt)
        f = layer.semantic(z)                                                  # (B, N, d)
    mlp = (lambda o: o + layer.mlp(layer.norm_mlp(o))) if layer.mlp is not None else (lambda o: o)
    expect = h.clone()
    expect[0, 4] += f[1, 2]
    expect[1, 2] += f[0, 4]
    torch.testing.assert_close(swapped, mlp(expect))
    # tokens not on the semantic route are untouched
    torch.testing.assert_close(swapped[0, :4], plain[0, :4])


def test_skip_attention_moves_routed_tokens_to_working_memory(tiny_cfg):
    batch = random_batch(B=2, N=24, seed=4)
    model = _model(tiny_cfg)
    routed = torch.zeros(2, 24, dtype=torch.bool)
    routed[:, [3, 9, 15]] = True
    skip = torch.zeros(2, 24, dtype=torch.bool)
    skip[:, 9] = True
    out = model(batch, route_override=_routes(2, 2, 24, WORKING, episodic=routed),
                intervention=Intervention(skip_attention=skip))
    for t in out.layers:
        assert torch.equal(t.executed, routed & ~skip)
        assert bool((t.route[:, 9] == WORKING).all())
