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
# # Episodic and semantic memory: a consolidation demo
#
# A class demo for students of cognitive science. We will
#
# 1. say what episodic and semantic memory are, and what the *complementary learning systems*
#    idea claims;
# 2. run a toy model with a fast episodic store and a slow semantic learner, and watch recurring
#    items move from one to the other while novel items cannot;
# 3. fit forgetting curves to real human data and see what the exponent **gamma** means;
# 4. fit the same curve to the toy model and compare its gamma with the human ones, honestly;
# 5. change the knobs (replay, recurrence, capacity) and see what happens;
# 6. put the toy's and CRAM's consolidation curves beside human *episodic-to-semantic* data
#    (a strategy shift and remember/know judgments) and ask which curve family fits each, and
#    why "gamma" alone is not enough.
#
# Everything is seeded: rerunning gives the same numbers. Change the parameters in the next cell
# and rerun the notebook (or just the cells below it) to experiment. `CRAMCOG_TINY=1` only runs
# fewer seeds in the sweeps, so the notebook finishes in seconds in CI.

# %%
# ---- parameters to play with ----------------------------------------------------------------
REPLAY_RATE = 2.0      # replays per studied item after each episode ("sleep"); 0 = no replay
RECURRENCE = 0.5       # share of each episode's items that come from the recurring pool
SEMANTIC_RANK = 1024   # capacity of the slow semantic learner (dims of its item codes)
N_RECURRING = 32       # size of the recurring pool
ZIPF = 1.0             # how unequal recurrence is: 0 = every pool item recurs equally often
N_EPISODES = 200       # episodes ("days") to simulate
SEED = 0               # change it to see another random world
# ----------------------------------------------------------------------------------------------

import dataclasses
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cramcog import psych
from cramcog.comparison import compare_gamma, summarize
from cramcog.figures.forest import forest_plot
from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.toy_consolidation import ToyConsolidationConfig, simulate_consolidation

TINY = os.environ.get("CRAMCOG_TINY", "0") == "1"
N_SEEDS = 2 if TINY else 8          # seeds per setting in the averaged plots and sweeps
sns.set_theme(style="ticks", context="notebook")
pd.set_option("display.width", 140)

config = ToyConsolidationConfig(n_episodes=N_EPISODES, recurrence=RECURRENCE,
                                n_recurring=N_RECURRING, zipf_exponent=ZIPF,
                                replay_rate=REPLAY_RATE, semantic_rank=SEMANTIC_RANK, seed=SEED)
config

# %% [markdown]
# ## 1. Two memory systems
#
# * **Episodic memory** holds *events*: what happened, where and when ("the talk I heard on
#   Tuesday"). One experience is enough to store one, and each is kept apart from the others.
# * **Semantic memory** holds *knowledge*: facts and meanings stripped of when you learned them
#   ("Paris is the capital of France"). It builds up slowly, from many experiences.
#
# The **complementary learning systems** idea (McClelland, McNaughton & O'Reilly, 1995) says the
# brain needs both because one learner cannot do both jobs. A fast learner (the hippocampus) can
# store a new event at once without overwriting the old ones. A slow learner (the neocortex)
# extracts what events have in common, but if it learned each new event quickly it would
# overwrite what it already knows ("catastrophic interference"). So new events go to the fast
# store first, and are **replayed** to the slow one, offline (during sleep, say), interleaved with
# others. What recurs across many events is gradually learned by the slow system: it is
# **consolidated**, and the fast store no longer needs to hold it. Memories of single events stay
# episodic: there is nothing general to extract from them.
#
# The CRAM paper that cramcog reproduces builds the same idea into a neural network: attention
# over a buffer plays the episodic store, a small network trained to imitate it plays semantic
# memory, and the network should stop paying for attention on what has been consolidated.

