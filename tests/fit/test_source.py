"""`gendef fit` input: `probe_source` / `read_source` on small videos and frame folders written here."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from gendef_core.data.video_io import write_video
from gendef_core.errors import ConfigError, DataError, GendefError
from gendef_core.events import Event, Info, Progress, Warning
from gendef_core.fit import source
from gendef_core.fit.source import fitted_size, probe_source, read_source
from tests.conftest import gradient_video


def index_frames(num_frames: int, height: int = 24, width: int = 40) -> np.ndarray:
    """``uint8 [T, H, W, 3]``: frame t is one flat colour that encodes t (R = 10 t, G = 250 - 10 t)."""
    t = np.arange(num_frames)
    colours = np.stack([10 * t % 250, 250 - 10 * t % 250, np.full_like(t, 128)], -1).astype(np.uint8)
    return np.broadcast_to(colours[:, None, None, :], (num_frames, height, width, 3)).copy()


def frame_indices(frames: np.ndarray) -> list[int]:
    """Invert `index_frames` from the mean red level of each frame (robust to codec error)."""
    return [round(float(f[..., 0].mean()) / 10) for f in frames]


def write_av(path: Path, frames: np.ndarray, *, fmt: str, codec: str, pix_fmt: str, fps: int = 25,
             options: dict[str, str] | None = None, rotation: int | None = None) -> Path:
    """Encode with PyAV directly, for containers and flags gendef's own writer does not produce."""
    with av.open(str(path), "w", format=fmt, options=options or {}) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if rotation is not None:
            s.set_display_rotation(rotation)
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def write_pngs(folder: Path, frames: np.ndarray, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f, name in zip(frames, names, strict=True):
        Image.fromarray(f).save(folder / name)
    return folder


def assert_one_line_error(exc: pytest.ExceptionInfo[GendefError], path: Path) -> str:
    msg = str(exc.value)
    assert str(path) in msg, msg
    assert "\n" not in msg, msg
    return msg


# --- sizes ---------------------------------------------------------------------------------------

def test_fitted_size_sets_the_short_side_and_rounds_half_up() -> None:
    assert fitted_size(40, 24, 16) == (27, 16)  # 26.67 -> 27
    assert fitted_size(24, 40, 16) == (16, 27)  # portrait: the width is the short side
    assert fitted_size(30, 20, 15) == (23, 15)  # 22.5 rounds up (Python's round() would give 22)
    assert fitted_size(64, 64, 16) == (16, 16)
    assert fitted_size(640, 360, 128) == (228, 128)
    assert fitted_size(40, 24, None) == (40, 24)
    assert fitted_size(40, 24, 48) == (80, 48)  # upscaling is allowed


def test_non_square_video_is_resized_by_its_short_side_without_cropping(tmp_path: Path) -> None:
    frames = gradient_video(10, 24, 40)
    path = write_video(tmp_path / "v.mp4", [frames], 25)
    footage = read_source(path, size=16)
    assert footage.frames.shape == (10, 16, 27, 3) and footage.frames.dtype == np.uint8
    assert footage.size == (27, 16) and footage.source_size == (40, 24)
    assert footage.fps == Fraction(25) and footage.start == 0 and footage.num_frames == 10
    # The whole frame, area-averaged: matches resizing the original (no crop, no shift) within codec error.
    expected = np.stack([cv2.resize(f, (27, 16), interpolation=cv2.INTER_AREA) for f in frames])
    assert np.abs(footage.frames.astype(int) - expected).mean() < 4.0


def test_content_is_preserved_at_the_source_size(tmp_path: Path) -> None:
    frames = gradient_video(12, 24, 40, seed=3)
    footage = read_source(write_video(tmp_path / "v.mp4", [frames], 25))
    assert footage.frames.shape == frames.shape and footage.size == (40, 24)
    err = np.abs(footage.frames.astype(int) - frames.astype(int)).mean(axis=(1, 2, 3))
    assert err.max() < 8.0  # crf 18 + yuv420p chroma subsampling of a saturated 40x24 pattern
    # Frames are in order: each decoded frame is closest to the frame written at its index.
    for t in range(1, 11):
        assert err[t] < np.abs(footage.frames[t].astype(int) - frames[t + 1].astype(int)).mean()


def test_upscaling_is_allowed_with_a_warning(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [gradient_video(4, 24, 40)], 25)
    events: list[Event] = []
    footage = read_source(path, size=48, on_event=events.append)
    assert footage.frames.shape == (4, 48, 80, 3)
    assert any(isinstance(e, Warning) and "upscaling" in e.message for e in events)
    assert any(isinstance(e, Progress) and e.completed == 4 for e in events)
    assert any(isinstance(e, Info) for e in events)


# --- selection ------------------------------------------------------------------------------------

def test_start_and_frames_select_the_right_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [index_frames(20)], 25)
    assert frame_indices(read_source(path).frames) == list(range(20))
    footage = read_source(path, start=5, frames=4, size=16)
    assert frame_indices(footage.frames) == [5, 6, 7, 8] and footage.start == 5
    assert frame_indices(read_source(path, start=17).frames) == [17, 18, 19]  # to the end by default


