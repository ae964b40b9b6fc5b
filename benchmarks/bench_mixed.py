"""Validation of the group models on simulated labs: ceiling cells, conditions, statsmodels, time.

Prints (issue 24):

1. Coverage with ceiling cells. ``--reps`` simulated experiments (default 200) of 40 subjects x
   8 delays x 20 trials, power law ``a_i t^-gamma_i`` with ``gamma_i ~ N(0.35, 0.1)`` and
   ``a_i = 0.95 exp(N(0, 0.1))``, recall probability ``min(., 1)``, so that about half the
   subjects have a cell at 100%. For the mixed model (``group_model="mixed"``) and the two-stage
   estimate: the mean estimate, its bias, the share of 95% intervals covering the truth (group
   gamma, group a, both between-subject SDs), and how many subjects each used. Then the same
   for an exponential family (``a_i exp(-b_i t)``, ``b_i ~ N(0.1, 0.03)``, ``--reps / 2``).
2. Conditions. ``GroupFit.difference("gamma", "B", "A")`` on 30 subjects per condition, within
   subjects (each subject in both; ``gamma_iB = gamma_iA + delta + N(0, 0.05)``) and between
   (different subjects): the rate of p < 0.05 when delta = 0 (type I error, target 5%) and the
   coverage of delta = 0.1 (target 95%), both group models.
3. statsmodels. Without random effects the mixed model's likelihood is a binomial GLM with a log
   link for the exponential (log p = log a - b t) and power (log p = log a - gamma log t)
   families: estimates and SEs against ``statsmodels.GLM``. The ``actr`` family is a logistic
   GLMM (logit p = b / s - (gamma / s) log t, random intercept and slope): fixed effects and SDs
   against ``statsmodels``' ``BinomialBayesMixedGLM`` (variational Bayes; its posterior SDs are
   known to be too small, so only the estimates are compared).
4. Time: the joint mixed fit of 65 subjects x 8 lags (per-subject fits included, and alone).

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_mixed.py [--reps 200]``
(``--quick``: 20 experiments per setting, a smoke run). Deterministic (seeded).
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

T = np.array([1, 2, 4, 8, 16, 32, 64, 128.0])
T_EXP = np.array([0.5, 1, 2, 4, 8, 16, 32, 64.0])


def simulate(seed: int, n_subjects: int = 40, trials: int = 20, family: str = "power"):
    """Long table of binomial subjects (see the module docstring) and the truth."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = 0.95 * np.exp(rng.normal(0, 0.1, n_subjects))
    if family == "power":
        shape = rng.normal(0.35, 0.1, n_subjects)
        t = T
        p = a[:, None] * t[None, :] ** -shape[:, None]
    else:
        shape = rng.normal(0.1, 0.03, n_subjects)
        t = T_EXP
        p = a[:, None] * np.exp(-shape[:, None] * t[None, :])
    k = rng.binomial(trials, np.minimum(p, 1.0))
    df = pd.DataFrame({"subject": np.repeat(np.arange(n_subjects), t.size),
                       "day": np.tile(t, n_subjects), "k": k.ravel(), "n": trials})
    return df, float((k == trials).any(1).mean())


def group_fit(df, model: str, family: str, by="subject"):
    from cramcog.dynamics.group import fit_group

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_group("day", "k", "n", family=family, data=df, by=by, y_kind="successes",
                         ci="wald", pooled=False, group_model=model)