# %% [markdown]
# ## 2. A toy model you can run
#
# Each **episode** (think of a day) the model meets `items_per_episode` = 24 items. Half of them
# (`RECURRENCE`) come from a fixed **recurring pool** of 32 items: the same items come back on
# other days, some often and some rarely (`ZIPF`). The rest are **novel**: seen once, never again.
# Every item has 8 binary features to remember.
#
# * The **episodic store** writes every item of the day down at once and looks it up exactly. It
#   is emptied at the end of the day.
# * The **semantic memory** is a linear associative memory (a matrix): from a code of the item it
#   predicts the features and a *familiarity* signal. When the familiarity is high enough (0.83)
#   semantic memory answers; otherwise the episodic store must. It decides without seeing the
#   answer, so it can be confidently wrong: a false memory.
# * At night the day's items are **replayed** (`REPLAY_RATE` replays per item, picked at random)
#   and each replay nudges the matrix a little towards the right answer (the delta rule). The
#   matrix also fades a little every day (0.5%): only repeated replay beats that.
#
# The number to watch: the **share of lookups the episodic store must answer**, for recurring
# and for novel items. `cramcog.dynamics.toy_consolidation` has the whole model (about 100 lines
# of numpy).

# %%
run = simulate_consolidation(config)
print("after the last 20 episodes:", {k: round(v, 3) for k, v in run.summary(20).items()})
print("first episode with a semantic answer (consolidation onset):", run.onset())

# %%
# The same world with several seeds, to show the spread (band: +-1 standard deviation).
frames, pools = [], []
for seed in range(N_SEEDS):
    r = simulate_consolidation(config, seed=SEED + seed)
    frames.append(r.to_frame().assign(seed=SEED + seed))
    pools.append(pd.DataFrame({"episode": r.episode, "pool_consolidated": r.pool_consolidated,
                               "seed": SEED + seed}))
runs, pools = pd.concat(frames, ignore_index=True), pd.concat(pools, ignore_index=True)

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
sns.lineplot(data=runs, x="episode", y="episodic_share", hue="kind", errorbar="sd",
             hue_order=["recurring", "novel"], ax=axes[0])
axes[0].set(xlabel="episode (day)", ylabel="share of lookups answered by the episodic store",
            title="recurring items move to semantic memory", ylim=(-0.02, 1.05))
sns.lineplot(data=pools, x="episode", y="pool_consolidated", errorbar="sd", ax=axes[1])
axes[1].set(xlabel="episode (day)", ylabel="share of the recurring pool consolidated",
            title="familiarity above threshold, whole pool", ylim=(-0.02, 1.05))
sns.despine(fig)
fig.tight_layout()
recurring = runs[runs["kind"] == "recurring"]
print(f"accuracy of semantic answers to recurring items: "
      f"{recurring.semantic_correct.sum() / (recurring.lookups - recurring.episodic).sum():.3f}")

# %% [markdown]
# What to see:
#
# * For the first few days the episodic store answers everything: semantic memory has not learned
#   anything yet. Then the share of **recurring** lookups that still need the episodic store
#   falls: those items have been replayed often enough to be consolidated (right panel: the share
#   of the pool whose familiarity is above the threshold). What semantic memory answers, it
#   answers right (the accuracy printed above).
# * It does not fall to zero. Rare pool items come back too seldom to beat the daily fading, and
#   the memory's own noise (interference from everything it was ever taught) keeps some items
#   below the familiarity threshold.
# * **Novel** items stay episodic (share near 1): they are replayed once, after the only day they
#   appear, which cannot help. The occasional dip is a false memory: a novel item that happens to
#   *feel* familiar. Its semantic answer is then wrong.
#
# How unequal is recurrence? Pool item i is drawn with weight proportional to (i + 1)^-ZIPF:

# %%
pool_freq = np.arange(1, config.n_recurring + 1, dtype=float) ** -config.zipf_exponent
pool_freq /= pool_freq.sum()
print(f"pool items recur with weights from {pool_freq[0]:.3f} (most frequent) to "
      f"{pool_freq[-1]:.4f} (rarest); {config.n_recurring_per_episode} distinct pool items are "
      f"drawn each episode")

# %% [markdown]
# ## 3. Forgetting curves and what gamma means
#
# How fast do people forget? Ebbinghaus (1885) measured it on himself: he learned lists of
# nonsense syllables, waited, and relearned them; the *savings* (the share of learning time saved)
# fell quickly at first and then more and more slowly. Two functions are the usual candidates:
#
# * **exponential**, $y = a\,e^{-bt}$: a fixed half-life; every extra day removes the same share.
# * **power law**, $y = a\,t^{-\gamma}$: every *tenfold* longer delay removes the same share.
#
# The exponent **gamma** is a *retention ratio per decade of time*: going from 1 hour to 10
# hours, or from 1 day to 10 days, or from 1 month to 10 months, multiplies retention by the same
# factor $10^{-\gamma}$. With $\gamma = 0.43$ (the value the CRAM paper reports for its network)
# a tenfold delay keeps $10^{-0.43} = 37\%$; with $\gamma = 0.1$ it keeps 79%.
#
# This is also **Jost's law** (1897): of two memories that are equally strong now, the *older*
# one fades more slowly. A power law has that property (its rate of forgetting at age $t$ is
# $\gamma / t$: it falls as the memory ages); an exponential does not (its rate is the same
# constant $b$ at every age).

