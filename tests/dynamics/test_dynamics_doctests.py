"""The numpydoc examples in cramcog.dynamics run and give what they show."""
import doctest
import importlib

import matplotlib
import pytest

matplotlib.use("Agg")

MODULES = ["cramcog.dynamics", "cramcog.dynamics.families", "cramcog.dynamics.data",
           "cramcog.dynamics.report", "cramcog.dynamics.ranking",
           "cramcog.dynamics.optimizer", "cramcog.dynamics.intervals", "cramcog.dynamics.fit",
           "cramcog.dynamics.result", "cramcog.dynamics.export", "cramcog.dynamics.plotting",
           "cramcog.dynamics.api", "cramcog.dynamics.criteria", "cramcog.dynamics.kinds",
           "cramcog.dynamics.mixed"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
