# Two entry points for a fresh clone: `make demo` and `make test`.
# Each creates .venv with the system's python3 (3.11+) when missing and installs
# the project (editable) with what it needs; re-installs when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test bench lint shell clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "photoreactor needs Python 3.11 or newer, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,queue]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/photoreactor demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .

shell: $(STAMP)
	$(BIN)/photoreactor shell

clean:
	rm -rf $(VENV) build dist *.egg-info