def coverage(reps: int, family: str = "power"):
    shape_name = "gamma" if family == "power" else "b"
    truth = {"a": 0.95, shape_name: 0.35 if family == "power" else 0.1}
    sd_truth = {"a": 0.1, shape_name: 0.1 if family == "power" else 0.03}
    stats = {m: {p: [] for p in ("est", "hit", "sd", "sd_hit", "n", "ok")} for m in
             ("mixed", "two-stage")}
    ceiling = []
    t0 = time.perf_counter()
    for r in range(reps):
        df, share = simulate(1000 + r, family=family)
        ceiling.append(share)
        for model in ("mixed", "two-stage"):
            g = group_fit(df, model, family)
            s = stats[model]
            s["est"].append([g.params[p] for p in truth])
            s["hit"].append([g.ci[p][0] < v < g.ci[p][1] for p, v in truth.items()])
            s["sd"].append([g.sd[p] for p in truth])
            s["sd_hit"].append([g.sd_ci[p][0] <= v <= g.sd_ci[p][1]
                                for p, v in sd_truth.items()])
            s["n"].append(g.n_subjects)
            s["ok"].append(model != "mixed" or g._mixed[0].converged)
    print(f"\n1. {family}: {reps} simulated experiments, 40 subjects x 8 delays x 20 trials; "
          f"subjects with a 100% cell: mean {np.mean(ceiling):.0%} (range "
          f"{np.min(ceiling):.0%}-{np.max(ceiling):.0%}); {time.perf_counter() - t0:.0f} s")
    print(f"   {'model':10s} {'param':6s} {'truth':>6s} {'mean':>7s} {'bias':>8s} "
          f"{'emp.SD':>7s} {'cover':>6s} | {'SD truth':>8s} {'mean SD':>8s} {'cover':>6s} "
          f"| subjects used")
    for model, s in stats.items():
        est, hit = np.array(s["est"]), np.array(s["hit"], float)
        sd, sd_hit = np.array(s["sd"]), np.array(s["sd_hit"], float)
        for i, (p, v) in enumerate(truth.items()):
            sdv = list(sd_truth.values())[i]
            extra = (f"{np.mean(s['n']):.1f} of 40 (min {np.min(s['n'])})"
                     + (f"; converged {np.mean(s['ok']):.0%}" if model == "mixed" else "")
                     if i == 0 else "")
            print(f"   {model:10s} {p:6s} {v:6.3f} {est[:, i].mean():7.4f} "
                  f"{est[:, i].mean() - v:+8.4f} {est[:, i].std():7.4f} {hit[:, i].mean():6.3f} "
                  f"| {sdv:8.3f} {sd[:, i].mean():8.4f} {sd_hit[:, i].mean():6.3f} | {extra}")
    print("   (a: the median subject's a, its SD in log units; cover: share of 95% intervals "
          "containing the truth)")


def simulate_conditions(seed: int, delta: float, within: bool, n_subjects: int = 30):
    import pandas as pd

    rng = np.random.default_rng(seed)
    frames = []
    gamma_a = rng.normal(0.35, 0.1, n_subjects)
    a = 0.95 * np.exp(rng.normal(0, 0.1, n_subjects))
    for cond in ("A", "B"):
        if cond == "B":
            if within:
                gamma = gamma_a + delta + rng.normal(0, 0.05, n_subjects)
            else:
                gamma = rng.normal(0.35 + delta, np.hypot(0.1, 0.05), n_subjects)
                a = 0.95 * np.exp(rng.normal(0, 0.1, n_subjects))
        else:
            gamma = gamma_a
        k = rng.binomial(20, np.minimum(a[:, None] * T[None, :] ** -gamma[:, None], 1.0))
        ids = np.arange(n_subjects) + (0 if within or cond == "A" else n_subjects)
        frames.append(pd.DataFrame({"cond": cond, "subject": np.repeat(ids, T.size),
                                    "day": np.tile(T, n_subjects), "k": k.ravel(), "n": 20}))
    return pd.concat(frames, ignore_index=True)


def conditions(reps: int):
    print(f"\n2. differences between conditions, GroupFit.difference('gamma', 'B', 'A'): {reps} "
          "experiments per row, 30 subjects per condition, 8 delays x 20 trials")
    print(f"   {'design':8s} {'model':10s} {'p<.05 at delta 0':>16s} {'cover delta 0.1':>16s} "
          f"{'mean est (0.1)':>15s}  design found")
    t0 = time.perf_counter()
    for within in (True, False):
        for model in ("mixed", "two-stage"):
            reject, hit, est, found = [], [], [], set()
            for r in range(reps):
                for delta in (0.0, 0.1):
                    df = simulate_conditions(5000 + r, delta, within)
                    d = group_fit(df, model, "power", by=["cond", "subject"]).difference(
                        "gamma", "B", "A")
                    found.add(d.design)
                    if delta == 0.0:
                        reject.append(d.p < 0.05)
                    else:
                        hit.append(d.ci_low < 0.1 < d.ci_high)
                        est.append(d.estimate)
            print(f"   {'within' if within else 'between':8s} {model:10s} "
                  f"{np.mean(reject):16.3f} {np.mean(hit):16.3f} {np.mean(est):15.4f}  "
                  f"{', '.join(sorted(found))}")
    print(f"   ({time.perf_counter() - t0:.0f} s)")


