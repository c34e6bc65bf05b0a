"""The flow artifact (`gendef.flow`): what `gendef flow` writes (FORMATS.md, "Flow")."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

from torch import Tensor

from gendef_core.artifacts.clip import VideoRecord
from gendef_core.artifacts.common import (
    FileRecord,
    Header,
    file_record,
    fps_to_json,
    header,
    read_manifest,
    verify_files,
    write_json_atomic,
)
from gendef_core.artifacts.schema import (
    FILE_RECORD,
    FPS,
    HEADER,
    HEADER_OPTIONAL,
    integer,
    mapping,
    number,
    obj,
    plain_name,
    string,
    validate,
)
from gendef_core.artifacts.tensors import save_tensors

FLOW_FORMAT = "gendef.flow"
FLOW_VERSION = 1
FLOW_VIDEO = "flow.mp4"
FLOW_CONVENTION = ("forward optical flow: content at frame-t pixel p is at p + flow[t][:, p] in frame t+1; "
                   "frame pixels, x right, y down")


class FlowManifest(Header):
    """The ``manifest.json`` of a flow artifact (FORMATS.md, "Flow")."""

    clip: str
    num_frames: int             # frame pairs, T-1
    height: int
    width: int
    fps: list[int]              # [numerator, denominator]
    convention: str
    flow_max: float             # px shown in full colour in flow.mp4
    valid_fraction: float
    mean_magnitude: float       # px, over valid pixels
    files: dict[str, FileRecord]
    videos: dict[str, VideoRecord]


def write_flow(directory: Path, *, clip: str, flow: Tensor, valid: Tensor, fps: Fraction, flow_max: float,
               videos: Mapping[str, VideoRecord]) -> FlowManifest:
    """Write ``flow.safetensors`` and ``manifest.json`` into `directory`, a flow artifact being built.

    ``flow`` float32 ``[T-1, 2, H, W]`` (frame pixels), ``valid`` bool ``[T-1, H, W]``. The caller builds
    `directory` atomically (`atomic_dir`) and renders `FLOW_VIDEO` there first; `videos` are its manifest
    records. Returns the manifest.
    """
    directory = Path(directory)
    meta = {k: str(v) for k, v in header(FLOW_FORMAT, FLOW_VERSION).items()}
    save_tensors(directory / "flow.safetensors", {"flow": flow, "valid": valid}, meta)
    magnitude = flow.norm(dim=1)
    manifest: FlowManifest = {**header(FLOW_FORMAT, FLOW_VERSION), "clip": clip, "num_frames": int(flow.shape[0]),
                "height": int(flow.shape[2]), "width": int(flow.shape[3]), "fps": fps_to_json(fps),
                "convention": FLOW_CONVENTION,
                "flow_max": flow_max, "valid_fraction": float(valid.float().mean()),
                "mean_magnitude": float(magnitude[valid].mean()) if bool(valid.any()) else 0.0,
                "files": {"flow.safetensors": file_record(directory / "flow.safetensors")},
                "videos": dict(videos)}
    write_json_atomic(directory / "manifest.json", manifest)
    return manifest


_SIDE = integer(1, 1 << 16)
FLOW_MANIFEST = obj({
    **HEADER,
    "clip": string(), "num_frames": integer(1), "height": _SIDE, "width": _SIDE, "fps": FPS, "convention": string(),
    "flow_max": number(0), "valid_fraction": number(0, 1), "mean_magnitude": number(0),
    "files": mapping(plain_name(), FILE_RECORD, min_len=1),
    "videos": mapping(plain_name(), obj({"num_frames": integer(1)})),
}, HEADER_OPTIONAL)
"""The fields of a flow artifact's manifest.json (FORMATS.md, "Flow")."""


def read_flow_manifest(directory: Path, *, verify: bool = True) -> FlowManifest:
    """The validated manifest of a flow artifact; `verify` checks its files' sizes and sha256."""
    directory = Path(directory)
    fix = "re-create it with `gendef flow`"
    m = read_manifest(directory, fmt=FLOW_FORMAT, version=FLOW_VERSION, what="flow artifact",
                      fix="point at a directory written by `gendef flow`")
    validate(m, FLOW_MANIFEST, directory / "manifest.json", fix=fix)
    if verify:
        verify_files(directory, m["files"], fix=fix)
    return m  # type: ignore[return-value]  # validated against FlowManifest's fields just above
