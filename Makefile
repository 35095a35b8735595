# The two README commands: `make reproduce` (install + default pipeline) and `make test` (install + all tests).
# Both create .venv when it is missing and install the pinned set of requirements-lock.txt into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mgnb-installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MPLBACKEND := Agg
# torch threads spin-wait for each other by default, which costs 3-10x on a loaded 2-core machine
export OMP_WAIT_POLICY := PASSIVE
# tqdm.auto warns (naming the venv path) when ipywidgets is absent; keep that out of the executed notebooks in reports/
export PYTHONWARNINGS := ignore:IProgress not found

.PHONY: install reproduce smoke test data bench lock clean-build docs

# uv installs the locked set ~8x faster than pip (23 s against 184 s from empty caches on the project's machine:
# parallel downloads and unpacking of the 7 GB torch/CUDA stack); `make install INSTALLER=pip` uses pip instead
# (e.g. where only pip's configuration reaches a package mirror). Either way the same pinned versions land.
INSTALLER ?= uv
UV_VERSION := 0.13.9

$(STAMP): requirements-lock.txt setup.py settings.ini pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ]; then \
	  $(BIN)/python -m pip install --disable-pip-version-check -q "uv==$(UV_VERSION)" && \
	  $(BIN)/uv pip install --python $(BIN)/python -q -r requirements-lock.txt; \
	else $(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-lock.txt; fi
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --config-settings editable_mode=compat -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

install: $(STAMP)

# data/ holds the raw dataset that data.dvc tracks; when it holds none, write the synthetic benchmark there
data: install
	@if [ ! -f data/splits.csv ]; then \
	  echo "data/ has no dataset: generating the synthetic benchmark (params.yaml: data.synthetic)"; \
	  $(BIN)/mgnb synth data --params params.yaml && $(BIN)/dvc add -q data; \
	else echo "data/: using the dataset already there"; fi

reproduce: data
	$(BIN)/dvc repro
	@echo "results: reports/summary.md"

test: install
	bash scripts/test.sh

# the library notebooks executed (slow/gpu cells skipped) and rendered with their outputs: _site/index.html
docs: install
	$(BIN)/python scripts/build_docs.py --out _site --jobs 2

bench: data
	$(BIN)/python scripts/bench.py

# refresh requirements-lock.txt from the current .venv (after changing requirements in settings.ini)
lock: install
	{ sed -n '1,3p' requirements-lock.txt; $(BIN)/pip freeze --exclude-editable | grep -v -e '^mgnb' -e '^uv=='; } > requirements-lock.new && mv requirements-lock.new requirements-lock.txt