# %%
gamma_demo = 0.43
for name, age in (("young (1 day old)", 1.0), ("old (100 days old)", 100.0)):
    kept = ((age + 10) / age) ** -gamma_demo         # power law: y(age + 10) / y(age)
    print(f"{name:>19}: keeps {kept:.0%} of its strength over the next 10 days (power law, "
          f"gamma={gamma_demo})")
b = 0.05
print(f"{'any age':>19}: keeps {np.exp(-10 * b):.0%} over 10 days (exponential, b={b}/day)")
print(f"retention per decade of time: 10**-gamma = {10 ** -gamma_demo:.2f} for gamma="
      f"{gamma_demo}; 10**-0.1 = {10 ** -0.1:.2f}")

# %% [markdown]
# Now real data. `cramcog.psych` ships several human forgetting data sets, each with its citation
# and a note on how far to trust it (`cramcog data show NAME` prints them). We fit both
# functions to Ebbinghaus's curve by least squares and compare them with **AICc** (Akaike's
# criterion with the small-sample correction: lower is better; a difference above ~10 is
# decisive).

# %%
ebb = psych.curves("ebbinghaus_1885")[0]
print(psych.load("ebbinghaus_1885").attrs["citation"])
ebb_fits = fit_consolidation_curve(ebb.t, ebb.y, family=["exponential", "power"])
print(ebb_fits.table()[["family", "aicc", "delta_aicc", "gamma", "gamma_low", "gamma_high"]]
      .round(3).to_string(index=False))
ax = ebb_fits.plot(loglog=True)
_ = ax.set(xlabel=f"delay ({ebb.t_units})", ylabel="savings",
       title="Ebbinghaus 1885: power law (bold) vs exponential")

# %% [markdown]
# On log-log axes a power law is a straight line with slope $-\gamma$, and Ebbinghaus's points
# lie close to one. The exponential bends away.
#
# **A small table of human gammas.** The same two functions fitted to every bundled human
# *forgetting* curve (least squares where there are no trial counts; where there are, a
# quasi-binomial likelihood: Meeter et al.'s trials cluster by participant session, so plain
# binomial intervals would be too narrow, and the ranking is by QAICc; 95% profile intervals).
# `dIC(exp - power)` > 0 means the power law fits better.

# %%
def measure_of(curve) -> str:
    """The curve's measure; data sets with two ("a (X) / b (Y)") get the part of its series."""
    parts = [p.strip() for p in curve.measure.split(" / ")]
    return next((p for p in parts if f"({curve.series})" in p), parts[0])


rows = []
for curve in psych.all_curves("forgetting"):
    c = curve.positive()
    fits = fit_consolidation_curve(c.t, c.y, n=c.n, y_kind=c.y_kind,
                                   family=["exponential", "power"],
                                   overdispersion="quasi" if c.n is not None else None)
    power = fits["power"]
    low, high = power.ci["gamma"]
    rows.append({"data": c.label, "measure": measure_of(c), "delay in": c.t_units,
                 "gamma": power.params["gamma"], "ci_low": low, "ci_high": high,
                 "kept per decade": 10 ** -power.params["gamma"],
                 "criterion": fits.criterion,
                 "dIC(exp - power)": float(np.squeeze(fits.ic_values("exponential")
                                                      - fits.ic_values("power")))})
human = pd.DataFrame(rows)
print(human.round(3).to_string(index=False))
print(f"\nhuman gammas range from {human.gamma.min():.2f} to {human.gamma.max():.2f}")

# %% [markdown]
# Things to notice:
#
# * The power law fits better than the exponential on every curve: decisively (dIC > 10) on
#   most, not on Mack's and Dros's seven points each.
# * There is no single "human gamma". Savings curves (Ebbinghaus, Mack, Seitz, Dros) give about
#   0.1; news events over a year (Meeter et al.) 0.07-0.16; cued recall over intervening *items*
#   rather than time (Rubin et al.) about 0.35. The measure, the material and the time scale all
#   matter, so always say which data and which function a gamma comes from.
# * A power law in *averaged* data does not prove that each person forgets by a power law:
#   averaging exponentials with different rates also gives a power law (see the
#   `teaching_forgetting` notebook).