def test_selection_on_a_container_without_a_frame_count(tmp_path: Path) -> None:
    path = write_av(tmp_path / "v.mkv", index_frames(20), fmt="matroska", codec="libx264", pix_fmt="yuv420p")
    info = probe_source(path)
    assert info.kind == "video" and not info.num_frames_exact and info.num_frames == 20  # from the duration
    assert frame_indices(read_source(path, start=12).frames) == list(range(12, 20))
    assert frame_indices(read_source(path, start=3, frames=5).frames) == [3, 4, 5, 6, 7]
    with pytest.raises(DataError, match=r"`frames` 10 is more than the 8 frames .* give `frames` 8") as e:
        read_source(path, start=12, frames=10)
    assert_one_line_error(e, path)
    with pytest.raises(DataError, match=r"past the end .* has 20 frames") as e:
        read_source(path, start=25)
    assert_one_line_error(e, path)


@pytest.mark.parametrize(("name", "fmt", "codec", "pix_fmt"), [
    ("v.avi", "avi", "mjpeg", "yuvj420p"),
    ("v.webm", "webm", "libvpx-vp9", "yuv420p"),
    ("v.gif", "gif", "gif", "rgb8"),
])
def test_other_containers(tmp_path: Path, name: str, fmt: str, codec: str, pix_fmt: str) -> None:
    path = write_av(tmp_path / name, index_frames(12), fmt=fmt, codec=codec, pix_fmt=pix_fmt)
    footage = read_source(path, start=2, frames=6, size=16)
    assert footage.frames.shape == (6, 16, 27, 3)
    assert frame_indices(footage.frames) == [2, 3, 4, 5, 6, 7]


def test_rotation_metadata_is_applied(tmp_path: Path) -> None:
    frames = np.zeros((4, 24, 40, 3), np.uint8)
    frames[:, :8, :8] = 255  # a white square in the stored top-left corner
    # -90: the display matrix turns the picture a quarter clockwise (a phone held upright).
    path = write_av(tmp_path / "rot.mp4", frames, fmt="mp4", codec="libx264", pix_fmt="yuv420p", rotation=-90)
    info = probe_source(path)
    assert (info.width, info.height, info.rotation) == (24, 40, 270)
    footage = read_source(path, size=16)
    assert footage.frames.shape == (4, 27, 16, 3) and footage.source_size == (24, 40)
    corner = footage.frames[0, :4, -4:].mean()  # turned clockwise, top-left goes to top-right
    assert corner > 200 and footage.frames[0, :4, :4].mean() < 50


def test_probe_reports_the_source(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [gradient_video(9, 24, 40)], "30000/1001")
    info = probe_source(path)
    assert (info.kind, info.width, info.height, info.num_frames, info.num_frames_exact) == ("video", 40, 24, 9, True)
    assert info.fps == Fraction(30000, 1001) and info.path == path
    assert read_source(path, fps=12).fps == 12  # only the recorded rate changes


# --- frame folders --------------------------------------------------------------------------------

def test_folder_frames_in_natural_order_other_files_ignored(tmp_path: Path) -> None:
    frames = index_frames(4)
    folder = write_pngs(tmp_path / "clip", frames, ["frame10.png", "frame2.png", "frame1.png", "frame3.png"])
    (folder / "notes.txt").write_text("not a frame")
    (folder / ".hidden.png").write_bytes(b"")
    info = probe_source(folder)
    assert info.kind == "frames" and info.num_frames == 4 and info.num_frames_exact
    assert [f.name for f in info.files] == ["frame1.png", "frame2.png", "frame3.png", "frame10.png"]
    assert info.fps == 25 and probe_source(folder, fps="24000/1001").fps == Fraction(24000, 1001)
    footage = read_source(folder, size=16)
    # frame1 holds index 2, frame2 index 1, frame3 index 3, frame10 index 0 (PNG is lossless).
    assert frame_indices(footage.frames) == [2, 1, 3, 0]
    assert footage.frames.shape == (4, 16, 27, 3)
    assert frame_indices(read_source(folder, start=1, frames=2).frames) == [1, 3]


