# workbook: executed data design. `make docs` and `make test` bootstrap everything else.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# jupysql's telemetry and update check stay off: nothing here calls the network.
export PLOOMBER_STATS_ENABLED := false
export PLOOMBER_VERSION_CHECK_DISABLED := true
export PYDEVD_DISABLE_FILE_VALIDATION := 1

LAB_ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

SF ?= 0.1
SEED ?= 42

.PHONY: help setup dot docs check-docs test fuzz lint format lab data bench-data bench-patterns bench-migration fault-injection claims-stability clean distclean

help: ## list every target
	@echo "usage: make <target>"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP) dot ## create .venv, install requirements.txt, make sure Graphviz 'dot' is present

$(STAMP): requirements.txt pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m workbook.gitfilter
	@touch $(STAMP)

dot: ## install Graphviz's 'dot' with the system package manager when it is missing
	@command -v dot >/dev/null 2>&1 && exit 0; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing graphviz with apt-get" >&2; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	elif command -v brew >/dev/null 2>&1; then brew install graphviz; \
	else echo "error: Graphviz 'dot' is missing: install graphviz (apt-get install graphviz, brew install graphviz or conda install -c conda-forge graphviz) and re-run make" >&2; exit 1; fi; \
	command -v dot >/dev/null 2>&1 || { echo "error: Graphviz 'dot' is still missing after installing graphviz" >&2; exit 1; }

docs: setup ## execute changed notebooks (reuses unchanged ones from .cache/docs/) and export docs/helix/02-design/data-design.md; NO_CACHE=1 executes all
	$(if $(NO_CACHE),WORKBOOK_DOCS_NO_CACHE=1 )$(PY) -m workbook docs

check-docs: setup ## regenerate the document in a temp folder, without the cache; fail if the committed one differs
	$(PY) -m workbook check-docs

test: setup ## run the test suite (pytest); hypothesis draws fixed examples (derandomized profile)
	$(PY) -m pytest -q

fuzz: setup ## property tests with many random examples (FUZZ_EXAMPLES=1000); prints any falsifying example
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m hypothesis --hypothesis-show-statistics

lint: setup ## ruff lint and format check
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

format: setup ## ruff format and autofix
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

data: setup ## generate synthetic data as Parquet + manifest: make data SF=0.1 SEED=42
	$(PY) -m workbook data generate --sf=$(SF) --seed=$(SEED)

bench-data: setup ## benchmark generation, a Faker baseline, PostgreSQL COPY and peak memory (prints JSON)
	$(PY) -m workbook.bench

bench-patterns: setup ## audit trigger cost on PostgreSQL: single-row updates/s with and without it (prints JSON)
	$(PY) -m workbook.bench_patterns

.PHONY: bench-queries
bench-queries: setup ## read patterns' first-page p50/p95 on both engines at SF 1 vs the seed's, bad search input; SF10=1 adds SF 10 (prints JSON)
	$(PY) -m workbook.bench_queries $(if $(filter-out 0,$(SF10)),--sf10)

.PHONY: bench-rls
bench-rls: setup ## the cost of row-level security on the user's-projects pattern at SF 0.1 and SF 1: medians with and without, their ratio (prints JSON)
	$(PY) -m workbook.bench_security

bench-migration: setup ## the seed's tags migration vs the design's non-blocking form at SF 0.1 and SF 1: locks held, write and read stalls (prints JSON)
	$(PY) -m workbook.bench_migration

fault-injection: setup ## fail and kill -9 the runner after every statement of every migration on both engines; catalog as before, retry converges (prints JSON)
	$(PY) -c "import sys, workbook.faults as f; sys.exit(f.main())"

claims-stability: setup ## rebuild the Access Patterns evidence 20 times (same seed, then new seeds) and count claims that flip (prints JSON)
	$(PY) -m workbook.stability

lab: setup ## JupyterLab on notebooks/, opening start-here.ipynb (loopback only, no outbound calls, no news pop-up)
	JUPYTER_CONFIG_PATH="$(CURDIR)/src/workbook/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --no-browser $(LAB_ROOT_FLAG) \
	  --ServerApp.ip=127.0.0.1 --LabApp.extension_manager=readonly \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate --LabApp.news_url=None \
	  --LabApp.default_url=/lab/tree/start-here.ipynb $(LAB_ARGS)

clean: ## remove generated data, databases and caches (keeps .venv)
	find data -type f ! -name .gitkeep -delete
	rm -rf .pytest_cache .ruff_cache .hypothesis .cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

distclean: clean ## also remove .venv
	rm -rf $(VENV)