# %% [markdown]
# ## 4. The toy model's consolidation curve, fitted the same way
#
# The toy's curve is the episodic share of recurring lookups over episodes. We fit it from the
# **onset** of consolidation (the first semantic answer; before that the curve is flat at 1 and
# no forgetting function describes it), with time restarted at 1 there, by least squares (the
# same fit the CRAM pipeline applies to a network's attention-use curve). Besides the two plain
# functions we try each *with a floor* (`+c`: decay towards a level c instead of towards 0).

# %%
t, share, lookups = run.curve("recurring")      # window: from the onset to the last episode
toy_fits = fit_consolidation_curve(t, share,
                                   family=["exponential", "power", "exponential+c", "power+c"])
print(toy_fits.table()[["family", "aicc", "delta_aicc", "gamma", "gamma_low", "gamma_high",
                        "converged"]].round(3).to_string(index=False))
toy_power = toy_fits["power"]
toy_gamma = toy_power.params["gamma"]
toy_low, toy_high = toy_power.ci["gamma"]
print(f"\ntoy gamma (power law, episodes {run.onset()}-{config.n_episodes}) = {toy_gamma:.3f} "
      f"[{toy_low:.3f}, {toy_high:.3f}]; each tenfold span of time keeps "
      f"{10 ** -toy_gamma:.0%} of the episodic share")
ax = toy_fits.plot(loglog=True, families=["exponential", "power", "exponential+c"])
_ = ax.set(xlabel="episodes since the onset of consolidation",
       ylabel="episodic share (recurring)", title="toy model: consolidation curve and fits")

# %% [markdown]
# Read the table before the gamma. The plain power law beats the plain exponential, but the
# best function has a **floor**: the toy's curve levels off at the items that never
# consolidate. A power-law gamma can still be fitted and quoted, but it describes the curve's
# overall slope on log axes over *this window*, not a mechanism.
#
# Now compare it with each human forgetting curve, the same function fitted to both, with
# `cramcog.compare_gamma`. Its verdicts: **different** (the 95% interval of the difference
# excludes 0), **consistent** (it contains 0 and lies within +-0.1), **inconclusive** (contains 0
# but too wide to tell).

# %%
table = compare_gamma(toy_power, human="forgetting", family="power")
print(table[["source", "series", "gamma", "ci_low", "ci_high", "diff", "diff_ci_low",
             "diff_ci_high", "verdict"]].round(3).to_string(index=False))
print()
print(summarize(table).to_string())
ax = forest_plot(table)
_ = ax.set_title("toy model gamma vs human gammas (power law fitted to both)")

# %% [markdown]
# ### How sure is the toy's gamma? Seeds, windows, likelihood
#
# One run is one random world. Below: the toy's gamma for several seeds, for fit windows that
# start at the onset or 20 episodes later, and with a binomial likelihood (the shares are counts
# of 12 lookups) instead of least squares.

# %%
sens = []
for seed in range(N_SEEDS):
    r = simulate_consolidation(config, seed=SEED + seed)
    for delay in (0, 20):
        t_s, y_s, n_s = r.curve("recurring", start=r.onset() + delay)
        for likelihood, n_arg in (("least squares", None), ("binomial", n_s)):
            fit = fit_consolidation_curve(t_s, y_s, n=n_arg, family="power", ci="wald")
            sens.append({"seed": SEED + seed, "window": f"onset+{delay}",
                         "likelihood": likelihood, "gamma": fit.params["gamma"],
                         "converged": bool(fit.converged)})
sens = pd.DataFrame(sens)
print(sens.groupby(["window", "likelihood"])["gamma"].agg(["mean", "std", "min", "max"])
      .round(3).to_string())
print("all converged:", bool(sens["converged"].all()))

# %% [markdown]
# **The honest verdict.**
#
# * The toy's gamma (between about 0.15 and 0.45 here, depending on seed, fit window and
#   likelihood: see the table above) is far above the savings and news-retention curves (about
#   0.1) and close to the cued-recall-over-items curves (about 0.35). A later fit window gives
#   a smaller gamma, because there the curve has flattened onto its floor.
# * Whether a comparison says "different", "consistent" or "inconclusive" depends on which
#   human curve you pick, so a sentence like "the model matches human gamma" says little unless
#   it names the data.
# * The two curves are not the same kind of thing. A human forgetting curve is *retention after
#   a delay*; the toy's curve is *how much an episodic store is still needed as training goes
#   on*. Comparing their exponents is an analogy (the one the CRAM paper draws), not a test of a
#   shared mechanism.
# * The toy's gamma is set by its knobs (replay rate, learning rate, fading, the spread of
#   recurrence: try them in section 5), and its curve is better described by an exponential
#   with a floor. A model whose gamma you can tune to any human value by turning a knob is not
#   *explained* by matching one.

# %% [markdown]
# ## 5. Things to try
#
# Change the parameters in the first code cell and rerun everything, or run the sweeps below:
# each changes one knob and keeps the rest of `config`.
#
# * `REPLAY_RATE = 0`: no sleep, no consolidation; the episodic store answers everything forever.
# * `RECURRENCE = 0.9` or `0.1`: how much of experience repeats. (Keep `N_RECURRING` at least
#   `RECURRENCE * 24`.)
# * `SEMANTIC_RANK = 32`: a semantic memory with little capacity. Fewer items consolidate, and
#   false memories (novel items that feel familiar) appear: interference.
# * `ZIPF = 0`: every pool item recurs equally often. Does the curve still look like a power
#   law, or more like an exponential?

# %%
def sweep(knob: str, values) -> pd.DataFrame:
    """Headline numbers over the last 20 episodes, for each value of one knob and each seed."""
    out = []
    for value in values:
        try:  # a value the rest of the config cannot take (e.g. a pool too small) is skipped
            dataclasses.replace(config, **{knob: value})  # validates like the constructor
        except ValueError as err:
            print(f"skipping {knob}={value}: {err}")
            continue
        for seed in range(N_SEEDS):
            r = simulate_consolidation(config, **{knob: value}, seed=SEED + seed)
            out.append({knob: value, "seed": SEED + seed, **r.summary(20)})
    return pd.DataFrame(out)


def plot_sweep(df: pd.DataFrame, knob: str, ax, log: bool = False):
    long = df.melt(id_vars=[knob, "seed"],
                   value_vars=["episodic_share_recurring", "episodic_share_novel"],
                   var_name="items", value_name="episodic share")
    long["items"] = long["items"].str.replace("episodic_share_", "")
    sns.lineplot(data=long, x=knob, y="episodic share", hue="items", marker="o", errorbar="sd",
                 hue_order=["recurring", "novel"], ax=ax)
    if log:
        ax.set_xscale("log", base=2)
    ax.set(ylim=(-0.02, 1.05), ylabel="episodic share, last 20 episodes")


replay = sweep("replay_rate", [0.0, 0.5, 1.0, 2.0, 4.0])
recurrence = sweep("recurrence", [0.1, 0.3, 0.5, 0.7, 0.9])
capacity = sweep("semantic_rank", [16, 64, 256, 1024])
fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
plot_sweep(replay, "replay_rate", axes[0])
axes[0].set_title("more replay, more consolidation")
plot_sweep(recurrence, "recurrence", axes[1])
axes[1].set_title("recurrence of experience")
plot_sweep(capacity, "semantic_rank", axes[2], log=True)
axes[2].set_title("semantic capacity")
sns.despine(fig)
fig.tight_layout()
print(replay.groupby("replay_rate")[["episodic_share_recurring", "episodic_share_novel"]]
      .mean().round(3).to_string())
print(capacity.groupby("semantic_rank")[["episodic_share_recurring", "episodic_share_novel",
                                         "semantic_accuracy_recurring"]].mean().round(3)
      .to_string())

# %% [markdown]
# And the exponent itself: how does the toy's gamma move with the replay rate and with how
# unequal recurrence is? (Power law, least squares, window from the onset; the mean over seeds.)

# %%
gam = []
for knob, values in (("replay_rate", [1.0, 2.0, 4.0]), ("zipf_exponent", [0.0, 1.0, 2.0])):
    for value in values:
        for seed in range(N_SEEDS):
            r = simulate_consolidation(config, **{knob: value}, seed=SEED + seed)
            t_s, y_s, _ = r.curve("recurring")
            fit = fit_consolidation_curve(t_s, y_s, family=["exponential", "power"], ci="none")
            gam.append({"knob": knob, "value": value, "seed": SEED + seed,
                        "gamma": fit["power"].params["gamma"],
                        "dAICc(exp - power)": fit["exponential"].aicc - fit["power"].aicc})
