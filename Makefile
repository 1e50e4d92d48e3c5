# WikiStream developer entry points. `make run` and `make test` do all set-up themselves
# (idempotent, cached by stamp files): virtualenv + pinned pip installs, the locally
# pinned AWS CDK CLI (npm, not global), jarjar from Debian, and the local Iceberg jars.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 node_modules/.bin/cdk
JARJAR := /usr/share/java/jarjar.jar
export PYTHONPATH := $(CURDIR)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

# `make run` options (see README, "What make run does")
EVENTS ?= 20000
RATE ?= 0
CYCLES ?= 2
FAULTS ?=
INPUT ?=
# PREWARM=0 skips the scratch cycle that warms the job server before ingestion.
PREWARM ?= 1
# DQ_ENGINE=spark|deequ measures the gates with that engine (default: config dq.engine).
DQ_ENGINE ?=
ENV ?= dev
PYTEST_ARGS ?=

.PHONY: help setup run test lint format unit bench synth reliability inspect clean distclean

help:
	@echo "make run        # the whole local pipeline on embedded defaults (EVENTS= RATE= CYCLES= FAULTS= INPUT=)"
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

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(JARJAR):
	@if [ "$$(id -u)" = "0" ]; then \
	  (apt-get install -y -qq libjarjar-java >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq libjarjar-java)); \
	else \
	  echo "error: jarjar is missing; run: sudo apt-get install -y libjarjar-java" >&2; exit 1; \
	fi

.cache/jars/jars.stamp.json: $(VENV)/.installed $(JARJAR) local_runtime/jars.py
	$(PY) -m local_runtime.jars

setup: $(VENV)/.installed node_modules/.installed .cache/jars/jars.stamp.json

run: setup
	$(PY) -m local_runtime.run --events $(EVENTS) --rate $(RATE) --cycles $(CYCLES) \
	  $(if $(FAULTS),--faults $(FAULTS)) $(if $(INPUT),--input $(INPUT)) \
	  $(if $(filter 0,$(PREWARM)),--no-prewarm) $(if $(DQ_ENGINE),--dq-engine $(DQ_ENGINE))

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict stacks lambdas app.py

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup lint
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
	rm -rf $(VENV) node_modules .cache
