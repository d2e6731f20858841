# Every target works on a fresh machine with Python 3.11+: the venv is created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export MLFLOW_DISABLE_TELEMETRY := true
export PYTHONHASHSEED := 0

.PHONY: demo test lint bench bench-peers clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Debian packages the tests use: headless Chromium opens the HTML report, Noto CJK draws
# Chinese in figures. Installed only when missing and apt-get can run (root); otherwise the
# browser tests skip and say why.
system-deps:
	@if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "note: chromium / fonts-noto-cjk missing and cannot be installed here; browser tests will skip"; fi

demo: $(STAMP)
	$(BIN)/visitrisk demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench notebooks
	$(BIN)/ruff format --check src tests bench notebooks

test: lint system-deps
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# causalml, scikit-uplift and EconML live in their own venv, never in .venv: the comparison
# (bench/bench_peers.py) writes bench/results/peers.json and docs/benchmarks.md.
PEERS_VENV := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed

$(PEERS_STAMP): pyproject.toml
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -e ".[bench]"
	touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(PEERS_VENV)/bin/python -m bench.bench_peers

clean:
	rm -rf $(VENV) $(PEERS_VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
