# Thin wrappers around tasks.py (which also works on Windows: py tasks.py ...).
PYTHON ?= python3

.PHONY: course test lint format exercises
course:
	$(PYTHON) tasks.py course
test:
	$(PYTHON) tasks.py test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
exercises:
	.venv/bin/python -m dlcourse.assign build