gam = pd.DataFrame(gam)
print(gam.groupby(["knob", "value"])[["gamma", "dAICc(exp - power)"]].mean().round(3)
      .to_string())
grid = sns.catplot(data=gam, x="value", y="gamma", col="knob", kind="point", errorbar="sd",
                   sharex=False, height=3.2, aspect=1.2)
_ = grid.set_axis_labels("knob value", "toy gamma (power law)")

# %% [markdown]
# A knob changes gamma: it is a property of the settings as much as of "consolidation". Look
# also at `dAICc(exp - power)` for `zipf_exponent`: when every pool item recurs equally often
# (0) the power law's advantage over the exponential shrinks. The spread of recurrence rates
# across items is much of what makes the averaged curve look like a power law, just as
# averaging people who forget exponentially at different rates does in group data.

# %% [markdown]
# ## 6. The right question: episodic-to-semantic data, shape first
#
# A forgetting curve measures *retention after a delay*. The toy's (and CRAM's) curve measures
# something else: *how often a look-up in episodic memory is still needed as an item is met again
# and again*. The human data that ask that question are of two kinds (`cramcog.psych` ships
# them, each with its citation and a note on how far to trust it):
#
# * **Strategy shift** (look-up or algorithm -> direct retrieval). In *alphabet arithmetic*
#   (Zbrodoff, 1995) people verify "A + 3 = D" by counting through the alphabet at first (the
#   answer time grows with the number to count), and later retrieve the answer from memory (it
#   no longer does). The share of answers still counted is the analog of the episodic share.
# * **Remember / Know** (Reder et al., 2000): on every trial people say whether they *remember*
#   the word's earlier showing (recollection: episodic) or just *know* it was shown
#   (familiarity). We plot the *Remember* share of "old" answers, over repetitions of the word
#   and over the delay (lag) since its last showing.
#
# Neither data set measures the proportion of look-ups directly: Zbrodoff gives answer times, and
# the counting share is derived with a stated assumption; Reder gives Remember/Know counts. Read
# the assumption before you read a number:

# %%
human_es = psych.all_curves("episodic_semantic")
print(pd.DataFrame([{"curve": c.label.split("/", 1)[1], "data set": c.source,
                     "x": f"{c.x_long_name} [{c.t_units}]", "points": len(c.t),
                     "counts": "binomial" if c.n is not None else "none (least squares)"}
                    for c in human_es]).to_string(index=False))
print("\nhow the Zbrodoff curve is derived:", human_es[-1].assumption)
print("\nhow the Reder curves are derived:", human_es[0].assumption)

# %% [markdown]
# **What the literature says about the SHAPE of the shift.** Two theories disagree:
#
# * *Instance theory* (Logan, 1988): every trial races the algorithm against retrieval of the
#   stored instances; answer times fall as a **power law** of practice.
# * *CMPL* (Rickard, 1997, 2004): one strategy runs per trial. For each *item* the switch to
#   retrieval is close to a **step** (complete after about 60 exposures to that item); the
#   probability of retrieval is a **sigmoid** in practice, not a power law.
#
# And averaging hides the difference: steps at switch points that differ across items and people
# average into a smooth curve that a power law fits well (Heathcote, Brown & Mewhort, 2000: in
# 40 data sets the exponential beat the power law in *every* unaveraged one). So we ask first
# which family describes each curve, on both sides, with the same families, and only then about
# a family's parameter. Each family has a *dimensionless shape parameter*, comparable across
# units: gamma (power law), k (Weibull: k = 1 is the exponential, k > 1 a delayed, step-like
# fall), the logistic's slope.
#
# Next, the two models. The toy runs with several seeds (independent worlds). For CRAM we read a
# committed record from `paper/records/`.

# %%
from cramcog.dynamics.toy_consolidation import consolidation_record  # noqa: E402
from cramcog.figures.human import plot_human_comparison  # noqa: E402
from cramcog.comparison import compare_items, compare_shape, shape_summary  # noqa: E402

SHAPE_SEEDS = max(N_SEEDS, 3)          # a seed interval needs several independent runs
toy_record = consolidation_record([simulate_consolidation(config, seed=SEED + s)
                                   for s in range(SHAPE_SEEDS)])


