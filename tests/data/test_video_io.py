"""PyAV writing and reading."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gendef_core.data.video_io import VideoWriter, probe_video, read_video, to_fraction, write_video
from gendef_core.errors import DataError
from tests.conftest import gradient_video


def test_round_trip_keeps_every_frame_and_the_content(tmp_path: Path) -> None:
    frames = gradient_video(37, 48, 64)
    path = write_video(tmp_path / "v.mp4", [frames[:10], frames[10:]], 25)  # chunked writes
    back, fps = read_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert fps == 25
    # crf 18 plus yuv420p chroma subsampling of a saturated pattern: a few levels on average.
    err = np.abs(back.astype(int) - frames.astype(int)).mean(axis=(1, 2, 3))
    assert err.max() < 5.0
    # No frame lost or shifted: each decoded frame is closest to the frame written at its index.
    for t in range(1, 36):
        for other in (t - 1, t + 1):
            assert err[t] < np.abs(back[t].astype(int) - frames[other].astype(int)).mean()


def test_stream_is_h264_yuv420p_with_exact_rational_rate(tmp_path: Path) -> None:
    import av

    path = write_video(tmp_path / "v.mp4", [gradient_video(12, 32, 32)], "30000/1001")
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        assert s.codec_context.pix_fmt == "yuv420p"
        assert s.average_rate == Fraction(30000, 1001)
    assert probe_video(path).fps == Fraction(30000, 1001)


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    frames = gradient_video(5, 33, 47)
    back, _ = read_video(write_video(tmp_path / "odd.mp4", [frames], 10))
    assert back.shape == (5, 34, 48, 3)
    # The padding repeats the edge row/column.
    assert np.abs(back[:, 33].astype(int) - back[:, 32].astype(int)).mean() < 3


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError), VideoWriter(target, 25) as w:
        w.write(gradient_video(3, 16, 16))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_wrong_dtype_and_size_change(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"), VideoWriter(tmp_path / "a.mp4", 25) as w:
        w.write(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="size changed"), VideoWriter(tmp_path / "b.mp4", 25) as w:
        w.write(np.zeros((16, 16, 3), np.uint8))
        w.write(np.zeros((18, 16, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), "abc", 5000])
def test_bad_frame_rates(bad: object) -> None:
    with pytest.raises(ValueError):
        to_fraction(bad)  # type: ignore[arg-type]


def test_float_rates_become_fractions() -> None:
    assert to_fraction(29.97) == Fraction(2997, 100)
    assert to_fraction("24000/1001") == Fraction(24000, 1001)
    assert to_fraction(25) == 25


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"definitely not a video" * 50)
    with pytest.raises(DataError, match=r"junk\.mp4 is not a readable video"):
        read_video(junk)
    with pytest.raises(DataError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")


def test_file_without_video_stream(tmp_path: Path) -> None:
    import av

    wav = tmp_path / "sound.wav"
    with av.open(str(wav), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(DataError, match="has no video stream"):
        read_video(wav)
