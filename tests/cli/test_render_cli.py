"""`gendef render CLIP [--video] [--flow] [--overwrite]` through the real CLI: it renders what is asked,
writes a missing video without --overwrite, never replaces one without it, and prints every path it wrote."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from gendef_core.artifacts.clip import Clip, read_clip_manifest
from gendef_core.clips import save_clip
from gendef_core.warp import pixels_to_offsets


def digests(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir()) if p.is_file()}


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A 16x16 clip of 4 frames translating by whole pixels, with video.mp4 and no flow.mp4."""
    shifts = torch.tensor([[0, 0], [2, 0], [-1, 3], [3, -2]], dtype=torch.float32)
    offsets = pixels_to_offsets(shifts.view(-1, 2, 1, 1).expand(-1, 2, 16, 16), (16, 16)).contiguous()
    canonical = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return save_clip(Clip(canonical=canonical, offsets=offsets, fps=Fraction(25), seed=0, source="test"),
                     tmp_path / "clip")


def test_existing_video_needs_overwrite(run_cli, clip: Path) -> None:
    before = digests(clip)
    r = run_cli("render", clip)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == f"error: {clip / 'video.mp4'} already exists; pass --overwrite to render it again\n"
    assert digests(clip) == before

    r = run_cli("render", clip, "--overwrite")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{clip / 'video.mp4'}\n"
    assert r.stderr == f"rendered video.mp4 (4 frames, 16x16, crf 18) in {clip}\n"


def test_missing_video_is_repaired_without_overwrite(run_cli, clip: Path) -> None:
    (clip / "video.mp4").unlink()
    r = run_cli("render", clip, "-q")
    assert r.exit_code == 0, r.stderr
    assert (r.stdout, r.stderr) == (f"{clip / 'video.mp4'}\n", "")
    assert (clip / "video.mp4").is_file()


def test_flow_alone_writes_only_flow(run_cli, clip: Path) -> None:
    video = (clip / "video.mp4").read_bytes()
    r = run_cli("render", clip, "--flow", "--flow-max", "2")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{clip / 'flow.mp4'}\n"
    assert r.stderr == f"rendered flow.mp4 (3 frames, full colour at 2 px) in {clip}\n"
    assert (clip / "video.mp4").read_bytes() == video  # not rebuilt
    assert read_clip_manifest(clip)["videos"]["flow.mp4"] == {"num_frames": 3, "flow_max": 2.0}

    before = digests(clip)
    r = run_cli("render", clip, "--flow")  # flow.mp4 exists now
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == f"error: {clip / 'flow.mp4'} already exists; pass --overwrite to render it again\n"
    assert digests(clip) == before


def test_video_and_flow_print_both_paths(run_cli, clip: Path) -> None:
    before = digests(clip)
    r = run_cli("render", clip, "--video", "--flow")  # video.mp4 exists: nothing is written, not even flow.mp4
    assert (r.exit_code, r.stdout) == (1, "")
    assert "already exists; pass --overwrite" in r.stderr
    assert digests(clip) == before

    (clip / "video.mp4").unlink()
    r = run_cli("render", clip, "--video", "--flow")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{clip / 'video.mp4'}\n{clip / 'flow.mp4'}\n"
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("rendered video.mp4 (4 frames")

    r = run_cli("render", clip, "--video", "--flow", "--overwrite", "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["paths"] == [str(clip / "video.mp4"), str(clip / "flow.mp4")]
    assert report["videos"]["video.mp4"] == {"num_frames": 4}
    assert report["videos"]["flow.mp4"]["num_frames"] == 3
    assert sorted(read_clip_manifest(clip)["videos"]) == ["flow.mp4", "video.mp4"]


@pytest.mark.parametrize("args, phrase", [(("--crf", "60"), "--crf must be in 0..51, got 60"),
                                          (("--flow", "--flow-max", "0"), "--flow-max must be a positive number")])
def test_bad_options_are_usage_errors(run_cli, clip: Path, args: tuple[str, ...], phrase: str) -> None:
    before = digests(clip)
    r = run_cli("render", clip, "--overwrite", *args)
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith(f"error: {phrase}")
    assert digests(clip) == before


def test_missing_flow_names_render_flow_and_render_repairs_it(run_cli, clip: Path) -> None:
    assert run_cli("render", clip, "--flow", "-q").exit_code == 0
    (clip / "flow.mp4").unlink()
    r = run_cli("info", clip)
    assert r.exit_code == 1
    assert r.stderr == f"error: {clip / 'flow.mp4'} is missing; run `gendef render {clip} --flow` to rebuild it\n"
    r = run_cli("render", clip, "--flow", "-q")  # no --overwrite: the video is missing
    assert (r.exit_code, r.stdout) == (0, f"{clip / 'flow.mp4'}\n")
    assert run_cli("info", clip).exit_code == 0