def find_record(name: str):
    """A committed record, looked up from the notebook folder or the repository root."""
    import pathlib
    for base in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents):
        path = base / "paper" / "records" / name
        if path.exists():
            return path
    return None


from cramcog import records  # noqa: E402

# the committed per-pattern record of `cramcog consolidation` (test seeds 1-5); its CRAM variant
cram_path = find_record("consolidation.nc")
if cram_path is None:
    raise FileNotFoundError("paper/records/consolidation.nc not found: run this notebook from the "
                            "repository (see paper/REPRODUCTION.md for the command that makes it)")
cram_record = records.open(cram_path).sel(variant=["cram"])
print(f"CRAM: {cram_path.name}, seeds {list(cram_record.seed.values)}")

# %% [markdown]
# The comparison: `compare_shape` fits the same families to each human curve and to each model
# seed (the model's intervals come from the spread over seeds, never from one run's steps), ranks
# them by AICc on each side, and says whether the **same family wins on both**. Every curve is
# fitted falling (a rising one as 1 - y), and the direction is reported separately: does the
# episodic analog fall on both sides? The model is averaged the way each human curve was: in
# blocks of trials for Zbrodoff, at exact exposure counts for Reder.

# %%
FAMILIES = ["exponential", "power", "logistic", "weibull", "exponential+c", "weibull+c"]
CI = "wald" if TINY else "profile"
shape_rows = []
for label, model in (("toy model", toy_record), ("CRAM", cram_record)):
    table = compare_shape(model, families=FAMILIES, ci=CI)
    summary = shape_summary(table).assign(model=label)
    shape_rows.append(summary)
shapes = pd.concat(shape_rows, ignore_index=True)
shapes["curve"] = shapes["human"].str.split("/", n=1).str[1]
print(shapes[["model", "curve", "human_best", "model_best", "same_best", "direction_agrees",
              "model_best_shape"]].to_string(index=False))

# %%
grid = plot_human_comparison({"toy model": toy_record, "CRAM": cram_record}, families=FAMILIES)

# %% [markdown]
# Per item: the toy knows every item's *switch point* (the exposure after which the episodic
# store never had to answer it again). Under CMPL the averaged curve's spread (x at 10% of the
# shift left / x at 90%) equals the spread of the switch points; and the shift should follow
# exposures to THAT item, not total practice.

# %%
items = compare_items(toy_record)
print(items[["side", "quantity", "value", "low", "high", "units", "source"]].round(3)
      .to_string(index=False))

# %% [markdown]
# **Own practice or total practice?** In the summary above the toy's shift follows each item's own
# exposures by construction. For people and for CRAM it has to be measured, and only where item
# frequencies differ, so that an item's exposures and total practice vary apart: Zbrodoff's
# frequency conditions for people; CRAM trained with Zipf-distributed pattern frequencies
# (`--set task.pattern_zipf=0.75`). `practice_glm` fits logit(share still on the episodic route)
# on log(own exposures) and log(total practice) at once; the index b_item / (b_item + b_total) is
# 1 for a purely item-specific shift and 0 for one driven by total practice.

# %%
from cramcog.analysis.items import item_practice_index, zbrodoff_practice_index  # noqa: E402
from cramcog.analysis.items import item_specificity_summary  # noqa: E402

people = zbrodoff_practice_index()
print(f"people (Zbrodoff 1995): index {people['index']:.2f} "
      f"[{people['index_low']:.2f}, {people['index_high']:.2f}]")
zipf_path = find_record("consolidation_zipf.nc")
if zipf_path is not None:
    per_seed = item_practice_index(records.open(zipf_path), "cram")
    crams = item_specificity_summary(per_seed).iloc[0]
    print(f"CRAM (Zipf frequencies, {int(crams.n_seeds)} seeds): index {crams['index']:.2f} "
          f"[{crams.index_low:.2f}, {crams.index_high:.2f}]; per seed "
          f"{per_seed['index'].round(2).tolist()}")

