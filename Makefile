VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test test-slow test-gpu quality style

setup:
	bash scripts/setup.sh dev

test:
	bash scripts/test.sh

test-slow:
	$(PY) -m pytest -m slow -q

test-gpu:
	$(PY) -m pytest -m gpu -q

quality:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

style:
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .
