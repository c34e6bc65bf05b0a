"""One rule for the paths a command prints: the path as the user gave it, on stdout and in --json.

Every command runs from a fresh working directory with relative input and output paths; what it
prints must be those paths, never absolute ones built from them (only manifests and records inside
artifacts may resolve). Each command that writes something also prints a one-line summary on stderr,
and stdout carries the result alone.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gendef_core import api


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, tiny_ckpt: Path) -> Path:
    """Small inputs every command can use: a 16 px dataset, a sampled clip, points, a mask, an overlay, a video."""
    from gendef_core.data.video_io import write_video
    from tests.conftest import gradient_video

    base = tmp_path_factory.mktemp("inputs")
    api.synth_dataset("clouds", base / "data", num_videos=2, num_frames=6, resolution=16, seed=0)
    api.sample(base / "clip", ckpt=tiny_ckpt, frames=4, seed=0, device="cpu")
    shutil.copytree(tiny_ckpt, base / "ckpt")
    (base / "points.json").write_text("[[4, 4], [10, 8]]")
    mask = np.zeros((16, 16), np.uint8)
    mask[4:10, 4:10] = 1
    Image.fromarray(mask, "L").save(base / "mask.png")
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[2:6, 2:6] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(base / "overlay.png")
    (base / "videos").mkdir()
    write_video(base / "videos" / "a.mp4", [gradient_video(8, 16, 16)], 25)
    write_video(base / "video.mp4", [gradient_video(4, 16, 16)], 25)
    return base


# (command line with {IN} for the inputs directory, the path stdout must print, JSON key -> expected value)
CASES: dict[str, tuple[list[str], str, dict[str, Any]]] = {
    "sample": (["sample", "--ckpt", "{IN}/ckpt", "--frames", "3", "--out", "out/c"], "out/c",
               {"out": "out/c", "clips": ["out/c"]}),
    "sample --num": (["sample", "--ckpt", "{IN}/ckpt", "--frames", "2", "--num", "2", "--out", "out/cs"], "out/cs",
                     {"out": "out/cs", "clips": ["out/cs/000000", "out/cs/000001"]}),
    "resample": (["resample", "{IN}/clip", "--frames", "3", "--out", "out/r"], "out/r",
                 {"clip": "out/r", "from": "{IN}/clip"}),
    "edit": (["edit", "{IN}/clip", "--scribble", "{IN}/overlay.png", "--out", "out/e"], "out/e",
             {"clip": "out/e", "from": "{IN}/clip"}),
    "edit (default out)": (["edit", "clip", "--scribble", "{IN}/overlay.png"], "clip-edited",
                           {"clip": "clip-edited", "from": "clip"}),
    "segment": (["segment", "{IN}/clip", "--mask", "{IN}/mask.png", "--out", "out/m"], "out/m",
                {"path": "out/m", "clip": "{IN}/clip"}),
    "segment (default out)": (["segment", "clip", "--mask", "{IN}/mask.png"], "clip-masks",
                              {"path": "clip-masks", "clip": "clip"}),
    "flow": (["flow", "{IN}/clip", "--out", "out/f"], "out/f", {"path": "out/f", "clip": "{IN}/clip"}),
    "flow (default out)": (["flow", "clip"], "clip-flow", {"path": "clip-flow", "clip": "clip"}),
    "track": (["track", "{IN}/clip", "--points", "{IN}/points.json", "--out", "out/t.json"], "out/t.json",
              {"tracks": "out/t.json"}),
    "fit": (["fit", "{IN}/video.mp4", "--out", "out/fit", "--quality", "fast", "--size", "16"], "out/fit",
            {"out": "out/fit"}),
    "data synth": (["data", "synth", "--kind", "clouds", "--num-videos", "1", "--frames", "3", "--resolution", "16",
                    "--out", "out/d"], "out/d", {"path": "out/d"}),
    "data prepare": (["data", "prepare", "{IN}/videos", "--resolution", "16", "--min-frames", "2", "--out",
                      "out/p"], "out/p", {"path": "out/p"}),
    "data clip": (["data", "clip", "{IN}/data", "--video", "0", "--out", "out/dc"], "out/dc", {"path": "out/dc"}),
    "export": (["export", "{IN}/ckpt", "--out", "out/x"], "out/x", {}),
    "pretrain": (["pretrain", "--data", "{IN}/data", "--out", "out/run", "--preset", "tiny", "--steps", "1"],
                 "out/run/checkpoints/step-00000001",
                 {"run": "out/run", "checkpoint": "out/run/checkpoints/step-00000001"}),
}
NO_JSON = {"export"}  # prints its path only
NO_SUMMARY: set[str] = set()  # every command here reports a summary


def _fill(value: Any, inputs: str) -> Any:
    if isinstance(value, str):
        return value.replace("{IN}", inputs)
    if isinstance(value, list):
        return [_fill(v, inputs) for v in value]
    return value


def _strings(doc: Any) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in _strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return []


def _relative_inputs(inputs: Path, cwd: Path) -> str:
    return os.path.relpath(inputs, cwd)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("as_json", [False, True])
def test_printed_paths_are_the_paths_given(name: str, as_json: bool, inputs: Path, tmp_path: Path, run_cli,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if as_json and name in NO_JSON:
        pytest.skip(f"{name} has no --json")
    args, stdout_path, keys = CASES[name]
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    rel = _relative_inputs(inputs, work)
    if "(default out)" in name:  # the default output is beside the input: a clip inside the cwd
        shutil.copytree(inputs / "clip", work / "clip")
    r = run_cli(*[_fill(a, rel) for a in args], *(["--json"] if as_json else []))
    assert r.exit_code == 0, r.stderr
    expected_stdout = _fill(stdout_path, rel)
    if not as_json:
        assert r.stdout == expected_stdout + "\n"
    else:
        doc = json.loads(r.stdout)
        for key, value in keys.items():
            assert doc[key] == _fill(value, rel), key
        absolute = [s for s in _strings(doc) if s.startswith(str(work)) or s.startswith(str(inputs))
                    or s.startswith(str(work.resolve())) or s.startswith(str(inputs.resolve()))]
        assert absolute == [], f"absolute paths in --json: {absolute}"
    # a one-line summary on stderr (no terminal: no progress bars), the result alone on stdout
    lines = [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert lines or name in NO_SUMMARY, f"{name} printed no summary on stderr"
    assert str(work) not in r.stderr and str(inputs.resolve()) not in r.stderr


@pytest.mark.parametrize("name", ["resample", "edit", "segment", "flow", "sample"])
def test_quiet_prints_no_summary(name: str, inputs: Path, tmp_path: Path, run_cli,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    args, stdout_path, _ = CASES[name]
    monkeypatch.chdir(tmp_path)
    rel = _relative_inputs(inputs, tmp_path)
    r = run_cli(*[_fill(a, rel) for a in args], "--quiet")
    assert r.exit_code == 0 and r.stdout == _fill(stdout_path, rel) + "\n"
    assert [line for line in r.stderr.splitlines() if not line.startswith("warning:")] == []


def test_eval_and_info_report_the_paths_given(inputs: Path, tmp_path: Path, run_cli,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = _relative_inputs(inputs, tmp_path)
    r = run_cli("eval", "--data", f"{rel}/data", "--fake", f"{rel}/clip", "--metrics", "motion", "--motion-videos",
                "1", "--motion-frames", "4", "--no-cache", "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["data"] == f"{rel}/data" and report["source"]["fake"] == f"{rel}/clip"
    for path in ("clip", "data", "ckpt"):
        r = run_cli("info", f"{rel}/{path}")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["path"].startswith(f"{rel}/{path}")
