"""Every sub-package in the source tree is listed in pyproject.toml (else a wheel silently drops it)."""
import tomllib
from pathlib import Path

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
