# Set-up and entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= all
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint report bench clean

$(STAMP): requirements.lock requirements-nodeps.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## install: the pinned environment and the package in .venv (what demo and test do first)
install: $(STAMP)

## demo: install into .venv and run the whole workflow on the demo cohort (demo.yaml)
demo: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile demo.yaml

## test: install into .venv and run the test suite (unit, CLI and one end-to-end workflow run)
test: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q

## test-fast: the unit and integration tiers (no workflow runs)
test-fast: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -m "not slow"

## lint: ruff (code and numpydoc docstrings), snakefmt --check (rules), snakemake --lint
lint: $(STAMP)
	$(BIN)/ruff check tda_mci tests tools
	$(BIN)/snakefmt --check Snakefile workflow/rules
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --lint

## report: Snakemake's HTML report of the demo run
report: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --configfile demo.yaml --report results/report.html

## bench: the reference (ripser + persim, serial) against ours, side by side
bench: $(STAMP)
	$(BIN)/python -m tda_mci.bench

clean:
	rm -rf results/* logs benchmarks .snakemake
