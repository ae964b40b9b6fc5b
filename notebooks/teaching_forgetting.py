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
# 5. see how the measure (savings, recall, recognition with a chance floor) changes the curve,
# 6. finish with a warning: averaging exponential curves makes a power law,
# 7. fit your own class's data (a template to fill in), and try the exercises (worked
#    solutions at the end).
#
# Every number here comes from a named data set: `cramcog data show NAME` prints its citation
# and how far to trust it. Set `CRAMCOG_TINY=1` for a quick run (it only shrinks the simulation).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cramcog import psych
from cramcog.comparison import ReportedGamma, compare_gamma
from cramcog.figures.forest import forest_plot
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
# binomial likelihood where trial counts exist (the news-retention study). Look at the spread of
# the human exponents first. (The table also carries a reference line: the exponent the CRAM
# paper claims for its network, only as a point of comparison; "consistent" would need the
# difference's interval to sit inside ±0.1.)

# %%
paper = ReportedGamma(0.43, (0.39, 0.47), family="power", label="CRAM paper (its claim)")
table = compare_gamma(paper, human="all", family="power")
print(table[["source", "series", "gamma", "ci_low", "ci_high", "verdict"]].round(3))
ax = forest_plot(table)

# %% [markdown]
# The exponents differ a lot between measures (savings, recall, recognition with a chance floor)
# and time units of the task. There is no single "human gamma": say which data, which measure
# and which functional form whenever you quote one.
#
# ## 5. Savings, recall, recognition: the measure shapes the curve
#
# The news study (Meeter, Murre & Janssen 2005) asked the same people about the same events in
# two ways: open questions (recall) and 4-choice questions (recognition). Recognition cannot
# fall below **chance, 0.25**: someone who remembers nothing still guesses right a quarter of
# the time. A plain power law ignores that floor; `chance=0.25` holds the asymptote there.
# Ebbinghaus's *savings* is a third measure on a third scale.

# %%
news = {c.label.split("/")[1]: c for c in psych.curves("meeter_murre_janssen_2005")}
rows = []
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, c, chance in (("recall (open)", news["open"], None),
                        ("recognition (4AFC)", news["4AFC"], 0.25)):
    fam = "power" if chance is None else "power+c"
    fit = fit_consolidation_curve(c.t, c.y, n=c.n, y_kind=c.y_kind, family=fam, ci="wald",
                                  chance=chance)
    rows.append({"measure": name, "family": fam, "chance floor": chance,
                 "gamma": fit.params["gamma"]})
    ax.plot(c.t, c.y, "o", ms=3.5, label=name)
    ax.plot(c.t, np.ravel(fit.predict(c.t)), "-", color=ax.lines[-1].get_color())
fit_e = fit_consolidation_curve(curve.t, curve.y, family="power", ci="wald")
rows.append({"measure": "savings (Ebbinghaus)", "family": "power", "chance floor": None,
             "gamma": fit_e.params["gamma"]})
ax.axhline(0.25, color="0.5", ls=":", lw=1, label="chance (4AFC)")
ax.set(xscale="log", xlabel="age of the news event (days)", ylabel="correct (proportion)",
       ylim=(0, 1))
ax.legend(frameon=False, fontsize="small")
sns.despine(fig)
print(pd.DataFrame(rows).round(3).to_string(index=False))

# %% [markdown]
# ## 6. The averaging caveat
#
# Suppose every learner forgets *exponentially*, but learners differ in their rate. Average the
# curves, as group studies do, and the average is not exponential: with rates drawn from a
# Gamma distribution the average is exactly a shifted power law $(1 + t/s)^{-k}$ (Anderson &
# Tweney 1997 made this point about group curves).

# %%
n_people = 400            # cheap: only the summed counts are fitted, TINY or not
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
# *process*. Fit individuals where you can: `cramcog fit my.csv --by subject` (a fit per
# subject AND a group estimate with its interval; `--series COL` is for conditions or separate
# curves, not people), or `fit_consolidation_curve(..., by="subject")` as below.
#
# ### The same question on real participants
#
# Reder et al. (2000) counted, for each of 22 participants, how often a repeated word was judged
# "Know" (familiar without a recollected episode) among the words recognised as old, at each
# presentation. We fit every participant's curve, the group estimate over participants, and
# the curve of everyone's pooled counts, and compare the families each approach prefers.

# %%
rk = psych.table("reder_2000_remember_know_per_subject")
rk["exposures"] = rk["presentation_number"] - 1            # earlier presentations of the word
rk["old"] = rk["n_remember"] + rk["n_know"]                 # judged old
people = fit_consolidation_curve("exposures", "n_know", "old", data=rk, y_kind="successes",
                                 by=["word_frequency", "subject"], ci="wald",
                                 family=["exponential", "power"])
print(people.compare(gamma_family="power").round(3).to_string(index=False))
grid = people["power"].plot()