def test_folder_jpeg_and_exif_orientation(tmp_path: Path) -> None:
    folder = tmp_path / "jpgs"
    folder.mkdir()
    for k in range(3):
        im = Image.fromarray(index_frames(3)[k])
        exif = Image.Exif()
        exif[0x0112] = 6  # displayed turned a quarter clockwise
        im.save(folder / f"{k}.jpg", exif=exif, quality=95)
    info = probe_source(folder)
    assert (info.width, info.height) == (24, 40)
    footage = read_source(folder)
    assert footage.frames.shape == (3, 40, 24, 3)
    assert frame_indices(footage.frames) == [0, 1, 2]


def test_folder_with_mixed_sizes_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = write_pngs(tmp_path / "clip", index_frames(3), ["1.png", "2.png", "10.png"])
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "2.png")
    with pytest.raises(DataError) as e:
        read_source(folder)
    msg = assert_one_line_error(e, folder / "2.png")
    assert "40x30" in msg and "40x24" in msg


# --- bad input ------------------------------------------------------------------------------------

def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as e:
        read_source(tmp_path / "nope.mp4")
    assert_one_line_error(e, tmp_path / "nope.mp4")


def test_folder_without_frames(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no frames") as e:
        read_source(empty)
    assert_one_line_error(e, empty)
    write_video(empty / "clip.mp4", [gradient_video(3, 16, 16)], 25)
    with pytest.raises(DataError, match="give one of them") as e:  # points at the video inside
        probe_source(empty)
    assert_one_line_error(e, empty / "clip.mp4")


def test_not_a_video(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file renamed to .mp4\n" * 20)
    with pytest.raises(DataError, match="not a video") as e:
        read_source(fake)
    assert_one_line_error(e, fake)


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(DataError, match="0 bytes") as e:
        read_source(empty)
    assert_one_line_error(e, empty)


@pytest.mark.parametrize("kind", ["video", "folder", "image"])
def test_a_single_frame_is_refused(tmp_path: Path, kind: str) -> None:
    if kind == "video":
        path = write_video(tmp_path / "one.mp4", [index_frames(1)], 25)
    elif kind == "folder":
        path = write_pngs(tmp_path / "one", index_frames(1), ["0.png"])
    else:  # a still image given as VIDEO: FFmpeg decodes it as a 1-frame video
        path = write_pngs(tmp_path, index_frames(1), ["still.png"]) / "still.png"
    with pytest.raises(DataError, match="only 1 frame; a fit needs at least 2 frames") as e:
        read_source(path)
    assert_one_line_error(e, path)


def test_start_past_the_end_says_how_many_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [index_frames(10)], 25)
    with pytest.raises(DataError, match=r"past the end .* has 10 frames") as e:
        read_source(path, start=10)
    assert_one_line_error(e, path)
    with pytest.raises(DataError, match=r"leaves only 1 frame .* `start` 8 or less"):
        read_source(path, start=9)


def test_more_frames_than_remain_is_refused(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [index_frames(10)], 25)
    with pytest.raises(DataError, match=r"`frames` 8 is more than the 6 frames .* give `frames` 6 or less") as e:
        read_source(path, start=4, frames=8)
    assert_one_line_error(e, path)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"frames": 1}, "`frames` must be at least 2"),
    ({"frames": 0}, "`frames` must be at least 2"),
    ({"start": -1}, "`start` must be"),
    ({"size": 15}, "`size` .* from 16 to 4096"),
    ({"size": 5000}, "`size` .* from 16 to 4096"),
    ({"fps": 0}, "`fps`"),
])
def test_bad_option_values(tmp_path: Path, kwargs: dict[str, int], pattern: str) -> None:
    path = write_video(tmp_path / "v.mp4", [index_frames(4)], 25)
    with pytest.raises(ConfigError, match=pattern) as e:
        read_source(path, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(e.value)


def test_tiny_source_needs_an_explicit_size(tmp_path: Path) -> None:
    folder = write_pngs(tmp_path / "tiny", index_frames(3, 8, 12), ["0.png", "1.png", "2.png"])
    with pytest.raises(DataError, match="`size` 16") as e:
        read_source(folder)
    assert_one_line_error(e, folder)
    assert read_source(folder, size=16).frames.shape == (3, 16, 24, 3)


def test_corrupt_video_reports_the_decoded_frames(tmp_path: Path) -> None:
    # moov first (faststart), then the file cut in half: the first frames decode, then decoding fails.
    good = write_av(tmp_path / "good.mp4", gradient_video(60, 24, 40), fmt="mp4", codec="libx264",
                    pix_fmt="yuv420p", options={"movflags": "faststart"})
    bad = tmp_path / "bad.mp4"
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"corrupt: decoding failed after (\d+) frames") as e:
        read_source(bad)
    msg = assert_one_line_error(e, bad)
    decoded = int(msg.split("after ")[1].split(" frames")[0])
    assert 2 <= decoded < 60 and f"`frames` {decoded}" in msg
    # The suggested --frames reads the frames before the damage.
    assert read_source(bad, frames=decoded).num_frames == decoded


