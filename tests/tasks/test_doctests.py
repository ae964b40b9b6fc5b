"""The runnable examples in cramcog.tasks docstrings stay correct."""
import doctest
import importlib

import pytest

MODULES = ["cramcog.tasks", "cramcog.tasks.gaps", "cramcog.tasks.systems", "cramcog.tasks.bindings",
           "cramcog.tasks.batch", "cramcog.tasks.srcd", "cramcog.tasks.variants",
           "cramcog.tasks.mqar", "cramcog.tasks.stats", "cramcog.tasks.bench"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
    assert result.attempted > 0