# %% [markdown]
# Read the table: does the family that wins on the pooled counts also win for most
# individuals? The group gamma (over participants) and the pooled gamma answer different
# questions: the typical person's curve, and the curve of the average.
#
# ## 7. Your class's own forgetting curve
#
# `notebooks/data/class_forgetting_template.csv` is a template with one row per subject x item
# x delay: `subject, item, delay, correct` (delay in days, correct 0 or 1). It holds made-up
# data for six students; replace the rows with your class's (each student studies a list, and
# is tested on different items after each delay), keep the header, and rerun the cell.
# The fit is per subject (`by="subject"`), with the group curve beside each.

# %%
import pathlib  # noqa: E402

here = next(p for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents,
                        pathlib.Path.cwd() / "notebooks")
            if (p / "data" / "class_forgetting_template.csv").exists()
            or (p / "notebooks" / "data" / "class_forgetting_template.csv").exists())
path = here / "data" / "class_forgetting_template.csv"
if not path.exists():
    path = here / "notebooks" / "data" / "class_forgetting_template.csv"
class_trials = pd.read_csv(path)
cells = (class_trials.groupby(["subject", "delay"], as_index=False)
         .agg(correct=("correct", "sum"), n=("correct", "size")))
cells["delay"] = cells["delay"].astype(float)
class_fit = fit_consolidation_curve("delay", "correct", "n", data=cells, by="subject",
                                    family="exponential", y_kind="successes", ci="wald")
print(class_fit)
grid = class_fit.plot()

# %% [markdown]
# ## 8. Exercises
#
# 1. **Doubling.** Ebbinghaus's gamma is about 0.2 (section 3). By how much does savings fall
#    from 1 day to 2 days? From 10 to 20 days? What would an exponential with the same value at
#    1 day predict at 20 days?
# 2. **Chance floor.** Refit the 4-choice recognition curve with a plain `power` (no floor).
#    Is its gamma larger or smaller than with `chance=0.25`? Why?
# 3. **Averaging.** In section 6 set `n_people = 5`, then `5000`. How close do gamma and s get to
#    their theory (1.0 and 5)? Then draw the rates with `shape=4.0`: what gamma does the theory
#    predict now?
# 4. **Your class.** Does the exponential or the power law fit your class's *individual* curves
#    better? And the pooled curve of everyone?
#
# ## 9. Worked solutions
#
# (Try the exercises first.) Each solution is one cell.

# %%
# Solution 1: every doubling keeps 2**-gamma, whatever the delay; an exponential does not.
# (Ebbinghaus's delays are in hours: 1, 2, 10 and 20 days are 24, 48, 240 and 480 h.)
g = fits["power"].params["gamma"]
hours = 24.0 * np.array([1.0, 2.0, 10.0, 20.0])
p = fits["power"].predict(hours)
print(f"power law: 1 -> 2 days keeps {p[1] / p[0]:.1%}, 10 -> 20 days keeps {p[3] / p[2]:.1%} "
      f"(both 2**-gamma = {2 ** -g:.1%}: scale-free)")
# an exponential with the power law's value at 1 day and the same loss from day 1 to day 2
# loses that fraction again every day: at 20 days it predicts far less
keep = p[1] / p[0]
print(f"exponential through the same 1- and 2-day values: {p[0] * keep ** 19:.3f} at 20 days, "
      f"the power law {p[3]:.3f}")

# %%
# Solution 2: without the floor the power law must bend down towards 0 to follow the flat tail
# near chance, so its gamma is smaller (the curve flattens) and it mislocates the asymptote.
c4 = news["4AFC"]
plain = fit_consolidation_curve(c4.t, c4.y, n=c4.n, y_kind=c4.y_kind, family="power", ci="wald")
print(f"4AFC gamma without floor {plain.params['gamma']:.3f}; "
      f"with chance=0.25 {rows[1]['gamma']:.3f}")

# %%
# Solution 3: the theory is gamma = shape (k), s = 1 / scale; more people, closer estimates.
for n_sim, shape in ((5, 1.0), (5000, 1.0), (5000, 4.0)):
    r = rng.gamma(shape=shape, scale=0.2, size=n_sim)
    k_sum = rng.binomial(trials, np.exp(-np.outer(r, t_sim))).sum(0)
    f = fit_consolidation_curve(t_sim, k_sum, n=trials * n_sim, y_kind="successes",
                                family="shifted_power", ci="none")
    print(f"{n_sim:5d} people, shape {shape}: gamma {f.params['gamma']:.2f} (theory {shape}), "
          f"s {f.params['s']:.1f} (theory 5.0)")

# %%
# Solution 4: compare the families per subject and on the pooled counts.
power_fit = fit_consolidation_curve("delay", "correct", "n", data=cells, by="subject",
                                    family="power", y_kind="successes", ci="wald")
pooled = cells.groupby("delay", as_index=False)[["correct", "n"]].sum()
pooled_fit = fit_consolidation_curve(pooled["delay"].to_numpy(), pooled["correct"].to_numpy(),
                                     n=pooled["n"].to_numpy(), y_kind="successes", ci="none",
                                     family=["exponential", "power"])
print(pooled_fit.table()[["family", "aicc", "delta_aicc"]].round(2))
print("(these template data were made by exponential forgetters with different rates)")
