"""Through the real CLI: synth -> prepare (own MP4s, frame folders) -> frames in memory; clip -> render."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from gendef_core.artifacts.clip import load_clip
from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth, read_video_frames
from gendef_core.data.datasets import load_video_frames, sample_frame_times
from gendef_core.data.images import to_uint8
from gendef_core.data.video_io import read_video, write_video
from gendef_core.warp import warp


def test_version_and_help_in_a_subprocess() -> None:
    env = {**os.environ, "CI": "1"}
    out = subprocess.run([sys.executable, "-m", "gendef_cli", "--version"], capture_output=True, text=True,
                         env=env, check=True)
    from gendef_core import __version__

    assert out.stdout.strip() == f"gendef {__version__}"
    helptext = subprocess.run([sys.executable, "-m", "gendef_cli", "--help"], capture_output=True, text=True,
                              env=env, check=True).stdout
    for command in ("data", "render", "info"):
        assert command in helptext


def test_help_does_not_import_torch() -> None:
    code = "import sys; from gendef_cli.main import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_synth_prepare_batches(tmp_path: Path, run_cli: Callable[..., object]) -> None:
    data = tmp_path / "synth"
    r = run_cli("data", "synth", "--kind", "sprites", "--num-videos", "3", "--frames", "12", "--resolution", "16",
                "--seed", "7", "--out", data, "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["num_videos"], summary["num_frames"], summary["resolution"]) == (3, 36, 16)
    info = load_dataset_info(data)
    assert info.ground_truth == {"kind": "sprites", "backward_map": False}
    gt = load_ground_truth(info, "000000")
    assert gt.tracks.shape == (12, 64, 2) and bool(gt.visible[0].all())

    # (a) prepare from MP4s written by the project itself.
    videos = tmp_path / "mp4s"
    videos.mkdir()
    originals = {v.name: read_video_frames(info, v.name) for v in info.videos}
    for name, frames in originals.items():
        write_video(videos / f"{name}.mp4", [frames], info.fps)
    r = run_cli("data", "prepare", videos, "--out", tmp_path / "from_mp4", "--resolution", "16", "--min-frames", "8")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "from_mp4")
    prepared = load_dataset_info(tmp_path / "from_mp4")
    assert [v.num_frames for v in prepared.videos] == [12, 12, 12] and prepared.fps == 25
    again = read_video_frames(prepared, "000001")
    assert np.abs(again.astype(int) - originals["000001"].astype(int)).mean() < 12  # lossy H.264 at 16 px

    # (b) prepare from a frame-folder tree (StyleGAN-V layout): lossless, so bit-exact at the same size.
    r = run_cli("data", "prepare", data / "videos", "--out", tmp_path / "from_frames", "--resolution", "16",
                "--min-frames", "8", "--fps", "25")
    assert r.exit_code == 0, r.stderr
    from_frames = load_dataset_info(tmp_path / "from_frames")
    assert np.array_equal(read_video_frames(from_frames, "000002"), originals["000002"])

    # (c) the frames training samples from: every frame in memory, sparse frame sets of one video.
    vf = load_video_frames(tmp_path / "from_frames")
    assert vf.frames.shape == (36, 3, 16, 16) and vf.lengths.tolist() == [12, 12, 12]
    times = sample_frame_times(int(vf.lengths[0]), 3, 8, torch.Generator().manual_seed(0))
    assert times[2] - times[0] <= 8
    first = torch.from_numpy(originals["000000"][int(times[0])]).permute(2, 0, 1)
    assert torch.equal(vf.frames[vf.starts[0] + times[0]], first)


def test_clouds_clip_and_render(tmp_path: Path, run_cli: Callable[..., object]) -> None:
    data, clip = tmp_path / "clouds", tmp_path / "clip"
    assert run_cli("data", "synth", "--kind", "clouds", "--num-videos", "2", "--frames", "10", "--resolution", "32",
                   "--out", data).exit_code == 0
    r = run_cli("data", "clip", data, "--video", "1", "--out", clip)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == str(clip)
    c = load_clip(clip)
    assert (c.num_frames, c.height, c.width, c.source.endswith("#000001")) == (10, 32, 32, True)
    # The clip reproduces the dataset's frames: warp(canonical, offsets) == the PNG frames up to rounding.
    frames = to_uint8(warp(c.canonical[None], c.offsets[None])[0]).numpy()
    stored = read_video_frames(load_dataset_info(data), "000001")
    assert np.abs(frames.astype(int) - stored.astype(int)).max() <= 1
    # render rebuilds video.mp4 and adds flow.mp4 with T-1 frames.
    (clip / "video.mp4").unlink()
    r = run_cli("render", clip, "--video", "--flow", "--flow-max", "2", "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["videos"]["video.mp4"]["num_frames"] == 10
    assert report["videos"]["flow.mp4"] == {"num_frames": 9, "flow_max": 2.0}
    video, _ = read_video(clip / "video.mp4")
    assert video.shape == (10, 32, 32, 3)
    assert np.abs(video.astype(int) - frames.astype(int)).mean() < 6
    flow, _ = read_video(clip / "flow.mp4")
    assert flow.shape == (9, 32, 32, 3)
    info = json.loads(run_cli("info", clip).stdout)
    assert info["videos"] == ["flow.mp4", "video.mp4"] and info["num_frames"] == 10


@pytest.mark.parametrize("quiet", [False, True])
def test_stdout_carries_only_the_result(tmp_path: Path, run_cli: Callable[..., object], quiet: bool) -> None:
    args = ["data", "synth", "--kind", "clouds", "--num-videos", "1", "--frames", "3", "--resolution", "16",
            "--out", tmp_path / "d"] + (["--quiet"] if quiet else [])
    r = run_cli(*args)
    assert r.exit_code == 0 and r.stdout == f"{tmp_path / 'd'}\n"
    assert (r.stderr == "") == quiet
