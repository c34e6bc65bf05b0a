"""The clip artifact: one video as a canonical image plus per-frame offsets (FORMATS.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypedDict

import torch
from torch import Tensor

from gendef_core.artifacts.common import (
    artifact_path,
    file_record,
    fps_from_json,
    fps_to_json,
    header,
    read_json,
    read_manifest,
    verify_files,
    write_json_atomic,
)
from gendef_core.artifacts.schema import (
    FILE_RECORD,
    FPS,
    HEADER,
    HEADER_OPTIONAL,
    MAX_SEED,
    MIN_SEED,
    SHA256,
    integer,
    list_of,
    mapping,
    nullable,
    number,
    obj,
    plain_name,
    string,
    validate,
)
from gendef_core.artifacts.tensors import expect_tensor, load_tensors, save_tensors
from gendef_core.errors import ArtifactError
from gendef_core.warp import check_origin

CLIP_FORMAT = "gendef.clip"
CLIP_VERSION = 2
CONVENTION = "offsets[T,2,H,W] xy normalised align_corners=True backward bilinear zeros"
CONVENTION_V2 = ("offsets[T,2,H,W] xy normalised to the canonical align_corners=True; identity (j+ox, i+oy); "
                 "backward bilinear zeros")
_FIX = "re-create the clip (e.g. with `gendef sample`)"
_EPS = 1e-4  # slack on the canonical's [-1, 1] range for float round-off


class VideoRecord(TypedDict):
    """A derived video's record in a manifest's ``videos`` (``video.mp4``; a flow artifact's ``flow.mp4``)."""

    num_frames: int


class FlowVideoRecord(VideoRecord):
    """A clip's ``flow.mp4`` record: also the flow magnitude (px) shown in full colour."""

    flow_max: float


@dataclass(frozen=True)
class Clip:
    """A video as GenDeF represents it. Tensors live on the CPU, float32."""

    canonical: Tensor                     # [3, Hc, Wc] in [-1, 1] (Hc >= H, Wc >= W)
    offsets: Tensor                       # [T, 2, H, W], normalised to the canonical (see warp.py)
    fps: Fraction = Fraction(25)
    seed: int | None = None
    checkpoint: str | None = None
    source: str = "unknown"
    latents: Mapping[str, Tensor] = field(default_factory=dict)
    sampling: Mapping[str, Any] = field(default_factory=dict)
    """How a generated clip was drawn (truncation_psi, motion_seed, ...); JSON-serialisable."""
    origin: tuple[int, int] = (0, 0)
    """Where frame pixel (0, 0) sits on the canonical at zero offsets, canonical pixels (x, y)."""
    visibility: Tensor | None = None
    """Optional bool [T, H, W]: frame pixels whose content the canonical explains (fitted clips)."""
    fit: Mapping[str, Any] = field(default_factory=dict)
    """The fit report of a clip made by `gendef fit` (JSON-serialisable); empty otherwise."""

    @property
    def num_frames(self) -> int:
        return int(self.offsets.shape[0])

    @property
    def height(self) -> int:
        """Frame height H."""
        return int(self.offsets.shape[2])

    @property
    def width(self) -> int:
        """Frame width W."""
        return int(self.offsets.shape[3])

    @property
    def canonical_size(self) -> tuple[int, int]:
        """(Hc, Wc): equal to (H, W) for generated clips, larger for fitted videos with a margin."""
        return int(self.canonical.shape[1]), int(self.canonical.shape[2])

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
            hc, wc = c.shape[1:]
            if hc < 2 or wc < 2:
                raise ArtifactError(f"{where / 'canonical.safetensors'}: the canonical is {hc}x{wc}; "
                                    f"clips need at least 2x2 pixels")
            o = expect_tensor(tensors, "offsets", where / "deform.safetensors", dtype=torch.float32,
                              shape=(None, 2, None, None))
            t, _, h, w = o.shape
            if t < 1:
                raise ArtifactError(f"{where / 'deform.safetensors'}: the clip has no frames")
            if h < 2 or w < 2:
                raise ArtifactError(f"{where / 'deform.safetensors'}: frames are {h}x{w}; clips need at least 2x2")
            try:
                check_origin((h, w), (hc, wc), self.origin)
            except ValueError as e:
                raise ArtifactError(f"{where / 'manifest.json'}: origin: {e}") from None
            if self.visibility is not None:
                expect_tensor({"visible": self.visibility}, "visible", where / "visibility.safetensors",
                              dtype=torch.bool, shape=(t, h, w))
        except ArtifactError as e:
            raise ArtifactError(f"{e}{tail}") from None
        if self.fps <= 0:
            raise ArtifactError(f"{where}: fps must be positive, got {self.fps}{tail}")


SOURCE_VIDEO = "source.mp4"


@dataclass(frozen=True)
class SourceVideo:
    """The input of a fitted clip at the fitted size: ``frames`` uint8 [T, H, W, 3]; `origin` names the input."""

    frames: Any
    origin: str


def write_clip(clip: Clip, directory: Path, *, videos: Mapping[str, Any],
               source_video: SourceVideo | None = None) -> Path:
    """Write the tensors and ``manifest.json`` of `clip` into `directory`, a clip being built.

    The caller validates `clip`, builds `directory` atomically (`atomic_dir`) and writes the derived
    files there first (`gendef_core.clips.save_clip` does all three): `videos` are the manifest records
    of the videos already in `directory` (video.mp4, flow.mp4), and with `source_video` its frames are
    already in ``directory / SOURCE_VIDEO``.
    """
    directory = Path(directory)
    meta = {k: str(v) for k, v in header(CLIP_FORMAT, CLIP_VERSION).items()}
    save_tensors(directory / "canonical.safetensors", {"canonical": clip.canonical}, meta)
    save_tensors(directory / "deform.safetensors", {"offsets": clip.offsets}, meta)
    files = ["canonical.safetensors", "deform.safetensors"]
    if clip.latents:
        save_tensors(directory / "latents.safetensors", dict(clip.latents), meta)
        files.append("latents.safetensors")
    if clip.visibility is not None:
        save_tensors(directory / "visibility.safetensors", {"visible": clip.visibility}, meta)
        files.append("visibility.safetensors")
    manifest: dict[str, Any] = {
        **header(CLIP_FORMAT, CLIP_VERSION),
        "height": clip.height, "width": clip.width, "num_frames": clip.num_frames,
        "canonical_height": clip.canonical_size[0], "canonical_width": clip.canonical_size[1],
        "origin": list(clip.origin),
        "fps": fps_to_json(clip.fps), "seed": clip.seed, "checkpoint": clip.checkpoint,
        "source": clip.source, "convention": CONVENTION_V2,
        "latents": sorted(clip.latents), "sampling": dict(clip.sampling),
        "files": {name: file_record(directory / name) for name in files},
        "videos": dict(videos),
    }
    if source_video is not None:
        manifest["source_video"] = {"file": SOURCE_VIDEO, "num_frames": len(source_video.frames),
                                    "from": source_video.origin, **file_record(directory / SOURCE_VIDEO)}
    if clip.fit:
        manifest["fit"] = dict(clip.fit)
    return write_json_atomic(directory / "manifest.json", manifest)


def migrate_v1_to_v2(m: dict[str, Any]) -> dict[str, Any]:
    """Clip v1 -> v2: the canonical had the frame's size and the frame sat at its origin."""
    return {**m, "format_version": 2, "canonical_height": m.get("height"), "canonical_width": m.get("width"),
            "origin": [0, 0], "convention": CONVENTION_V2}


MAX_SIDE = 1 << 16
"""Largest frame or canonical side (pixels) a clip manifest may state."""
MAX_CLIP_FRAMES = 10_000_000
"""Most frames a clip manifest may state (the tensors are checked against the manifest as they load)."""
_SIDE = integer(1, MAX_SIDE)
_TENSOR_NAME = string(r"[A-Za-z_][A-Za-z0-9_.]*", what="a tensor name", max_len=200)

CLIP_MANIFEST = obj({
    **HEADER,
    "height": _SIDE, "width": _SIDE, "canonical_height": _SIDE, "canonical_width": _SIDE,
    "num_frames": integer(1, MAX_CLIP_FRAMES),
    "origin": list_of(integer(0, MAX_SIDE), length=2),
    "fps": FPS,
    "files": mapping(plain_name(), FILE_RECORD),
    "videos": mapping(plain_name(), obj({"num_frames": integer(1, MAX_CLIP_FRAMES)}, {"flow_max": number(0)})),
}, {
    **HEADER_OPTIONAL,
    "seed": nullable(integer(MIN_SEED, MAX_SEED)),
    "checkpoint": nullable(string()),
    "source": string(),
    "convention": string(),
    "latents": list_of(_TENSOR_NAME),
    "sampling": obj({}, {"truncation_psi": number(0, 1), "motion_seed": integer(MIN_SEED, MAX_SEED),
                         "weights": string(r"[0-9a-f]{16}", what="a weights id (16 hex digits)")}),
    "fit": obj({}),
    "source_video": obj({"file": plain_name(), "num_frames": integer(1, MAX_CLIP_FRAMES), "from": string(),
                         "bytes": integer(0), "sha256": SHA256}),
})
"""The fields of a clip's manifest.json (FORMATS.md, "Clip"), as of the current version (after migration)."""


def read_clip_manifest(path: Path) -> dict[str, Any]:
    """The validated manifest of a clip directory, migrated to the current version (cheap: no tensors)."""
    path = Path(path)
    m = read_manifest(path, fmt=CLIP_FORMAT, version=CLIP_VERSION, what="clip",
                      fix="point at a clip directory made by `gendef sample` or `gendef fit`",
                      migrations={1: migrate_v1_to_v2})
    where = path / "manifest.json"
    validate(m, CLIP_MANIFEST, where, fix=_FIX)
    origin = m["origin"]
    try:
        check_origin((m["height"], m["width"]), (m["canonical_height"], m["canonical_width"]), (origin[0], origin[1]))
    except ValueError as e:
        raise ArtifactError(f"{where}: origin: {e}; {_FIX}") from None
    return m


def _check_latents(path: Path, m: Mapping[str, Any], latents: Mapping[str, Tensor]) -> None:
    """The latents tensors are the ones the manifest names; the documented ones are float32 and finite, z_c
    and z_d ``[z_dim]``, motion_noise ``[L, noise_dim]`` (their sizes are the checkpoint's: `resample`
    checks them against it)."""
    where = path / "latents.safetensors"
    named = m.get("latents")
    if named is not None and sorted(named) != sorted(latents):
        raise ArtifactError(f"{path / 'manifest.json'}: latents names {sorted(named)} but {where.name} holds "
                            f"{sorted(latents)}")
    shapes: dict[str, tuple[int | None, ...]] = {"z_c": (None,), "z_d": (None,), "motion_noise": (None, None)}
    for name, shape in shapes.items():
        if name in latents:
            expect_tensor(latents, name, where, dtype=torch.float32, shape=shape)


def load_clip(path: Path, *, verify: bool = True, require_videos: bool = True) -> Clip:
    """Load and validate a clip directory (any version up to the current one).

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
        if not artifact_path(path, name, fix=_FIX).is_file():
            how = " --flow" if name == "flow.mp4" else ""
            raise ArtifactError(f"{path / name} is missing; run `gendef render {path}{how}` to rebuild it")

    def tensors(name: str) -> dict[str, Tensor]:
        return load_tensors(artifact_path(path, name, fix=_FIX), fix=_FIX)

    canonical = tensors("canonical.safetensors").get("canonical")
    offsets = tensors("deform.safetensors").get("offsets")
    if canonical is None or offsets is None:
        missing = "canonical" if canonical is None else "offsets"
        raise ArtifactError(f"{path}: tensor {missing!r} is missing; {_FIX}")
    latents = tensors("latents.safetensors") if "latents.safetensors" in files else {}
    try:
        _check_latents(path, m, latents)
    except ArtifactError as e:
        raise ArtifactError(f"{e}; {_FIX}") from None
    visibility = None
    if "visibility.safetensors" in files:
        visibility = tensors("visibility.safetensors").get("visible")
        if visibility is None:
            raise ArtifactError(f"{path / 'visibility.safetensors'}: tensor 'visible' is missing; {_FIX}")
    clip = Clip(canonical=canonical, offsets=offsets, fps=fps_from_json(m, path / "manifest.json"), seed=m.get("seed"),
                checkpoint=m.get("checkpoint"), source=str(m.get("source", "unknown")), latents=latents,
                sampling=m.get("sampling", {}), origin=(m["origin"][0], m["origin"][1]), visibility=visibility,
                fit=m.get("fit", {}))
    clip.validate(path, fix=_FIX)
    if clip.canonical_size != (m["canonical_height"], m["canonical_width"]):
        raise ArtifactError(f"{path / 'canonical.safetensors'}: the canonical is {clip.canonical_size[0]}x"
                            f"{clip.canonical_size[1]} but the manifest says {m['canonical_height']}x"
                            f"{m['canonical_width']}; {_FIX}")
    if (clip.num_frames, clip.height, clip.width) != (m["num_frames"], m["height"], m["width"]):
        raise ArtifactError(f"{path / 'deform.safetensors'}: tensor 'offsets' has shape {list(clip.offsets.shape)}, "
                            f"expected [{m['num_frames']}, 2, {m['height']}, {m['width']}] (the manifest's "
                            f"frames); {_FIX}")
    return clip


def update_videos(path: Path, videos: Mapping[str, Any]) -> None:
    """Record re-rendered derived videos in a clip's manifest (atomic manifest rewrite)."""
    m = read_clip_manifest(path)  # validates (any version)
    # the manifest as stored, so an older clip keeps its version (older gendefs can still read it)
    raw = read_json(artifact_path(Path(path), "manifest.json", fix=_FIX), fix=_FIX)
    raw["videos"] = {**m["videos"], **videos}
    write_json_atomic(Path(path) / "manifest.json", raw)
