# MCS on this machine. PostgreSQL, Redis and Mosquitto must be running on 127.0.0.1;
# `make up` says which one is down and how to start it.
#
#   make up     install into .venv, start every process (run dir .run/), load and run the demo
#   make down   stop everything `make up` started
#   make test   unit, integration and e2e tests (e2e starts its own stack on port 8180), the
#               frontend's vitest and the browser tests (their own stack on port 8380)
#   make frontend  build the browser app into frontend/dist (served at /mcs/ui/)
#   make lint   ruff

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUN_DIR := .run
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: up down test lint install

$(PY):
	$(PYTHON) -m venv $(VENV)

# scripts/install.sh is also what the Dockerfile runs: the tested install and the shipped one are one script.
$(VENV)/.installed: $(PY) requirements.txt mcs_provider/pyproject.toml scripts/install.sh
	sh scripts/install.sh $(PY)
	touch $@

install: $(VENV)/.installed

up: install frontend
	$(PY) scripts/stack.py up --run-dir $(RUN_DIR) --port $(PORT)
	$(PY) scripts/load_demo.py --base-url http://127.0.0.1:$(PORT) \
		--password-file $(RUN_DIR)/simple_auth_manager_passwords.json
	@echo
	@echo "MCS is running."
	@$(PY) scripts/stack.py info --run-dir $(RUN_DIR) --port $(PORT)
	@echo "Stop it with: make down"

down:
	@if [ -x $(PY) ]; then $(PY) scripts/stack.py stop --run-dir $(RUN_DIR); else echo "no $(VENV): nothing was started"; fi

# pytest exits 5 when it collected no test: that fails `make test` too, with a word on why.
test: install frontend-test
	$(PY) -m pytest tests -q $(PYTEST_ARGS) || { status=$$?; \
		if [ $$status -eq 5 ]; then echo "pytest ran no test"; fi; exit $$status; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# ---- the browser app (frontend/): built for the plugin, checked with ESLint, Prettier and vitest.
# tests/browser drives it in Debian's Chromium with Playwright's Python client (no browser download).
.PHONY: frontend frontend-test

frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run build

frontend-test: frontend $(VENV)/.installed
	cd frontend && npm run lint && npm test
