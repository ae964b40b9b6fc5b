# Two commands do all set-up on a fresh machine:
#   make reproduce   -> venv, install, run the main job on the small default; prints the run folder
#   make test        -> venv, install, run the whole test suite (what .ci/run calls)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cramcog-installed
# torch is pinned: a CPU build of 2.13.0 lies on dev/CI disks; a bare `torch` pulls a CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: setup reproduce test test-fast notebooks bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" -e ".[dev]"
	touch $(STAMP)

reproduce: $(STAMP)
	$(VENV)/bin/cramcog reproduce

# Notebooks are jupytext py:percent files; CI converts them and executes them with nbmake on tiny
# settings (CRAMCOG_TINY=1).
notebooks: $(STAMP)
	rm -rf build/notebooks && mkdir -p build/notebooks
	for f in notebooks/*.py; do [ -e "$$f" ] || continue; \
	  $(VENV)/bin/jupytext --quiet --to ipynb -o build/notebooks/$$(basename $${f%.py}).ipynb $$f || exit 1; done

# Notebooks run one at a time: kernels started in parallel can race for the same port.
test: $(STAMP) notebooks
	OMP_NUM_THREADS=1 CRAMCOG_TINY=1 $(PY) -m pytest -n 2 -q tests $(PYTEST_ARGS)
	OMP_NUM_THREADS=1 CRAMCOG_TINY=1 $(PY) -m pytest -q --nbmake --nbmake-timeout=900 build/notebooks

test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build $(VENV) .pytest_cache
