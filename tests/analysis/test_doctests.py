"""The runnable examples in cramcog.analysis (and the consolidation command and figures)."""
import doctest
import importlib

import pytest

MODULES = ["cramcog.analysis", "cramcog.cli", "cramcog.records", "cramcog.train",
           "cramcog.analysis.runs", "cramcog.analysis.metrics",
           "cramcog.analysis.phase", "cramcog.analysis.probes",
           "cramcog.analysis.causal", "cramcog.analysis.consolidation", "cramcog.analysis.items",
           "cramcog.analysis.lengths", "cramcog.analysis.operating",
           "cramcog.commands.consolidation",
           "cramcog.commands.operating_point",
           "cramcog.figures.operating", "cramcog.comparison.frames", "cramcog.figures.forest",
           "cramcog.commands.lengths", "cramcog.commands.figures",
           "cramcog.figures.consolidation",
           "cramcog.model.episodic", "cramcog.analysis.synchrony", "cramcog.commands.synchrony",
           "cramcog.experiments.reproduce", "cramcog.experiments.scaling",
           "cramcog.experiments.transfer", "cramcog.commands.reproduce"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import matplotlib

    matplotlib.use("Agg")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
    assert result.attempted > 0