def cut_at_packet(path: Path, out: Path, k: int) -> Path:
    """Copy `path` up to the start of its k-th video packet: the stream then ends quietly after k frames."""
    with av.open(str(path)) as c:
        pos = [p.pos for p in c.demux(video=0) if p.size]
    out.write_bytes(path.read_bytes()[: pos[k]])
    return out


def test_truncated_video_with_a_stored_count_is_refused(tmp_path: Path) -> None:
    good = write_av(tmp_path / "good.avi", index_frames(60), fmt="avi", codec="mjpeg", pix_fmt="yuvj420p")
    bad = cut_at_packet(good, tmp_path / "bad.avi", 20)
    assert probe_source(bad).num_frames == 60  # the index still promises 60
    with pytest.raises(DataError, match=r"truncated or corrupt: only 20 of the 60 frames .* `frames` 20") as e:
        read_source(bad)
    assert_one_line_error(e, bad)
    assert frame_indices(read_source(bad, start=15, frames=5).frames) == [15, 16, 17, 18, 19]


def test_truncated_video_without_a_stored_count_warns(tmp_path: Path) -> None:
    good = write_av(tmp_path / "good.mkv", index_frames(60), fmt="matroska", codec="mjpeg", pix_fmt="yuvj420p")
    bad = cut_at_packet(good, tmp_path / "bad.mkv", 20)
    events: list[Event] = []
    footage = read_source(bad, on_event=events.append)
    assert frame_indices(footage.frames) == list(range(20))
    assert any(isinstance(e, Warning) and "truncated" in e.message and str(bad) in e.message for e in events)


# --- memory cap -----------------------------------------------------------------------------------

def test_default_frame_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_DEFAULT_FRAMES", 8)
    mp4 = write_video(tmp_path / "v.mp4", [index_frames(12)], 25)
    mkv = write_av(tmp_path / "v.mkv", index_frames(12), fmt="matroska", codec="libx264", pix_fmt="yuv420p")
    for path in (mp4, mkv):  # a stored count (refused up front) and an estimated one (refused while reading)
        with pytest.raises(DataError, match=r"without `frames`, gendef fit reads at most 8 frames.*`frames` 8 or") as e:
            read_source(path)
        assert_one_line_error(e, path)
        assert read_source(path, frames=10).num_frames == 10  # an explicit --frames is not held to it
        assert read_source(path, start=4).num_frames == 8  # what remains fits


def test_memory_cap_in_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "v.mp4", [index_frames(12)], 25)
    monkeypatch.setattr(source, "MAX_FOOTAGE_BYTES", 6 * 40 * 24 * 3)  # six frames at 40x24
    with pytest.raises(DataError, match="`frames` 6") as e:
        read_source(path)
    assert_one_line_error(e, path)
    with pytest.raises(DataError, match=r"`frames` 10 .* GB.*`frames` 6 or fewer, or a smaller `size`") as e:
        read_source(path, frames=10)
    assert_one_line_error(e, path)
    assert read_source(path, frames=10, size=16).num_frames == 10  # fits at 27x16
