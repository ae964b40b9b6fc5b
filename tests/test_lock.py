"""requirements.lock pins what make installs, agrees with pyproject.toml, and is what is installed.

A fresh machine resolves nothing anew: `make setup` installs the lock with --no-deps. These tests
fail when someone widens or adds a requirement in pyproject.toml without running `make lock`, when
the lock holds a range instead of an exact version, or when the venv has drifted from the lock.
"""
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def read_lock(text):
    """{canonical name: Version} from the lock's text; any line that is not `name==version` fails."""
    pins = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"requirements.lock line {number} is not an exact pin: {line!r} (run `make lock`)"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"requirements.lock pins {name} twice"
        pins[name] = Version(match.group(2))
    return pins


def made_requirements():
    """What `make lock` installs: the core dependencies, the dev extra and the pinned torch."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    torch_pin = re.search(r"^TORCH\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    texts = [*project["dependencies"], *extras["dev"], *extras["torch"], torch_pin]
    return [Requirement(text) for text in texts]


def disagreements(requirements, pins):
    """Requirements that the lock leaves out or pins to a version outside their range."""
    problems = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate():
            continue
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req} is not in requirements.lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req} but requirements.lock pins {req.name}=={version}")
    return problems


def test_lock_pins_every_requirement_of_pyproject_within_its_range():
    problems = disagreements(made_requirements(), read_lock(LOCK.read_text()))
    assert not problems, "pyproject.toml and requirements.lock disagree (run `make lock`):\n" + \
        "\n".join(problems)


def test_a_lock_that_disagrees_with_pyproject_is_caught():
    pins = read_lock(LOCK.read_text())
    requirements = made_requirements()
    numpy = next(req for req in requirements if req.name == "numpy")
    too_old = dict(pins, numpy=Version("1.0"))
    assert disagreements([numpy], too_old) == [f"{numpy} but requirements.lock pins numpy==1.0"]
    without = {name: v for name, v in pins.items() if name != "numpy"}
    assert disagreements([numpy], without) == [f"{numpy} is not in requirements.lock"]
    with pytest.raises(AssertionError, match="not an exact pin"):
        read_lock("numpy>=1.26\n")


def test_lock_pins_the_cpu_torch_pip_and_the_build_backend():
    pins = read_lock(LOCK.read_text())
    assert str(pins["torch"]) == "2.13.0+cpu", "a torch without +cpu is a multi-GB CUDA build"
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert not disagreements([Requirement(text) for text in build], pins)
    assert "pip" in pins


def test_makefile_installs_the_lock_without_resolving_anew():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install -q --no-deps (--no-compile )?-r \$\(LOCK\)", makefile)
    assert re.search(r"--no-deps --no-build-isolation -e \.", makefile)
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK\)", makefile, re.M)


def test_installed_packages_are_the_locked_versions():
    pins = read_lock(LOCK.read_text())
    installed = {canonicalize_name(dist.metadata["Name"]): Version(dist.version)
                 for dist in metadata.distributions()}
    if canonicalize_name("cramcog") not in installed:
        pytest.skip("cramcog is not installed in this Python (not the make venv)")
    drift = {name: (str(pins[name]), str(installed[name]))
             for name in pins if name in installed and installed[name] != pins[name]}
    missing = sorted(set(pins) - set(installed))
    assert not drift, f"installed versions differ from requirements.lock (rerun `make setup`): {drift}"
    assert not missing, f"locked but not installed (rerun `make setup`): {missing}"
