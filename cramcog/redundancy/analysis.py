"""Attention redundancy of any torch model: how much of what attention retrieves a linear probe
already predicts from the attention's own input.

Definitions (the numbers cramcog reports):

- An *attention operation* is one head computing one context vector for one token: a
  (token, layer, head) triple, on held-out text, at token positions >= ``min_position``
  (default 1: position 0 can only attend to itself, so its context is a linear function of its
  own input by construction). For models whose attention runs only on some tokens (CRAM), only
  tokens that executed attention are operations.
- The *probe* for a head is ridge regression from the module input x (D) to the head's context
  vector (Dh), with intercept; penalty chosen by exact k-fold CV on the training sequences.
- An operation is *predictable* when its relative error ``||y_hat - y|| / ||y|| <= tau``
  (default tau = 0.5: the probe's error is at most half the length of what was retrieved; the
  probe then accounts for at least 75% of the retrieved vector's squared length). Relative error
  is scale-free and, unlike cosine, also penalises a prediction of the right direction but
  wrong magnitude. The record stores a histogram of relative errors, so any other tau on the
  0.05 grid can be read off (:func:`fraction_within`).
- Headline: "X% of attention operations are predictable" = predictable operations / operations,
  pooled over all layers and heads. Beside it, ``baseline_*``: the same share when the
  "prediction" is the training mean of the head's context (intercept only). A constant retrieval
  is redundant too (a bias could replace it), but the gap between the two says how much of the
  redundancy needs the hidden state. R^2 is centred, so it measures only that part. R^2 per head (pooled over the head's Dh columns, held-out)
  is the "probe score". The same is reported per layer for the whole attention output (after the
  output projection): ``layer_*`` variables.

Examples
--------
>>> import numpy as np
>>> from cramcog.redundancy.gpt2 import GPT2, GPT2Config
>>> from cramcog.redundancy.analysis import RedundancyConfig, measure_redundancy
>>> model = GPT2(GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=16))
>>> seqs = np.random.default_rng(0).integers(0, 256, size=(40, 16))
>>> ds = measure_redundancy(model, seqs, RedundancyConfig(n_folds=3, batch_size=8))
>>> ds.r2_heldout.dims
('layer', 'head')
"""
from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from cramcog.redundancy.probes import DEFAULT_ALPHAS

ERROR_EDGES = tuple(np.round(np.arange(0.05, 2.0001, 0.05), 2).tolist()) + (float("inf"),)
HEADLINE_DEFINITION = (
    "share of attention operations (token x layer x head context vectors on held-out text, "
    "positions >= {min_position}) whose per-head linear ridge probe from the attention input "
    "predicts the context vector with relative error ||y_hat - y|| / ||y|| <= {tau}")


