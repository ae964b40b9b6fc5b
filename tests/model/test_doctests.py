"""The model package's docstring examples run as written."""
import doctest
import importlib
import pkgutil

import pytest

import cramcog.model

MODULES = sorted(f"cramcog.model.{m.name}" for m in pkgutil.iter_modules(cramcog.model.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
