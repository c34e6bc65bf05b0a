"""The dataset artifact: frame folders plus a manifest (and optional ground truth), FORMATS.md."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.common import (
    artifact_path,
    fps_from_json,
    fps_to_json,
    header,
    read_manifest,
    write_json_atomic,
)
from gendef_core.artifacts.images import open_image
from gendef_core.artifacts.schema import (
    FPS,
    HEADER,
    HEADER_OPTIONAL,
    boolean,
    described,
    integer,
    list_of,
    nullable,
    obj,
    plain_name,
    string,
    validate,
)
from gendef_core.artifacts.tensors import expect_tensor, load_tensors, save_tensors
from gendef_core.errors import ArtifactError

DATASET_FORMAT = "gendef.dataset"
DATASET_VERSION = 1
FRAME_NAME = "{:06d}.png"
_FRAME_RE = re.compile(r"^\d{6}\.png$")
_FIX = "re-create it with `gendef data prepare` or `gendef data synth`"


@dataclass(frozen=True)
class VideoEntry:
    name: str
    num_frames: int


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's validated manifest."""

    path: Path
    resolution: int
    fps: Fraction
    videos: tuple[VideoEntry, ...]
    source: Mapping[str, Any]
    min_frames: int
    skipped: tuple[Mapping[str, Any], ...] = ()
    ground_truth: Mapping[str, Any] | None = None

    @property
    def num_frames(self) -> int:
        return sum(v.num_frames for v in self.videos)

    def video_dir(self, name: str) -> Path:
        return self.path / "videos" / name

    def frame_path(self, name: str, index: int) -> Path:
        return self.video_dir(name) / FRAME_NAME.format(index)


def safe_video_name(name: str, taken: set[str]) -> str:
    """A folder-safe, unique video name derived from `name` (a source file or folder name)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"
    candidate, k = base, 1
    while candidate in taken:
        candidate, k = f"{base}_{k}", k + 1
    taken.add(candidate)
    return candidate


def write_video_frames(root: Path, name: str, frames: Iterable[np.ndarray]) -> int:
    """Write ``uint8 [R, R, 3]`` frames as ``root/videos/name/000000.png …``; returns the count.

    Called inside an `atomic_dir` build, so the individual PNGs need no atomicity of their own.
    """
    from PIL import Image

    d = Path(root) / "videos" / name
    d.mkdir(parents=True, exist_ok=False)
    n = 0
    for n, frame in enumerate(frames, start=1):
        Image.fromarray(np.ascontiguousarray(frame)).save(d / FRAME_NAME.format(n - 1), format="PNG",
                                                          compress_level=1)
    return n


def write_ground_truth(root: Path, name: str, gt: Mapping[str, Tensor]) -> None:
    d = Path(root) / "groundtruth"
    d.mkdir(exist_ok=True)
    save_tensors(d / f"{name}.safetensors", gt)


def write_dataset_manifest(root: Path, *, resolution: int, fps: Fraction, videos: list[VideoEntry],
                           source: Mapping[str, Any], min_frames: int,
                           skipped: Sequence[Mapping[str, Any]] | None = None,
                           ground_truth: Mapping[str, Any] | None = None) -> None:
    videos = sorted(videos, key=lambda v: v.name)
    write_json_atomic(Path(root) / "manifest.json", {
        **header(DATASET_FORMAT, DATASET_VERSION),
        "resolution": resolution, "fps": fps_to_json(fps),
        "num_videos": len(videos), "num_frames": sum(v.num_frames for v in videos),
        "videos": [{"name": v.name, "num_frames": v.num_frames} for v in videos],
        "source": dict(source), "skipped": list(skipped or []), "min_frames": min_frames,
        "ground_truth": dict(ground_truth) if ground_truth else None,
    })


MAX_VIDEO_FRAMES = 100_000_000
"""Most frames a dataset manifest may state for one video."""

DATASET_MANIFEST = obj({
    **HEADER,
    "resolution": integer(2),  # bounded by the frames: read_video_frames checks one before allocating
    "fps": FPS,
    "num_videos": integer(1),
    "num_frames": integer(1),
    "videos": list_of(described(obj({"name": plain_name(), "num_frames": integer(1, MAX_VIDEO_FRAMES)}),
                                "{'name': str, 'num_frames': int >= 1}")),
    "source": obj({}, {"kind": string(), "path": nullable(string())}),
}, {
    **HEADER_OPTIONAL,
    "skipped": list_of(obj({"name": string(), "reason": string()})),
    "min_frames": integer(1),
    "ground_truth": nullable(obj({"kind": string(), "backward_map": boolean()})),
})
"""The fields of a dataset's manifest.json (FORMATS.md, "Dataset")."""


