# Two set-up commands: `make run` (install + migrate + serve) and `make test` (install + full suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test demo lint bench soak page-soak install system-packages migrate clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[scale,dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed node_modules/.installed

system-packages:
	./scripts/install-system-packages.sh

migrate: install
	$(BIN)/python manage.py migrate --noinput -v 0

run: migrate
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

# the demo keeps its own database, var/demo.sqlite3 (serve migrates it); DATABASE_URL overrides
demo: install
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT) --simulator

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m bench

soak: migrate
	$(BIN)/python -m bench.soak --minutes $${MINUTES:-10}

page-soak: install system-packages
	$(BIN)/python -m bench.page_soak --minutes $${MINUTES:-10}

clean:
	rm -rf $(VENV) node_modules var
