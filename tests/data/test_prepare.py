"""`prepare_dataset` on the project's own MP4s and on frame folders."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gendef_core.artifacts.dataset import load_dataset_info, read_video_frames
from gendef_core.data.images import center_crop_resize
from gendef_core.data.prepare import _resample, discover_sources, prepare_dataset


def test_center_crop_takes_the_middle_square() -> None:
    frame = np.zeros((20, 40, 3), np.uint8)
    frame[:, 10:30] = 200  # the centre 20x20 square
    out = center_crop_resize(frame, 20)
    assert out.shape == (20, 20, 3) and np.all(out == 200)
    small = center_crop_resize(frame, 8)
    assert small.shape == (8, 8, 3) and np.all(small == 200)


def test_resample_picks_nearest_source_frames() -> None:
    frames = [np.full((1,), i) for i in range(10)]
    picked = [int(f[0]) for f in _resample(iter(frames), Fraction(10), Fraction(5))]
    assert picked == [0, 2, 4, 6, 8]
    picked = [int(f[0]) for f in _resample(iter(frames[:4]), Fraction(2), Fraction(4))]
    assert picked == [0, 1, 1, 2, 2, 3, 3]  # upsampling repeats frames (nearest, ties round up)


def test_discovery_finds_nested_videos_and_frame_folders(tmp_path: Path, make_video: Callable[..., Path]) -> None:
    make_video("src/a.mp4")
    make_video("src/class1/b.webm".replace(".webm", ".mp4"))
    (tmp_path / "src/frames/clip").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "src/frames/clip/0.png")
    (tmp_path / "src/.hidden").mkdir()
    make_video("src/.hidden/c.mp4")
    found = {(s.name, s.kind) for s in discover_sources(tmp_path / "src")}
    assert found == {("a", "video"), ("class1_b", "video"), ("frames_clip", "frames")}


def test_prepare_videos_end_to_end(tmp_path: Path, make_video: Callable[..., Path]) -> None:
    make_video("src/wide.mp4", frames=20, size=(32, 64))
    make_video("src/tall.mp4", frames=18, size=(64, 32), seed=1)
    make_video("src/short.mp4", frames=4)
    s = prepare_dataset(tmp_path / "src", tmp_path / "data", resolution=16, min_frames=10)
    assert (s.num_videos, s.num_frames, s.fps) == (2, 38, "25")
    assert s.skipped == [{"name": "short", "reason": "too short (4 < 10 frames)"}]
    info = load_dataset_info(tmp_path / "data")
    assert [(v.name, v.num_frames) for v in info.videos] == [("tall", 18), ("wide", 20)]
    frames = read_video_frames(info, "wide")
    assert frames.shape == (20, 16, 16, 3)
    # The centre-cropped, resized first frame is close to doing the same on the source pattern.
    from tests.conftest import gradient_video

    expected = center_crop_resize(gradient_video(1, 32, 64)[0], 16)
    assert np.abs(frames[0].astype(int) - expected.astype(int)).mean() < 4


def test_prepare_fps_and_max_frames(tmp_path: Path, make_video: Callable[..., Path]) -> None:
    make_video("src/a.mp4", frames=30, fps=30)
    s = prepare_dataset(tmp_path / "src", tmp_path / "data", resolution=8, fps=10, max_frames=6, min_frames=2)
    assert (s.num_frames, s.fps) == (6, "10")
    assert load_dataset_info(tmp_path / "data").fps == 10


def test_prepare_frame_folders_and_zip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for v in range(2):
        d = tmp_path / "src" / f"video{v}"
        d.mkdir(parents=True)
        for i in (1, 2, 10):  # natural order: 1, 2, 10 (not 1, 10, 2)
            img = rng.integers(0, 255, (8, 12, 3), dtype=np.uint8)
            img[..., 0] = i
            Image.fromarray(img).save(d / f"frame{i}.png")
    s = prepare_dataset(tmp_path / "src", tmp_path / "data", resolution=8, min_frames=3)
    assert (s.num_videos, s.num_frames, s.fps) == (2, 6, "25")
    frames = read_video_frames(load_dataset_info(tmp_path / "data"), "video0")
    assert frames[:, :, :, 0].mean(axis=(1, 2)).round().tolist() == [1, 2, 10]  # crop 8x8, no resize: exact
    zpath = tmp_path / "src.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted((tmp_path / "src").rglob("*.png")):
            z.write(p, Path("wrapped") / p.relative_to(tmp_path / "src"))
    s2 = prepare_dataset(zpath, tmp_path / "data2", resolution=8, min_frames=3)
    assert (s2.num_videos, s2.num_frames) == (2, 6)
    assert np.array_equal(read_video_frames(load_dataset_info(tmp_path / "data2"), "wrapped_video0"), frames)


def test_prepare_writes_nothing_when_it_fails(tmp_path: Path, make_video: Callable[..., Path]) -> None:
    make_video("src/a.mp4", frames=5)
    with pytest.raises(Exception, match="`min_frames`"):
        prepare_dataset(tmp_path / "src", tmp_path / "data", resolution=8, min_frames=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
