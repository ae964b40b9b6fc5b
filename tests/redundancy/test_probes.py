"""Ridge probes: streaming statistics equal the batch solution, CV is exact, held-out never leaks,
and the two reference heads (exactly linear, attending to random content) score ~1 and ~0."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from cramcog.redundancy.analysis import RedundancyConfig, fraction_within, measure_redundancy, \
    trend_test
from cramcog.redundancy.corpus import split_groups
from cramcog.redundancy.probes import RidgeStats, column_sse, fit_ridge_cv

torch.set_num_threads(1)


def _data(n=400, d=6, k=3, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    y = x @ rng.normal(size=(d, k)) + 2.0 + noise * rng.normal(size=(n, k))
    return torch.as_tensor(x), torch.as_tensor(y)


def _ridge_direct(x, y, alpha):
    """Ridge with intercept on raw data (centred), penalty alpha * trace(C)/D."""
    x, y = x.numpy(), y.numpy()
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    C = xc.T @ xc
    lam = alpha * np.trace(C) / C.shape[0]
    W = np.linalg.solve(C + lam * np.eye(C.shape[0]), xc.T @ yc)
    return W, my - mx @ W


def test_streaming_statistics_equal_the_batch_solution():
    x, y = _data()
    groups = np.arange(len(x)) % 4              # groups 0..2 folds, 3 held out
    stats = RidgeStats(6, 3, n_groups=4)
    for start in range(0, len(x), 37):          # odd batch size: batches straddle groups
        sl = slice(start, start + 37)
        for g in range(4):
            sel = torch.as_tensor(groups[sl] == g)
            stats.update(x[sl][sel], y[sl][sel], g)
    alpha = 1e-2
    fit = fit_ridge_cv(stats, [slice(0, 3)], heldout=3, alphas=[alpha])
    train = torch.as_tensor(groups != 3)
    W, b = _ridge_direct(x[train], y[train], alpha)
    np.testing.assert_allclose(fit.W.numpy(), W, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fit.b.numpy(), b, rtol=1e-9, atol=1e-10)
    # held-out R^2 from statistics equals R^2 computed on the raw held-out rows
    ho = torch.as_tensor(groups == 3)
    pred = x[ho].numpy() @ W + b
    resid = ((y[ho].numpy() - pred) ** 2).sum()
    total = ((y[ho].numpy() - y[ho].numpy().mean(0)) ** 2).sum()
    assert fit.r2_heldout[0] == pytest.approx(1 - resid / total, rel=1e-9)


def test_cross_validation_from_statistics_is_exact():
    x, y = _data(noise=2.0, seed=1)
    groups = np.arange(len(x)) % 4
    stats = RidgeStats(6, 3, 4)
    for g in range(4):
        sel = torch.as_tensor(groups == g)
        stats.update(x[sel], y[sel], g)
    alphas = [1e-4, 1e-1, 10.0]
    fit = fit_ridge_cv(stats, [slice(0, 1), slice(1, 3)], heldout=3, alphas=alphas)
    # refit each fold on raw data and pick the alpha by hand
    sse = np.zeros((len(alphas), 2))
    for i, a in enumerate(alphas):
        for f in range(3):
            tr = torch.as_tensor((groups != f) & (groups != 3))
            te = torch.as_tensor(groups == f)
            W, b = _ridge_direct(x[tr], y[tr], a)
            err = ((y[te].numpy() - x[te].numpy() @ W - b) ** 2).sum(0)
            sse[i] += [err[0], err[1:].sum()]
    np.testing.assert_array_equal(fit.alpha, np.array(alphas)[sse.argmin(0)])
    # and the moment formula for one fold's SSE equals the direct sum
    W, b = _ridge_direct(x[torch.as_tensor(groups != 0)], y[torch.as_tensor(groups != 0)], 0.1)
    moments = [stats.n[0], stats.sx[0], stats.sy[0], stats.sxx[0], stats.sxy[0], stats.syy[0]]
    direct = ((y[torch.as_tensor(groups == 0)].numpy()
               - x[torch.as_tensor(groups == 0)].numpy() @ W - b) ** 2).sum(0)
    np.testing.assert_allclose(column_sse(torch.as_tensor(W), torch.as_tensor(b), *moments).numpy(),
                               direct, rtol=1e-8)


def test_heldout_group_never_enters_the_fit():
    x, y = _data(seed=2)
    groups = np.arange(len(x)) % 4
    fits = []
    for scramble in (False, True):
        stats = RidgeStats(6, 3, 4)
        for g in range(4):
            sel = torch.as_tensor(groups == g)
            xs, ys = x[sel], y[sel]
            if scramble and g == 3:               # replace held-out data with unrelated noise
                ys = torch.randn(ys.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
            stats.update(xs, ys, g)
        fits.append(fit_ridge_cv(stats, [slice(0, 3)], heldout=3))
    assert torch.equal(fits[0].W, fits[1].W) and torch.equal(fits[0].b, fits[1].b)
    assert fits[0].r2_heldout[0] > 0.9 > fits[1].r2_heldout[0]


def test_split_is_by_sequence_disjoint_and_seeded():
    g = split_groups(103, heldout_fraction=0.2, n_folds=5, seed=3)
    assert (g == 5).sum() == 21
    assert set(np.unique(g)) == set(range(6))
    np.testing.assert_array_equal(g, split_groups(103, 0.2, 5, seed=3))
    assert not np.array_equal(g, split_groups(103, 0.2, 5, seed=4))
    with pytest.raises(ValueError, match="too few"):
        split_groups(5, 0.2, n_folds=5)


class TwoHeadAttention(nn.Module):
    """Head 0 attends only to its own token (context = exact linear map of the input); head 1
    attends only to the previous token, whose content is random and independent of this one."""

    def __init__(self, d=12, dh=4, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.num_heads = 2
        self.v0 = nn.Parameter(torch.randn(d, dh, generator=g))
        self.v1 = nn.Parameter(torch.randn(d, dh, generator=g))
        self.c_proj = nn.Linear(2 * dh, d)

    def forward(self, x):                                   # x: (B, T, D)
        h0 = x @ self.v0 + 0.5                              # (B, T, Dh): attends to itself
        prev = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
        h1 = prev @ self.v1                                 # (B, T, Dh): previous token
        return self.c_proj(torch.cat([h0, h1], -1))


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 12)
        self.attn = TwoHeadAttention()

    def forward(self, idx):
        return self.attn(self.emb(idx))


def test_linear_head_scores_one_and_random_content_head_scores_zero():
    torch.manual_seed(0)
    seqs = np.random.default_rng(0).integers(0, 50, size=(120, 24))   # i.i.d. random tokens
    ds = measure_redundancy(Toy(), seqs, RedundancyConfig(n_folds=3, batch_size=32))
    r2 = ds.r2_heldout.sel(layer=0).values
    assert r2[0] > 0.999                       # exact linear function of the input
    assert abs(r2[1]) < 0.05                   # content independent of the input
    assert float(ds.predictable_fraction.sel(layer=0, head=0)) == 1.0
    assert float(ds.predictable_fraction.sel(layer=0, head=1)) < 0.1
    # operations counted: held-out tokens at positions >= 1, per head
    assert int(ds.n_operations.sel(layer=0, head=0)) == ds.attrs["n_heldout_sequences"] * 23
    assert ds.attrs["headline_fraction"] == pytest.approx(
        float(fraction_within(ds.rel_error_counts.sum(("layer", "head")).values, 0.5)))


def test_fraction_within_and_trend_test():
    counts = np.zeros(41)
    counts[[0, 9, 10, 40]] = [2, 1, 1, 4]      # edges 0.05, 0.5, 0.55, inf
    assert fraction_within(counts, 0.5) == pytest.approx(3 / 8)
    with pytest.raises(ValueError, match="edge"):
        fraction_within(counts, 0.33)
    steps = [0, 1, 10, 100, 1000, 10000]
    up = trend_test(steps, [9, 0.1, 0.2, 0.3, 0.4, 0.5])     # step 0 is left out
    assert up["slope"] == pytest.approx(0.1) and up["verdict"] == "increases"
    assert trend_test(steps, [0, 0.5, 0.4, 0.3, 0.2, 0.1])["verdict"] == "decreases"
    flat = trend_test(steps, [0, 0.5, 0.52, 0.49, 0.51, 0.5])
    assert flat["verdict"] == "no significant trend" and flat["ci_low"] < 0 < flat["ci_high"]
    with pytest.raises(ValueError, match="at least 3"):
        trend_test([0, 1, 2], [1, 2, 3])


def test_config_validation():
    with pytest.raises(ValueError, match="tau"):
        RedundancyConfig(tau=0)
    with pytest.raises(ValueError, match="n_folds"):
        RedundancyConfig(n_folds=1)
    with pytest.raises(ValueError, match="alphas"):
        RedundancyConfig(alphas=(0.0,))
    with pytest.raises(TypeError, match="RedundancyConfig"):
        measure_redundancy(Toy(), np.zeros((10, 4), int), config={"tau": 0.5})
