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
# # Explore: train a tiny CRAM and watch its routes change
#
# CRAM gives every token, in every layer, one of three memory tiers:
#
# - **working** memory (a continuous-time recurrent state; always runs, costs little),
# - **episodic** memory (attention over a key-value buffer; the expensive one),
# - **semantic** memory (a small low-rank network that learns to reproduce what attention
#   retrieved: *consolidation*).
#
# A router picks the tier *before* attention runs. As recurring retrievals are consolidated into
# semantic memory, the router should stop sending them to attention, and attention use falls.
#
# Here we train a small CRAM on the SRCD benchmark, look at its **record** (an xarray Dataset)
# and draw the routes per layer and per token category. Set `CRAMCOG_TINY=1` for a quick run:
# it uses the `tiny` config and a few dozen steps, too few to consolidate anything - the code
# path is the same, the curves are not the science. Without it the notebook trains the `small`
# config for a few hundred steps (several minutes on a laptop CPU).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from cramcog import figures
from cramcog.configs import named_config
from cramcog.train import train

TINY = os.environ.get("CRAMCOG_TINY", "0") == "1"
sns.set_theme(style="whitegrid", context="notebook")

config = (named_config("tiny", steps=30, eval_every=10) if TINY
          else named_config("small", steps=400, eval_every=50))
print(config.name, "steps:", config.steps, "seed:", config.seed)
print("model:", config.model)

# %% [markdown]
# ## 1. Train, and keep the record
#
# `train` returns the record; pass `out_dir=...` to also write it (and checkpoints) to disk as the
# run goes. Every run is seeded: running this cell again gives the same numbers.

# %%
record = train(config, progress=False)
record

# %% [markdown]
# ## 2. The record is an xarray Dataset
#
# Dims say what varies: `step` (optimizer steps) and `layer` for the per-step curves,
# `eval_step` and `query_kind` for held-out evaluations, `category` x `tier` for routes per token
# category. The full config is one JSON attr; provenance (versions, git revision, seed) sits
# beside it.

# %%
print(record.cram.kind, "| seed", record.attrs["seed"], "| floor",
      round(record.attrs["attention_floor"], 4))
print("config keys:", sorted(record.cram.config)[:8], "...")
record["attention_fraction"].sel(layer="L0").to_series().describe()

# %%
# selecting and reducing work as in any xarray Dataset: mean attention over layers, last 5 steps
record["attention_fraction"].mean("layer").isel(step=slice(-5, None)).to_series()

# %% [markdown]
# ## 3. Routes over training, per layer
#
# `working_fraction` and `semantic_fraction` are the router's decisions; `attention_fraction` is
# the attention that *ran*. They add up to one, except where more than half of a layer's tokens
# are routed to attention: one dense attention then runs over every token, and every token is
# counted as having attended (the router's own choice stays in `route_fraction`). Attention
# starts high on purpose (an attention *warm-up*: retrieval has to be learned before anything
# can be consolidated).

# %%
tiers = record[["working_fraction", "attention_fraction", "semantic_fraction"]]
df = tiers.to_dataframe().reset_index().melt(id_vars=["step", "layer"], var_name="tier",
                                             value_name="fraction")
grid = sns.relplot(data=df, x="step", y="fraction", hue="tier", col="layer", kind="line",
                   height=3, aspect=1.3)
grid.set_titles("layer {col_name}")
routed_to_attention = 1.0 - record["working_fraction"] - record["semantic_fraction"]
assert (record["attention_fraction"] >= routed_to_attention - 1e-6).all()  # ran >= was routed
assert (record["attention_fraction"] <= 1.0 + 1e-6).all()

# %% [markdown]
# ## 4. Which tokens go where
#
# `route_fraction(step, layer, category, tier)` splits the routes by token category. Only novel
# queries truly need attention (their binding exists only in the sequence); recurring queries can
# be answered from the weights once consolidated.

# %%
episodic = record["route_fraction"].sel(tier="episodic")
cat = episodic.to_dataframe(name="attention").reset_index()
grid = sns.relplot(data=cat, x="step", y="attention", hue="category", col="layer", kind="line",
                   height=3, aspect=1.3)
grid.set_titles("layer {col_name}: share of each category sent to attention")

# %% [markdown]
# ## 5. Held-out accuracy, and the paper-style figure
#
# The record's evaluations use argmax routes and no replay (what inference does). `cramcog.figures`
# draws every paper figure from records alone; here attention use per layer on log axes with the
# phase transition marked (the steepest fall of log attention, if there is one).

# %%
print(record["retrieval_accuracy"].to_pandas().tail(3))
figures.final_metrics(record)

# %%
grid = figures.plot_attention_over_training(record)
plt.show()
