"""Redundancy of CRAM's episodic attention and of the baselines, on SRCD sequences.

The question: does consolidation remove the redundant retrievals that a Transformer keeps? CRAM
runs attention only for the tokens its router sends to episodic memory, so the analysis counts:

- ``executed`` (the default for CRAM and the routed baselines): an attention operation is a
  (routed token, layer, head) context vector; un-routed tokens executed no attention and are not
  operations at all (they appear in ``executed_fraction``, the share of token slots that ran
  attention). The probe is fitted and scored on executed operations only.
- ``counterfactual``: the same heads evaluated at EVERY token (the dense causal attention the
  module would compute, which the model itself never runs for un-routed tokens). It answers
  "would the skipped retrievals have been predictable?"; it is an analysis-only computation.
- the dense Transformer baseline: every token attends, so executed = every token.

``redundant_per_token`` = executed_fraction x predictable share: redundant attention operations
per token slot, the number to compare across models (a model that skips every predictable
retrieval has few, however predictable its remaining ones are).

The probe input is what the attention reads: CRAM's ``z = RMSNorm(h)`` (the input of
``EpisodicMemory``), the Transformer's ``norm1(x)``. Per-head context is recomputed from the
module's own projections (dense causal attention with the module's window); for CRAM this equals
the routed path's output at routed tokens (tested).

Examples
--------
>>> from cramcog.redundancy.cram import ANALYSIS_MODES
>>> ANALYSIS_MODES
('executed', 'counterfactual')
"""
from __future__ import annotations

import numpy as np

ANALYSIS_MODES = ("executed", "counterfactual")


def _host(capture: dict) -> dict:
    """Captured tensors as float32 on the CPU, where the probes are fitted, whatever device and
    autocast dtype the model ran in (a no-op for a float32 CPU model)."""
    return {k: None if v is None else (v.float() if v.is_floating_point() else v).cpu()
            for k, v in capture.items()}


def _episodic_context(module, z):
    """Per-head context (B, N, H, Dh) of an EpisodicMemory at every token (dense causal)."""
    import torch.nn.functional as F

    from cramcog.model.episodic import causal_window_mask

    cfg = module.cfg
    B, N, d = z.shape
    H, Dh = cfg.n_heads, cfg.head_dim
    q = module.q(z).view(B, N, H, Dh).transpose(1, 2)                 # (B, H, N, Dh)
    k, v = module.kv(z).view(B, N, 2, H, Dh).unbind(2)                # (B, N, H, Dh) each
    mask = causal_window_mask(N, cfg.window, z.device)
    att = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2),
                                         attn_mask=mask, is_causal=mask is None)
    return att.transpose(1, 2)                                         # (B, N, H, Dh)


def episodic_extractor(mode: str = "executed"):
    """Capture function for ``EpisodicMemory`` modules (``forward(z, routed)``).

    Examples
    --------
    >>> from cramcog.redundancy.cram import episodic_extractor
    >>> callable(episodic_extractor("counterfactual"))
    True
    """
    if mode not in ANALYSIS_MODES:
        raise ValueError(f"mode must be one of {ANALYSIS_MODES}, got {mode!r}")

    def extract(name, module, args, kwargs, output):
        z = args[0] if args else kwargs["z"]
        routed = args[1] if len(args) > 1 else kwargs["routed"]
        ctx = _episodic_context(module, z)                             # (B, N, H, Dh)
        B, N, H, Dh = ctx.shape
        out = module.o(ctx.reshape(B, N, H * Dh))                      # r_E at every token
        return _host({"x": z, "out": out, "heads": ctx,
                      "mask": routed.bool() if mode == "executed" else None})
    return extract


def transformer_block_extractor(name, module, args, kwargs, output):
    """Capture function for the dense Transformer's ``Block`` (attention inline in the block)."""
    import torch.nn.functional as F

    from cramcog.model.episodic import causal_window_mask
    from cramcog.model.transformer import rotary

    x = args[0] if args else kwargs["x"]
    cfg = module.cfg
    B, N, d = x.shape
    H, Dh = cfg.n_heads, cfg.head_dim
    h = module.norm1(x)                                                # (B, N, d) attention input
    q, k, v = module.qkv(h).view(B, N, 3, H, Dh).permute(2, 0, 3, 1, 4)  # (B, H, N, Dh)
    mask = causal_window_mask(N, cfg.window, x.device)
    att = F.scaled_dot_product_attention(rotary(q), rotary(k), v, attn_mask=mask,
                                         is_causal=mask is None)       # (B, H, N, Dh)
    ctx = att.transpose(1, 2)                                          # (B, N, H, Dh)
    return _host({"x": h, "out": module.o(ctx.reshape(B, N, d)), "heads": ctx, "mask": None})


