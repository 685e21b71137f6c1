# xbarsim: `make demo` and `make test` do their own set-up on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-all bench sysdeps ngspice clean

# Debian's python3 needs python3-venv for `python3 -m venv`.
sysdeps:
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || { \
	  echo "installing python3-venv with apt-get"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv python3-pip; }

# ngspice and its shared library, for the SPICE cross-validation tests.
ngspice:
	@if command -v ngspice >/dev/null && ldconfig -p | grep -q libngspice.so; then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing ngspice with apt-get"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q ngspice libngspice0 libngspice0-dev; \
	else echo "warning: ngspice not found and apt-get unavailable: SPICE tests will be skipped"; fi

$(STAMP): pyproject.toml | sysdeps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m xbarsim.warmup >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/xbarsim demo --out-dir results

test: $(STAMP) ngspice
	$(BIN)/python -m pytest -q

test-all: $(STAMP) ngspice
	$(BIN)/python -m pytest -q -m ""

# Solver benchmark (benchmarks/solver.py); badcrossbar without its plotting dependency pycairo.
bench: $(STAMP) ngspice
	$(BIN)/python -m pip install -q --no-deps badcrossbar pathvalidate sigfig
	$(BIN)/python -m benchmarks.solver --out results/bench_solver.nc

clean:
	rm -rf $(VENV) results .pytest_cache