@dataclass
class RedundancyConfig:
    """Settings of one redundancy measurement (validated on creation)."""

    heldout_fraction: float = 0.2       # share of sequences held out from every probe fit
    n_folds: int = 5                    # CV folds over the remaining sequences
    alphas: tuple = DEFAULT_ALPHAS      # ridge penalties, relative to mean eigenvalue of X^T X
    tau: float = 0.5                    # relative-error tolerance of a "predictable" operation
    min_position: int = 1               # skip positions < this (position 0 attends to itself)
    batch_size: int = 16                # sequences per forward pass
    per_head: bool = True               # split context by head where the module allows
    seed: int = 0                       # seeds the fold / held-out assignment

    def __post_init__(self):
        if not 0.0 < self.heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}")
        if not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise ValueError(f"n_folds must be an int >= 2, got {self.n_folds!r}")
        self.alphas = tuple(float(a) for a in self.alphas)
        if not self.alphas or min(self.alphas) <= 0:
            raise ValueError(f"alphas must be a non-empty tuple of positive floats, got {self.alphas}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if not isinstance(self.min_position, int) or self.min_position < 0:
            raise ValueError(f"min_position must be an int >= 0, got {self.min_position!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")


@dataclass
class _SiteState:
    name: str
    n_heads: int
    head_dim: int
    d_out: int
    stats: object
    fit: object = None
    counts: np.ndarray = field(default=None)  # (n_targets, n_bins) relative-error histogram
    base_counts: np.ndarray = field(default=None)  # the same for the mean-only baseline
    label_counts: np.ndarray = field(default=None)  # (n_labels, n_targets, n_bins), probe only


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def _batches(sequences, index: np.ndarray, batch_size: int):
    import torch
    for start in range(0, len(index), batch_size):
        rows = index[start:start + batch_size]
        if isinstance(sequences, dict):
            yield {k: torch.as_tensor(np.asarray(v)[rows]) for k, v in sequences.items()}
        else:
            yield torch.as_tensor(np.asarray(sequences)[rows])


def _n_sequences(sequences) -> int:
    if isinstance(sequences, dict):
        lengths = {len(v) for v in sequences.values()}
        if len(lengths) != 1:
            raise ValueError(f"all arrays in the sequences dict need the same first dimension, "
                             f"got {sorted(lengths)}")
        return lengths.pop()
    arr = np.asarray(sequences)
    if arr.ndim != 2:
        raise ValueError(f"sequences must be a (n_sequences, seq_len) array of token ids, got "
                         f"shape {arr.shape}")
    return arr.shape[0]


def measure_redundancy(model, sequences, config: RedundancyConfig | None = None, *,
                       select=None, token_mask: Callable | None = None,
                       extract: Callable | None = None, forward: Callable | None = None,
                       label_key: str | None = None, label_names=None,
                       progress: Callable | None = None):
    """Fit per-head and per-layer probes on a model's attention and score them on held-out text.

    Two streaming passes: (1) every sequence, sorted by its fold, into sufficient statistics;
    fit and CV; (2) the held-out sequences again, to score each operation's relative error.

    Parameters
    ----------
    model : torch.nn.Module
        Any model with attention modules (see :mod:`cramcog.redundancy.hooks`).
    sequences : array (n_sequences, seq_len) of token ids, or dict of arrays
        The corpus, already cut into sequences (e.g. :func:`corpus.make_sequences`). A dict of
        arrays sharing the first dimension is passed batch-wise to ``forward``.
    config : RedundancyConfig, optional
    select : str or callable, optional
        Which modules are attention (regex on names or callable).
    token_mask : callable, optional
        ``(name, module, args, kwargs, output) -> bool (B, T)``: tokens that executed attention.
    extract : callable, optional
        Custom capture per module (see :class:`~cramcog.redundancy.hooks.AttentionCapture`).
    forward : callable, optional
        ``forward(model, batch)`` runs the model on one batch (default ``model(batch)``).
    label_key : str, optional
        Key of a (n_sequences, seq_len) array of non-negative int token labels in the
        ``sequences`` dict (e.g. SRCD's ``"category"``): held-out operations and token slots
        are then also counted per label (``label_*`` variables).
    label_names : list of str, optional
        Names of labels 0, 1, ... (default "0", "1", ...).
    progress : callable, optional
        Called with a short status string after each pass.

    Returns
    -------
    xarray.Dataset
        A "redundancy" record, dims (layer, head) and (layer,), headline in attrs.

    Raises
    ------
    ValueError
        No attention modules, empty corpus, too few sequences for the split.
    """
    import torch

    from cramcog import records
    from cramcog.redundancy.corpus import split_groups
    from cramcog.redundancy.hooks import AttentionCapture
    from cramcog.redundancy.probes import RidgeStats, fit_ridge_cv, relative_errors

    config = config or RedundancyConfig()
    if not isinstance(config, RedundancyConfig):
        raise TypeError(f"config must be a RedundancyConfig, got {type(config).__name__}")
    n_seq = _n_sequences(sequences)
    if n_seq == 0:
        raise ValueError("the corpus is empty: pass at least a few sequences")
    forward = forward or (lambda m, batch: m(batch))
    n_labels = 0
    if label_key is not None:
        if not isinstance(sequences, dict) or label_key not in sequences:
            raise ValueError(f"label_key={label_key!r} must name an array in the sequences dict")
        all_labels = np.asarray(sequences[label_key])
        if all_labels.min() < 0:
            raise ValueError("token labels must be non-negative integers")
        n_labels = int(all_labels.max()) + 1
        label_names = [str(i) for i in range(n_labels)] if label_names is None \
            else list(label_names)[:max(n_labels, len(label_names))]
        n_labels = max(n_labels, len(label_names))
        label_slots = np.zeros(n_labels, dtype=np.int64)
    groups = split_groups(n_seq, config.heldout_fraction, config.n_folds, config.seed)
    heldout = config.n_folds
    capture = AttentionCapture(model, select=select, per_head=config.per_head,
                               token_mask=token_mask, extract=extract)
    was_training = model.training
    model.eval()
    sites: list[_SiteState] = []

    def targets_of(s: _SiteState) -> list:
        heads = [slice(h * s.head_dim, (h + 1) * s.head_dim) for h in range(s.n_heads)] \
            if s.head_dim else []
        width = s.n_heads * s.head_dim
        return heads + [slice(width, width + s.d_out)]          # last target = whole output

    def stacked_y(layer) -> torch.Tensor:
        parts = [] if layer.heads is None else [layer.heads.flatten(1)]
        return torch.cat(parts + [layer.out.flatten(1)], 1)

    try:
        with torch.no_grad(), capture:
            # ---- pass 1: sufficient statistics, batch by batch, each batch from one group
            for g in range(config.n_folds + 1):
                for batch in _batches(sequences, np.flatnonzero(groups == g), config.batch_size):
                    forward(model, batch)
                    layers = capture.pop(min_position=config.min_position)
                    if not sites:
                        for layer in layers:
                            H, Dh = (layer.heads.shape[1], layer.heads.shape[2]) \
                                if layer.heads is not None else (0, 0)
                            d_out = layer.out.flatten(1).shape[1]
                            sites.append(_SiteState(layer.name, H, Dh, d_out, RidgeStats(
                                layer.x.shape[1], H * Dh + d_out, config.n_folds + 1)))
                    for s, layer in zip(sites, layers):
                        s.stats.update(layer.x, stacked_y(layer), g)
            if progress:
                progress(f"pass 1: {int(sum(float(s.stats.n.sum()) for s in sites[:1]))} tokens")
            if not sites:
                raise ValueError("no batch was run: the corpus has no sequences")
            for s in sites:
                n_targets = len(targets_of(s))
                s.counts = np.zeros((n_targets, len(ERROR_EDGES)), dtype=np.int64)
                s.base_counts = np.zeros_like(s.counts)
                s.label_counts = np.zeros((n_labels,) + s.counts.shape, dtype=np.int64)
                if float(s.stats.n.min()) < 2:
                    # e.g. a CRAM layer whose router sends (almost) no token to attention: no
                    # operations to probe; reported as NaN with n_operations 0
                    if progress:
                        progress(f"{s.name}: too few executed tokens to fit a probe")
                    continue
                s.fit = fit_ridge_cv(s.stats, targets_of(s), heldout, config.alphas)
            # ---- pass 2: per-operation relative errors on the held-out sequences
            edges = torch.tensor(ERROR_EDGES[:-1], dtype=torch.float64)
            for batch in _batches(sequences, np.flatnonzero(groups == heldout), config.batch_size):
                forward(model, batch)
                labels = None
                if n_labels:
                    labels = batch[label_key]                                   # (B, T)
                    label_slots += np.bincount(labels[:, config.min_position:].reshape(-1).numpy(),
                                               minlength=n_labels)
                for s, layer in zip(sites, capture.pop(min_position=config.min_position)):
                    if s.fit is None:
                        continue
                    y = stacked_y(layer)
                    for store, base in ((s.counts, False), (s.base_counts, True)):
                        rel = relative_errors(s.fit, layer.x, y, baseline=base)  # (N, n_targets)
                        bins = torch.bucketize(rel, edges, right=False)         # bin i: <= edge i
                        for t in range(rel.shape[1]):
                            store[t] += np.bincount(bins[:, t].numpy(),
                                                    minlength=len(ERROR_EDGES))
                        if labels is not None and not base:
                            if layer.keep is None:
                                raise ValueError(f"{s.name} ran more than once per forward pass: "
                                                 "per-label counts are not defined")
                            row_labels = labels.to(layer.keep.device)[layer.keep].cpu()  # (N,)
                            for lab in row_labels.unique().tolist():
                                sel = (row_labels == lab).numpy()
                                for t in range(rel.shape[1]):
                                    s.label_counts[lab, t] += np.bincount(
                                        bins[sel, t].numpy(), minlength=len(ERROR_EDGES))
    finally:
        model.train(was_training)
    if progress:
        progress("pass 2: held-out operations scored")
    ds = _to_record(sites, config, records, n_seq, groups)
    if n_labels:
        ds = _add_labels(ds, sites, label_names, label_slots, config)
    return ds


def _add_labels(ds, sites, names, slots, config):
    """Per-label held-out counts: operations, predictable share (heads pooled), executed share."""
    L, H = ds.sizes["layer"], ds.sizes["head"]
    n_bins = len(ERROR_EDGES)
    counts = np.zeros((len(names), L, H, n_bins), dtype=np.int64)
    layer_ops = np.zeros((len(names), L), dtype=np.int64)
    for i, s in enumerate(sites):
        h = s.n_heads
        counts[:, i, :h] = s.label_counts[:, :h]
        layer_ops[:, i] = s.label_counts[:, -1].sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = fraction_within(counts.sum(2), config.tau)                 # (label, layer)
        executed = layer_ops / slots[:, None]
    ds = ds.assign_coords(label=("label", np.array(names, dtype=object)))
    ds["label_rel_error_counts"] = (("label", "layer", "head", "error_bin"), counts,
                                    {"units": "operations"})
    ds["label_slots"] = (("label",), slots, {"units": "tokens", "long_name":
                                             "held-out token slots (positions >= min_position)"})
    ds["label_predictable_fraction"] = (("label", "layer"), pooled, {
        "units": "1", "long_name": f"share of the label's held-out head operations with relative "
                                   f"error <= {config.tau} (heads pooled)"})
    ds["label_executed_fraction"] = (("label", "layer"), executed, {
        "units": "1", "long_name": "share of the label's held-out token slots that executed "
                                   "attention"})
    return ds


def fraction_within(counts: np.ndarray, tau: float) -> np.ndarray:
    """Share of operations with relative error <= tau, from histogram counts (..., bin).

    ``tau`` must be one of the bin edges (multiples of 0.05 up to 2).

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.redundancy.analysis import fraction_within, ERROR_EDGES
    >>> c = np.zeros(len(ERROR_EDGES)); c[0] = 3; c[-1] = 1
    >>> float(fraction_within(c, 0.5))
    0.75
    """
    edges = np.asarray(ERROR_EDGES)
    hits = np.flatnonzero(np.isclose(edges, tau))
    if not len(hits):
        raise ValueError(f"tau={tau} is not a histogram edge; use a multiple of 0.05 in (0, 2]")
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts[..., : hits[0] + 1].sum(-1) / total


def _to_record(sites, config: RedundancyConfig, records, n_seq: int, groups: np.ndarray):
    L = len(sites)
    H = max(s.n_heads for s in sites)
    n_bins = len(ERROR_EDGES)
    nan = np.full((L, H), np.nan)
    r2_ho, r2_cv, alpha = nan.copy(), nan.copy(), nan.copy()
    counts = np.zeros((L, H, n_bins), dtype=np.int64)
    base_counts = np.zeros((L, H, n_bins), dtype=np.int64)
    layer_counts = np.zeros((L, n_bins), dtype=np.int64)
    layer_r2_ho, layer_r2_cv, layer_alpha = np.zeros(L), np.zeros(L), np.zeros(L)
    for i, s in enumerate(sites):
        h = s.n_heads
        if s.fit is None:
            layer_r2_ho[i] = layer_r2_cv[i] = layer_alpha[i] = np.nan
            continue
        r2_ho[i, :h], r2_cv[i, :h], alpha[i, :h] = (s.fit.r2_heldout[:h], s.fit.r2_cv[:h],
                                                    s.fit.alpha[:h])
        counts[i, :h] = s.counts[:h]
        base_counts[i, :h] = s.base_counts[:h]
        layer_counts[i] = s.counts[-1]
        layer_r2_ho[i], layer_r2_cv[i], layer_alpha[i] = (s.fit.r2_heldout[-1], s.fit.r2_cv[-1],
                                                          s.fit.alpha[-1])
    n_ops = counts.sum(-1)
    with np.errstate(invalid="ignore"):
        frac = fraction_within(counts, config.tau)
    frac[n_ops == 0] = np.nan
    with np.errstate(invalid="ignore"):
        base_frac = fraction_within(base_counts, config.tau)
    base_frac[n_ops == 0] = np.nan
    with np.errstate(invalid="ignore"):
        layer_frac = fraction_within(layer_counts, config.tau)
    heads_known = n_ops.sum() > 0
    headline = float(fraction_within(counts.sum((0, 1)), config.tau)) if heads_known else np.nan
    base_headline = float(fraction_within(base_counts.sum((0, 1)), config.tau)) \
        if heads_known else np.nan
    layer_headline = float(fraction_within(layer_counts.sum(0), config.tau)) \
        if layer_counts.sum() else float("nan")
    stats_bytes = sum(s.stats.nbytes for s in sites)
    n_train = int(max(float(s.stats.n[:-1].sum()) for s in sites))   # most of any site
    n_held = int(max(float(s.stats.n[-1]) for s in sites))
    definition = HEADLINE_DEFINITION.format(min_position=config.min_position, tau=config.tau)
    r2_units = {"units": "1", "long_name": "held-out R^2 of the ridge probe (pooled over columns)"}
    ds = records.new_record(
        {
            "r2_heldout": (("layer", "head"), r2_ho, r2_units),
            "r2_cv": (("layer", "head"), r2_cv, {"units": "1", "long_name": "cross-validated R^2"}),
            "alpha": (("layer", "head"), alpha,
                      {"units": "1", "long_name": "chosen ridge penalty / mean eigenvalue of X^T X"}),
            "predictable_fraction": (("layer", "head"), frac, {
                "units": "1", "long_name": f"share of held-out operations with relative error <= "
                                           f"{config.tau}"}),
            "baseline_fraction": (("layer", "head"), base_frac, {
                "units": "1", "long_name": f"share of held-out operations within {config.tau} "
                                           "when predicted by the training mean alone"}),
            "n_operations": (("layer", "head"), n_ops, {"units": "operations"}),
            "n_fit_tokens": (("layer",), np.array([float(s.stats.n[:-1].sum()) for s in sites]),
                             {"units": "tokens", "long_name": "tokens the probe was fitted on"}),
            "rel_error_counts": (("layer", "head", "error_bin"), counts, {
                "units": "operations", "long_name": "held-out operations per relative-error bin "
                                                    "(bin upper edge in error_upper)"}),
            "layer_r2_heldout": (("layer",), layer_r2_ho, {
                "units": "1", "long_name": "held-out R^2, whole attention output of the layer"}),
            "layer_r2_cv": (("layer",), layer_r2_cv, {"units": "1"}),
            "layer_alpha": (("layer",), layer_alpha, {"units": "1"}),
            "layer_predictable_fraction": (("layer",), layer_frac, {
                "units": "1", "long_name": f"share of (token, layer) attention outputs with "
                                           f"relative error <= {config.tau}"}),
            "layer_rel_error_counts": (("layer", "error_bin"), layer_counts, {"units": "operations"}),
        },
        coords={
            "layer": ("layer", np.arange(L, dtype="int64"), {"long_name": "attention site index"}),
            "layer_name": ("layer", np.array([s.name for s in sites], dtype=object)),
            "n_heads": ("layer", np.array([s.n_heads for s in sites], dtype="int64")),
            "head": ("head", np.arange(H, dtype="int64")),
            "error_bin": ("error_bin", np.arange(n_bins, dtype="int64")),
            "error_upper": ("error_bin", np.array(ERROR_EDGES),
                            {"long_name": "upper edge of the relative-error bin (inclusive)"}),
        },
        kind="redundancy", config=asdict(config), seed=config.seed,
        attrs={
            "headline_fraction": headline,
            "headline_definition": definition,
            "baseline_headline_fraction": base_headline,
            "layer_headline_fraction": layer_headline,
            "layer_headline_definition": definition.replace(
                "token x layer x head context vectors", "token x layer attention outputs").replace(
                "per-head", "per-layer"),
            "mean_r2_heldout": float(np.nanmean(r2_ho)) if heads_known else float("nan"),
            "mean_layer_r2_heldout": float(np.nanmean(layer_r2_ho)) if np.isfinite(
                layer_r2_ho).any() else float("nan"),
            "tau": config.tau,
            "n_sequences": n_seq,
            "n_heldout_sequences": int((groups == config.n_folds).sum()),
            "n_train_tokens": n_train,
            "n_heldout_tokens": n_held,
            "probe_statistics_mb": stats_bytes / 2**20,
            "peak_rss_mb": _peak_rss_mb(),
            "sites_json": json.dumps([{"name": s.name, "n_heads": s.n_heads,
                                       "head_dim": s.head_dim, "d_out": s.d_out} for s in sites]),
        })
    return ds


def trend_test(steps, values, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Least-squares slope of ``values`` against log10(step) with a pairs-bootstrap interval.

    Checkpoints with step <= 0 are left out (log undefined). The verdict reads "decreases" when
    the whole interval is below zero, "increases" when above, else "no significant trend".

    Returns
    -------
    dict with slope (per decade of steps), ci_low, ci_high, n_points, verdict.

    Examples
    --------
    >>> from cramcog.redundancy.analysis import trend_test
    >>> t = trend_test([10, 100, 1000, 10000], [0.5, 0.6, 0.7, 0.8])
    >>> round(t["slope"], 3), t["verdict"]
    (0.1, 'increases')
    """
    steps, values = np.asarray(steps, float), np.asarray(values, float)
    keep = (steps > 0) & np.isfinite(values)
    x, y = np.log10(steps[keep]), values[keep]
    if len(x) < 3 or np.ptp(x) == 0:
        raise ValueError(f"a trend needs at least 3 checkpoints with step > 0 at different steps, "
                         f"got {len(x)}")

    def slope(xs, ys):
        xc = xs - xs.mean()
        den = (xc * xc).sum()
        return np.nan if den == 0 else float((xc * (ys - ys.mean())).sum() / den)

    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        boots.append(slope(x[i], y[i]))
    boots = np.asarray(boots)
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    verdict = "decreases" if hi < 0 else "increases" if lo > 0 else "no significant trend"
    return {"slope": slope(x, y), "ci_low": float(lo), "ci_high": float(hi),
            "n_points": int(len(x)), "verdict": verdict, "level": level}
