# Two set-up commands for a fresh machine: `make demo` and `make test`.
# Each creates (or reuses) .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: test demo lint venv bench clean docs dist dist-check

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,dev,onnx,plot,mpi,docs,repro]'
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

# The sdist and the wheel into dist/ (`python -m build`: an isolated build that takes
# setuptools from the package index; the wheel is built from the unpacked sdist).
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .

# Check dist/: contents and metadata, then a fresh venv per Python (this one and newer ones found)
# with no extras installs the wheel, imports chainrule and trains digits for one epoch; prints the
# sizes and what pip pulled in. `make test` runs the same checks (tests/packaging/).
dist-check: dist
	$(PY) tests/packaging/clean_install.py --dist dist

clean:
	rm -rf $(VENV) build dist site *.egg-info
