# One-command set-up: each target creates .venv (with everything tk needs) when it is missing.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tk-installed

.PHONY: demo test test-slow test-acceptance test-faults bench install clean

# TORCH_INDEX: a package index for PyTorch alone, e.g. https://download.pytorch.org/whl/cpu for the
# ~200 MB CPU build instead of the several-GB CUDA build that PyPI serves on Linux x86_64.
TORCH_INDEX ?=

$(STAMP): pyproject.toml
	@echo "Installing tk and what it needs into $(VENV). PyTorch is the large part: on Linux x86_64 the"
	@echo "package index serves a build that carries CUDA's libraries (several GB to fetch and unpack;"
	@echo "pip then sits quietly at 'Installing collected packages' for minutes). On a machine without"
	@echo "an NVIDIA GPU, the CPU build is ~10x smaller: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu"
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install torch torchvision --index-url $(TORCH_INDEX))
	@# tk 0.1 was installed as the distribution "tk": remove that editable install of this checkout first
	@# (tk-train is the same code; both would register every plugin twice).
	$(BIN)/python -c "import importlib.metadata as m, sys; d = m.distribution('tk'); sys.exit(0 if 'tk_screens' in (d.read_text('top_level.txt') or '') or (d.read_text('direct_url.json') or '').find('$(CURDIR)') >= 0 else 1)" 2>/dev/null && $(BIN)/python -m pip uninstall -y tk || true
	rm -rf tk.egg-info
	$(BIN)/python -m pip install -e '.[dev,tune,tensorboard,quality,video]'
	touch $(STAMP)

install: $(STAMP)

## Train the bundled quickstart recipe (generated screen-state data, small model, CPU-friendly).
demo: $(STAMP)
	$(BIN)/tk run quickstart

## The test suite (what CI runs): the import contracts of pyproject.toml first, then pytest.
test: $(STAMP)
	$(BIN)/lint-imports
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 -m "not slow and not macos"

## Acceptance runs that train a real model for minutes (CI runs these after `make test`).
test-acceptance: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m slow tests/export/test_unknown_class.py

## Heavier sweeps (fault injection at many kill points, longer runs).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

## The whole fault suite, kill sweep included, then its figures written into docs/reliability.md.
FIGURES ?= /tmp/tk-fault-figures.jsonl
test-faults: $(STAMP)
	rm -f $(FIGURES)
	OMP_NUM_THREADS=1 TK_FAULT_FIGURES=$(FIGURES) $(BIN)/python -m pytest -q -n 2 -m "not macos" tests/faults
	$(BIN)/python tests/faults/figures.py $(FIGURES) --update docs/reliability.md

bench: $(STAMP)
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) runs exports/*/ .pytest_cache