# %% [markdown]
# ### Questions for the class
#
# 1. **Which family fits each curve?** Look at `human_best` and `model_best` above, and at the
#    figure. Does the counting share (strategy shift) fall like a power law, an exponential or a
#    sigmoid? Do the Remember shares? Do the toy and CRAM fall the same way?
# 2. **Same direction?** Repetition *raises* the Remember share (people recollect words they have
#    seen often and recently), while the models' episodic share *falls* with repetition. Which
#    human data does a consolidation model then resemble: the strategy shift or
#    remember-to-know?
# 3. **Why is gamma alone not enough?** Run the next cell: it fits a power law to every curve
#    anyway. Every curve gets a gamma with an interval, even those where the power law is far
#    from the best family. Two curves can share a gamma and still have different shapes, and a
#    gamma can be tuned by a knob (section 5). What would you have to show before quoting one?
# 4. **Averaging.** The toy's items each switch fairly abruptly, at different exposures. What does
#    averaging them do to the curve's shape (compare `switch_spread` on both sides)?
# 5. **Whose practice?** Neither people nor CRAM reach an index of 1. What, in a network whose
#    semantic memory is one set of weights shared by every pattern, could make a rare pattern
#    consolidate after fewer of its own exposures than a frequent one? And why can a data set with
#    equal item frequencies never answer this question?

# %%
gamma_rows = []
for c in human_es:
    y = c.y if c.y[-1] < c.y[0] else 1 - c.y          # every curve falling (a rising one: 1 - y)
    fits = fit_consolidation_curve(c.t, y, n=c.n, y_kind=c.y_kind, ci="none",
                                   family=["power", "exponential", "weibull"],
                                   overdispersion="quasi" if c.n is not None else None)
    gamma_rows.append({"curve": c.label.split("/", 1)[1], "power gamma": fits["power"]
                       .params["gamma"], "criterion": fits.criterion,
                       "power behind the best by": float(np.squeeze(
                           fits.ic_values("power") - fits.ic_values(fits.best.family))),
                       "best of 3": fits.best.family})
print(pd.DataFrame(gamma_rows).round(3).to_string(index=False))

# %% [markdown]
# ### Worked answers (read after trying the questions)
#
# 1. **Which family.** Read `human_best` / `model_best` in the shape table: the answer is
#    whatever the table says for your run, not one fixed family. The point is the procedure:
#    the same families on both sides, ranked by AICc, before any parameter is compared.
# 2. **Direction.** The Remember share *rises* with repetition while the models' episodic share
#    *falls* (check `direction_agrees` for the Reder curves), so a consolidation model
#    resembles the strategy shift (counting falls as retrieval takes over), not
#    remember-to-know.
# 3. **Gamma alone.** The last table gives every curve a power-law gamma, yet `power behind the
#    best by` is large for several: a gamma of a family that does not fit describes nothing.
#    Before quoting one, show that the power law is (near) the best family on that curve, give
#    its interval, and show it does not move with the knobs (section 5) or the window.
# 4. **Averaging.** Item-level steps at different switch points average into a smooth, gradual
#    curve; the wider the spread of switch points (`switch_spread`), the more the average looks
#    like a power law (Heathcote, Brown & Mewhort 2000). Fit items or people, not only averages.
# 5. **Whose practice.** Shared weights: every frequent pattern's training also moves the
#    weights a rare pattern uses (transfer through shared structure), so total practice helps
#    rare items. With equal item frequencies an item's own exposures and total practice rise
#    together (perfectly collinear), so their effects cannot be separated.
#
# Individual curves with real per-participant data: `cramcog fit` with `--by subject` on
# `reder_2000_remember_know_per_subject` (`cramcog data show` it) fits each participant and the
# group; use `--series` only for conditions or separate curves, never for people.

# %% [markdown]
# **Further reading.** McClelland, McNaughton & O'Reilly (1995), *Psychological Review* 102:419
# (complementary learning systems); Wixted & Ebbesen (1991), *Psychological Science* 2:409
# (power-law forgetting); Rubin & Wenzel (1996), *Psychological Review* 103:734 (a hundred
# years of forgetting curves); Jost (1897) via Wixted (2004), *Annual Review of Psychology*
# 55:235. On the shape of the strategy shift: Logan (1988), *Psychological Review* 95:492
# (instance theory); Rickard (1997), *JEP: General* 126:288 and (2004), *JEP: LMC* 30:65 (CMPL,
# item-level steps); Heathcote, Brown & Mewhort (2000), *Psychonomic Bulletin & Review* 7:185
# (the power law repealed); Reder et al. (2000), *JEP: LMC* 26:294 (remember/know). In
# cramcog: `cramcog data list`, `cramcog fit my.csv`, and the `teaching_forgetting` and
# `explore` notebooks.
