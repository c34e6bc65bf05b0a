"""Issue 16, "others": an output under a file, a clip whose video.mp4 is a folder, fake videos of two sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gendef_core import api
from tests.cli.test_apps_bad_input import assert_error, tree


def test_an_output_under_a_file_is_one_error(run_cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("a file")
    r = run_cli("data", "synth", "--kind", "clouds", "--out", tmp_path / "f" / "o", "--num-videos", "1",
                "--frames", "2", "--resolution", "16")
    assert_error(r, f"{tmp_path / 'f'} is a file, not a folder", "choose another output path")
    assert (tmp_path / "f").read_text() == "a file"


def test_an_output_given_as_dot_is_one_error(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out .`: an output folder is built beside its place and renamed into it, which the current folder
    cannot be (it was a traceback); one line says what to give instead."""
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    r = run_cli("data", "synth", "--kind", "clouds", "--out", ".", "--num-videos", "1", "--frames", "2",
                "--resolution", "16")
    assert_error(r, "is the current folder", "give a new folder name")
    assert list((tmp_path / "here").iterdir()) == []
    r = run_cli("data", "synth", "--kind", "clouds", "--out", "d", "--num-videos", "1", "--frames", "2",
                "--resolution", "16", "-q")
    assert r.exit_code == 0 and (tmp_path / "here" / "d" / "manifest.json").is_file()


def test_render_refuses_a_folder_where_the_video_goes(run_cli, tiny_ckpt: Path, tmp_path: Path) -> None:
    clip = api.sample(tmp_path / "clip", ckpt=tiny_ckpt, frames=3)[0]
    (clip / "flow.mp4").mkdir()
    (clip / "flow.mp4" / "keep.txt").write_text("mine")
    before = tree(tmp_path)
    r = run_cli("render", clip, "--flow", "--overwrite")
    assert_error(r, "flow.mp4 is a directory or a link, not a video")
    assert tree(tmp_path) == before


def test_the_motion_metric_refuses_fake_videos_of_two_sizes(run_cli, tmp_path: Path) -> None:
    from gendef_core.data.video_io import write_video

    api.synth_dataset("clouds", tmp_path / "data", num_videos=2, num_frames=8, resolution=16, seed=0)
    (tmp_path / "fake").mkdir()
    for name, size in (("a.mp4", 16), ("b.mp4", 32)):
        write_video(tmp_path / "fake" / name, [np.full((8, size, size, 3), 100, np.uint8)], fps=25)
    r = run_cli("eval", "--data", tmp_path / "data", "--fake", tmp_path / "fake", "--metrics", "motion",
                "--motion-videos", "2", "--motion-frames", "6", "--no-cache", "-q")
    assert_error(r, "is 32x32 px but the first fake video is 16x16", "give videos of one size")
