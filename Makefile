# Set-up is part of every target: a fresh machine needs only Python 3.10+ and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: demo test test-fast bench browser clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[app,video,motion,test,cluster]"
	touch $@

# The web UI on the bundled examples, at http://$(HOST):$(PORT)
demo: $(VENV)/.installed
	$(PY) -m app --host $(HOST) --port $(PORT)

# Debian's Chromium for the end-to-end browser test (never a browser download); needs root or sudo.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: install Debian's chromium (sudo apt-get install chromium) to run the browser test"; fi; }

# The linter (configuration in pyproject.toml), then every test, the slow ones included (what CI runs).
test: $(VENV)/.installed browser
	$(PY) -m ruff check .
	$(PY) -m pytest -q -ra --durations=15

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_metric.py
	$(PY) benchmarks/bench_geometry.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
