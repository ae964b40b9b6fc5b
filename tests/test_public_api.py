"""The top-level names docs/DESIGN.md promises (Public API) resolve to callables, whatever was imported first."""
import subprocess
import sys

import pytest

FIRST_IMPORTS = ["", "import cramcog.train", "import cramcog.experiments.ablations"]


@pytest.mark.parametrize("first", FIRST_IMPORTS)
def test_cc_train_is_callable_whatever_was_imported_first(first):
    code = (f"{first}\nimport cramcog as cc\n"
            "try:\n    cc.train('nonsense')\nexcept ValueError as e:\n"
            "    assert 'unknown config' in str(e), e\nelse:\n    raise SystemExit('no error')\n"
            "assert callable(cc.fit_consolidation_curve) and callable(cc.compare_gamma)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
