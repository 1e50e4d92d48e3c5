# WikiStream developer entry points. `make run` and `make test` do all set-up themselves
# (idempotent, cached by stamp files): virtualenv + pinned pip installs, checkov in its
# own virtualenv, the locally pinned AWS CDK CLI and IAM simulator (npm, not global), and
# every jar of the JVM manifest jvm/pom.xml (resolved with Maven from Maven Central into
# .cache/jars/<bundle>/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 node_modules/.bin/cdk
JVM_MANIFEST := $(shell find jvm -name pom.xml 2>/dev/null)
export PYTHONPATH := $(CURDIR)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

# `make run` options (see README, "What make run does")
# Paced by default (~90 s of replay) so the live console shows series moving and >= 3 cycles.
EVENTS ?= 20000
RATE ?= 220
CYCLES ?= 3
FAULTS ?=
INPUT ?=
# PREWARM=0 skips the scratch cycle that warms the job server before ingestion.
PREWARM ?= 1
# DQ_ENGINE=spark|deequ measures the gates with that engine (default: config dq.engine).
DQ_ENGINE ?=
ENV ?= dev
PYTEST_ARGS ?=

.PHONY: help setup browser run test lint format unit bench synth reliability inspect clean distclean

help:
	@echo "make run        # the whole local pipeline, live console on 127.0.0.1 (EVENTS= RATE= CYCLES= FAULTS= INPUT= CONSOLE_PORT=)"
	@echo "make test       # lint + type-check + every test tier (unit, component, infra, e2e)"
	@echo "make lint       # ruff lint + format check, mypy strict on stacks/ and lambdas/"
	@echo "make bench      # benchmarks; prints ratios, writes bench/results/latest.json"
	@echo "make synth      # cdk synth every environment offline (ENV=dev|staging|prod for one)"
	@echo "make reliability# fault scenarios table (crash/restart, disconnects, replays)"
	@echo "make inspect ARGS='tables'  # list tables / snapshots / run SQL on local tables"
	@echo "make clean      # delete local data (.wikistream); distclean also removes caches"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.3.1
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	@touch $@

# checkov (tests/infra/test_checkov.py) lives in its own venv: its dependencies clash
# with the pins in requirements*.txt (boto3/botocore among them).
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON_SYS) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip==24.3.1
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.cache/jars/jars.stamp.json: $(VENV)/.installed $(JVM_MANIFEST) local_runtime/jars.py
	@command -v mvn >/dev/null || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get install -y -qq maven >/dev/null 2>&1 || \
	    (apt-get update -qq && apt-get install -y -qq maven); \
	  else echo "error: Maven is missing; run: sudo apt-get install -y maven" >&2; exit 1; fi; }
	$(PY) -m local_runtime.jars

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed .cache/jars/jars.stamp.json

# The browser test's Chromium and ChromeDriver: Debian's packages, never a downloaded browser.
BROWSER_BINS := /usr/bin/chromium /usr/bin/chromedriver
$(BROWSER_BINS):
	@if [ "$$(id -u)" = "0" ]; then \
	  (apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)); \
	else \
	  echo "error: Chromium is missing; run: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; \
	fi

browser: $(BROWSER_BINS)

run: setup
	$(PY) -m local_runtime.run --events $(EVENTS) --rate $(RATE) --cycles $(CYCLES) $(if $(CONSOLE_PORT),--console-port $(CONSOLE_PORT)) \
	  $(if $(FAULTS),--faults $(FAULTS)) $(if $(INPUT),--input $(INPUT)) \
	  $(if $(filter 0,$(PREWARM)),--no-prewarm) $(if $(DQ_ENGINE),--dq-engine $(DQ_ENGINE))

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict stacks lambdas app.py

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup browser lint
	$(PY) -m pytest $(PYTEST_ARGS)

unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.run $(BENCH_ARGS)

synth: setup
	@for e in $(if $(filter command line,$(origin ENV)),$(ENV),dev staging prod); do \
	  echo "== cdk synth env=$$e"; \
	  $(CDK) synth --quiet -c env=$$e -o cdk.out/$$e || exit 1; \
	done

reliability: setup
	$(PY) -m bench.reliability $(RELIABILITY_ARGS)

inspect: setup
	$(PY) -m local_runtime.inspect $(ARGS)

clean:
	rm -rf .wikistream cdk.out

distclean: clean
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .cache
