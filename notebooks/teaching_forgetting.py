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
# # Forgetting curves: power law or exponential, and what gamma means
#
# A class demo with real human data bundled in cramcog. We will
#
# 1. plot Ebbinghaus's own forgetting curve (1885),
# 2. fit an exponential and a power law to it and compare them,
# 3. see what the power-law exponent **gamma** means,
# 4. estimate gamma *with a confidence interval* for several data sets,
# 5. and finish with a warning: averaging exponential curves makes a power law.
#
# Every number here comes from a named data set: `cramcog data show NAME` prints its citation
# and how far to trust it. Set `CRAMCOG_TINY=1` for a quick run (it only shrinks the simulation).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from cramcog import psych
from cramcog.comparison import ReportedGamma, compare_gamma, forest_plot
from cramcog.dynamics import fit_consolidation_curve

TINY = os.environ.get("CRAMCOG_TINY", "0") == "1"
sns.set_theme(style="ticks", context="notebook")
rng = np.random.default_rng(0)  # every random number below comes from this seed
psych.list()

# %% [markdown]
# ## 1. Ebbinghaus's savings curve
#
# Ebbinghaus learned lists of nonsense syllables, waited, and relearned them. **Savings** is the
# share of the original learning time he saved at relearning: 58% after 20 minutes, 21% after a
# month. He was his own (only) subject.

# %%
ebb = psych.load("ebbinghaus_1885")
print(ebb.attrs["citation"])
print("reliability:", ebb.attrs["reliability"])
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for ax, log in zip(axes, (False, True)):
    ax.plot(ebb.x, ebb.y, "o-", color="k")
    ax.set_xlabel(f"delay ({ebb.x.attrs['units']})")
    ax.set_ylabel("savings")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title("log-log: nearly a straight line")
    else:
        ax.set_title("linear axes: fast, then slow")
sns.despine(fig)
fig.tight_layout()

# %% [markdown]
# ## 2. Exponential or power law?
#
# * exponential: $y = a\,e^{-b t}$ — a constant *half-life*: every extra interval of the same
#   length removes the same fraction.
# * power law: $y = a\,t^{-\gamma}$ — every *doubling* of the delay removes the same fraction.
#
# We fit both by least squares (no trial counts for this data set) and compare them with AICc
# (Akaike's criterion with the small-sample correction: lower is better; a difference above ~10
# is decisive).

# %%
curve = psych.curves("ebbinghaus_1885")[0]
fits = fit_consolidation_curve(curve.t, curve.y, family=["exponential", "power"])
print(fits.table()[["family", "aicc", "delta_aicc", "gamma", "gamma_low", "gamma_high"]])
ax = fits.plot(loglog=True)
ax.set_title("Ebbinghaus 1885: power law vs exponential")

# %% [markdown]
# ## 3. What gamma means
#
# For a power law, doubling the delay multiplies retention by $2^{-\gamma}$, whatever the delay.
# That is "scale-free" forgetting: no characteristic time. An exponential instead halves over a
# fixed half-life.

# %%
gamma = fits["power"].params["gamma"]
low, high = fits["power"].ci["gamma"]
print(f"gamma = {gamma:.3f}  (95% profile interval {low:.3f} to {high:.3f})")
print(f"each doubling of the delay keeps {2 ** -gamma:.1%} of the savings")
for g in (0.1, 0.3, 0.5):
    print(f"gamma={g}: after 10 doublings (x1024 delay) {2 ** (-10 * g):.1%} remains")

# %% [markdown]
# ## 4. Gamma with intervals across data sets
#
# A single number is not enough: how sure are we? Below, the *same* family (a plain power law)
# is fitted to every bundled human curve; intervals are profile-likelihood 95% intervals, with a
# binomial likelihood where trial counts exist (the news-retention study). We compare them with
# the exponent the CRAM paper reports for its network (0.43 ± 0.04, read here as a 95% interval).
# "consistent" would need the difference's interval to sit inside ±0.1.

# %%
paper = ReportedGamma(0.43, (0.39, 0.47), family="power", label="CRAM paper (reported)")
table = compare_gamma(paper, human="all", family="power")
print(table[["source", "series", "gamma", "ci_low", "ci_high", "verdict"]].round(3))
ax = forest_plot(table)

# %% [markdown]
# The exponents differ a lot between measures (savings, recall, recognition with a chance floor)
# and time units of the task. There is no single "human gamma": say which data, which measure
# and which functional form whenever you quote one.
#
# ## 5. The averaging caveat
#
# Suppose every learner forgets *exponentially*, but learners differ in their rate. Average the
# curves, as group studies do, and the average is not exponential: with rates drawn from a
# Gamma distribution the average is exactly a shifted power law $(1 + t/s)^{-k}$ (Anderson &
# Tweney 1997 made this point about group curves).

# %%
n_people = 40 if TINY else 400
t_sim = np.geomspace(0.5, 200, 12)
rates = rng.gamma(shape=1.0, scale=0.2, size=n_people)          # per person, per day
trials = 20                                                       # items tested per delay
p_true = np.exp(-np.outer(rates, t_sim))                          # (people, delays)
correct = rng.binomial(trials, p_true)                            # (people, delays)
average = correct.sum(0) / (trials * n_people)

one = fit_consolidation_curve(t_sim, correct[0], n=trials, family=["exponential", "power"],
                              ci="wald", y_kind="successes")
group = fit_consolidation_curve(t_sim, correct.sum(0), n=trials * n_people, y_kind="successes",
                                family=["exponential", "power", "shifted_power"], ci="wald")
print("one person, best:", one.best.family)
print(group.table()[["family", "aicc", "delta_aicc", "gamma"]].round(2))
# Theory: rates ~ Gamma(shape k, scale theta) average to (1 + theta t)^-k, a shifted power law
# with gamma = k = 1 and s = 1/theta = 5 days.
sp = group["shifted_power"]
print(f"shifted power: gamma = {sp.params['gamma']:.2f} (theory 1.0), "
      f"s = {sp.params['s']:.1f} (theory 5.0)")
ax = group.plot(loglog=True)
ax.set_title(f"average of {n_people} exponential forgetters")

# %% [markdown]
# (With a finite group the estimates scatter around the theory; more people, closer values.)
#
# The individual is fitted well by an exponential; the group average by a (shifted) power law,
# although nobody in the group forgets that way. So a power law in averaged data — human or a
# network's averaged over tokens and patterns — is not by itself evidence for a power-law
# *process*. Fit individuals where you can (`cramcog fit my.csv --series subject`).
