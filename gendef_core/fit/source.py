"""The input of `gendef fit`: a video file or a folder of frames, streamed and resized as it is read.

A source is any file PyAV decodes (mp4, webm, mov, avi, mkv, gif, ...), or a folder of frames
(PNG, JPEG, BMP, WebP, in natural order of their names: ``frame2.png`` before ``frame10.png``;
other files are ignored). `probe_source` describes it cheaply; `read_source` decodes the frames
``[start, start + frames)`` into one ``uint8 [T, H, W, 3]`` RGB array at the fitted size.

Choices made here (the CLI documents them to users):

* **Size.** ``size`` sets the *short* side; the long side is ``round_half_up(long * size / short)``
  (40x24 at size 16 -> 27x16), so the aspect ratio is kept to within half a pixel and nothing is
  cropped. ``size=None`` keeps the source size. Upscaling is allowed (bilinear) but adds no detail,
  so it is reported as a `Warning`; downscaling uses area interpolation. Each frame is resized as
  soon as it is decoded: only one full-resolution frame is ever in memory.
* **Orientation.** A video's display matrix (phone videos shot upright) is applied in 90 degree
  steps, and so is the EXIF orientation of JPEG frames, so ``width``/``height`` are the size *as
  displayed*. Flips in a display matrix and non-square pixels (anamorphic video) are ignored.
* **Frame counts.** ``num_frames`` is exact for frame folders and for containers that store a frame
  count (mp4, mov, avi, gif); mkv/webm only give a duration, so their count is an estimate
  (``num_frames_exact=False``) and checks that need the true count happen after decoding.
  ``start`` is counted exactly by decoding from the first frame (no seeking), skipping the colour
  conversion of the frames before it.
* **Memory cap.** Without ``frames``, at most `MAX_DEFAULT_FRAMES` frames and `MAX_FOOTAGE_BYTES`
  bytes (at the fitted size) are read; more is refused with a one-line error suggesting
  ``--frames``. An explicit ``frames`` is only held to the byte cap.
* **Corrupt files.** A video whose decoding fails inside the requested range is refused (a fit on
  a silently shortened clip would mislead); the message says how many frames decoded and which
  ``--frames`` reads only the frames before the damage. So is a video that stores a frame count
  but decodes clearly fewer frames (< 90%) when all frames are asked for. A stream without a stored
  count that ends early (truncated mkv/webm) is only refused when it holds fewer frames than
  asked; when it holds clearly fewer than its duration promised, a `Warning` says so. (Decoding
  uses FFmpeg's default slice threading: frame threading hides decoding errors.)
* **Frame rate.** The video's average rate; 25 fps for frame folders and videos declaring none;
  ``fps`` overrides it (the frames are kept as they are, only the recorded rate changes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gendef_core.data.video_io import VIDEO_EXTENSIONS, to_fraction
from gendef_core.errors import ConfigError, DataError
from gendef_core.events import Info, OnEvent, Progress, Warning, ignore

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DEFAULT_FRAMES_FPS = Fraction(25)  # frame folders carry no rate
MIN_SIZE, MAX_SIZE = 16, 4096  # short side in pixels
MIN_FRAMES = 2  # a fit needs motion between at least two frames
MAX_DEFAULT_FRAMES = 2000
MAX_FOOTAGE_BYTES = 1_500_000_000  # frames * H * W * 3 at the fitted size
_PROGRESS_EVERY = 32  # frames between Progress events


@dataclass(frozen=True)
class SourceInfo:
    """What `probe_source` learns without decoding the whole source.

    Attributes:
        path: the video file or frame folder.
        kind: ``"video"`` (a file) or ``"frames"`` (a folder of images).
        width, height: size of a frame in pixels as displayed (after rotation metadata).
        num_frames: frame count; exact when `num_frames_exact`, else estimated from the duration
            (None when the container gives neither).
        num_frames_exact: whether `num_frames` is a stored count rather than an estimate.
        fps: frame rate (frames per second); 25 for frame folders and rate-less videos unless given.
        rotation: degrees (a multiple of 90, counter-clockwise) applied to decoded video frames.
        files: the frame files in natural order (``kind == "frames"``), else empty.
    """

    path: Path
    kind: Literal["video", "frames"]
    width: int
    height: int
    num_frames: int | None
    num_frames_exact: bool
    fps: Fraction
    rotation: int = 0
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Footage:
    """Frames read by `read_source`, at the fitted size.

    Attributes:
        frames: ``uint8 [T, H, W, 3]`` RGB, T >= 2, ``(W, H) == size``.
        fps: frame rate (frames per second).
        start: index in the source of ``frames[0]``.
        source_size: ``(W, H)`` of the source as displayed, in pixels.
        size: ``(W, H)`` of `frames`, in pixels.
        info: the probe of the source.
    """

    frames: np.ndarray
    fps: Fraction
    start: int
    source_size: tuple[int, int]
    size: tuple[int, int]
    info: SourceInfo

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def fitted_size(width: int, height: int, size: int | None) -> tuple[int, int]:
    """``(W, H)`` with the short side ``size`` and the long side ``round_half_up(long * size / short)``.

    ``size=None`` keeps ``(width, height)``. 40x24 at 16 -> (27, 16); a square stays square.
    """
    if size is None:
        return width, height
    short, long = min(width, height), max(width, height)
    scaled = (2 * long * size + short) // (2 * short)  # exact round-half-up in integers
    return (scaled, size) if width >= height else (size, scaled)


def probe_source(path: Path, *, fps: Fraction | int | float | str | None = None) -> SourceInfo:
    """Describe a video file or frame folder: kind, displayed size, frame count, frame rate.

    Cheap: a video has its header read and its first frame decoded; a folder has the header of
    each image read (a frame whose size differs from the first is refused here, naming it).
    `fps` overrides the frame rate (no frame is dropped or repeated). Raises DataError (one line,
    naming the path) for a missing path, an empty folder, or a file that is not a video.
    """
    path = Path(path)
    rate = _check_fps(fps)
    if not path.exists():
        raise DataError(f"{path} does not exist; give a video file or a folder of frames")
    if path.is_dir():
        return _probe_folder(path, rate)
    return _probe_video(path, rate)


def read_source(path: Path, *, start: int = 0, frames: int | None = None, size: int | None = None,
                fps: Fraction | int | float | str | None = None, on_event: OnEvent = ignore) -> Footage:
    """Decode frames ``[start, start + frames)`` of a video or frame folder at the fitted size.

    Args:
        path: a video file or a folder of frames.
        start: index of the first frame to keep (0-based, counted by decoding).
        frames: number of frames (>= 2); None = all from `start` to the end, up to the memory cap.
        size: short side of the output in pixels (16..4096), the aspect ratio kept; None = source size.
        fps: overrides the frame rate recorded in the result (default: the video's, 25 for folders).
        on_event: receives `Progress("read", ...)`, warnings and a summary `Info`.

    Returns a `Footage` with ``frames`` ``uint8 [T, H, W, 3]``. Raises ConfigError for bad option
    values and DataError (one line naming the path and the fix) for unusable sources.
    """
    _check_options(start, frames, size)
    info = probe_source(path, fps=fps)
    path = info.path
    count: int | None = frames
    if info.num_frames_exact and info.num_frames is not None:
        _check_range(path, info.num_frames, start, frames)
        count = info.num_frames - start if frames is None else frames
    w, h = fitted_size(info.width, info.height, size)
    _check_fitted(path, info, size, w, h, on_event)
    frame_bytes = w * h * 3
    cap = min(MAX_DEFAULT_FRAMES, MAX_FOOTAGE_BYTES // frame_bytes)
    if frames is None and count is not None and count > cap:
        raise DataError(f"{path} has {count} frames from `start` {start}; {_cap_text(cap, w, h)}")
    if frames is not None and frames * frame_bytes > MAX_FOOTAGE_BYTES:
        raise DataError(f"`frames` {frames} of {path} at {w}x{h} would take {frames * frame_bytes / 1e9:.1f} GB, "
                        f"more than the {MAX_FOOTAGE_BYTES / 1e9:.1f} GB gendef fit holds; "
                        f"pass `frames` {cap} or fewer, or a smaller `size`")
    # When the count is unknown and not given, read one frame past the cap to know it is exceeded.
    limit = count if count is not None else cap + 1
    estimate = info.num_frames - start if info.num_frames is not None else limit
    buf = _Buffer(max(MIN_FRAMES, min(limit, estimate + 8)), (h, w, 3))
    seen = _Counter()  # source frames passed so far, including those before `start`
    source = _iter_folder(info, start, limit, seen) if info.kind == "frames" else _iter_video(info, start, limit, seen)
    for frame in source:
        buf.append(_resize(frame, w, h, info.rotation))
        if buf.n % _PROGRESS_EVERY == 0:
            on_event(Progress("read", buf.n, count))
    if buf.n < limit:  # the source ended first: check the selection against its true length
        _check_range(path, seen.n, start, frames)
    if frames is None and count is None and buf.n > cap:
        raise DataError(f"{path} has more than {cap} frames from `start` {start}; {_cap_text(cap, w, h)}")
    if frames is None and info.num_frames is not None and buf.n < 0.9 * (info.num_frames - start) - 1:
        if info.num_frames_exact:  # a stored count: the file lost frames
            raise DataError(f"{path} is truncated or corrupt: only {seen.n} of the {info.num_frames} frames it "
                            f"declares decode; pass `frames` {buf.n} to fit those, or re-encode it")
        on_event(Warning(f"{path} holds {seen.n} frames but its duration suggests about {info.num_frames}; "
                         f"the file may be truncated"))
    on_event(Progress("read", buf.n, buf.n))
    out = buf.array()
    on_event(Info(f"read frames {start}..{start + buf.n - 1} of {path}: {info.width}x{info.height} -> {w}x{h}, "
                  f"{info.fps} fps"))
    return Footage(frames=out, fps=info.fps, start=start, source_size=(info.width, info.height), size=(w, h),
                   info=info)


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------

def _check_fps(fps: Fraction | int | float | str | None) -> Fraction | None:
    if fps is None:
        return None
    try:
        return to_fraction(fps)
    except ValueError as e:
        raise ConfigError(f"`fps`: {e}") from None


def _check_options(start: int, frames: int | None, size: int | None) -> None:
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ConfigError(f"`start` must be a frame index >= 0, got {start!r}")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames < MIN_FRAMES):
        raise ConfigError(f"`frames` must be at least {MIN_FRAMES} (a fit needs motion between frames), "
                          f"got {frames!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                             or not MIN_SIZE <= size <= MAX_SIZE):
        raise ConfigError(f"`size` (the short side in pixels) must be from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")


def _check_range(path: Path, total: int, start: int, frames: int | None) -> None:
    """Refuse a `start`/`frames` selection that `total` source frames cannot satisfy."""
    if total < MIN_FRAMES:
        raise DataError(f"{path} has only {total} frame{'s' if total != 1 else ''}; a fit needs at least "
                        f"{MIN_FRAMES} frames: give a video or a folder of frames")
    remaining = total - start
    if remaining < MIN_FRAMES:
        where = "is past the end" if remaining <= 0 else f"leaves only {remaining} frame"
        raise DataError(f"`start` {start} {where} of {path}, which has {total} frames; a fit needs at least "
                        f"{MIN_FRAMES}, so give `start` {total - MIN_FRAMES} or less")
    if frames is not None and frames > remaining:
        raise DataError(f"`frames` {frames} is more than the {remaining} frames of {path} from `start` {start} "
                        f"(it has {total}); give `frames` {remaining} or less")


def _check_fitted(path: Path, info: SourceInfo, size: int | None, w: int, h: int, on_event: OnEvent) -> None:
    if size is None and min(w, h) < MIN_SIZE:
        raise DataError(f"{path} is {w}x{h}, smaller than {MIN_SIZE} px on its short side; "
                        f"pass `size` {MIN_SIZE} to upscale it")
    if size is not None and size > min(info.width, info.height):
        on_event(Warning(f"upscaling {path} from {info.width}x{info.height} to {w}x{h} adds no detail; "
                         f"`size` {min(info.width, info.height)} or less keeps the source resolution"))


def _cap_text(cap: int, w: int, h: int) -> str:
    return (f"without `frames`, gendef fit reads at most {cap} frames at {w}x{h} (limits: {MAX_DEFAULT_FRAMES} "
            f"frames, {MAX_FOOTAGE_BYTES / 1e9:.1f} GB); pass `frames` {cap} or fewer, with `start` to choose which")


def _one_line(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or e.__class__.__name__
    return f"{e.__class__.__name__}: {' '.join(str(text).split())}"


# ---------------------------------------------------------------------------------------------
# frame folders
# ---------------------------------------------------------------------------------------------

def _natural_key(name: str) -> list[Any]:
    # frame2.png before frame10.png: digit runs compare as numbers.
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that rotate by 90 degrees


def _image_size(path: Path) -> tuple[int, int]:
    """(W, H) of an image as displayed, from its header only."""
    from gendef_core.artifacts.images import open_image

    with open_image(path, fix="re-save or remove it") as im:
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1)
    return (h, w) if orientation in _SWAPPING_ORIENTATIONS else (w, h)


def _read_image(path: Path) -> np.ndarray:
    """``uint8 [H, W, 3]`` RGB, EXIF orientation applied."""
    from PIL import ImageOps

    from gendef_core.artifacts.images import open_image

    with open_image(path, fix="re-save or remove it") as im:
        im.load()
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _probe_folder(path: Path, fps: Fraction | None) -> SourceInfo:
    entries = [f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")]
    entries.sort(key=lambda f: _natural_key(f.name))
    files = [f for f in entries if f.suffix.lower() in FRAME_EXTENSIONS]
    if not files:
        videos = [f for f in entries if f.suffix.lower() in VIDEO_EXTENSIONS]
        hint = f"; it holds videos: give one of them, e.g. {videos[0]}" if videos else \
            f"; give a video file or a folder of {', '.join(FRAME_EXTENSIONS)} frames"
        raise DataError(f"{path} is a folder with no frames ({', '.join(FRAME_EXTENSIONS)}){hint}")
    first = _image_size(files[0])
    for f in files[1:]:
        if (size := _image_size(f)) != first:
            raise DataError(f"{f} is {size[0]}x{size[1]} but {files[0].name} (the first frame of {path}) is "
                            f"{first[0]}x{first[1]}; frames of one video must share a size: resize or remove it")
    return SourceInfo(path=path, kind="frames", width=first[0], height=first[1], num_frames=len(files),
                      num_frames_exact=True, fps=fps or DEFAULT_FRAMES_FPS, files=tuple(files))


def _iter_folder(info: SourceInfo, start: int, count: int, seen: _Counter) -> Iterator[np.ndarray]:
    """``uint8 [H, W, 3]`` RGB for the files ``[start, start + count)``; `seen` counts the files passed."""
    seen.n = min(start, len(info.files))
    for f in info.files[start:start + count]:
        img = _read_image(f)
        if (img.shape[1], img.shape[0]) != (info.width, info.height):  # the header lied
            raise DataError(f"{f} is {img.shape[1]}x{img.shape[0]} but the frames of {info.path} are "
                            f"{info.width}x{info.height}; frames of one video must share a size")
        seen.n += 1
        yield img


# ---------------------------------------------------------------------------------------------
# video files
# ---------------------------------------------------------------------------------------------

def _open_video(path: Path) -> Any:
    import av

    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); give a video file or a folder of frames")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError, OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a video PyAV can decode ({_one_line(e)}); give a video file "
                        f"(mp4, webm, mov, avi, mkv, gif...) or a folder of frames") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"{path} has no video stream; give a video file or a folder of frames")
    return container


def _rotation(frame: Any) -> int:
    """Counter-clockwise degrees that display the frame upright, rounded to a multiple of 90."""
    try:
        degrees = float(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):  # PyAV < 14 or no display matrix
        return 0
    return round(degrees / 90) % 4 * 90


def _probe_video(path: Path, fps: Fraction | None) -> SourceInfo:
    import av

    container = _open_video(path)
    with container:
        stream = container.streams.video[0]
        try:
            first = next(container.decode(stream), None)
        except (av.error.FFmpegError, ValueError) as e:
            raise DataError(f"{path} is corrupt: its first frame does not decode ({_one_line(e)}); "
                            f"re-encode it") from None
        if first is None:
            raise DataError(f"{path} contains no decodable frames (it has only 0 frames; a fit needs at least "
                            f"{MIN_FRAMES}); re-encode it")
        rotation = _rotation(first)
        w, h = (first.height, first.width) if rotation % 180 else (first.width, first.height)
        declared = stream.average_rate or stream.guessed_rate
        rate = fps or (Fraction(declared) if declared else DEFAULT_FRAMES_FPS)
        num_frames: int | None  # None: the container gives neither a count nor a duration
        num_frames, exact = int(stream.frames or 0), True
        if num_frames <= 0:  # mkv/webm store no count: estimate it from the duration
            exact = False
            seconds = None
            if stream.duration and stream.time_base:
                seconds = stream.duration * stream.time_base
            elif container.duration:
                seconds = Fraction(container.duration, av.time_base)
            num_frames = round(seconds * Fraction(declared)) if seconds and declared else None
    return SourceInfo(path=path, kind="video", width=int(w), height=int(h), num_frames=num_frames,
                      num_frames_exact=exact, fps=rate, rotation=rotation)


def _iter_video(info: SourceInfo, start: int, count: int, seen: _Counter) -> Iterator[np.ndarray]:
    """``uint8 [h, w, 3]`` RGB as stored, for frames ``[start, start + count)``; `seen` counts decoded frames.

    Decodes from the first frame, converting to RGB only from `start` on; stops after the last.
    """
    import av

    container = _open_video(info.path)
    with container:
        stream = container.streams.video[0]
        # Default (slice) threading: FFmpeg's frame threading would hide decoding errors of corrupt files.
        try:
            for frame in container.decode(stream):
                seen.n += 1
                if seen.n > start:
                    yield frame.to_ndarray(format="rgb24")
                    if seen.n >= start + count:
                        return
        except (av.error.FFmpegError, ValueError) as e:
            usable = seen.n - start
            fix = (f"pass `frames` {usable} to fit the frames before the damage, or re-encode it"
                   if usable >= MIN_FRAMES else "re-encode it")
            raise DataError(f"{info.path} is corrupt: decoding failed after {seen.n} frames ({_one_line(e)}); "
                            f"{fix}") from None


def _resize(frame: np.ndarray, w: int, h: int, rotation: int) -> np.ndarray:
    """Resize ``uint8 [h0, w0, 3]`` (as stored) and rotate it upright to ``[h, w, 3]``."""
    import cv2

    k = rotation // 90
    tw, th = (h, w) if k % 2 else (w, h)  # the target before rotation
    fh, fw = frame.shape[:2]
    if (fw, fh) != (tw, th):
        interp = cv2.INTER_AREA if tw * th < fw * fh else cv2.INTER_LINEAR
        frame = cv2.resize(frame, (tw, th), interpolation=interp)
    return np.rot90(frame, k) if k else frame


@dataclass
class _Counter:
    n: int = 0


class _Buffer:
    """Frames appended into one preallocated ``uint8 [capacity, H, W, 3]`` array, grown when full."""

    def __init__(self, capacity: int, shape: tuple[int, int, int]) -> None:
        self.data = np.empty((capacity, *shape), np.uint8)
        self.n = 0

    def append(self, frame: np.ndarray) -> None:
        if self.n == len(self.data):
            grow = max(16, len(self.data) // 2)
            self.data = np.concatenate([self.data, np.empty((grow, *self.data.shape[1:]), np.uint8)])
        self.data[self.n] = frame
        self.n += 1

    def array(self) -> np.ndarray:
        # A view: the unused tail of a generous preallocation was never written, so never resident.
        return self.data[:self.n]
