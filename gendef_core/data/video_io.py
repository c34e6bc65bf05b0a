"""Video files through PyAV.

Writing: H.264 (libx264), yuv420p, an exact rational frame rate, streamed frame by frame, the
encoder flushed at the end, the file renamed into place only when complete. H.264 in yuv420p
needs even sizes: odd heights/widths are padded by one row/column repeating the edge (the
manifest of a clip keeps the true size). Encoding uses a fixed number of x264 threads
(`X264_THREADS`) and no MB-tree (`X264_OPTIONS`), so the same frames give the same bytes on every
machine and in every run.

Reading: anything FFmpeg decodes; frames come out as ``uint8 [H, W, 3]`` RGB.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from gendef_core.artifacts.common import atomic_file
from gendef_core.errors import DataError

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".flv", ".gif", ".ogv")


def to_fraction(fps: Fraction | int | float | str) -> Fraction:
    """A frame rate as an exact Fraction ("30000/1001", 29.97, 25 ...); refuses <= 0 and non-finite."""
    if isinstance(fps, float) and not math.isfinite(fps):
        raise ValueError(f"frame rate {fps!r} is not finite")
    try:
        f = Fraction(fps) if not isinstance(fps, float) else Fraction(fps).limit_denominator(1001)
    except (ValueError, ZeroDivisionError, TypeError, OverflowError):
        raise ValueError(f"frame rate {fps!r} is not a number") from None
    if f <= 0 or f > 1000:
        raise ValueError(f"frame rate must be in (0, 1000] frames per second, got {fps}")
    return f.limit_denominator(65535)


# Encoder threads of every MP4 gendef writes (FORMATS.md "Reproducibility": same frames, same bytes).
X264_THREADS = "4"
# Other x264 options of every MP4 gendef writes. MB-tree off: x264's AVX-512 MB-tree code reads heap memory it
# never wrote (seen on 64 px wide frames), so the same frames gave other bytes from run to run on AVX-512 CPUs
# (flow.mp4 of the bundled 64 px model, 2 runs in 3); without MB-tree, AVX-512, AVX2 and C give the same bytes.
X264_OPTIONS = {"mbtree": "0"}


class VideoWriter:
    """Stream ``uint8 [H, W, 3]`` frames (or ``[t, H, W, 3]`` batches) into an MP4, atomically.

    >>> with VideoWriter(path, fps=25) as w:
    ...     for chunk in chunks: w.write(chunk)
    """

    def __init__(self, path: Path, fps: Fraction | int | float | str, *, crf: int = 18, replace: bool = True) -> None:
        self.path = Path(path)
        self.fps = to_fraction(fps)
        self.crf = crf
        self.frames_written = 0
        self._ctx = atomic_file(self.path, replace=replace)  # replace=False: never onto a file made meanwhile
        self._container: Any = None  # av's OutputContainer once entered
        self._stream: Any = None  # its video stream once the first frame fixed the size

    def __enter__(self) -> VideoWriter:
        import av

        tmp = self._ctx.__enter__()
        self._container = av.open(str(tmp), mode="w", format="mp4")
        return self

    def write(self, frames: np.ndarray | torch.Tensor) -> None:
        import av

        arr = frames.cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [t, H, W, 3], got {arr.dtype} {arr.shape}")
        h, w = arr.shape[1:3]
        ph, pw = h % 2, w % 2
        if ph or pw:
            arr = np.pad(arr, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
        if self._stream is None:
            assert self._container is not None
            s = self._container.add_stream("libx264", rate=self.fps)
            s.width, s.height = arr.shape[2], arr.shape[1]
            s.pix_fmt = "yuv420p"
            # A fixed thread count: x264 is deterministic for a given number of threads, but its default
            # ("auto") follows the machine's CPU count, so the same frames gave other bytes elsewhere.
            s.options = {"crf": str(self.crf), "threads": X264_THREADS, **X264_OPTIONS}
            self._stream = s
        elif (arr.shape[1], arr.shape[2]) != (self._stream.height, self._stream.width):
            raise ValueError(f"frame size changed mid-video: {arr.shape[1:3]} after "
                             f"{(self._stream.height, self._stream.width)}")
        for frame in arr:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
            self.frames_written += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            try:
                if exc_type is None:
                    if self._stream is None:
                        raise ValueError(f"no frames were written to {self.path}")
                    for packet in self._stream.encode():  # flush: without it the last frames are lost
                        self._container.mux(packet)
            finally:
                if self._container is not None:
                    self._container.close()
        except BaseException as e:  # flushing or closing failed (a full disk): the partial file goes, and
            if exc is None:         # the error is reported for this video, not its temporary file
                exc_type, exc, tb = type(e), e, e.__traceback__
            self._ctx.__exit__(exc_type, exc, tb)
            raise
        if exc_type is None:
            self._ctx.__exit__(None, None, None)  # rename into place
        else:
            self._ctx.__exit__(exc_type, exc, tb)  # remove the partial file


def write_video(path: Path, frames: Iterable[np.ndarray | torch.Tensor],
                fps: Fraction | int | float | str, *, crf: int = 18) -> Path:
    """Write an iterable of ``uint8`` frames / batches of frames to an MP4."""
    with VideoWriter(path, fps, crf=crf) as w:
        for chunk in frames:
            w.write(chunk)
    return Path(path)


@dataclass(frozen=True)
class VideoStreamInfo:
    width: int
    height: int
    fps: Fraction | None
    num_frames: int | None  # as declared by the container; may be None or approximate


def _open(path: Path):
    import av

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if not path.is_file():
        raise DataError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); re-encode or remove it")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise DataError(f"{path} is not a readable video ({e.__class__.__name__}: "
                        f"{getattr(e, 'strerror', None) or e}); re-encode or remove it") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{path} has no video stream; remove it or point at a video file")
    return container


def probe_video(path: Path) -> VideoStreamInfo:
    """Size, frame rate and declared frame count of a video file's first video stream."""
    with _open(path) as c:
        s = c.streams.video[0]
        rate = s.average_rate or s.guessed_rate
        return VideoStreamInfo(int(s.codec_context.width), int(s.codec_context.height),
                               Fraction(rate) if rate else None, int(s.frames) or None)


def iter_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode a video file's first video stream as ``uint8 [H, W, 3]`` RGB frames, in order."""
    import av

    container = _open(path)
    try:
        yielded = 0
        try:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
                yielded += 1
        except (av.error.FFmpegError, ValueError) as e:
            raise DataError(f"{path} is corrupt: decoding failed after {yielded} frames ({e}); "
                            f"re-encode or remove it") from None
        if yielded == 0:
            raise DataError(f"{path} contains no decodable frames; re-encode or remove it")
    finally:
        container.close()


def read_video(path: Path, *, max_frames: int | None = None) -> tuple[np.ndarray, Fraction | None]:
    """Decode a whole video: ``uint8 [T, H, W, 3]`` and its frame rate (None if unknown)."""
    fps = probe_video(path).fps
    frames = []
    for frame in iter_frames(path):
        frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    return np.stack(frames), fps
