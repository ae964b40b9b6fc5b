"""Every sub-package in the source tree is listed in pyproject.toml (else a wheel silently drops it)."""
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {pkg: ROOT / folder for pkg, folder in config["package-dir"].items()}
    found = set()
    for init in (ROOT / "cramcog").rglob("__init__.py"):
        found.add(".".join(init.parent.relative_to(ROOT).parts))
    for pkg, folder in mapped.items():
        for init in folder.rglob("__init__.py"):
            found.add(".".join([pkg, *init.parent.relative_to(folder).parts]))
    missing = found - listed
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"



# Python started in the repository root has the root on sys.path, so the top-level kernels/ folder
# is found under the name `kernels`, the name of the PyPI package that transformers 5 imports.
def run_in_root(code, *flags, **env):
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_cramcog_kernels_and_transformers_import_together_from_the_repo_root():
    pytest.importorskip("transformers")
    code = ("import cramcog.kernels, transformers, kernels\n"
            "from transformers import GPT2LMHeadModel\n"
            "from pathlib import Path\n"
            f"assert Path(kernels.__file__).resolve().parent != Path({str(ROOT / 'kernels')!r})\n"
            "assert cramcog.kernels.routed_attention")
    done = run_in_root(code)
    assert done.returncode == 0, done.stderr


def test_top_level_kernels_from_the_repo_root_is_the_pypi_package(tmp_path):
    fake = tmp_path / "kernels"
    fake.mkdir()
    (fake / "__init__.py").write_text("WHO = 'pypi'\n")
    (fake / "layer.py").write_text("WHAT = 'layer'\n")
    code = ("import kernels, kernels.layer, cramcog.kernels\n"
            "print(kernels.WHO, kernels.layer.WHAT, hasattr(kernels, 'routed_attention'))")
    done = run_in_root(code, PYTHONPATH=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pypi", "layer", "False"]


def test_top_level_kernels_without_the_pypi_package_says_what_to_import():
    done = run_in_root("import kernels", "-S")  # -S: no site-packages, so no PyPI `kernels`
    assert done.returncode != 0
    assert "ModuleNotFoundError" in done.stderr and "cramcog.kernels" in done.stderr
