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

clean:
	rm -rf build dist .pytest_cache
