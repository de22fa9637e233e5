# The two commands a newcomer needs:  make demo   and   make test
# Both create .venv when it is missing (make setup).

VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NP      ?= 2

.PHONY: setup demo test test-serial test-mpi lint clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup-venv.sh
	@bash scripts/setup-venv.sh "$(VENV)"
	@touch $(STAMP)

demo: setup
	$(BIN)/fem-electrode compare examples/default.toml -o runs/demo

test: setup lint test-serial test-mpi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test-serial: setup
	$(BIN)/python -m pytest -q

test-mpi: setup
	$(BIN)/mpiexec -n $(NP) $(BIN)/python -m pytest -q -m "not serial" -x

clean-venv:
	rm -rf $(VENV)
