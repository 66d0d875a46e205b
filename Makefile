# Two commands do everything on a fresh machine (python3 + make):
#   make demo   - run the demo against the embedded reference ERP
#   make test   - run every test
# Both create .venv and install the project (editable, with dev extras) on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/erpload demo $(ARGS)

# Browser tests (report.html, web UI) drive Debian's Chromium through Playwright; install it if missing.
BROWSER := /usr/bin/chromium
$(BROWSER):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "browser tests need $(BROWSER): run 'sudo apt-get install chromium'" >&2; exit 1; fi

test: $(STAMP) $(BROWSER)
	$(VENV)/bin/ruff check lib locustfiles tests bench
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check lib locustfiles tests bench
	$(VENV)/bin/ruff format --check lib locustfiles tests bench

bench: $(STAMP)
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info lib/*.egg-info reports .pytest_cache
