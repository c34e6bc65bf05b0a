"""`gendef data prepare`: turn a folder/zip of videos or frame folders into a gendef dataset."""

from __future__ import annotations

import math
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np

from gendef_core.artifacts.common import atomic_dir, prepare_output_dir
from gendef_core.artifacts.dataset import VideoEntry, safe_video_name, write_dataset_manifest, write_video_frames
from gendef_core.artifacts.paths import check_apart
from gendef_core.data.images import center_crop_resize, read_image
from gendef_core.data.video_io import VIDEO_EXTENSIONS, iter_frames, probe_video, to_fraction
from gendef_core.errors import ConfigError, DataError
from gendef_core.events import Info, OnEvent, Progress, Warning, ignore

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_FRAME_FOLDER_FPS = Fraction(25)


@dataclass(frozen=True)
class Source:
    name: str
    kind: Literal["video", "frames"]
    path: Path


class SkippedVideo(TypedDict):
    """A source video left out of a dataset (the manifest's ``skipped``)."""

    name: str
    reason: str  # "unreadable", "too short (N < M frames)"


@dataclass(frozen=True)
class DatasetSummary:
    """What a dataset-writing command produced (printed by the CLI, returned to Python)."""

    path: str
    num_videos: int
    num_frames: int
    resolution: int
    fps: str
    skipped: list[SkippedVideo]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_resolution(resolution: int, minimum: int = 8) -> int:
    if resolution < minimum or resolution > 1024 or resolution & (resolution - 1):
        raise ConfigError(f"`resolution` must be a power of two from {minimum} to 1024 (the generators need one), "
                          f"got {resolution}")
    return resolution


def _natural_key(name: str) -> list[Any]:
    # frame2.png before frame10.png: compare digit runs as numbers.
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in p.relative_to(root).parts)


def is_gendef_artifact(folder: Path) -> bool:
    """True for a directory that is a gendef artifact (a dataset, clip, checkpoint, masks or flow directory...):
    its manifest.json names a ``gendef.*`` format. Read cheaply (the first 4 KiB), never parsed."""
    manifest = Path(folder) / "manifest.json"
    try:
        with open(manifest, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b'"format": "gendef.' in head or b'"format":"gendef.' in head


def discover_sources(root: Path, *, name: str | None = None, exclude: Path | None = None) -> list[Source]:
    """Video files anywhere under `root`, and every folder that directly holds image files.

    `name` names frames lying directly in `root` (default: root's name); `exclude` is a directory
    to ignore (the output, when it lies inside the source). gendef artifacts found inside the source
    (an earlier dataset, clips with their video.mp4, a run...) are skipped with everything under them:
    they are outputs, not source videos.
    """
    root = Path(root)
    sources: list[Source] = []
    skip = [exclude.resolve()] if exclude is not None else []
    skip += [m.parent.resolve() for m in root.rglob("manifest.json")
             if m.parent != root and is_gendef_artifact(m.parent)]
    dirs = [root, *sorted((p for p in root.rglob("*") if p.is_dir() and not _hidden(p, root)
                            and not any(p.resolve().is_relative_to(s) for s in skip)),
                           key=lambda p: _natural_key(str(p)))]
    for d in dirs:
        files = sorted((f for f in d.iterdir() if f.is_file() and not f.name.startswith(".")),
                       key=lambda f: _natural_key(f.name))
        rel = d.relative_to(root)
        prefix = "_".join(rel.parts)
        if any(f.suffix.lower() in IMAGE_EXTENSIONS for f in files):
            sources.append(Source(prefix or name or root.name, "frames", d))
        for f in files:
            if f.suffix.lower() in VIDEO_EXTENSIONS:
                sources.append(Source("_".join([*rel.parts, f.stem]), "video", f))
    return sources


def _frame_folder_frames(folder: Path) -> Iterator[np.ndarray]:
    files = sorted((f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS),
                   key=lambda f: _natural_key(f.name))
    size = None
    for f in files:
        img = read_image(f)
        if size is None:
            size = img.shape[:2]
        elif img.shape[:2] != size:
            raise DataError(f"{f} is {img.shape[1]}x{img.shape[0]} but the other frames of {folder} are "
                            f"{size[1]}x{size[0]}; frames of one video must share a size")
        yield img


def _resample(frames: Iterator[np.ndarray], src: Fraction, dst: Fraction) -> Iterator[np.ndarray]:
    """Keep the source frame nearest to each output time k/dst (frames repeat when dst > src)."""
    k = 0
    for i, frame in enumerate(frames):
        while math.floor(k * src / dst + Fraction(1, 2)) == i:
            yield frame
            k += 1


def prepare_dataset(src: Path, out: Path, *, resolution: int, fps: float | str | None = None,
                    max_frames: int | None = None, min_frames: int = 16, skip_bad: bool = False,
                    overwrite: bool = False, on_event: OnEvent = ignore) -> DatasetSummary:
    """Build a dataset at `out` from `src` (folder or .zip of videos and/or frame folders).

    Each frame is centre-cropped to a square and resized to `resolution` (Lanczos, antialiased).
    With `fps`, videos are resampled to that rate (frame folders, whose rate is unknown, are
    declared at it); without, all videos must share a rate (frame folders assume 25).
    Videos shorter than `min_frames` (after resampling and `max_frames`) are skipped and counted;
    unreadable ones are an error unless `skip_bad`.
    """
    src, out = Path(src), Path(out)
    check_resolution(resolution)
    if min_frames < 1:
        raise ConfigError(f"`min_frames` must be at least 1, got {min_frames}")
    if max_frames is not None and max_frames < min_frames:
        raise ConfigError(f"`max_frames` {max_frames} is below `min_frames` {min_frames}; no video could qualify")
    target = None
    if fps is not None:
        try:
            target = to_fraction(fps)
        except ValueError as e:
            raise ConfigError(f"`fps`: {e}") from None
    if not src.exists():
        raise DataError(f"{src} does not exist; give a folder or .zip of videos or frame folders")
    check_apart(out, {"src": src}, inside_ok=("src",))  # never delete the source; out inside it is skipped below
    if is_gendef_artifact(src):
        raise DataError(f"{src} is a gendef artifact, not a folder of source videos; give the folder of your videos")
    prepare_output_dir(out, overwrite=overwrite, what="dataset")
    with tempfile.TemporaryDirectory(prefix="gendef-zip-") as tmp:
        root = src
        if src.is_file():
            if not zipfile.is_zipfile(src):
                raise DataError(f"{src} is a file but not a zip; give a folder or .zip of videos or frame folders")
            try:
                with zipfile.ZipFile(src) as z:
                    z.extractall(tmp)  # extractall refuses absolute paths and '..' members
            except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError, EOFError) as e:
                raise DataError(f"{src} is a corrupt or unreadable zip ({e}); re-create the archive") from None
            root = Path(tmp)
        sources = discover_sources(root, name=src.stem, exclude=out if out.exists() else None)
        if not sources:
            raise DataError(f"{src} contains no video files ({', '.join(VIDEO_EXTENSIONS[:5])}, …) "
                            f"and no folders of image frames")
        return _build(src, sources, out, resolution=resolution, target=target, max_frames=max_frames,
                      min_frames=min_frames, skip_bad=skip_bad, overwrite=overwrite, on_event=on_event)


