# One entry point for people and CI. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: install system-deps lint test bench demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install FactoryAX with its dev tools

system-deps:  ## Korean font, pdftoppm and an MQTT broker for the tests (apt, when missing)
	bash scripts/system-deps.sh

lint: $(STAMP)  ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: $(STAMP) system-deps  ## the whole test suite, doctests included
	$(BIN)/pytest -q $(ARGS)

bench: $(STAMP)  ## every benchmark; each prints its ratio to a baseline measured in the same run
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

demo: $(STAMP)  ## the main job: simulate a week of a plant and show it
	$(BIN)/factoryax demo $(ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache demo-workspace
