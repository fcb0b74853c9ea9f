# The task index. `make run` and `make test` need nothing but python3 (>= 3.11) on PATH.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install fmt lint typecheck pytest bench simulate train clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dealnode run

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# A worker per core (at most four): most tests wait on servers and child processes they start.
pytest: $(STAMP)
	$(BIN)/pytest -n auto --maxprocesses 4 --dist worksteal

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

simulate: $(STAMP)
	$(BIN)/dealnode simulate --customers 200000 --out data/processed

train: $(STAMP)
	$(BIN)/dealnode train data/processed/snapshot.parquet

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
