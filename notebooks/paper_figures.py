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
# # The paper's figures, regenerated from saved records
#
# Every figure in cramcog is drawn from **records** alone (xarray Datasets saved as netCDF by
# `cramcog train`, `cramcog ablate`, `cramcog reproduce`, ...): no model, no log file. This
# notebook finds the records, says what each one is, and redraws every figure they support - the
# same thing `cramcog figures RECORDS... --out paper/figures` does from the shell.
#
# Where the records come from:
#
# - `CRAMCOG_RECORDS=path/or/folder` (a `.nc` file, or a folder searched recursively);
# - otherwise `runs/` if it holds records;
# - with `CRAMCOG_TINY=1` (CI), or when there are none, the notebook first makes a small set
#   itself: a tiny ablation grid (CRAM with and without consolidation, 2 seeds) trained for a few
#   steps, and a gamma comparison with the human data. Those tiny runs are far too short to show
#   consolidation: they exercise the pipeline, not the science.
#
# Figures go to `CRAMCOG_FIGURES` (default `paper/figures`; a temporary folder in tiny mode).

# %%
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from cramcog import figures, records

TINY = os.environ.get("CRAMCOG_TINY", "0") == "1"


def find_records(where: Path) -> list[Path]:
    """Record files under ``where`` (a file or a folder), skipping per-cell ablation files."""
    if where.is_file():
        return [where]
    return sorted(p for p in where.rglob("*.nc") if "cells" not in p.parts)


source = Path(os.environ.get("CRAMCOG_RECORDS", "runs"))
paths = [] if TINY else (find_records(source) if source.exists() else [])
out_dir = Path(os.environ.get("CRAMCOG_FIGURES",
                              tempfile.mkdtemp(prefix="cramcog-figures-") if TINY
                              else "paper/figures"))
print(f"{len(paths)} record(s) found under {source}; figures go to {out_dir}")

# %% [markdown]
# ## Making a small set of records (only when none were found)
#
# An ablation grid is a base config, variants (dotted-key overrides) and seeds; `run_grid` runs
# it through any `concurrent.futures` executor and writes one record with `(variant, seed)` dims.
# The model's consolidation curve is fitted with a power law and compared with every bundled human
# data set (`compare_gamma`), which gives a `comparison` record.

# %%
if not paths:
    from cramcog.experiments.ablations import AblationGrid, base_config_dict, run_grid
    from cramcog.comparison import compare_gamma, to_record

    made = Path(tempfile.mkdtemp(prefix="cramcog-records-"))
    base = base_config_dict("tiny") if TINY else base_config_dict("small")
    base.update(steps=16 if TINY else 600, eval_every=8 if TINY else 100)
    grid = AblationGrid(name="consolidation", base=base, seeds=(0, 1),
                        variants={"cram": {}, "no_consolidation": {"model.consolidation": False}},
                        description="CRAM with and without consolidation")
    with ThreadPoolExecutor(max_workers=1) as pool:  # threads: no process start-up in CI
        ablation = run_grid(grid, made / "ablation", executor=pool, progress=False)
    cram_run = next(run for variant, seed, run in figures.as_runs(ablation)
                    if variant == "cram" and seed == 0)
    records.save(cram_run, made / "cram_seed0.nc")
    t, y = figures.consolidation_curve(cram_run)
    try:
        table = compare_gamma(figures.fit_power(t, y), human="all", family="power")
        records.save(to_record(table), made / "gamma_comparison.nc")
    except ValueError as err:  # a curve too short or flat to fit says so, it is not hidden
        print("no gamma comparison:", err)
    paths = find_records(made)
[p.name for p in paths]

# %% [markdown]
# ## What each record is
#
# `ds.cram.kind` says which figures a record supports; the provenance attrs say which code made it.

# %%
loaded = [records.open(p) for p in paths]
pd.DataFrame([{"file": p.name, "kind": ds.cram.kind, "seed": ds.attrs.get("seed"),
               "git": str(ds.attrs.get("git_revision", ""))[:12],
               "created": ds.attrs.get("created")} for p, ds in zip(paths, loaded)])

# %% [markdown]
# ## Every figure
#
# `figures.figures_for` dispatches on the record kind: attention over training (log axes, phase
# transition marked), the consolidation curve with its power law beside the human curves,
# accuracy vs attention, ablation panels, gamma per run, the gamma comparison, transfer bars and
# Theorem-1 scaling where such records exist. Records of other kinds (fits, benchmarks) have no
# figure here and are skipped with a note.

# %%
drawable = [(p, ds) for p, ds in zip(paths, loaded) if ds.cram.kind in figures.FIGURE_KINDS]
for p, ds in zip(paths, loaded):
    if ds.cram.kind not in figures.FIGURE_KINDS:
        print(f"skipped {p.name}: kind {ds.cram.kind!r} has no figure")
names = [f"{p.parent.name}_{p.stem}" for p, _ in drawable]
made_figures = figures.figures_for([ds for _, ds in drawable], names=names,
                                   human=None if TINY else "all")
written = [figures.save_figure(fig, out_dir / f"{name}.png") for name, fig in made_figures.items()]
[str(p) for p in written]

# %% [markdown]
# ## A look at two of them

# %%
from IPython.display import Image, display  # noqa: E402

for path in written[:2]:
    display(Image(filename=str(path), width=700))
plt.close("all")