def plan_for(model, mode: str = "executed") -> tuple:
    """(select, extract, description) for a cramcog SRCD model (CRAM, a baseline, Transformer)."""
    from cramcog.model.episodic import EpisodicMemory
    from cramcog.model.transformer import Block, DenseTransformer

    if isinstance(model, DenseTransformer):
        return (lambda n, m: isinstance(m, Block), transformer_block_extractor,
                "dense Transformer: every token attends")
    if any(isinstance(m, EpisodicMemory) for m in model.modules()):
        how = ("routed tokens only (un-routed tokens execute no attention and are not counted)"
               if mode == "executed" else
               "every token, counterfactual dense attention (analysis only)")
        return (lambda n, m: isinstance(m, EpisodicMemory), episodic_extractor(mode), how)
    raise ValueError(f"{type(model).__name__} has no EpisodicMemory and is not a DenseTransformer: "
                     "use cramcog.redundancy.measure_redundancy with select=/extract= instead")


def srcd_sequences(task, n_sequences: int, seed: int = 0, split: str = "val") -> dict:
    """``n_sequences`` SRCD sequences as a dict of numpy arrays (for ``measure_redundancy``)."""
    if n_sequences < 1:
        raise ValueError(f"n_sequences must be >= 1, got {n_sequences}")
    return task.sample(n_sequences, split=split, seed=seed).to_numpy()


def measure_srcd_model(model, task, config=None, *, n_sequences: int = 64, mode: str = "executed",
                       seed: int = 0, label: str = ""):
    """Redundancy of one SRCD model's attention (see the module docstring for the counting).

    Returns
    -------
    xarray.Dataset
        A redundancy record plus ``executed_fraction(layer)`` and ``redundant_per_token(layer)``,
        the same per SRCD token category (``label_executed_fraction(label, layer)``,
        ``label_predictable_fraction(label, layer)``: observation, binding, recurring query,
        novel query) and attrs ``mode``, ``counting``, ``model_label``.

    Examples
    --------
    >>> from cramcog.configs import CRAMConfig
    >>> from cramcog.model import CRAM
    >>> from cramcog.tasks import SRCD, SRCDConfig
    >>> from cramcog.redundancy.analysis import RedundancyConfig
    >>> from cramcog.redundancy.cram import measure_srcd_model
    >>> from cramcog.train import task_sizes
    >>> task = SRCD(SRCDConfig(seq_len=64, n_patterns=16, seed=0))
    >>> model = CRAM(CRAMConfig(d_model=16, n_heads=2, semantic_hidden=8), **task_sizes(task))
    >>> ds = measure_srcd_model(model, task, RedundancyConfig(n_folds=3), n_sequences=24,
    ...                         mode="counterfactual")
    >>> float(ds.executed_fraction[0])
    1.0
    """
    import torch

    from cramcog.device import model_device
    from cramcog.redundancy.analysis import RedundancyConfig, fraction_within, measure_redundancy

    config = config or RedundancyConfig(seed=seed)
    select, extract, counting = plan_for(model, mode)
    seqs = srcd_sequences(task, n_sequences, seed=seed)
    seq_len = int(seqs["kind"].shape[1])

    device = model_device(model)

    def forward(m, batch):
        batch = {k: (v.float() if v.dtype == torch.float64 else v).to(device)
                 for k, v in batch.items()}
        m(batch, sample=False)      # inference routing: argmax route, no replay

    from cramcog.tasks import CATEGORY_NAMES
    ds = measure_redundancy(model, seqs, config, select=select, extract=extract, forward=forward,
                            label_key="category", label_names=CATEGORY_NAMES)
    slots = ds.attrs["n_heldout_sequences"] * (seq_len - config.min_position)
    ops = ds.layer_rel_error_counts.sum("error_bin").values
    executed = ops / slots
    pooled = fraction_within(ds.rel_error_counts.sum("head").values, config.tau)
    ds["executed_fraction"] = (("layer",), executed, {
        "units": "1", "long_name": "share of held-out token slots that executed attention"})
    ds["redundant_per_token"] = (("layer",), executed * np.nan_to_num(pooled), {
        "units": "operations per token per head", "long_name": "predictable executed head "
                                                                "operations per token slot"})
    ds.attrs.update({"mode": mode, "counting": counting, "model_label": label or
                     type(model).__name__, "executed_fraction_mean": float(executed.mean()),
                     "redundant_per_token_mean": float(np.mean(executed * np.nan_to_num(pooled)))})
    return ds


