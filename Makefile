# galmass: data -> models -> notebooks -> book, rebuilt only where stale.
#   make reproduce            the whole paper on the embedded mock suites (PROFILE=default)
#   make test                 the test suite
#   make bench                speed benchmarks (ratios against baselines, same run)
# PROFILE=smoke|default|paper picks configs/$(PROFILE).yaml. Every target installs what it needs.

PROFILE ?= default
CONFIG := configs/$(PROFILE).yaml
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GALMASS := $(VENV)/bin/galmass
INSTALLED := $(VENV)/.installed
DATA := data/$(PROFILE)
SRC := $(wildcard src/galmass/*.py)
SUITE_NAMES := cusp core heldout
SUITES_DONE := $(DATA)/suites/.done

.PHONY: setup test data suites models notebooks book reproduce bench clean help

help:
	@sed -n '1,6p' Makefile

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip setuptools wheel
	$(VENV)/bin/pip install --quiet -e ".[dev,book]"
	touch $@

setup: $(INSTALLED)

test: $(INSTALLED)
	$(PY) -m pytest

# ---- data: mock suites (HDF5 shards, resumable, Dask-parallel)
$(SUITES_DONE): $(INSTALLED) $(CONFIG) src/galmass/suites.py src/galmass/df.py src/galmass/profiles.py src/galmass/relations.py src/galmass/storage.py
	$(GALMASS) suites build --config $(CONFIG)
	$(GALMASS) suites summary --config $(CONFIG) > $(DATA)/suites/summary.txt
	touch $@

suites: $(SUITES_DONE)

data: suites

models: data
	@echo "models: the CNN and flow arrive with issue #4 (nothing to train yet)"

notebooks: models

book: notebooks

reproduce: book

bench: $(INSTALLED)
	$(PY) benchmarks/run.py --config $(CONFIG)

clean:
	rm -rf data/*/ results/ models/ book/_build
