"""Redundancy on CRAM's episodic attention and the dense Transformer baseline (tiny, untrained)."""
import numpy as np
import pytest
import torch

from cramcog.configs import CRAMConfig
from cramcog.model import CRAM, DenseTransformer
from cramcog.model.router import EPISODIC, WORKING
from cramcog.redundancy.analysis import RedundancyConfig, measure_redundancy
from cramcog.redundancy.cram import (episodic_extractor, measure_srcd_model, plan_for,
                                     srcd_sequences, transformer_block_extractor)
from cramcog.redundancy.hooks import AttentionCapture
from cramcog.tasks import SRCD, SRCDConfig
from cramcog.train import task_sizes

torch.set_num_threads(1)
CFG = CRAMConfig(d_model=16, n_heads=2, semantic_hidden=8, mlp_ratio=1)


@pytest.fixture(scope="module")
def task():
    return SRCD(SRCDConfig(seq_len=48, n_patterns=16, seed=0))


def _batch(task, n=3, seed=0):
    return task.sample(n, split="val", seed=seed).to_torch()


@pytest.mark.parametrize("routed_share", [1.0, 0.2])   # dense path and sparse (gathered) path
def test_episodic_capture_equals_the_executed_attention(task, routed_share):
    torch.manual_seed(0)
    model = CRAM(CFG, **task_sizes(task)).eval()
    batch = _batch(task)
    B, N = batch["kind"].shape
    g = torch.Generator().manual_seed(1)
    routes = torch.where(torch.rand(CFG.n_layers, B, N, generator=g) < routed_share,
                         EPISODIC, WORKING)
    select, extract, _ = plan_for(model, "executed")
    with torch.no_grad(), AttentionCapture(model, select=select, extract=extract) as cap:
        out = model(batch, sample=False, route_override=routes)
        layers = cap.pop()
    for i, (layer, trace) in enumerate(zip(layers, out.layers)):
        module = model.layers[i].episodic
        bi, pos = trace.attended
        assert layer.x.shape[0] == bi.numel() == int((routes[i] == EPISODIC).sum())
        rebuilt = module.o(layer.heads.reshape(layer.heads.shape[0], -1))
        torch.testing.assert_close(rebuilt, layer.out)
    # the captured out equals the r_E the model returned for its routed tokens (layer 0)
    r_e_model = _r_e_of_layer0(model, batch, routes)
    torch.testing.assert_close(layers[0].out, r_e_model, rtol=1e-4, atol=1e-5)


def _r_e_of_layer0(model, batch, routes):
    seen = {}

    def keep(module, args, output):          # returns None: the output is left unchanged
        seen["r_e"] = output[2]

    handle = model.layers[0].episodic.register_forward_hook(keep)
    with torch.no_grad():
        model(batch, sample=False, route_override=routes)
    handle.remove()
    return seen["r_e"]


def test_transformer_block_capture_reconstructs_the_block(task):
    torch.manual_seed(0)
    model = DenseTransformer(CFG, **task_sizes(task)).eval()
    block = model.blocks[0]
    x = torch.randn(2, 10, 16)
    got = transformer_block_extractor("b", block, (x,), {}, None)
    h = x + got["out"]
    with torch.no_grad():
        torch.testing.assert_close(block(x), h + block.mlp(block.norm2(h)))
    assert got["heads"].shape == (2, 10, 2, 8)


def test_executed_mode_counts_only_routed_tokens(task):
    torch.manual_seed(0)
    model = CRAM(CFG, **task_sizes(task)).eval()
    seqs = srcd_sequences(task, 30, seed=0)
    N = seqs["kind"].shape[1]
    routes = torch.full((CFG.n_layers, 1, N), WORKING)
    routes[0, 0, ::2] = EPISODIC                               # layer 0: even positions only
    select, extract, _ = plan_for(model, "executed")           # layer 1: nothing routed

    def forward(m, batch):
        B = batch["kind"].shape[0]
        m(batch, sample=False, route_override=routes.expand(-1, B, -1))

    cfg = RedundancyConfig(n_folds=3, batch_size=8)
    ds = measure_redundancy(model, seqs, cfg, select=select, extract=extract, forward=forward)
    n_even = len(range(2, N, 2))                               # positions >= 1 that are even
    assert int(ds.n_operations.sel(layer=0, head=0)) == ds.attrs["n_heldout_sequences"] * n_even
    assert int(ds.n_operations.sel(layer=1).sum()) == 0
    assert np.isnan(ds.r2_heldout.sel(layer=1)).all()
    # per-label counts (SRCD categories) partition the operations and the token slots
    select_l, extract_l, _ = plan_for(model, "executed")
    lab = measure_redundancy(model, seqs, cfg, select=select_l, extract=extract_l,
                             forward=forward, label_key="category")
    held = lab.attrs["n_heldout_sequences"]
    assert int(lab.label_slots.sum()) == held * (N - 1)
    np.testing.assert_array_equal(lab.label_rel_error_counts.sum(("label", "error_bin")).values,
                                  lab.n_operations.values)
    np.testing.assert_allclose(
        (lab.label_executed_fraction.sel(layer=0) * lab.label_slots).sum(), held * n_even)
    # counterfactual: every token of both layers
    select, extract, _ = plan_for(model, "counterfactual")
    ds_cf = measure_redundancy(model, seqs, cfg, select=select, extract=extract, forward=forward)
    assert int(ds_cf.n_operations.sel(layer=1, head=0)) == ds.attrs["n_heldout_sequences"] * (N - 1)


def test_measure_srcd_model_reports_executed_share(task):
    torch.manual_seed(0)
    cfg = RedundancyConfig(n_folds=3, batch_size=8)
    cram = measure_srcd_model(CRAM(CFG, **task_sizes(task)), task, cfg, n_sequences=24,
                              mode="counterfactual")
    dense = measure_srcd_model(DenseTransformer(CFG, **task_sizes(task)), task, cfg,
                               n_sequences=24)
    for ds in (cram, dense):
        np.testing.assert_allclose(ds.executed_fraction.values, 1.0)
        assert ds.redundant_per_token.dims == ("layer",)
        assert 0.0 <= ds.attrs["redundant_per_token_mean"] <= 1.0
    with pytest.raises(ValueError, match="mode"):
        episodic_extractor("sometimes")
    with pytest.raises(ValueError, match="EpisodicMemory"):
        plan_for(torch.nn.Linear(2, 2))
