# Corral's developer tasks. `make demo` and `make test` are all a new
# contributor needs; both create .venv and install the project first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= build/demo
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	rm -rf $(DEMO_DIR)
	$(BIN)/corral create irispl $(DEMO_DIR)
	cp examples/irispl/*.py examples/irispl/iris.csv $(DEMO_DIR)/irispl/
	cd $(DEMO_DIR) && ../../$(BIN)/corral createdb --noinput
	cd $(DEMO_DIR) && ../../$(BIN)/corral load
	cd $(DEMO_DIR) && ../../$(BIN)/corral run --sync
	cd $(DEMO_DIR) && ../../$(BIN)/corral check-alerts --sync
	cd $(DEMO_DIR) && ../../$(BIN)/corral stats

test: install
	$(BIN)/python -m flake8 --max-line-length 88 corral.py corral_lib tests benchmarks
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests

lint: install
	$(BIN)/python -m flake8 --max-line-length 88 corral.py corral_lib tests benchmarks

# Throughput next to the plain-sqlite3 floor, parallelism, memory (100k vs
# 1M rows) and start-up; prints each figure and writes bench-results.json.
BENCH_ROWS ?= 200000
bench: install
	$(BIN)/python benchmarks/run.py --rows $(BENCH_ROWS) --json bench-results.json

clean:
	rm -rf build dist .pytest_cache

# --- The single executable -------------------------------------------------
# `make dist` builds dist/corral (PyInstaller, build.spec) with corral.1 and
# SHA256SUMS beside it, then prints its size and start-up time. The build
# runs in its own environment, build/dist-venv, installed from the exact
# versions in requirements-dist.txt: from wheelhouse/ alone when that folder
# exists (see `make wheelhouse`, for building with no network), else from
# PyPI.
DIST_VENV := build/dist-venv
DIST_PY := $(DIST_VENV)/bin/python
DIST_STAMP := $(DIST_VENV)/.installed
DIST_PINS := requirements-dist.txt
WHEELHOUSE := wheelhouse

.PHONY: dist dist-venv man wheelhouse

dist-venv: $(DIST_STAMP)

$(DIST_STAMP): $(DIST_PINS)
	rm -rf $(DIST_VENV)
	$(PYTHON) -m venv $(DIST_VENV)
	if [ -d $(WHEELHOUSE) ]; then \
	  $(DIST_PY) -m pip install --quiet --no-index \
	    --find-links $(WHEELHOUSE) -r $(DIST_PINS); \
	else \
	  $(DIST_PY) -m pip install --quiet -r $(DIST_PINS); \
	fi
	touch $(DIST_STAMP)

# Every wheel the build needs, PyInstaller included, for this machine's
# Python and platform; packages published only as source are built here.
wheelhouse:
	$(PYTHON) -m pip wheel --quiet --wheel-dir $(WHEELHOUSE) -r $(DIST_PINS)
	@echo "wheelhouse/ holds $$(ls $(WHEELHOUSE) | wc -l) wheels; copy it" \
	  "beside the source to build with no network"

man: $(DIST_STAMP)
	$(DIST_PY) tools/build_manpage.py --output corral.1

dist: man
	$(DIST_PY) tools/build_dist.py --out dist/corral
	cp corral.1 dist/corral.1
	cd dist && sha256sum corral corral.1 > SHA256SUMS
	$(PYTHON) tools/startup_bench.py --exe dist/corral
