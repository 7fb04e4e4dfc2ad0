# Two set-up commands for a fresh machine: `make demo` and `make test`.
# Each creates (or reuses) .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: test demo lint venv bench clean docs

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,dev,onnx,plot,mpi,docs]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest
	$(MAKE) --no-print-directory docs

# The documentation site (MkDocs + mkdocstrings) into site/; --strict: a broken link, a missing
# page or an unresolved API reference fails the build (about 15 s, so `make test` includes it).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Train a small CNN on the bundled 8x8 digits (progress bar on a terminal); prints the test
# accuracy and where the checkpoint and the loss/accuracy curves were written.
demo: $(STAMP)
	$(PY) -m chainrule train --task digits --model cnn --epochs 10 --seed 0 --out runs/demo

bench: $(STAMP)
	$(PY) benchmarks/bench_overhead.py
	$(PY) benchmarks/bench_import.py

clean:
	rm -rf $(VENV) build dist site *.egg-info
