# Every job is one target. `make demo` and `make test` work on a fresh clone: they install
# what they need (a venv from requirements-dev.txt, Node 22 and the aws-cdk CLI from package.json).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Node 22 from package.json comes first on PATH: jsii (CDK synth) refuses end-of-life Node.
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
# No AWS account is needed to synth: do not let the CDK CLI probe for EC2 instance credentials.
export AWS_EC2_METADATA_DISABLED := true
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CDK_OUT := cdk.out
TEMPLATE := $(CDK_OUT)/GrantGuard.template.json
# Organization mode, synthesized apart so the single-account template stays the default. The
# ids are examples (the demo builds its own organization on the emulator).
ORG_OUT := cdk.out.org
ORG_TEMPLATE := $(ORG_OUT)/GrantGuard.template.json
ORG_CONTEXT := -c organizationId=o-exampleorg1 \
	-c 'organization={"enabled": true, "targetOus": ["r-exam"], "managementAccount": "123456789012"}'

.PHONY: help install demo demo-org test lint format typecheck unit integration infra synth bench bench-context bench-adversarial bench-trail bench-org catalog clean

help:
	@echo "make demo   - run the local demo on the embedded AWS emulator (installs what it needs)"
	@echo "make demo-org - organization mode on the emulator: 3 member accounts, 2 OUs, a StackSet"
	@echo "make test   - lint, type-check, unit, integration and infra tests"
	@echo "make synth  - synthesize the CloudFormation template into $(CDK_OUT)/ (offline)"
	@echo "make bench  - score all AWS managed policies beside cloudsplaining and parliament"
	@echo "make bench-adversarial - the slowest adversarial documents at IAM's size limits"
	@echo "make bench-trail - backtest's trail reading against the gunzip floor (1M records)"
	@echo "make bench-org - organization mode: 50 accounts, 2,000 events, one throttled noisy account"
	@echo "make catalog- rebuild the IAM action catalog shipped with the Lambda"

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(PY_STAMP) $(NODE_STAMP)

$(TEMPLATE): $(PY_STAMP) $(NODE_STAMP) app.py cdk.json $(shell find infra lambdas -name '*.py' -o -name '*.json' -o -name '*.gz' 2>/dev/null)
	cdk synth --quiet --output $(CDK_OUT) >/dev/null

synth: $(TEMPLATE)
	@echo "synthesized $(TEMPLATE)"

demo: install $(TEMPLATE)
	$(BIN)/grantguard demo --template $(TEMPLATE)

$(ORG_TEMPLATE): $(PY_STAMP) $(NODE_STAMP) app.py cdk.json $(shell find infra lambdas -name '*.py' -o -name '*.json' -o -name '*.gz' 2>/dev/null)
	cdk synth --quiet --output $(ORG_OUT) $(ORG_CONTEXT) >/dev/null

demo-org: install $(ORG_TEMPLATE)
	$(BIN)/grantguard demo-org --template $(ORG_TEMPLATE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

infra: install
	$(BIN)/pytest -q tests/infra

test: lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup tests

bench: install
	$(BIN)/python benchmarks/bench_scoring.py

bench-context: install
	$(BIN)/python benchmarks/bench_context.py --runs 20

bench-adversarial: install
	$(BIN)/python benchmarks/bench_adversarial.py

# A synthetic trail of 1,000,000 records (generated once under $TMPDIR, then reused).
bench-trail: install
	$(BIN)/python benchmarks/bench_trail.py --records 1000000 --workers 2

# Two runs of 2,000 events on the emulator (with the noisy account, then the quiet peer).
bench-org: install
	PYTHONPATH=$(CURDIR) $(BIN)/python benchmarks/bench_org.py --accounts 50 --events 2000 --noisy-share 0.10

catalog: install
	$(BIN)/python scripts/build_catalog.py
	$(BIN)/python scripts/build_arn_types.py

clean:
	rm -rf $(CDK_OUT) $(ORG_OUT) .pytest_cache .mypy_cache .ruff_cache