def _build(src: Path, sources: list[Source], out: Path, *, resolution: int, target: Fraction | None,
           max_frames: int | None, min_frames: int, skip_bad: bool, overwrite: bool,
           on_event: OnEvent) -> DatasetSummary:
    rates: dict[Source, Fraction | None] = {}
    skipped: list[SkippedVideo] = []
    usable: list[Source] = []
    for s in sources:  # probe every rate first, so a mismatch fails before any decoding
        try:
            rates[s] = probe_video(s.path).fps if s.kind == "video" else None
            usable.append(s)
        except DataError as e:
            if not skip_bad:
                raise DataError(f"{e} (or pass `skip_bad` to skip unreadable videos)") from None
            on_event(Warning(f"skipping {s.path}: unreadable"))
            skipped.append({"name": s.name, "reason": "unreadable"})
    known = {r for r in rates.values() if r is not None}
    if target is None and len(known) > 1:
        listing = ", ".join(f"{float(r):g}" for r in sorted(known))
        raise DataError(f"videos in {src} have different frame rates ({listing}); pass `fps` F to resample them")
    fps = target or (known.pop() if known else DEFAULT_FRAME_FOLDER_FPS)
    videos: list[VideoEntry] = []
    taken: set[str] = set()
    longest = 0
    with atomic_dir(out, overwrite=overwrite, what="dataset") as tmp:
        for k, s in enumerate(usable):
            try:
                frames = _decode(s, rates[s], fps, resolution, max_frames)
            except DataError as e:
                if not skip_bad or s.kind == "frames":
                    hint = " (or pass `skip_bad` to skip unreadable videos)" if s.kind == "video" else ""
                    raise DataError(f"{e}{hint}") from None
                on_event(Warning(f"skipping {s.path}: {e}"))
                skipped.append({"name": s.name, "reason": "unreadable"})
                continue
            longest = max(longest, len(frames))
            if len(frames) < min_frames:
                on_event(Warning(f"skipping {s.path}: {len(frames)} frames, fewer than `min_frames` {min_frames}"))
                skipped.append({"name": s.name, "reason": f"too short ({len(frames)} < {min_frames} frames)"})
            else:
                name = safe_video_name(s.name, taken)
                videos.append(VideoEntry(name, write_video_frames(tmp, name, frames)))
            on_event(Progress("prepare", k + 1, len(usable)))
        if not videos:
            raise DataError(f"no usable video in {src}: all {len(sources)} are unreadable or shorter than "
                            f"`min_frames` {min_frames} (the longest has {longest}); lower `min_frames`")
        source = {"kind": "videos" if any(s.kind == "video" for s in usable) else "frames",
                  "path": str(src.resolve())}
        write_dataset_manifest(tmp, resolution=resolution, fps=fps, videos=videos, source=source,
                               min_frames=min_frames, skipped=skipped)
    summary = DatasetSummary(str(out), len(videos), sum(v.num_frames for v in videos), resolution,
                             str(fps), skipped)
    on_event(Info(f"{summary.num_videos} videos, {summary.num_frames} frames at {resolution}x{resolution}, "
                  f"{fps} fps; skipped {len(skipped)}"))
    return summary


def _decode(s: Source, rate: Fraction | None, fps: Fraction, resolution: int,
            max_frames: int | None) -> list[np.ndarray]:
    frames: Iterator[np.ndarray]
    if s.kind == "video":
        frames = iter_frames(s.path)
        if rate is not None and rate != fps:
            frames = _resample(frames, rate, fps)
    else:
        frames = _frame_folder_frames(s.path)
    out = []
    for f in frames:
        out.append(center_crop_resize(f, resolution))
        if max_frames is not None and len(out) >= max_frames:
            break
    return out
