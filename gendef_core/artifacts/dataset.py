"""The dataset artifact: frame folders plus a manifest (and optional ground truth), FORMATS.md."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.common import fps_from_json, fps_to_json, header, read_manifest, require, write_json_atomic
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


def load_dataset_info(path: Path, *, check_files: bool = True) -> DatasetInfo:
    """Read and validate a dataset's manifest; with `check_files`, also that every frame file exists."""
    path = Path(path)
    m = read_manifest(path, fmt=DATASET_FORMAT, version=DATASET_VERSION, what="dataset",
                      fix="point at a directory made by `gendef data prepare` or `gendef data synth`",
                      migrations={})
    where = path / "manifest.json"
    res = require(m, "resolution", int, where)
    if res < 2:
        raise ArtifactError(f"{where}: resolution must be at least 2, got {res}")
    fps = fps_from_json(m, where)
    raw_videos = require(m, "videos", list, where)
    videos = []
    for i, v in enumerate(raw_videos):
        if not (isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("num_frames"), int)
                and v["num_frames"] >= 1 and "/" not in v["name"] and v["name"] not in ("", ".", "..")):
            raise ArtifactError(f"{where}: videos[{i}] must be {{'name': str, 'num_frames': int >= 1}}")
        videos.append(VideoEntry(v["name"], v["num_frames"]))
    if not videos:
        raise ArtifactError(f"{where}: the dataset has no videos; {_FIX}")
    if require(m, "num_videos", int, where) != len(videos):
        raise ArtifactError(f"{where}: num_videos is {m['num_videos']} but {len(videos)} videos are listed")
    gt = m.get("ground_truth")
    info = DatasetInfo(path=path, resolution=res, fps=fps, videos=tuple(videos),
                       source=require(m, "source", dict, where),
                       min_frames=int(m.get("min_frames", 1)),
                       skipped=tuple(m.get("skipped") or ()), ground_truth=gt if isinstance(gt, dict) else None)
    if check_files:
        for v in info.videos:
            d = info.video_dir(v.name)
            if not d.is_dir():
                raise ArtifactError(f"{d} is missing; the dataset is incomplete, {_FIX}")
            names = sorted(p.name for p in d.iterdir() if _FRAME_RE.match(p.name))
            if names != [FRAME_NAME.format(i) for i in range(v.num_frames)]:
                raise ArtifactError(f"{d} has {len(names)} frame files, the manifest lists {v.num_frames} "
                                    f"(000000.png … consecutive); {_FIX}")
    return info


def read_video_frames(info: DatasetInfo, name: str) -> np.ndarray:
    """Decode one video of the dataset: ``uint8 [T, R, R, 3]``, checking every frame's size."""
    from PIL import Image, UnidentifiedImageError

    entry = next((v for v in info.videos if v.name == name), None)
    if entry is None:
        raise ArtifactError(f"{info.path}: no video named {name!r}")
    out = np.empty((entry.num_frames, info.resolution, info.resolution, 3), dtype=np.uint8)
    for i in range(entry.num_frames):
        p = info.frame_path(name, i)
        try:
            with Image.open(p) as im:
                if im.size != (info.resolution, info.resolution):
                    raise ArtifactError(f"{p} is {im.size[0]}x{im.size[1]}, but the dataset's resolution is "
                                        f"{info.resolution}; {_FIX}")
                out[i] = np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as e:
            raise ArtifactError(f"{p} is not a readable image ({e}); {_FIX}") from None
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
    p = info.path / "groundtruth" / f"{name}.safetensors"
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
