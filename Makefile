# galmass: data -> models -> notebooks -> book, rebuilt only where stale.
#   make reproduce            the whole paper on the embedded mock suites (PROFILE=default)
#   make test                 the test suite
#   make bench                speed benchmarks (ratios against baselines, same run)
#   make ablation book        chapter 3's residual-target ablation (one more CNN training)
# PROFILE=smoke|default|paper picks configs/$(PROFILE).yaml. Every target installs what it needs.

PROFILE ?= default
CONFIG := configs/$(PROFILE).yaml
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GALMASS := $(VENV)/bin/galmass
INSTALLED := $(VENV)/.installed
.DEFAULT_GOAL := help

# which code each stage depends on is declared once, in src/galmass/stages.py (which also
# makes the stale-output fingerprints); it writes STAGE_SRC_<stage> for the rules below
STAGES_MK := build/stages.mk
$(STAGES_MK): src/galmass/stages.py
	@mkdir -p $(dir $@)
	$(PYTHON) src/galmass/stages.py --make > $@.partial && mv $@.partial $@
include $(STAGES_MK)

# where the profile's data, models, results and book go is declared once, by its config
# (galmass.config.Config.paths: data_dir, output_dir); `galmass paths --make` writes PATH_<name>
PATHS_MK := build/paths-$(PROFILE).mk
$(PATHS_MK): $(wildcard configs/*.yaml) src/galmass/config.py $(INSTALLED)
	@mkdir -p $(dir $@)
	$(GALMASS) paths --config $(CONFIG) --make > $@.partial && mv $@.partial $@
# (placeholders until that file exists: make then rereads this Makefile with the real paths)
$(foreach k,DATA SUITES DATASET MODELS RESULTS BOOK,$(eval PATH_$(k) := build/.pending/$(k)))
CONFIG_FILES := $(CONFIG)
ifneq ($(filter-out help clean setup,$(MAKECMDGOALS)),)
include $(PATHS_MK)
endif
SUITES_DONE := $(PATH_SUITES)/.done

.PHONY: setup test data suites models results ablation notebooks book reproduce bench clean help default-model ship-model

help:
	@sed -n '1,7p' Makefile

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip setuptools wheel
	$(VENV)/bin/pip install --quiet -e ".[dev,book]"
	touch $@

setup: $(INSTALLED)

test: $(INSTALLED)
	$(PY) -m pytest
	$(MAKE) PROFILE=smoke book
	@# Table 1 and the TARP table must render as HTML tables, not as paragraphs of pipes
	@for nb in 05_generalisation 06_calibration; do \
	  grep -q "<table" build/smoke/_build/html/book/executed/$$nb.html || \
	    { echo "book: $$nb has no rendered table"; exit 1; }; done
	@# the rendered book in a headless browser (Debian's chromium; installed here when possible)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "make test: no chromium: the browser test is skipped"
	GALMASS_BOOK_HTML=build/smoke/_build/html $(PY) -m pytest -q -rs tests/test_book_browser.py

# ---- data: mock suites (HDF5 shards, resumable, Dask-parallel)
$(SUITES_DONE): $(INSTALLED) $(CONFIG_FILES) $(STAGE_SRC_suites)
	$(GALMASS) suites build --config $(CONFIG) --replace-stale
	$(GALMASS) suites summary --config $(CONFIG) --realism > $(PATH_SUITES)/summary.txt.partial && mv $(PATH_SUITES)/summary.txt.partial $(PATH_SUITES)/summary.txt
	touch $@

suites: $(SUITES_DONE)

# ---- data: projection dataset (KDE maps, scalars, labels; balanced, split by galaxy)
DATASET_DONE := $(PATH_DATASET)/index.h5
$(DATASET_DONE): $(SUITES_DONE) $(STAGE_SRC_dataset)
	$(GALMASS) dataset build --config $(CONFIG) --replace-stale

data: $(DATASET_DONE)

# ---- models: CNN + flow per model of the profile (resumable), then predictions and metrics
MODELS_DONE := $(PATH_MODELS)/.done
METRICS := $(PATH_RESULTS)/metrics.json
$(MODELS_DONE): $(DATASET_DONE) $(STAGE_SRC_models)
	$(GALMASS) train --config $(CONFIG) --replace-stale
	touch $@

$(METRICS): $(MODELS_DONE) $(STAGE_SRC_metrics)
	$(GALMASS) evaluate --config $(CONFIG)

models: $(MODELS_DONE)

results: $(METRICS)

# ---- chapter 3's ablation (one more CNN training, not in `reproduce`): the joint CNN with the
# paper's literal target; it rewrites metrics.json, so a following `make book` shows it
ablation: $(METRICS)
	$(GALMASS) ablation --config $(CONFIG)

# ---- notebooks: jupytext text -> ipynb -> executed by papermill (atomically) -> book sources
BUILD := $(PATH_BOOK)
BOOK_SRC := $(BUILD)/book_src
NB_NAMES := $(basename $(notdir $(wildcard notebooks/*.py)))
EXECUTED := $(patsubst %,$(BOOK_SRC)/book/executed/%.ipynb,$(NB_NAMES))

$(BOOK_SRC)/book/executed/%.ipynb: notebooks/%.py $(METRICS) $(STAGE_SRC_notebooks)
	@mkdir -p $(BUILD)/nb $(dir $@)
	$(VENV)/bin/jupytext --quiet --to ipynb $< -o $(BUILD)/nb/$*.ipynb
	$(VENV)/bin/papermill --log-level WARNING --cwd . $(BUILD)/nb/$*.ipynb $@.partial.ipynb -p config $(CONFIG)
	$(PY) -m galmass.book.tags $@.partial.ipynb
	mv $@.partial.ipynb $@

notebooks: $(EXECUTED)

# ---- book: Jupyter Book 1.x (Sphinx), offline; HTML in <book dir>/_build/html
BOOK_HTML := $(BUILD)/_build/html/index.html
# MathJax served by the book itself (from the npm registry), so that pages render offline
MATHJAX := build/mathjax/es5/tex-mml-chtml.js
$(MATHJAX):
	rm -rf build/mathjax.partial && mkdir -p build/mathjax.partial
	cd build/mathjax.partial && npm pack --silent mathjax@3.2.2 >/dev/null && tar xzf mathjax-3.2.2.tgz
	rm -rf build/mathjax && mkdir -p build/mathjax && mv build/mathjax.partial/package/es5 build/mathjax/es5 && rm -rf build/mathjax.partial

$(BOOK_HTML): $(EXECUTED) _config.yml _toc.yml book/intro.md $(MATHJAX)
	@mkdir -p $(BOOK_SRC)/book $(BOOK_SRC)/_extra
	cp _config.yml _toc.yml $(BOOK_SRC)/
	cp book/intro.md $(BOOK_SRC)/book/
	rm -rf $(BOOK_SRC)/_extra/mathjax && cp -r build/mathjax/es5 $(BOOK_SRC)/_extra/mathjax
	$(VENV)/bin/jupyter-book build --quiet $(BOOK_SRC) --path-output $(BUILD)
	@echo "book: $(BOOK_HTML)"

book: $(BOOK_HTML)

reproduce: book

# ---- the small default model shipped with the package: an ensemble (galmass.predict.ensemble)
# of the joint models of the observational-realism profiles, configs/observed.yaml (a CNN
# that reads the absolute scales: its posterior is the prediction) and
# configs/observed_scale_free.yaml (dimensionless inputs: it checks the first, and a
# catalogue on which they disagree is flagged); SHIPPED_POSTERIOR=mixture mixes them instead
SHIPPED := src/galmass/default_model
SHIPPED_PROFILE ?= observed
SHIPPED_MEMBERS ?= observed observed_scale_free
SHIPPED_POSTERIOR ?= observed
default-model: $(INSTALLED)
	$(foreach p,$(filter-out $(SHIPPED_PROFILE),$(SHIPPED_MEMBERS)),$(MAKE) PROFILE=$(p) models &&) true
	$(MAKE) PROFILE=$(SHIPPED_PROFILE) ship-model

# (run as PROFILE=$(SHIPPED_PROFILE) by default-model, so that the PATH_ variables are that profile's)
ship-model: $(METRICS)
	rm -rf $(SHIPPED).partial
	$(PY) -m galmass.predict.ensemble $(SHIPPED).partial $(SHIPPED_POSTERIOR) $(foreach p,$(SHIPPED_MEMBERS),configs/$(p).yaml)
	cp $(METRICS) $(SHIPPED).partial/metrics.json
	@# the galaxies it was trained on, so that another profile's tests leave them out
	$(PY) -m galmass.predict.seen $(PATH_DATASET)/index.h5 $(SHIPPED).partial/seen_galaxies.json
	rm -rf $(SHIPPED).old && { [ ! -d $(SHIPPED) ] || mv $(SHIPPED) $(SHIPPED).old; } && mv $(SHIPPED).partial $(SHIPPED) && rm -rf $(SHIPPED).old
	@echo "default model: $(SHIPPED) (members $(SHIPPED_MEMBERS); metrics of $(SHIPPED_PROFILE) beside it)"

bench: $(INSTALLED)
	$(PY) benchmarks/run.py --config $(CONFIG)

clean:
	rm -rf data/*/ results/ models/ build/