def statsmodels_checks():
    import pandas as pd
    import statsmodels.api as sm
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    from cramcog.dynamics.families import FAMILIES
    from cramcog.dynamics.mixed import fit_mixed

    print("\n3. statsmodels")
    rng = np.random.default_rng(5)
    s = 30
    for name, t, p in (("exponential", T_EXP, lambda: 0.8 * np.exp(-0.05 * T_EXP)),
                       ("power", T, lambda: 0.8 * T ** -0.3)):
        k = rng.binomial(20, np.broadcast_to(p(), (s, t.size)))
        fit = fit_mixed(FAMILIES[name], [t] * s, list(k / 20), [np.full(t.size, 20.0)] * s,
                        random=[])
        x = sm.add_constant(np.tile(t if name == "exponential" else np.log(t), s))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            glm = sm.GLM(np.c_[k.ravel(), 20 - k.ravel()], x,
                         family=sm.families.Binomial(link=sm.families.links.Log())).fit()
        ours = np.array([fit.beta[0], fit.beta[1]])
        theirs = np.array([glm.params[0], -glm.params[1]])
        print(f"   {name:11s} no random effects vs GLM(binomial, log link), 30 x 8 cells: "
              f"log a, {fit.spec.param_names[1]} = {ours.round(6).tolist()} vs "
              f"{theirs.round(6).tolist()} (max diff {np.abs(ours - theirs).max():.1e}); SE ratio "
              f"{(fit.se_internal() / glm.bse).round(4).tolist()}")
    s, noise = 40, 0.25
    b = rng.normal(0.5, 0.3, s)
    g = rng.normal(0.3, 0.06, s)
    k = rng.binomial(20, 1 / (1 + np.exp((g[:, None] * np.log(T) - b[:, None]) / noise)))
    fit = fit_mixed(FAMILIES["actr"], [T] * s, list(k / 20), [np.full(T.size, 20.0)] * s)
    rows = [(i, np.log(t), y) for i in range(s) for j, t in enumerate(T)
            for y in [1] * k[i, j] + [0] * (20 - k[i, j])]
    d = pd.DataFrame(rows, columns=["s", "lt", "y"])
    vb = BinomialBayesMixedGLM.from_formula("y ~ lt", {"s": "0 + C(s)", "slope": "0 + C(s):lt"},
                                            d).fit_vb()
    theirs = [vb.fe_mean[0] * noise, -vb.fe_mean[1] * noise]
    sds = np.exp(vb.vcp_mean) * noise
    se = fit.se_internal()
    print(f"   actr (logistic GLMM, random intercept + slope on log t), 40 x 8 x 20: b, gamma = "
          f"{fit.beta[0]:.4f}, {fit.beta[1]:.4f} (SE {se[0]:.4f}, {se[1]:.4f}) vs "
          f"BinomialBayesMixedGLM {theirs[0]:.4f}, {theirs[1]:.4f}: differences "
          f"{abs(fit.beta[0] - theirs[0]) / se[0]:.2f} and "
          f"{abs(fit.beta[1] - theirs[1]) / se[1]:.2f} SE; SDs {fit.tau[0]:.3f}, {fit.tau[1]:.3f} vs {sds[0]:.3f}, {sds[1]:.3f} "
          f"(truth 0.5, 0.3; SD 0.3, 0.06)")


def timing():
    from cramcog.dynamics.families import FAMILIES
    from cramcog.dynamics.mixed import fit_mixed

    df, share = simulate(7, n_subjects=65)
    group_fit(df.iloc[:80], "mixed", "power")        # warm imports
    t0 = time.perf_counter()
    g = group_fit(df, "mixed", "power")
    whole = time.perf_counter() - t0
    k = df["k"].to_numpy().reshape(65, T.size)
    t0 = time.perf_counter()
    fit_mixed(FAMILIES["power"], [T] * 65, list(k / 20), [np.full(T.size, 20.0)] * 65)
    alone = time.perf_counter() - t0
    print(f"\n4. time: 65 subjects x 8 lags ({share:.0%} with a 100% cell), power law, two random "
          f"effects: {whole:.2f} s with the per-subject fits, {alone:.2f} s the mixed model alone "
          f"(group gamma {g.params['gamma']:.3f}, n = {g.n_subjects})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="experiments in the coverage study")
    ap.add_argument("--diff-reps", type=int, default=100,
                    help="experiments per row of the conditions study")
    ap.add_argument("--quick", action="store_true", help="20 experiments per setting")
    ap.add_argument("--only", choices=["coverage", "conditions", "statsmodels", "timing"])
    args = ap.parse_args(argv)
    reps, diff_reps = (20, 20) if args.quick else (args.reps, args.diff_reps)
    if args.only in (None, "timing"):
        timing()
    if args.only in (None, "statsmodels"):
        statsmodels_checks()
    if args.only in (None, "coverage"):
        coverage(reps, "power")
        coverage(max(reps // 2, 10), "exponential")
    if args.only in (None, "conditions"):
        conditions(diff_reps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
