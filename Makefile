# billfold — every target needs only Python >= 3.11 and make.
# `make venv` installs billfold with every extra and the dev tools (.[all,dev]).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

# `make demo SERVE=1` then serves the demo's payer pages and prints the cashier's URL
SERVE ?=
demo: venv
	$(BIN)/billfold demo --database-url sqlite:///billfold-demo.db --out out $(if $(SERVE),--serve)

# the suite on every core (pytest-xdist): each worker has its own PostgreSQL database and tmp
# folders; --dist loadfile keeps a module's tests, and its module-scoped fixtures (a browser, a
# served console, generated keys), on one worker
test: venv
	$(BIN)/python -m pytest -q -n auto --dist loadfile

lint: venv
	$(BIN)/ruff check billfold tests benchmarks
	$(BIN)/ruff format --check billfold tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv
	$(BIN)/python benchmarks/confirm.py
	$(BIN)/python benchmarks/reconcile.py
	$(BIN)/python benchmarks/http.py
	$(BIN)/python benchmarks/cli.py

clean:
	rm -rf $(VENV) billfold-demo.db out .pytest_cache .mypy_cache .ruff_cache