def load_dataset_info(path: Path, *, check_files: bool = True) -> DatasetInfo:
    """Read and validate a dataset's manifest; with `check_files`, also that every frame file exists (and
    none is a symbolic link: FORMATS.md, "Names and links")."""
    path = Path(path)
    m = read_manifest(path, fmt=DATASET_FORMAT, version=DATASET_VERSION, what="dataset",
                      fix="point at a directory made by `gendef data prepare` or `gendef data synth`",
                      migrations={})
    where = path / "manifest.json"
    if isinstance(m.get("videos"), list) and not m["videos"]:
        raise ArtifactError(f"{where}: the dataset has no videos; {_FIX}")
    validate(m, DATASET_MANIFEST, where, fix=_FIX)
    videos = [VideoEntry(v["name"], v["num_frames"]) for v in m["videos"]]
    names = [v.name for v in videos]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ArtifactError(f"{where}: the video {twice!r} is listed twice; {_FIX}")
    if m["num_videos"] != len(videos):
        raise ArtifactError(f"{where}: num_videos is {m['num_videos']} but {len(videos)} videos are listed")
    info = DatasetInfo(path=path, resolution=m["resolution"], fps=fps_from_json(m, where), videos=tuple(videos),
                       source=m["source"], min_frames=m.get("min_frames", 1), skipped=tuple(m.get("skipped") or ()),
                       ground_truth=m.get("ground_truth"))
    if check_files:
        for v in info.videos:
            d = artifact_path(path, "videos", v.name, fix=_FIX)
            if not d.is_dir():
                raise ArtifactError(f"{d} is missing; the dataset is incomplete, {_FIX}")
            with os.scandir(d) as entries:
                frames = sorted((e for e in entries if _FRAME_RE.match(e.name)), key=lambda e: e.name)
            link = next((e for e in frames if e.is_symlink()), None)
            if link is not None:
                artifact_path(d, link.name, fix=_FIX)  # raises: the frame is a link
            if [e.name for e in frames] != [FRAME_NAME.format(i) for i in range(v.num_frames)]:
                raise ArtifactError(f"{d} has {len(frames)} frame files, the manifest lists {v.num_frames} "
                                    f"(000000.png … consecutive); {_FIX}")
    if m["num_frames"] != info.num_frames:
        raise ArtifactError(f"{where}: num_frames is {m['num_frames']} but the videos listed have {info.num_frames}; "
                            f"{_FIX}")
    return info


def read_video_frames(info: DatasetInfo, name: str) -> np.ndarray:
    """Decode one video of the dataset: ``uint8 [T, R, R, 3]``, checking every frame's size."""
    entry = next((v for v in info.videos if v.name == name), None)
    if entry is None:
        raise ArtifactError(f"{info.path}: no video named {name!r}")
    folder = artifact_path(info.path, "videos", name, fix=_FIX)
    out = None  # allocated once the first frame has shown the resolution is real
    for i in range(entry.num_frames):
        p = artifact_path(folder, FRAME_NAME.format(i), fix=_FIX)
        with open_image(p, error=ArtifactError, fix=_FIX) as im:
            if im.size != (info.resolution, info.resolution):
                raise ArtifactError(f"{p} is {im.size[0]}x{im.size[1]}, but the dataset's resolution is "
                                    f"{info.resolution}; {_FIX}")
            if out is None:
                out = np.empty((entry.num_frames, info.resolution, info.resolution, 3), dtype=np.uint8)
            out[i] = np.asarray(im.convert("RGB"))
    assert out is not None  # entry.num_frames >= 1
    return out


@dataclass(frozen=True)
class GroundTruth:
    query_points: Tensor            # float32 [N, 2] pixels (x, y) on frame 0
    tracks: Tensor                  # float32 [T, N, 2]
    visible: Tensor                 # bool [T, N]
    canonical: Tensor | None = None  # float32 [3, R, R] (clouds)
    offsets: Tensor | None = None    # float32 [T, 2, R, R] (clouds)
    extra: Mapping[str, Tensor] = field(default_factory=dict)


def load_ground_truth(info: DatasetInfo, name: str) -> GroundTruth:
    """The ground truth of one video of a synthetic dataset, validated against the manifest."""
    if info.ground_truth is None:
        raise ArtifactError(f"{info.path} has no ground truth; only `gendef data synth` datasets do")
    entry = next((v for v in info.videos if v.name == name), None)
    if entry is None:
        raise ArtifactError(f"{info.path}: no video named {name!r}")
    p = artifact_path(info.path, "groundtruth", f"{name}.safetensors", fix=_FIX)
    t = load_tensors(p, fix=_FIX)
    n_frames, r = entry.num_frames, info.resolution
    q = expect_tensor(t, "query_points", p, dtype=torch.float32, shape=(None, 2))
    n = q.shape[0]
    tracks = expect_tensor(t, "tracks", p, dtype=torch.float32, shape=(n_frames, n, 2))
    visible = expect_tensor(t, "visible", p, dtype=torch.bool, shape=(n_frames, n))
    canonical = offsets = None
    if info.ground_truth.get("backward_map"):
        canonical = expect_tensor(t, "canonical", p, dtype=torch.float32, shape=(3, r, r), value_range=(-1, 1))
        offsets = expect_tensor(t, "offsets", p, dtype=torch.float32, shape=(n_frames, 2, r, r))
    return GroundTruth(q, tracks, visible, canonical, offsets)
