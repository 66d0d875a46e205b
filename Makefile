# Two commands do everything on a fresh machine (python3 + make):
#   make demo   - run the demo against the embedded reference ERP
#   make test   - run every test
# Both create .venv and install the project (editable, with dev extras) on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=
PYTEST_ARGS ?=
# Concurrent pytest processes (tests/parallel.py); JOBS=1 runs one plain pytest. 3 from a measurement
# on 2 cores (figures in tests/parallel.py): the suite mostly waits on real processes, 3 slices cut the
# integration tier from 225 s to 78 s using 0.7 of 2 cores; a 4th added nothing there (its largest file
# is the floor) and would put the timing-sensitive e2e tests near CPU saturation.
JOBS ?= 3

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/erpload demo $(ARGS)

# System tools some tests drive, from Debian's packages, installed when missing (CI runs as root):
# chromium (report.html and web UI tests), docker-compose v1 (`config` validates docker-compose.yml
# without an engine), iproute2 (network namespaces as hosts in the multi-host test), postgresql (the
# run-history store on a real PostgreSQL, started by the test on loopback), prometheus (scrapes a run's
# /metrics in a test), jq (the CI-template tests run the workflows' gh --jq steps).
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/docker-compose /usr/sbin/ip /usr/bin/pg_ctlcluster /usr/bin/prometheus /usr/bin/jq
SYSTEM_PKGS  := chromium docker-compose iproute2 postgresql prometheus jq
.system-tools-stamp:
	@missing=""; for f in $(SYSTEM_TOOLS); do [ -x "$$f" ] || [ -x "/bin/$$(basename $$f)" ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PKGS) >/dev/null; \
	  else echo "tests need $(SYSTEM_PKGS): run 'sudo apt-get install --no-install-recommends $(SYSTEM_PKGS)'" >&2; exit 1; fi; \
	fi
	@touch $@

# Static checks first (seconds): lint, formatting, the import contract in pyproject.toml.
test: $(STAMP) .system-tools-stamp
	$(VENV)/bin/ruff check lib tests bench
	$(VENV)/bin/ruff format --check lib tests bench
	$(VENV)/bin/lint-imports --no-cache
	$(PY) tests/parallel.py -j $(JOBS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check lib tests bench
	$(VENV)/bin/ruff format --check lib tests bench
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) .system-tools-stamp build *.egg-info lib/*.egg-info reports .pytest_cache