def compare_srcd_models(models: dict, task, config=None, *, n_sequences: int = 64,
                        seed: int = 0):
    """Measure several SRCD models on the same sequences; one record with a ``model`` dim.

    Every model with episodic attention is measured twice (``executed`` and
    ``counterfactual``); the dense Transformer once (every token attends).

    Parameters
    ----------
    models : dict
        label -> model (CRAM, a baseline or DenseTransformer), e.g. loaded with
        :func:`cramcog.train.load_model`.

    Returns
    -------
    xarray.Dataset
        dims (model, layer, head); per model ``headline_fraction``, ``baseline_headline_fraction``,
        ``mean_r2_heldout``, ``executed_fraction_mean``, ``redundant_per_token_mean``.

    Examples
    --------
    >>> from cramcog.configs import CRAMConfig
    >>> from cramcog.model import DenseTransformer
    >>> from cramcog.tasks import SRCD, SRCDConfig
    >>> from cramcog.train import task_sizes
    >>> from cramcog.redundancy.analysis import RedundancyConfig
    >>> from cramcog.redundancy.cram import compare_srcd_models
    >>> task = SRCD(SRCDConfig(seq_len=64, n_patterns=16, seed=0))
    >>> tf = DenseTransformer(CRAMConfig(d_model=16, n_heads=2), **task_sizes(task))
    >>> ds = compare_srcd_models({"transformer": tf}, task, RedundancyConfig(n_folds=3),
    ...                          n_sequences=24)
    >>> ds.model.values.tolist()
    ['transformer']
    """
    import xarray as xr

    from cramcog import records
    from cramcog.model.transformer import DenseTransformer
    from cramcog.redundancy.analysis import RedundancyConfig

    if not models:
        raise ValueError("pass at least one model: {label: model}")
    config = config or RedundancyConfig(seed=seed)
    per, labels, counting = [], [], []
    for label, model in models.items():
        modes = ("executed",) if isinstance(model, DenseTransformer) else ANALYSIS_MODES
        for mode in modes:
            ds = measure_srcd_model(model, task, config, n_sequences=n_sequences, mode=mode,
                                    seed=seed, label=label)
            per.append(ds)
            labels.append(label if len(modes) == 1 else f"{label}:{mode}")
            counting.append(ds.attrs["counting"])
    scalars = ("headline_fraction", "baseline_headline_fraction", "mean_r2_heldout",
               "layer_headline_fraction", "executed_fraction_mean", "redundant_per_token_mean")
    bare = []
    for ds in per:
        ds = ds.copy()
        ds.attrs = {}
        bare.append(ds)
    combined = xr.concat(bare, dim="model", coords="minimal", compat="override",
                         combine_attrs="drop", join="outer")
    data = {name: (v.dims, v.values, v.attrs) for name, v in combined.data_vars.items()}
    for name in scalars:
        data[name] = (("model",), np.array([ds.attrs[name] for ds in per], float), {"units": "1"})
    coords = {name: (c.dims, c.values, c.attrs) for name, c in combined.coords.items()
              if name != "model"}
    coords["model"] = ("model", np.array(labels, dtype=object))
    coords["counting"] = ("model", np.array(counting, dtype=object))
    last = per[-1].attrs
    attrs = {k: last[k] for k in ("headline_definition", "tau", "n_sequences",
                                  "n_heldout_sequences")}
    attrs["task_json"] = task.config.to_json()
    attrs["peak_rss_mb"] = max(ds.attrs["peak_rss_mb"] for ds in per)
    from dataclasses import asdict
    return records.new_record(data, coords=coords, kind="redundancy",
                              config={"redundancy": asdict(config), "n_sequences": n_sequences},
                              seed=seed, attrs=attrs)
