"""Kept for one release: the ablation runner moved to :mod:`cramcog.experiments.ablations`.

``from cramcog.ablations import run_grid`` and ``--run-fn cramcog.ablations:demo_run`` keep
working; new code imports :mod:`cramcog.experiments.ablations`.
"""
from cramcog.experiments.ablations import *  # noqa: F401,F403
from cramcog.experiments.ablations import _canonical_json  # noqa: F401
