# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Attention redundancy: does attention retrieve what the hidden state already knows?
#
# The CRAM paper motivates consolidation with a measurement on GPT-2: **88% of attention
# operations retrieve information that a linear probe can already predict from the hidden
# state**, and ordinary training does not reduce this. `cramcog.redundancy` makes that measurement
# reusable on any torch model:
#
# 1. forward hooks on the attention modules collect, per layer and head, the attention's input
#    `x` and each head's context vector `y` (before the output projection);
# 2. the activations are streamed into float64 sufficient statistics (X^T X, X^T Y, ...), never
#    stored, and a ridge probe y ~ x W + b is fitted per head with the penalty chosen by exact
#    k-fold cross-validation; a held-out fifth of the sequences is never used in any fit;
# 3. a second pass over the held-out sequences scores every **attention operation** (one token,
#    one layer, one head) by its relative error ||y_hat - y|| / ||y||.
#
# **Definition.** An operation is *predictable* when its relative error is at most tau = 0.5.
# The headline is the share of predictable operations, pooled over layers and heads; beside it
# we report the same share for a probe that only predicts the training mean (a constant
# retrieval is redundant too, but it does not need the hidden state) and the held-out R^2.
#
# `CRAMCOG_TINY=1` runs everything at toy size in well under a minute: the code path is the
# same, the numbers are not the science. Without it the notebook trains the default byte-level
# GPT-2 (3 layers, 4 heads, d=96, 1000 steps: about 5-10 minutes on 2 CPU cores).

# %%
import os

from cramcog.redundancy.analysis import RedundancyConfig, fraction_within
from cramcog.redundancy.gpt2 import GPT2Config
from cramcog.redundancy.plots import plot_redundancy, redundancy_table
from cramcog.redundancy.training import LMTrainConfig, train_and_measure

TINY = os.environ.get("CRAMCOG_TINY", "") not in ("", "0")
if TINY:
    train_cfg = LMTrainConfig(steps=30, n_checkpoints=4, seq_len=64, batch_size=8, max_sequences=60,
                            model=GPT2Config(n_positions=64, n_embd=32, n_layer=2, n_head=2))
    red_cfg = RedundancyConfig(n_folds=3)
else:
    train_cfg, red_cfg = LMTrainConfig(), RedundancyConfig()
train_cfg

# %% [markdown]
# ## A small GPT-2, trained here on a public-domain text
#
# The model is cramcog's own GPT-2 (its parameter names match Hugging Face's, so real GPT-2
# weights load with `cramcog.redundancy.load_gpt2`). The corpus ships with cramcog: the
# reStructuredText specification from the Docutils sources (public domain; provenance in
# `cramcog/redundancy/data/PROVENANCE.md`), read as bytes. Redundancy is measured at log-spaced
# checkpoints, step 0 being the random initialisation.

# %%
record = train_and_measure(train_cfg, red_cfg, progress=print)
record[["headline_fraction", "baseline_headline_fraction", "mean_r2_heldout", "val_loss"]] \
    .to_dataframe()

# %%
print(record.attrs["headline_definition"])
final = record.isel(checkpoint=-1)
print(f"final checkpoint: {float(final.headline_fraction):.1%} of attention operations are "
      f"predictable; the training mean alone predicts {float(final.baseline_headline_fraction):.1%}")

# %% [markdown]
# ## Per layer, over training
#
# Left: share of predictable head operations per layer. Middle: mean held-out R^2 of the heads.
# Right: the same share for the whole attention output of the layer (after the projection).

# %%
grid = plot_redundancy(record)

# %% [markdown]
# ## Is redundancy falling during training?
#
# The trend is the least-squares slope of the headline against log10(step) over the checkpoints
# after initialisation, with a 95% bootstrap interval over checkpoints. "No significant trend"
# means the interval contains zero.

# %%
{k.removeprefix("trend_"): v for k, v in record.attrs.items() if k.startswith("trend_")}

# %% [markdown]
# ## Other tolerances
#
# The record keeps a histogram of relative errors per (checkpoint, layer, head), so the
# predictable share at any tau on the 0.05 grid can be read without rerunning anything.

# %%
counts = final.rel_error_counts.sum(("layer", "head")).values
{tau: round(float(fraction_within(counts, tau)), 3) for tau in (0.25, 0.5, 0.75, 1.0)}

# %%
redundancy_table(record).pivot_table(index=["measure", "layer"], columns="step", values="value") \
    .round(3)

# %% [markdown]
# ## CRAM and the dense Transformer on SRCD
#
# CRAM runs attention only for the tokens its router sends to episodic memory. Its *executed*
# operations are those; un-routed tokens executed no attention and are not operations (they show
# as a lower `executed_fraction_mean`). The *counterfactual* row evaluates the same heads at every
# token, which the model itself never does: would the skipped retrievals have been predictable?
# `redundant_per_token_mean` = executed share x predictable share: redundant attention
# operations per token slot, the number to compare with the Transformer (which attends
# everywhere). Here both models are trained for a few steps only (`tiny` config) unless
# `CRAMCOG_REDUNDANCY_RUNS` names finished `cramcog train` run folders (comma-separated).

# %%
import tempfile
from pathlib import Path

from cramcog import records
from cramcog.configs import TrainConfig, named_config
from cramcog.redundancy.cram import compare_srcd_models
from cramcog.train import load_model, make_task, train

runs = [Path(p) for p in os.environ.get("CRAMCOG_REDUNDANCY_RUNS", "").split(",") if p]
if not runs:
    base = Path(tempfile.mkdtemp())
    for kind in ("cram", "transformer"):
        train({**named_config("tiny").to_dict(), "model_kind": kind}, out_dir=base / kind,
              progress=False)
        runs.append(base / kind)
models = {p.name: load_model(p) for p in runs}
task = make_task(TrainConfig.from_dict(records.open(runs[0] / "record.nc").cram.config))
srcd = compare_srcd_models(models, task, RedundancyConfig(n_folds=3),
                           n_sequences=16 if TINY else 64)
srcd[["executed_fraction_mean", "headline_fraction", "baseline_headline_fraction",
      "mean_r2_heldout", "redundant_per_token_mean"]].to_dataframe()
