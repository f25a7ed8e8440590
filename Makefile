# The inner loop, one command each (the full gate is `bash tests/run.sh`, which .ci/run calls):
#   make lint       formatting, clippy, ruff, mypy --strict; no build
#   make build-dev  the extension built into .venv in place (release profile, no LTO): python/
#                   edits need no rebuild, Rust edits relink in seconds once the cache is warm
#   make test-rs    the Rust core's tests (cargo test, no Python)
#   make test-py    pytest on the dev build, the slow tests left out (TESTS picks files,
#                   PYTEST_ARGS sets options: make test-py TESTS=tests/test_cli.py PYTEST_ARGS=-x)
#   make test       all of the above
# Run `pip install --group test` once first (see docs/development.md).
PYTHON ?= python3
VENV ?= .venv
export CARGO_TARGET_DIR ?= $(CURDIR)/target
TESTS ?= tests
PYTEST_ARGS ?= -m "not slow"
PY_SOURCES = python tests benchmarks docs/check_api.py

.PHONY: lint build-dev test-rs stubtest test-py test

lint:
	cargo fmt --check
	cargo clippy --all-targets --all-features --quiet -- -D warnings
	$(PYTHON) -m ruff check $(PY_SOURCES)
	$(PYTHON) -m ruff format --check $(PY_SOURCES)
	$(PYTHON) -m mypy --config-file pyproject.toml python/dwcp_data

$(VENV)/bin/python:
	$(PYTHON) -m venv --system-site-packages $(VENV)

build-dev: $(VENV)/bin/python
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(PYTHON) -m maturin develop --release

test-rs:
	cargo test --quiet

stubtest:
	cd "$$(mktemp -d)" && $(CURDIR)/$(VENV)/bin/python -m mypy.stubtest dwcp_data._core

test-py:
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m pytest $(TESTS) $(PYTEST_ARGS)

test: lint test-rs build-dev stubtest test-py
