# Two commands do all set-up on a fresh machine:
#   make reproduce   -> venv, install, run the main job on the small default; prints the run folder
#   make test        -> venv, install, run the whole test suite (what .ci/run calls)
# Both install exactly what requirements.lock pins (`make lock` writes it; README: Dependencies).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
LOCK   := requirements.lock
STAMP  := $(VENV)/.cramcog-installed
# torch is pinned: a CPU build of 2.13.0 lies on dev/CI disks; a bare `torch` pulls a CUDA build.
TORCH  ?= torch==2.13.0
LOCK_VENV := build/lock-venv
# Let Python cache compiled modules (an empty value unsets the variable for Python). The lock is
# installed with --no-compile (compiling all of torch took 40 s); with PYTHONDONTWRITEBYTECODE set
# as well, every test worker and notebook kernel recompiled what it imported (fresh clone, 2 cores,
# `time make test`: 4 min 42 s with it set, 3 min 38 s unset).
export PYTHONDONTWRITEBYTECODE :=

.PHONY: setup lock reproduce test test-fast notebooks bench clean

setup: $(STAMP)

# The lock pins every package, pip and the build backend included; --no-deps makes a package the
# lock lacks fail `pip check` instead of being resolved anew; cramcog itself builds without
# isolation so that its build backend is the locked one too.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-deps --no-compile -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

# Re-resolve everything from pyproject.toml's ranges in a throw-away venv and write the lock.
# Run it on purpose (README: Dependencies), then `make test`, then commit requirements.lock.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip "setuptools>=69" wheel
	$(LOCK_VENV)/bin/python -m pip install -q "$(TORCH)" -e ".[dev]"
	$(LOCK_VENV)/bin/python -m pip check
	{ echo "# Exact versions of everything make installs (Python $$($(LOCK_VENV)/bin/python -c 'import platform; print(platform.python_version(), platform.machine())'))."; \
	  echo "# Written by \`make lock\`; never edit by hand. README: Dependencies."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable | LC_ALL=C sort -f; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf $(LOCK_VENV)

reproduce: $(STAMP)
	$(VENV)/bin/cramcog reproduce

# Notebooks are jupytext py:percent files; CI converts them and executes them with nbmake on tiny
# settings (CRAMCOG_TINY=1).
notebooks: $(STAMP)
	rm -rf build/notebooks && mkdir -p build/notebooks
	for f in notebooks/*.py; do [ -e "$$f" ] || continue; \
	  $(VENV)/bin/jupytext --quiet --to ipynb -o build/notebooks/$$(basename $${f%.py}).ipynb $$f || exit 1; done

# Tests import the installed package: the pytest script (unlike `python -m pytest`) puts no
# repository root on sys.path, and --import-mode=importlib (pyproject) adds no test folders.
# Notebooks run one at a time: kernels started in parallel can race for the same port.
PYTEST := $(VENV)/bin/pytest
test: $(STAMP) notebooks
	OMP_NUM_THREADS=1 CRAMCOG_TINY=1 $(PYTEST) -n 2 -q tests $(PYTEST_ARGS)
	OMP_NUM_THREADS=1 CRAMCOG_TINY=1 $(PYTEST) -q --nbmake --nbmake-timeout=900 build/notebooks

test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(PYTEST) -n 2 -q tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build $(VENV) .pytest_cache
