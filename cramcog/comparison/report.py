"""Everything together, and the tables and figures a report shows.

:func:`compare_with_humans` (what ``make reproduce`` calls) runs the shape comparison, the
per-item comparison and the seed-pooled gamma against the same human curves, and gives a
:class:`HumanComparison` with its Markdown; :func:`human_shapes` / :func:`shapes_markdown` rank
the families on every human curve; :func:`summarize` and :func:`to_record` read a :func:`cramcog.comparison.compare_gamma` table
(:mod:`cramcog.figures.forest` draws it).

Examples
--------
>>> from cramcog.comparison import ReportedGamma, compare_gamma
>>> table = compare_gamma(ReportedGamma(0.43, (0.39, 0.47), family="power"),
...                       human="ebbinghaus_1885")
>>> summarize(table)["different"].tolist()
[1]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cramcog.comparison.curves import (MODEL_INTERVAL, human_axis, human_curves,
                                       human_direction, model_curves, orient)
from cramcog.comparison.fitting import SHAPE_FAMILIES, fit_and_rank, fit_dispersion, shape_of
from cramcog.comparison.gamma import COLUMNS, VERDICTS, compare_gamma, seed_pooled_gamma
from cramcog.comparison.shape import (compare_items, compare_shape, origin_sensitivity,
                                      shape_summary)


# ----------------------------------------------------------------------------- all in one

@dataclass
class HumanComparison:
    """Everything :func:`compare_with_humans` measured, with the text a report needs.

    Attributes
    ----------
    shape : pandas.DataFrame
        :func:`compare_shape`'s table; ``summary`` is :func:`shape_summary` of it.
    origins : pandas.DataFrame
        :func:`cramcog.comparison.origin_sensitivity`: the model's shape with x counted from the
        first exposure (reported) and from the warm-up end (sensitivity).
    items : pandas.DataFrame
        :func:`compare_items`'s table (empty when the record has no per-pattern variables).
    gamma : pandas.DataFrame or None
        :func:`cramcog.comparison.compare_gamma` of the seed-pooled power-law gamma against the
        same human curves (None, with ``gamma_note`` saying why, when it cannot be computed),
        with each curve's ``shape_verdict`` beside it ("not compared (...)": context only).
    model_interval : str
        Which interval the model's numbers use (always seed-pooled).
    """

    shape: pd.DataFrame
    summary: pd.DataFrame
    origins: pd.DataFrame
    items: pd.DataFrame
    gamma: pd.DataFrame | None
    gamma_note: str
    model_interval: str
    human: str

    def to_markdown(self) -> str:
        """A short report: the interval used, the shape table with its verdicts, the time-origin
        sensitivity, per-item rows and gamma."""
        lines = [f"Human comparison ({self.human}); model interval: {self.model_interval}. "
                 "Model best: the family best in the most seeds, families ranked within each "
                 "seed by AICc. A shape verdict only for human curves over practice that run "
                 "the model's way; the others are context.", "",
                 "| human curve | axis | verdict | human best | model best (seeds) | "
                 "shape (human best family): human / model |", "|---|---|---|---|---|---|"]
        for _, r in self.summary.iterrows():
            shape = "-"
            if isinstance(r["shape_param"], str) and r["shape_param"]:
                shape = (f"{r['shape_param']} {r['human_shape']:.3g} [{r['human_shape_low']:.3g}, "
                         f"{r['human_shape_high']:.3g}] / {r['model_shape']:.3g} "
                         f"[{r['model_shape_low']:.3g}, {r['model_shape_high']:.3g}]")
            lines.append(f"| {r['human']} | {r['axis']} | {r['shape_verdict']} | "
                         f"{r['human_best']} | {r['model_best'] or '-'} "
                         f"({r['model_best_wins']} of {r['model_seeds']}) | {shape} |")
        if len(self.origins):
            lines += ["", origins_markdown(self.origins)]
        if len(self.items):
            lines += ["", "| side | quantity | value [interval] | source |", "|---|---|---|---|"]
            for _, r in self.items.iterrows():
                ci = "" if not np.isfinite(r["high"]) else f" [{r['low']:.3g}, {r['high']:.3g}]"
                lines.append(f"| {r['side']} | {r['quantity']} | {r['value']:.3g}{ci} "
                             f"{r['units']} | {r['source']} |")
        lines += ["", f"gamma: {self.gamma_note}"]
        return "\n".join(lines)


def compare_with_humans(model, human: Any = "episodic_semantic", *,
                        families: Sequence[str] = SHAPE_FAMILIES, level: float = 0.95,
                        ci: str = "profile", margin: float = 0.1, seed: int = 0,
                        variant: str | None = None, window: str = "auto",
                        origin: str | None = None,
                        overdispersion: str | None = "quasi") -> HumanComparison:
    """The full human comparison of a consolidation record: shape, per item, then gamma.

    What ``make reproduce`` calls: the episodic-to-semantic human curves by default, every model
    number seed-pooled (the record must hold several seeds), and the interval named.

    Parameters
    ----------
    model
        See :func:`model_curves`.
    human, families, level, ci, seed, variant, window, origin, overdispersion
        See :func:`compare_shape` (``origin``: default the first exposure; the other origin
        is always reported beside it, :func:`cramcog.comparison.origin_sensitivity`).
    margin
        Equivalence margin of the gamma verdicts (:func:`cramcog.comparison.compare_gamma`).

    Returns
    -------
    HumanComparison

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> toy = [simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1, 2)]
    >>> out = compare_with_humans(toy, families=["exponential", "power"], ci="wald")
    >>> out.model_interval.startswith("seed-pooled")
    True
    >>> "model interval: seed-pooled" in out.to_markdown()
    True
    """
    models = model_curves(model, variant, window=window, origin=origin)
    shape = compare_shape(models, human, families, level=level, ci=ci, seed=seed,
                          overdispersion=overdispersion)
    averagings = sorted(set(shape.averaging), reverse=True)   # by_time first
    origins = origin_sensitivity(models, families, averagings=averagings, level=level,
                                 seed=seed)
    items = compare_items(models, level=level) if models.has_items else pd.DataFrame()
    gamma, note = None, ""
    try:
        pooled = seed_pooled_gamma(models, "power", level=level)
        gamma = compare_gamma(pooled, human=human, family="power", level=level, margin=margin,
                              ci=ci, seed=seed, overdispersion=overdispersion)
        power = shape[shape.family == "power"]
        # the shape verdict of each human curve beside its gamma verdict: "not compared (...)"
        # marks the gammas that are context only (a lag on x, or a curve running the other way)
        labels = [f"{so}/{se}" if se else so for so, se in zip(gamma.source, gamma.series)]
        gamma["shape_verdict"] = [dict(zip(power.human, power.shape_verdict)).get(lab, "")
                                  for lab in labels]
        wins = int((power.human_best == "power").sum())
        compared = power[power.compared]
        model_power = "yes" if (power.model_best == "power").any() else "no"
        note = (f"power-law gamma {pooled.gamma:.3g} [{pooled.interval[0]:.3g}, "
                f"{pooled.interval[1]:.3g}] ({pooled.method}); the power law is the best "
                f"family on the model side: {model_power}, on {wins} of "
                f"{power.human.nunique()} human curves ("
                f"{int((compared.human_best == 'power').sum())} of {len(compared)} with a shape "
                "verdict; compare gammas only where the power law is the best family on both "
                "sides of a compared curve)")
    except ValueError as err:
        note = f"not computed: {err}"
    return HumanComparison(shape=shape, summary=shape_summary(shape), origins=origins,
                           items=items, gamma=gamma, gamma_note=note,
                           model_interval=MODEL_INTERVAL,
                           human=human if isinstance(human, str) else "custom")


def origins_markdown(table: pd.DataFrame) -> str:
    """:func:`cramcog.comparison.origin_sensitivity` as Markdown: per averaging, the model's
    verdict under each origin, then the families that are the verdict under either, with
    their wins and seed-pooled shape parameter under both.

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> from cramcog.comparison import origin_sensitivity
    >>> toy = [simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1, 2)]
    >>> text = origins_markdown(origin_sensitivity(toy, ["exponential", "weibull"],
    ...                                            averagings=["by_time"]))
    >>> text.splitlines()[0].startswith("Time origin of the model's x")
    True
    """
    level = table.attrs.get("level", 0.95)
    lines = ["Time origin of the model's x: reported from the first exposure (evaluation 0), "
             "as people's presentations and repetitions are counted; sensitivity: from the "
             "warm-up end (as `cramcog consolidation` fits). Seed wins of each family and its "
             f"seed-pooled shape parameter [{level:.0%} t-interval over seeds].", "",
             "| averaging | family | from the first exposure (reported) | from the warm-up end |",
             "|---|---|---|---|"]
    for averaging, sub in table.groupby("averaging", sort=False):
        by = [sub[sub.origin == o].set_index("family") for o in ("first_exposure", "warmup_end")]
        lines.append(f"| {averaging} | verdict | {by[0]['verdict'].iloc[0]} | "
                     f"{by[1]['verdict'].iloc[0]} |")
        shown = [f for f in sub.family.unique()
                 if any(f in str(part["best"].iloc[0]).split(" / ") for part in by)]
        for fam in shown:
            cells = []
            for part in by:
                r = part.loc[fam]
                shape = (f"; {r['shape_param']} = {r['shape']:.3g} [{r['shape_low']:.3g}, "
                         f"{r['shape_high']:.3g}]" if r["shape_param"] else "")
                cells.append(f"best in {r['wins']} of {r['seeds']}{shape}")
            lines.append(f"| {averaging} | {fam} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- human table

def human_shapes(human: Any = "episodic_semantic", families: Sequence[str] = SHAPE_FAMILIES, *,
                 level: float = 0.95, ci: str = "profile", seed: int = 0,
                 overdispersion: str | None = "quasi") -> pd.DataFrame:
    """Every family fitted to every human curve, ranked: the human side of :func:`compare_shape`.

    Parameters
    ----------
    human, families, level, ci, seed, overdispersion
        As for :func:`compare_shape`.

    Returns
    -------
    pandas.DataFrame
        One row per (human curve, family) in rank order within each curve: human, paradigm,
        axis (practice, lag or delay), direction (falls or rises), orientation, likelihood,
        n_points, rank (1 = lowest criterion; NaN for families that
        did not converge), criterion (aicc, or qaicc for quasi fits), dispersion (the fit's
        Pearson chi2 / df), family, delta_aicc (delta of the criterion), weight (Akaike
        weight), shape_param, shape, shape_low, shape_high, message.

    Examples
    --------
    >>> t = human_shapes("zbrodoff_1995_alpha_arithmetic", ["exponential", "power"], ci="wald")
    >>> t[["family", "rank"]].values.tolist()
    [['exponential', 1.0], ['power', 2.0]]
    """
    curves = human_curves(human)
    if not curves:
        raise ValueError(f"no human curve in {human!r}")
    rows, criteria = [], set()
    for curve in curves:
        c = curve.positive()
        y, orientation = orient(c.t, c.y, c.n)
        fits, delta, weight, _, criterion = fit_and_rank(c.t, y, c.n, list(families), ci,
                                                         level, seed, overdispersion, keep=True)
        criteria.add(criterion)
        order = sorted(delta, key=lambda f: (not math.isfinite(delta[f]), delta[f]
                                             if math.isfinite(delta[f]) else 0.0))
        for rank, fam in enumerate(order, start=1):
            name, g, low, high = shape_of(fits[fam], fam)
            rows.append({"human": c.label, "paradigm": c.paradigm, "axis": human_axis(c),
                         "direction": human_direction(c), "orientation": orientation,
                         "likelihood": "least squares" if c.n is None else "binomial",
                         "n_points": len(c.t),
                         "rank": float(rank) if math.isfinite(delta[fam]) else math.nan,
                         "criterion": criterion,
                         "dispersion": fit_dispersion(fits[fam]),
                         "family": fam, "delta_aicc": delta[fam], "weight": weight[fam],
                         "shape_param": name, "shape": g, "shape_low": low, "shape_high": high,
                         "message": fits[fam] if isinstance(fits[fam], str)
                         else str(fits[fam].message)})
    table = pd.DataFrame(rows)
    table.attrs.update(criterion="/".join(sorted(criteria)), level=level, ci=ci,
                       overdispersion=str(overdispersion),
                       orientation="every curve fitted falling (a rising one as 1 - y)")
    return table


def shapes_markdown(table: pd.DataFrame, top: int = 3) -> str:
    """:func:`human_shapes` as a Markdown table: per curve, the ``top`` families by the criterion
    (AICc; QAICc for quasi-binomial fits), the Pearson dispersion of each binomial fit and the
    shape parameter with its interval.

    Examples
    --------
    >>> t = human_shapes("zbrodoff_1995_alpha_arithmetic", ["exponential", "power"], ci="wald")
    >>> print(shapes_markdown(t).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    | human curve | likelihood | rank | family | delta (criterion) | weight | dispersion |
      shape parameter [95% CI] |
    """
    level = table.attrs.get("level", 0.95)
    lines = [f"| human curve | likelihood | rank | family | delta (criterion) | weight | "
             f"dispersion | shape parameter [{level:.0%} CI] |", "|---" * 8 + "|"]
    for human, sub in table.groupby("human", sort=False):
        ranked = sub[sub["rank"].notna()].head(top)
        failed = sub[sub["rank"].isna()]["family"].tolist()
        for i, (_, r) in enumerate(ranked.iterrows()):
            shape = (f"{r['shape_param']} = {r['shape']:.3g} [{r['shape_low']:.3g}, "
                     f"{r['shape_high']:.3g}]" if r["shape_param"] else "(none)")
            name = human if i == 0 else ""
            lik = f"{r['likelihood']}, {r['orientation']}" if i == 0 else ""
            crit = {"aicc": "AICc", "qaicc": "QAICc"}.get(r["criterion"], r["criterion"])
            disp = f"{r['dispersion']:.2f}" if r["likelihood"] == "binomial" else "-"
            lines.append(f"| {name} | {lik} | {int(r['rank'])} | {r['family']} | "
                         f"{r['delta_aicc']:.1f} ({crit}) | {r['weight']:.2f} | "
                         f"{disp} | {shape} |")
        if failed:
            lines.append(f"| | | - | did not converge: {', '.join(failed)} | | | | |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- gamma tables

def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per family: the spread of human gammas and the count of each verdict.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"family": ["power"] * 2, "gamma": [0.1, 0.3],
    ...                   "verdict": ["different", "inconclusive"]})
    >>> float(summarize(t).loc["power", "human_gamma_min"])
    0.1
    """
    _check_table(table, ["family", "gamma", "verdict"])
    out = table.groupby("family", sort=False).agg(
        n_curves=("gamma", "size"), human_gamma_min=("gamma", "min"),
        human_gamma_median=("gamma", "median"), human_gamma_max=("gamma", "max"))
    counts = (table.groupby("family", sort=False)["verdict"].value_counts().unstack(fill_value=0)
              .reindex(columns=list(VERDICTS), fill_value=0))
    return out.join(counts)


def to_record(table: pd.DataFrame, config: dict | None = None):
    """The comparison table as a cramcog record (kind "comparison", dim ``row``).

    Examples
    --------
    >>> import pandas as pd
    >>> from cramcog.comparison import COLUMNS
    >>> t = pd.DataFrame([{c: 0.1 for c in COLUMNS}]).astype({c: str for c in
    ...     ["source", "series", "family", "verdict", "t_units", "measure", "reliability",
    ...      "likelihood", "note"]})
    >>> to_record(t).attrs["record_kind"]
    'comparison'
    """
    from cramcog import records

    _check_table(table, COLUMNS)
    text = ["source", "series", "family", "verdict"]
    frame = table[COLUMNS].astype({c: str for c in text}).assign(
        row=np.arange(len(table), dtype="int64"))
    attrs = {k: v for k, v in table.attrs.items() if isinstance(v, (str, int, float))}
    return records.from_frame(frame, ("row",), list(COLUMNS), kind="comparison",
                              config={**attrs, **(config or {})}, attrs=attrs)


def _check_table(table, needed):
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected the DataFrame from compare_gamma, got {type(table).__name__}")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}: pass the DataFrame from compare_gamma")
