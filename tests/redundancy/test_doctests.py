"""The docstring examples of cramcog.redundancy run and print what they claim."""
import doctest
import importlib

import pytest

MODULES = ["cramcog.redundancy", "cramcog.redundancy.corpus", "cramcog.redundancy.gpt2",
           "cramcog.redundancy.hf_io", "cramcog.redundancy.hooks", "cramcog.redundancy.probes",
           "cramcog.redundancy.analysis", "cramcog.redundancy.training",
           "cramcog.redundancy.plots", "cramcog.redundancy.tokenize", "cramcog.redundancy.cram",
           "cramcog.commands.redundancy"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import torch
    torch.set_num_threads(1)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
