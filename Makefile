# Kinflow: `make run` and `make test` are the only commands a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUNDLE := webapp/static/build/modeller.js

.PHONY: install run test bench screenshots lint format clean

$(STAMP): pyproject.toml $(wildcard package-lock.json)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@if [ -f package.json ]; then npm ci --no-audit --no-fund; fi
	touch $(STAMP)

# The modeller's script, bundled by esbuild from frontend/ and the pinned npm packages; built
# here, never committed (.gitignore).
$(BUNDLE): $(STAMP) $(wildcard frontend/*.js)
	npm run build

install: $(STAMP) $(BUNDLE)

run: install
	mkdir -p instance
	$(BIN)/kinflow init-db
	$(BIN)/kinflow deploy
	$(BIN)/kinflow demo
	@echo "Kinflow is starting at http://127.0.0.1:5000/ with its timer scheduler (Ctrl-C stops it)."
	KINFLOW_SCHEDULER_IN_APP=1 $(BIN)/kinflow run --host 127.0.0.1 --port 5000

# One pytest-xdist worker more than there are cores: much of the suite waits on the browser and
# PostgreSQL. Work stealing keeps every worker busy to the end (the browser tests are long).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

test: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

bench: install
	$(BIN)/python -m benchmarks

# The README's screenshots are taken by the browser tests; this refreshes them in docs/screenshots.
screenshots: install
	KINFLOW_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules webapp/static/build
