"""The clip artifact: one video as a canonical image plus per-frame offsets (FORMATS.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gendef_core.artifacts.common import (
    atomic_dir,
    file_record,
    header,
    read_manifest,
    require,
    verify_files,
    write_json_atomic,
)
from gendef_core.artifacts.tensors import expect_tensor, load_tensors, save_tensors
from gendef_core.errors import ArtifactError
from gendef_core.events import OnEvent, ignore

CLIP_FORMAT = "gendef.clip"
CLIP_VERSION = 1
CONVENTION = "offsets[T,2,H,W] xy normalised align_corners=True backward bilinear zeros"
_FIX = "re-create the clip (e.g. with `gendef sample`)"
_EPS = 1e-4  # slack on the canonical's [-1, 1] range for float round-off


@dataclass(frozen=True)
class Clip:
    """A video as GenDeF represents it. Tensors live on the CPU, float32."""

    canonical: Tensor                     # [3, H, W] in [-1, 1]
    offsets: Tensor                       # [T, 2, H, W], normalised (see warp.py)
    fps: Fraction = Fraction(25)
    seed: int | None = None
    checkpoint: str | None = None
    source: str = "unknown"
    latents: Mapping[str, Tensor] = field(default_factory=dict)
    sampling: Mapping[str, Any] = field(default_factory=dict)
    """How a generated clip was drawn (truncation_psi, motion_seed, ...); JSON-serialisable."""

    @property
    def num_frames(self) -> int:
        return int(self.offsets.shape[0])

    @property
    def height(self) -> int:
        return int(self.canonical.shape[1])

    @property
    def width(self) -> int:
        return int(self.canonical.shape[2])

    def validate(self, where: Path | str = "clip", *, fix: str = "") -> None:
        """Raise ArtifactError unless shapes, dtypes and values satisfy FORMATS.md.

        Messages name ``where/canonical.safetensors`` or ``where/deform.safetensors`` and end with `fix`.
        """
        where = Path(str(where))
        tail = f"; {fix}" if fix else ""
        tensors = {"canonical": self.canonical, "offsets": self.offsets}
        try:
            c = expect_tensor(tensors, "canonical", where / "canonical.safetensors", dtype=torch.float32,
                              shape=(3, None, None), value_range=(-1 - _EPS, 1 + _EPS))
            h, w = c.shape[1:]
            if h < 2 or w < 2:
                raise ArtifactError(f"{where / 'canonical.safetensors'}: the canonical is {h}x{w}; "
                                    f"clips need at least 2x2 pixels")
            expect_tensor(tensors, "offsets", where / "deform.safetensors", dtype=torch.float32,
                          shape=(None, 2, h, w))
            if self.offsets.shape[0] < 1:
                raise ArtifactError(f"{where / 'deform.safetensors'}: the clip has no frames")
        except ArtifactError as e:
            raise ArtifactError(f"{e}{tail}") from None
        if self.fps <= 0:
            raise ArtifactError(f"{where}: fps must be positive, got {self.fps}{tail}")


def _fps_json(fps: Fraction) -> list[int]:
    return [fps.numerator, fps.denominator]


def save_clip(clip: Clip, path: Path, *, overwrite: bool = False, video: bool = True,
              flow: bool = False, flow_max: float | None = None, crf: int = 18,
              on_event: OnEvent = ignore) -> Path:
    """Write `clip` as a clip directory (atomically); renders video.mp4 (and flow.mp4) too."""
    from gendef_core.data.images import to_uint8, write_png
    from gendef_core.render import render_flow_video, render_video

    clip.validate(path)
    with atomic_dir(Path(path), overwrite=overwrite, what="clip") as tmp:
        meta = {k: str(v) for k, v in header(CLIP_FORMAT, CLIP_VERSION).items()}
        save_tensors(tmp / "canonical.safetensors", {"canonical": clip.canonical}, meta)
        save_tensors(tmp / "deform.safetensors", {"offsets": clip.offsets}, meta)
        files = ["canonical.safetensors", "deform.safetensors"]
        if clip.latents:
            save_tensors(tmp / "latents.safetensors", dict(clip.latents), meta)
            files.append("latents.safetensors")
        write_png(tmp / "canonical.png", to_uint8(clip.canonical).numpy())
        videos: dict[str, Any] = {}
        if video:
            videos["video.mp4"] = render_video(clip, tmp / "video.mp4", crf=crf, on_event=on_event)
        if flow:
            videos["flow.mp4"] = render_flow_video(clip, tmp / "flow.mp4", flow_max=flow_max, crf=crf,
                                                   on_event=on_event)
        manifest = {
            **header(CLIP_FORMAT, CLIP_VERSION),
            "height": clip.height, "width": clip.width, "num_frames": clip.num_frames,
            "fps": _fps_json(clip.fps), "seed": clip.seed, "checkpoint": clip.checkpoint,
            "source": clip.source, "convention": CONVENTION,
            "latents": sorted(clip.latents), "sampling": dict(clip.sampling),
            "files": {name: file_record(tmp / name) for name in files},
            "videos": videos,
        }
        write_json_atomic(tmp / "manifest.json", manifest)
    return Path(path)


def read_clip_manifest(path: Path) -> dict[str, Any]:
    """The validated manifest of a clip directory (cheap: no tensors are loaded)."""
    path = Path(path)
    m = read_manifest(path, fmt=CLIP_FORMAT, version=CLIP_VERSION, what="clip",
                      fix="point at a clip directory made by `gendef sample`", migrations={})
    where = path / "manifest.json"
    for key in ("height", "width", "num_frames"):
        if require(m, key, int, where) < 1:
            raise ArtifactError(f"{where}: {key} must be positive")
    fps = require(m, "fps", list, where)
    if len(fps) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in fps) or fps[1] == 0:
        raise ArtifactError(f"{where}: fps must be [numerator, denominator], got {fps!r}")
    require(m, "files", dict, where)
    require(m, "videos", dict, where)
    if not isinstance(m.get("sampling", {}), dict):
        raise ArtifactError(f"{where}: sampling must be an object, got {m['sampling']!r}; {_FIX}")
    return m


def load_clip(path: Path, *, verify: bool = True, require_videos: bool = True) -> Clip:
    """Load and validate a clip directory.

    `verify` checks the sha256 of its tensor files; `require_videos` that the derived videos the
    manifest lists exist (`gendef render`, which rebuilds them, passes False).
    """
    path = Path(path)
    m = read_clip_manifest(path)
    files = m["files"]
    for required in ("canonical.safetensors", "deform.safetensors"):
        if required not in files:
            raise ArtifactError(f"{path / 'manifest.json'}: does not list {required}; {_FIX}")
    if verify:
        verify_files(path, files, fix=_FIX)
    for name in m["videos"] if require_videos else ():
        if not (path / name).is_file():
            raise ArtifactError(f"{path / name} is missing; run `gendef render {path}` to rebuild it")
    canonical = load_tensors(path / "canonical.safetensors", fix=_FIX).get("canonical")
    offsets = load_tensors(path / "deform.safetensors", fix=_FIX).get("offsets")
    if canonical is None or offsets is None:
        missing = "canonical" if canonical is None else "offsets"
        raise ArtifactError(f"{path}: tensor {missing!r} is missing; {_FIX}")
    latents = load_tensors(path / "latents.safetensors", fix=_FIX) if "latents.safetensors" in files else {}
    clip = Clip(canonical=canonical, offsets=offsets, fps=Fraction(*m["fps"]), seed=m.get("seed"),
                checkpoint=m.get("checkpoint"), source=str(m.get("source", "unknown")), latents=latents,
                sampling=m.get("sampling", {}))
    clip.validate(path, fix=_FIX)
    if (clip.height, clip.width, clip.num_frames) != (m["height"], m["width"], m["num_frames"]):
        raise ArtifactError(f"{path}: tensors are {clip.num_frames} frames of {clip.height}x{clip.width} "
                            f"but the manifest says {m['num_frames']} of {m['height']}x{m['width']}; {_FIX}")
    return clip


def update_videos(path: Path, videos: Mapping[str, Any]) -> None:
    """Record re-rendered derived videos in a clip's manifest (atomic manifest rewrite)."""
    m = read_clip_manifest(path)
    m["videos"] = {**m["videos"], **videos}
    write_json_atomic(Path(path) / "manifest.json", m)
