# Set-up and everyday commands. The virtualenv is created on first use.
# Python 3.12 comes from pyenv through .python-version when pyenv is installed.

PYTHON ?= $(shell pyenv which python 2>/dev/null || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

# Real clients and data for the end-to-end tests, installed under .e2e/ from the npm registry.
CODEX_VERSION := 0.169.0
CODEX := .e2e/node_modules/.bin/codex
OPENAI_NODE_VERSION := 6.30.1
NODE_SDK := .e2e/node_modules/openai/package.json
UNDICI_VERSION := 7.16.0
UNDICI := .e2e/node_modules/undici/package.json
JS_TIKTOKEN_VERSION := 1.0.21
VOCAB := .e2e/o200k_base.tiktoken

.PHONY: start test lint fuzz crash e2e e2e-deps bench bench-deps clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "azt needs Python >= 3.12 (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

start: $(STAMP)  ## run the gateway (make start ARGS=--demo for the built-in simulator)
	$(BIN)/azt start $(ARGS)

test: $(STAMP) $(VOCAB)  ## lint and type-check, then the unit and end-to-end suite
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q $(ARGS)

# `make test` runs a small fuzz sample (AZT_FUZZ=small); this is the full run, at least 10,000
# cases against `azt start` and `azt sim` processes, ending with the table of replies by
# status (tests/fuzz; docs/security.md). AZT_FUZZ_SHRINK=1 shrinks each failure instead.
fuzz: $(STAMP) $(VOCAB)  ## the full fuzz run: every route, raw framing, the proxy listener
	AZT_FUZZ=$${AZT_FUZZ:-full} $(BIN)/pytest -q tests/fuzz $(ARGS)

# Held streams, then kill -9 in the middle of traffic and a restart on the same AZT_HOME
# (benchmarks/crash.py): an intact database and every committed request record kept.
crash: $(STAMP)  ## 1,000 streams held 60 s, then kill -9 and restart (make crash ARGS="--streams 200")
	$(BIN)/python benchmarks/crash.py $(ARGS)

# The Codex CLI and the Node SDK; their tests skip without them.
$(CODEX):
	npm install --prefix .e2e --no-audit --no-fund --loglevel=error @openai/codex@$(CODEX_VERSION)

$(NODE_SDK):
	npm install --prefix .e2e --no-audit --no-fund --loglevel=error openai@$(OPENAI_NODE_VERSION)

$(UNDICI):
	npm install --prefix .e2e --no-audit --no-fund --loglevel=error undici@$(UNDICI_VERSION)

e2e-deps: $(CODEX) $(NODE_SDK) $(UNDICI)

# The o200k_base vocabulary, for machines where tiktoken cannot download it (the test suite
# counts tokens offline with it).
$(VOCAB): $(STAMP)
	mkdir -p .e2e/js-tiktoken
	cd .e2e/js-tiktoken && npm pack --silent js-tiktoken@$(JS_TIKTOKEN_VERSION) >/dev/null && tar xzf js-tiktoken-$(JS_TIKTOKEN_VERSION).tgz
	$(BIN)/azt tokenizer install --from-js-tiktoken .e2e/js-tiktoken/package/dist/ranks/o200k_base.js --output $@

e2e: e2e-deps $(VOCAB)  ## real clients (Codex CLI, Node and Python SDKs) against azt and the simulator
	$(BIN)/pytest -q tests/e2e

# LiteLLM, the peer the latency benchmark compares with, in a virtualenv of its own.
LITELLM_VERSION := 1.106.2
LITELLM := .bench/litellm/bin/litellm

$(LITELLM):
	$(PYTHON) -m venv .bench/litellm
	.bench/litellm/bin/pip install --quiet --upgrade pip
	.bench/litellm/bin/pip install --quiet "litellm[proxy]==$(LITELLM_VERSION)"

bench-deps: $(LITELLM)

bench: $(STAMP) bench-deps  ## every benchmark against azt sim (make bench ARGS="latency --quick")
	$(BIN)/python benchmarks/run.py $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .e2e .bench build dist src/*.egg-info
