"""The main job (``cramcog reproduce``): one run folder under ``runs/``.

The job (default: the ``small`` CPU config, about 15 minutes on 2 cores):

1. trains CRAM on SRCD (:func:`cramcog.train.train`) into ``<run>/train/`` (record.nc,
   checkpoint.pt; rerunning with the same ``--out`` resumes an interrupted run), with the
   per-pattern probes at every evaluation and the causal test at the end;
2. measures consolidation per pattern (:func:`cramcog.analysis.consolidation_record`): the
   share of recurring probe queries still executing attention in the retrieving layer against
   exposures, each pattern's switch, the fall from the end of the warm-up against its ceiling,
   and fits every curve family to it (binomial likelihood, AIC and overdispersion-corrected
   QAIC; gamma only where a power law wins by >= 10 of both) (``consolidation.nc``);
3. compares the consolidation curve with the human episodic-to-semantic data, shape first
   (:func:`cramcog.comparison.compare_with_humans`, ``human="episodic_semantic"``): the run's own
   record, and the committed 5-seed record ``paper/records/consolidation.nc`` where the source
   tree has it. Model numbers are seed-pooled (a fit per seed, a t-interval over seeds), never
   one run's autocorrelated evaluations, so one run gets shapes but no gamma interval
   (``human_comparison.md`` says which interval each number uses);
4. fits every curve family to every bundled human forgetting curve and compares the gamma the
   paper reports with each, in the same family (:func:`cramcog.comparison.compare_gamma`);
5. draws the figures and writes a summary.

With ``--train none`` it skips 1-2. The paper's gamma (0.43 +- 0.04, functional form not stated)
is compared under two assumptions, written into the summary: the paper's form is taken to be
each compared family in turn, and +-0.04 is read as a 95% half-width.

The run folder holds:

- ``train/record.nc``: the training record; ``training_summary.json``: its headline numbers
  (retrieving-layer attention, per-pattern consolidation, the family verdict, the causal test);
- ``consolidation.nc``: the consolidation record of the run (with the curve fits);
- ``human_comparison.md`` (and ``human_shapes.csv``): the shape-first comparison with the
  human episodic-to-semantic data;
- ``cram_attention.png``, ``consolidation_curves.png``, ``consolidation_patterns.png``,
  ``consolidation_causal.png``: the figures;

- ``human_fits.nc``: a record over (curve, family) with AIC, converged, gamma and its interval;
- ``human_fits.csv``: the same table;
- ``comparison.nc`` / ``comparison.csv``: the :func:`cramcog.comparison.compare_gamma` table;
- ``forgetting_curves.png``, ``gamma_forest.png``: the figures;
- ``summary.md`` and ``summary.json``.

:func:`run_reproduce` is one small function of steps so a later stage (training CRAM first and
comparing ITS consolidation curve) only adds a step and passes ``model=``.

Examples
--------
>>> from cramcog.experiments.reproduce import run_reproduce
>>> folder = run_reproduce("/tmp/cramcog-doc-run")  # doctest: +SKIP
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# What the CRAM paper reports (PAPER.md: "gamma = 0.43 +- 0.04, vs human 0.4-0.5"; the curve,
# form and fit method are not stated).
PAPER_GAMMA = 0.43
PAPER_GAMMA_PLUSMINUS = 0.04


@dataclass
class ReproduceConfig:
    """Settings of the main job (stored as the records' config_json)."""

    families: tuple = ("power", "shifted_power")  # families whose gamma is compared
    level: float = 0.95          # confidence level of every interval
    margin: float = 0.1          # equivalence margin for a "consistent" verdict (gamma units)
    ci: str = "profile"          # interval method for the human fits
    include_unreliable: bool = False  # also use series flagged unreliable in psych_data
    seed: int = 0                # seed of every fit (bootstrap resamples, optimiser restarts)
    model_label: str = field(default="CRAM paper (reported)")
    train: str = "small"         # named training config to train first ("none": skip training)
    steps: int = 0               # override the training config's steps (0: keep its own)

    def __post_init__(self):
        if isinstance(self.families, str):
            self.families = tuple(f.strip() for f in self.families.split(",") if f.strip())
        self.families = tuple(self.families)
        if not self.families:
            raise ValueError("families is empty: name at least one family with a gamma")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if not self.margin > 0:
            raise ValueError(f"margin must be > 0, got {self.margin}")
        if self.ci not in ("profile", "wald", "bootstrap"):
            raise ValueError(f"ci must be profile, wald or bootstrap, got {self.ci!r}")
        from cramcog.configs import NAMED_CONFIGS

        if self.train != "none" and self.train not in NAMED_CONFIGS:
            raise ValueError(f"train must be 'none' or a named config {sorted(NAMED_CONFIGS)}, "
                             f"got {self.train!r}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0 (0 keeps the config's own), got {self.steps}")


def default_run_dir(root: str | Path = "runs") -> Path:
    """``runs/<UTC timestamp>-reproduce``, made unique if it exists."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stamp}-reproduce"
    path, i = base, 1
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


def run_reproduce(out_dir: str | Path | None = None, *, config: ReproduceConfig | None = None,
                  model: Any = None) -> Path:
    """Run the main job into ``out_dir`` and return the folder.

    Parameters
    ----------
    out_dir
        The run folder (created); default :func:`default_run_dir`.
    config
        :class:`ReproduceConfig` (defaults if None).
    model
        The model side of the comparison: a fit result with a gamma or a
        :class:`cramcog.comparison.ReportedGamma`. Default: the CRAM paper's reported gamma, with
        its assumptions stated in the summary (one trained run has no seed-pooled interval, so
        the run trained here is measured, not compared by its gamma).

    Returns
    -------
    pathlib.Path
    """
    import matplotlib

    matplotlib.use("Agg")
    config = config or ReproduceConfig()
    folder = Path(out_dir) if out_dir is not None else default_run_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # every warning is collected once into summary.md, not repeated on the console
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        human, table, assumptions, label = _reproduce(folder, config, model)
    notes = collected_warnings(caught)
    write_summary(human, table, config, folder, assumptions, label, notes)
    if notes:
        print(f"{sum(n for _, n in notes)} warnings ({len(notes)} distinct): listed at the end "
              f"of {folder / 'summary.md'}", file=sys.stderr)
    return folder


def collected_warnings(caught) -> list[tuple[str, int]]:
    """Distinct warning messages (category: text) with how often each was raised, in order.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     for _ in range(3):
    ...         warnings.warn("only 6 points")
    >>> collected_warnings(w)
    [('UserWarning: only 6 points', 3)]
    """
    counts: dict[str, int] = {}
    for w in caught:
        key = f"{w.category.__name__}: {w.message}"
        counts[key] = counts.get(key, 0) + 1
    return list(counts.items())


def _reproduce(folder: Path, config: "ReproduceConfig", model: Any):
    """Every step of the job but the summary; returns what :func:`write_summary` needs."""
    from cramcog.comparison import ReportedGamma

    assumptions = []
    if model is None and config.train != "none":
        assumptions.append(train_and_measure(config, folder))
    if model is None:
        half = PAPER_GAMMA_PLUSMINUS
        model = ReportedGamma(PAPER_GAMMA, (PAPER_GAMMA - half, PAPER_GAMMA + half),
                              family=None, label=config.model_label, level=0.95)
        assumptions += [
            "The paper does not state its functional form: its gamma is compared with the human "
            f"gamma of each family in {list(config.families)} in turn.",
            "The paper's +-0.04 is read as a 95% half-width (if it is a standard error the "
            "interval is about twice as wide).",
        ]
        if abs(config.level - 0.95) > 1e-9:
            model = ReportedGamma(PAPER_GAMMA, model.interval, family=None,
                                  label=config.model_label, level=config.level)
            assumptions.append(f"The paper's interval is used as if at level {config.level}.")

    human = fit_human_curves(config)
    human.table.to_csv(folder / "human_fits.csv", index=False)
    _save_human_record(human.table, config, folder / "human_fits.nc")
    table = compare_with_model(model, config)
    table.to_csv(folder / "comparison.csv", index=False)
    from cramcog import records
    from cramcog.comparison import to_record

    records.save(to_record(table, config=_config_dict(config)), folder / "comparison.nc")
    write_figures(human, table, config, folder)
    return human, table, assumptions, getattr(model, "label", None) or "model"


def train_and_measure(config: ReproduceConfig, folder: Path) -> str:
    """Train CRAM and measure its consolidation per pattern; return the summary's note.

    Writes ``train/`` (record, checkpoints), ``consolidation.nc``, ``training_summary.json`` and
    the figures into ``folder``. The human comparison then uses the paper's reported gamma: one
    run has no seed-pooled interval, and a per-run interval over autocorrelated evaluations is
    too narrow to compare (the note says so, and what this run's curve is).
    """
    import time
    import warnings

    from cramcog import analysis, figures, records
    from cramcog.configs import named_config
    from cramcog.figures.style import save_figure
    from cramcog.figures.synchrony import plot_switch_raster
    from cramcog.train import summarise, train

    overrides = {"steps": config.steps} if config.steps else {}
    started = time.perf_counter()
    record = train(named_config(config.train, **overrides), out_dir=folder / "train")
    headline = summarise(record)
    ds = analysis.consolidation_record({"cram": record})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = analysis.fit_consolidation(ds, ci="none")
    ds = analysis.with_fits(ds, fits)
    records.save(ds, folder / "consolidation.nc")
    seed = int(ds.seed.values[0])
    row = analysis.consolidation_summary(ds).iloc[0]
    fit = fits.iloc[0]
    steps = ds.eval_step.values
    share = ds.recurring_attended.sel(variant="cram", seed=seed).values
    headline.update({
        "retrieving_layer": int(row.retrieving_layer),
        "warmup_end_step": int(row.warmup_end_step),
        "recurring_attended_val_final": float(row.val_recurring_attended),
        "novel_attended_val_final": float(row.val_novel_attended),
        "recurring_attended_plateau_step": analysis.plateau_step(steps, share),
        "fall_from_warmup_end": float(row.fall_from_warmup_end),
        "fall_ceiling": float(row.fall_ceiling),
        "switch_exposures_median": float(row.switch_exposures),
        "patterns_switched": int(row.switched_patterns),
        "first_off_exposures_median": float(row.first_off_exposures),
        "returns_to_attention_per_pattern": float(row.returns_per_pattern),
        "per_pattern_switch_width_median": float(row.median_switch_width),
        "switch_exposures_iqr": float(row.switch_iqr),
        "step_mixture_rmse": float(row.step_curve_rmse),
        "family_best_by_aic": str(fit.get("best", "")),
        "family_ranking": str(fit.get("ranking", "")),
        "family_verdict": str(fit.get("verdict", "")),
        "overdispersion": float(fit.get("dispersion", float("nan"))),
        "causal_semantic_accuracy_recurring": float(row.semantic_accuracy_recurring),
        "causal_swap_accuracy_recurring": float(row.swap_accuracy_recurring),
        "causal_swap_partner_share": float(row.swap_partner_share),
        "causal_zero_accuracy_recurring": float(row.zero_accuracy_recurring),
        "causal_semantic_recurring_queries": float(row.semantic_recurring_queries),
        "causal_accuracy_novel": float(row.causal_accuracy_novel),
        "causal_skip_accuracy_novel": float(row.skip_accuracy_novel),
        "causal_chance": float(ds.attrs.get("causal_chance", float("nan"))),
        "model_interval": "none from one run: a model gamma is compared only with its "
                          "seed-pooled interval (cramcog gamma over seeds); this job compares "
                          "the paper's reported gamma",
        "wall_seconds_training_and_analysis": round(time.perf_counter() - started, 1),
    })
    (folder / "training_summary.json").write_text(
        json.dumps(headline, indent=2, default=float) + "\n")
    made = {"cram_attention": figures.plot_attention_over_training(record),
            "consolidation_curves": figures.plot_consolidation_curves(ds),
            "consolidation_patterns": plot_switch_raster(ds, "cram", seed),
            "consolidation_causal": figures.plot_causal_test(ds)}
    for name, fig in made.items():
        save_figure(fig, folder / f"{name}.png")
    write_human_comparison(ds, config, folder)
    note = ("Model side: this run's consolidation curve - " + headline["family_verdict"]
            + ". One run gives no seed-pooled interval (a per-run interval over autocorrelated "
              "evaluations is too narrow), so the gamma the paper reports is compared with the "
              "forgetting curves below; the shape comparison with the episodic-to-semantic "
              "data is in human_comparison.md.")
    return note


COMMITTED_RECORD = Path(__file__).resolve().parents[2] / "paper" / "records" / "consolidation.nc"


def write_human_comparison(run_record, config: ReproduceConfig, folder: Path) -> Path:
    """``human_comparison.md``: :func:`cramcog.comparison.compare_with_humans` of this run's record
    and, where the source tree has it, of the committed multi-seed record (seed-pooled)."""
    import warnings

    from cramcog import records
    from cramcog.comparison import compare_with_humans

    sources = [("this run (1 seed)", run_record)]
    if COMMITTED_RECORD.exists():
        committed = records.open(COMMITTED_RECORD)
        if "cram" in [str(v) for v in committed.variant.values]:
            sources.append((f"committed record {COMMITTED_RECORD.name} (CRAM, "
                            f"{committed.sizes['seed']} seeds)", committed))
    lines = ["# The consolidation curve against human episodic-to-semantic data", ""]
    tables = []
    for label, record in sources:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = compare_with_humans(record, human="episodic_semantic", ci=config.ci,
                                      level=config.level, margin=config.margin,
                                      seed=config.seed, variant="cram")
        lines += [f"## {label}", "", out.to_markdown(), ""]
        table = out.shape.copy()
        table.insert(0, "model", label)
        tables.append(table)
    import pandas as pd

    pd.concat(tables, ignore_index=True).to_csv(folder / "human_shapes.csv", index=False)
    path = folder / "human_comparison.md"
    path.write_text("\n".join(lines))
    return path


def _config_dict(config: ReproduceConfig) -> dict:
    out = asdict(config)
    out["families"] = list(config.families)
    return out


@dataclass
class HumanFits:
    """Every family fitted to every bundled human curve (t > 0 window)."""

    curves: list        # cramcog.psych.Curve, restricted to t > 0
    fits: dict          # curve label -> FitSet
    failed: dict        # curve label -> {family: reason}
    table: Any          # pandas.DataFrame, one row per (curve, family)


def fit_human_curves(config: ReproduceConfig) -> HumanFits:
    """Fit every family to every bundled human curve, on t > 0 so all families share a window."""
    import warnings

    import pandas as pd

    from cramcog import psych
    from cramcog.commands.fit import fit_families

    curves, fits, failed, rows = [], {}, {}, []
    for curve in psych.all_curves(include_unreliable=config.include_unreliable):
        c = curve.positive()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit_set, failed[c.label] = fit_families(c.t, c.y, c.n, "all", ci=config.ci,
                                                    level=config.level, seed=config.seed)
        curves.append(c)
        fits[c.label] = fit_set
        table = fit_set.table()
        table.insert(0, "curve", c.label)
        for key, value in (("source", c.source), ("series", c.series), ("n_points", len(c.t)),
                           ("t_units", c.t_units), ("measure", c.measure),
                           ("likelihood", "least squares" if c.n is None else "binomial")):
            table[key] = value
        rows.append(table)
        for fam, why in failed[c.label].items():
            rows.append(pd.DataFrame([{"curve": c.label, "family": fam, "converged": False,
                                       "message": f"FAILED: {why}", "source": c.source,
                                       "series": c.series, "n_points": len(c.t),
                                       "t_units": c.t_units, "measure": c.measure}]))
    table = pd.concat(rows, ignore_index=True)
    table["aic"] = table["aic"].astype(float)
    table["converged"] = table["converged"].fillna(False).astype(bool)
    for col in ("gamma", "gamma_low", "gamma_high", "delta_aic", "akaike_weight"):
        table[col] = table[col].astype(float)
    return HumanFits(curves=curves, fits=fits, failed=failed, table=table)


def _save_human_record(table, config: ReproduceConfig, path: Path) -> None:
    from cramcog import records

    table = table.assign(converged=table["converged"].astype(float),
                         n_points=table["n_points"].astype("int64"))
    record = records.from_frame(
        table, ("curve", "family"),
        ["aic", "delta_aic", "gamma", "gamma_low", "gamma_high", "converged"],
        dim_coords={"curve": ["t_units", "likelihood", "n_points"]}, kind="fit",
        config=_config_dict(config), seed=config.seed,
        attrs={"window": "t > 0", "level": config.level, "ci_method": config.ci})
    records.save(record, path)


def compare_with_model(model, config: ReproduceConfig):
    """:func:`cramcog.comparison.compare_gamma` for each configured family, stacked."""
    import pandas as pd

    from cramcog.comparison import compare_gamma

    families = list(config.families)
    own = getattr(model, "family", None)
    own = getattr(own, "name", own)
    if own is not None:  # a real fit knows its form: compare that family only
        families = [own]
    tables = [compare_gamma(model, human="all", family=fam, level=config.level,
                            margin=config.margin, include_unreliable=config.include_unreliable,
                            ci=config.ci, seed=config.seed) for fam in families]
    table = pd.concat(tables, ignore_index=True)
    table.attrs = dict(tables[0].attrs)
    return table


def write_figures(human, table, config: ReproduceConfig, folder: Path) -> list[Path]:
    """forgetting_curves.png (data, best and power fits) and gamma_forest.png."""
    import matplotlib.pyplot as plt

    from cramcog.figures.forest import forest_grid as plot_gamma_comparison

    paths = [folder / "forgetting_curves.png", folder / "gamma_forest.png"]
    fig = plot_human_curves(human, config)
    fig.savefig(paths[0], dpi=110, bbox_inches="tight")
    plt.close(fig)
    grid = plot_gamma_comparison(table)
    grid.figure.savefig(paths[1], dpi=110, bbox_inches="tight")
    plt.close(grid.figure)
    return paths


def plot_human_curves(human: HumanFits, config: ReproduceConfig):
    """One panel per human curve: the points, the AIC-best family and the power law."""
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns

    cols = 3
    rows = math.ceil(len(human.curves) / cols)
    sns.set_theme(style="ticks", context="notebook")
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, c in zip(axes.flat, human.curves):
        fit_set = human.fits[c.label]
        best = fit_set.best
        grid_t = np.geomspace(c.t.min(), c.t.max(), 200)
        ax.plot(c.t, c.y, "o", color="k", ms=4, label="data")
        if best.converged:
            ax.plot(grid_t, best.predict(grid_t), "-", label=f"{best.family} (best AIC)")
        if best.family != "power" and "power" in fit_set and fit_set["power"].converged:
            ax.plot(grid_t, fit_set["power"].predict(grid_t), "--", label="power")
        ax.set_xscale("log")
        ax.set_title(c.label, fontsize=9)
        ax.set_xlabel(f"delay ({c.t_units})")
        ax.set_ylabel(c.measure or "retention", fontsize=8)
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(human.curves):]:
        ax.set_visible(False)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def published_exponents() -> list[dict]:
    """Rows of the bundled published_constants table that give a numeric decay exponent."""
    from cramcog import psych

    table = psych.table("published_constants")
    out = []
    for row in table.to_dict(orient="records"):
        try:
            float(row["value"])
        except (TypeError, ValueError):
            continue  # NOT OBTAINED, or a form rather than a number
        if row["parameter"] in ("k", "c"):  # Ebbinghaus's log-formula constants: no exponent
            continue
        out.append(row)
    return out


RUN_SECTIONS = (
    ("The CRAM run (held-out test sequences; train/record.nc)", ()),   # everything not below
    ("Its consolidation curve and per-pattern switching",
     ("fall_", "recurring_attended_", "novel_attended_val", "switch_", "patterns_switched",
      "first_off_", "returns_", "per_pattern_", "step_mixture", "family_", "overdispersion",
      "model_interval")),
    ("Causal tests", ("causal_", "swap_", "zero_", "semantic_recurring", "skip_")),
)


def run_sections(headline: dict) -> list[tuple[str, list[str]]]:
    """The training summary's keys grouped for summary.md, in :data:`RUN_SECTIONS` order; a
    key no later section claims stays with the run.

    Examples
    --------
    >>> run_sections({"test_accuracy_novel": 1.0, "switch_exposures_median": 900.0,
    ...               "causal_chance": 0.004})
    [('The CRAM run (held-out test sequences; train/record.nc)', ['test_accuracy_novel']), ('Its consolidation curve and per-pattern switching', ['switch_exposures_median']), ('Causal tests', ['causal_chance'])]
    """
    groups: list[list[str]] = [[] for _ in RUN_SECTIONS]
    for key in headline:
        where = next((i for i, (_, prefixes) in enumerate(RUN_SECTIONS)
                      if prefixes and key.startswith(prefixes)), 0)
        groups[where].append(key)
    return [(title, keys) for (title, _), keys in zip(RUN_SECTIONS, groups) if keys]


def write_summary(human, table, config: ReproduceConfig, folder: Path, assumptions: list[str],
                  model_label: str, warnings_raised: list[tuple[str, int]] = ()) -> None:
    """summary.json (machine-readable) and summary.md (for people)."""
    import pandas as pd

    from cramcog.comparison import summarize

    best = {label: fit_set.best.family for label, fit_set in human.fits.items()}
    spread = summarize(table)
    payload = {
        "model": model_label,
        "assumptions": assumptions,
        "config": _config_dict(config),
        "best_family_by_aic": best,
        "published_exponents": published_exponents(),
        "failed_fits": human.failed,
        "verdicts": {f: table[table.family == f]["verdict"].value_counts().to_dict()
                     for f in dict.fromkeys(table.family)},
        "human_gamma": {f: {k: (None if (isinstance(v, float) and math.isnan(v)) else v)
                            for k, v in row.items()}
                        for f, row in spread.to_dict(orient="index").items()},
        "files": sorted(p.name for p in folder.iterdir()) + ["summary.json", "summary.md"],
        "warnings": [{"message": text, "count": n} for text, n in warnings_raised],
    }
    (folder / "summary.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    cols = ["source", "series", "family", "gamma", "ci_low", "ci_high", "diff", "diff_ci_low",
            "diff_ci_high", "verdict"]
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        # in the order a reader asks: the run, its consolidation, the causal tests, the human
        # comparison, and only then forgetting curves and the paper's gamma
        lines = ["# cramcog reproduce: CRAM's consolidation, then the human data", ""]
        trained = folder / "training_summary.json"
        if trained.exists():  # the CRAM run this job trained (train_and_measure)
            headline = json.loads(trained.read_text())
            for title, keys in run_sections(headline):
                lines += [f"## {title}", ""]
                lines += [f"- {k}: {headline[k]:.4g}" if isinstance(headline[k], float)
                          else f"- {k}: {headline[k]}" for k in keys] + [""]
        comparison = folder / "human_comparison.md"
        if comparison.exists():  # the shape-first comparison (write_human_comparison)
            lines += [comparison.read_text().replace("# ", "## ", 1), ""]
        lines += [
            "## Forgetting curves and the paper's gamma", "",
            f"Model side: {model_label}. Verdicts at level {config.level}, equivalence margin "
            f"{config.margin} (consistent = difference interval inside +-margin; different = it "
            "excludes 0; otherwise inconclusive). Human fits on t > 0, "
            f"{config.ci} intervals; binomial likelihood where trial counts exist.", "",
        ]
        if assumptions:
            lines += ["Assumptions:"] + [f"- {a}" for a in assumptions] + [""]
        lines += ["### Best family by AIC per human curve", ""]
        lines += [f"- {k}: {v}" for k, v in best.items()] + [""]
        lines += ["### Human gamma spread and verdicts per family", "", "```",
                  spread.to_string(), "```", "", "### Every comparison", "", "```",
                  table[cols].to_string(index=False), "```", ""]
        missing = table[table.verdict == "no fit"]
        if len(missing):
            lines += ["### Not compared (no usable fit)", ""]
            lines += [f"- {r.source}/{r.series} ({r.family}): {r.note}".replace("/ (", " (")
                      for r in missing.itertuples()] + [""]
        lines += ["### Published exponents, for context only", "",
                  "Not fitted here and comparable only within the same form "
                  "(`cramcog data show published_constants`):", ""]
        lines += [f"- {r['model_or_study']}: {r['parameter']} = {r['value']} in "
                  f"{r['functional_form']} ({r['reliability']})" for r in published_exponents()]
        lines += [""]
        lines += ["Caveats: averaged curves can look like power laws even when each individual "
                  "forgets exponentially (Anderson & Tweney 1997); exponents depend on the "
                  "measure (savings, recall, recognition), chance level and form; see each data "
                  "set's notes (`cramcog data show NAME`).", ""]
    lines += ["## Warnings raised during the job (each listed once)", ""]
    lines += [f"- {text}" + (f" (x{n})" if n > 1 else "")
              for text, n in warnings_raised] or ["- none"]
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
