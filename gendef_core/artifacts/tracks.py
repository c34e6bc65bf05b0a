"""Query points in, tracks out (FORMATS.md: "Points" and "Tracks").

Points file (`gendef track --points pts.json`), pixels, x right, y down, (0, 0) the centre of the
top-left pixel:

    [[x, y], ...]                                              canonical-image points (within the canonical)
    {"space": "canonical", "points": [[x, y], ...]}            the same
    {"space": "frame", "frame": t, "points": [[x, y], ...]}    points on frame t (0-based; within the frame)

The canonical of a fitted clip (clip v2) may be larger than its frames, so the two spaces have
different bounds.

Tracks: one JSON document (`gendef.tracks` v1) and, on request, the TAP-Vid and CoTracker array
layouts as NPZ files.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.common import Header, atomic_file, check_header, header, read_json, write_json_atomic
from gendef_core.artifacts.schema import (
    HEADER,
    HEADER_OPTIONAL,
    MAX_INT,
    Check,
    array,
    boolean,
    integer,
    nullable,
    number,
    obj,
    one_of,
    show,
    string,
    validate,
)
from gendef_core.errors import DataError

TRACKS_FORMAT = "gendef.tracks"
TRACKS_VERSION = 1
POINT_CONVENTION = "pixels; x right, y down; (0, 0) is the centre of the top-left pixel"
EXPORT_FORMATS = ("tapvid", "cotracker")
_EXAMPLE = 'e.g. [[12.5, 30], [40, 8]] or {"space": "frame", "frame": 3, "points": [[12.5, 30]]}'


@dataclass(frozen=True)
class Queries:
    space: str          # "canonical" or "frame"
    frame: int | None   # the frame of "frame" queries
    points: Tensor      # float64 [N, 2]


def _repr(value: object) -> str:
    return show(value) if isinstance(value, list | dict) else repr(value)  # containers by their size only


def read_points(path: Path, *, size: tuple[int, int], num_frames: int,
                canonical_size: tuple[int, int] | None = None) -> Queries:
    """Read and validate a points file for a clip of `num_frames` frames of ``size = (H, W)``.

    Canonical points must lie within the canonical, ``canonical_size = (Hc, Wc)`` (default: `size`);
    frame points within the frame.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; give a JSON list of [x, y] pixel points ({_EXAMPLE})")
    doc = read_json(path, fix=f"give {_EXAMPLE}", error=DataError, allow_nan=True)  # NaN: refused below, by point
    space, frame = "canonical", None
    if isinstance(doc, dict):
        unknown = set(doc) - {"space", "frame", "points"}
        if unknown or "points" not in doc:
            raise DataError(f"{path}: expected the keys space, frame, points"
                            f"{' (unknown: ' + ', '.join(sorted(unknown)) + ')' if unknown else ''}; {_EXAMPLE}")
        space = doc.get("space", "canonical")
        if space not in ("canonical", "frame"):
            raise DataError(f"{path}: space must be \"canonical\" or \"frame\", got {_repr(space)}")
        if space == "frame":
            frame = doc.get("frame")
            if not isinstance(frame, int) or isinstance(frame, bool) or not 0 <= frame < num_frames:
                raise DataError(f"{path}: frame must be an integer in 0..{num_frames - 1} for \"frame\" points, "
                                f"got {_repr(frame)}")
        elif "frame" in doc:
            raise DataError(f"{path}: \"frame\" is only meaningful with \"space\": \"frame\"")
        doc = doc["points"]
    if not isinstance(doc, list) or not doc:
        raise DataError(f"{path}: points must be a non-empty list of [x, y] pairs; {_EXAMPLE}")
    h, w = size if space == "frame" or canonical_size is None else canonical_size
    for i, p in enumerate(doc):
        if (not isinstance(p, list) or len(p) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           and (isinstance(v, int) or math.isfinite(v)) for v in p)):
            shown = json.dumps(p) if not isinstance(p, list | dict) or len(p) <= 4 else show(p)
            raise DataError(f"{path}: point {i} is {shown}, not an [x, y] pair of finite numbers; {_EXAMPLE}")
        if not (0 <= p[0] <= w - 1 and 0 <= p[1] <= h - 1):
            where = "canonical image" if space == "canonical" else f"frame {frame}"
            raise DataError(f"{path}: point {i} ({show(p[0])}, {show(p[1])}) is outside the {where} ({w}x{h}: "
                            f"x in [0, {w - 1}], y in [0, {h - 1}])")
    return Queries(space, frame, torch.tensor(doc, dtype=torch.float64))


def _round(x: Tensor, digits: int = 4) -> Any:
    return np.round(x.double().numpy(), digits).tolist()


class TracksDocument(Header):
    """The `gendef.tracks` document (FORMATS.md, "Tracks"): frame pixels (x, y), T frames, N points."""

    clip: str
    num_frames: int
    num_points: int
    height: int
    width: int
    convention: str
    space: str                           # "canonical" or "frame": the space of `queries`
    query_frame: int | None              # the frame of "frame" queries
    queries: list[list[float]]           # [N][2]
    canonical_points: list[list[float]]  # [N][2] canonical pixels
    tolerance: float
    tracks: list[list[list[float]]]      # [T][N][2]
    visible: list[list[bool]]            # [T][N]
    residual: list[list[float]]          # [T][N] canonical pixels


def tracks_document(*, clip: str, queries: Queries, canonical_points: Tensor, tracks: Tensor, visible: Tensor,
                    residual: Tensor, tolerance: float, size: tuple[int, int]) -> TracksDocument:
    """The `gendef.tracks` JSON document (coordinates rounded to 1e-4 px)."""
    t, n = visible.shape
    return {
        **header(TRACKS_FORMAT, TRACKS_VERSION),
        "clip": clip, "num_frames": t, "num_points": n, "height": size[0], "width": size[1],
        "convention": POINT_CONVENTION,
        "space": queries.space, "query_frame": queries.frame, "queries": _round(queries.points),
        "canonical_points": _round(canonical_points),
        "tolerance": tolerance,
        "tracks": _round(tracks), "visible": visible.tolist(), "residual": _round(residual, 6),
    }


def query_frames(queries: Queries, visible: Tensor) -> Tensor:
    """Per point, the frame its query refers to: the query frame, or for canonical points the first
    frame where the point is visible (0 if never)."""
    if queries.frame is not None:
        return torch.full((visible.shape[1],), queries.frame, dtype=torch.long)
    first = visible.float().argmax(dim=0)
    return torch.where(visible.any(dim=0), first, torch.zeros_like(first))


def write_export(path: Path, fmt: str, *, tracks: Tensor, visible: Tensor, frames: Tensor,
                 replace: bool = True) -> Path:
    """Write tracks in the TAP-Vid or CoTracker layout (NPZ, atomically).

    tapvid: query_points [N, 3] (t, y, x), tracks [N, T, 2] (x, y), occluded [N, T] bool.
    cotracker: queries [1, N, 3] (t, x, y), pred_tracks [1, T, N, 2] (x, y), pred_visibility [1, T, N] bool.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown track format {fmt!r}")
    pos = tracks.numpy().astype(np.float32)                        # [T, N, 2]
    vis = visible.numpy().astype(bool)
    t0 = frames.numpy().astype(np.float32)
    q = pos[frames.numpy(), np.arange(pos.shape[1])]               # [N, 2] each point at its query frame
    if fmt == "tapvid":
        arrays = {"query_points": np.stack([t0, q[:, 1], q[:, 0]], -1), "tracks": pos.transpose(1, 0, 2),
                  "occluded": ~vis.T}
    else:
        arrays = {"queries": np.stack([t0, q[:, 0], q[:, 1]], -1)[None], "pred_tracks": pos[None],
                  "pred_visibility": vis[None]}
    with atomic_file(Path(path), replace=replace) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def write_points(path: Path, points: list[list[float]], *, frame: int | None = None) -> Path:
    """A points file (the format `read_points` reads): canonical points, or points on frame `frame`."""
    doc: object = points if frame is None else {"space": "frame", "frame": frame, "points": points}
    return write_json_atomic(Path(path), doc)


def write_tracks(path: Path, document: TracksDocument, *, replace: bool = True) -> Path:
    return write_json_atomic(Path(path), document, replace=replace)


_MAX_SIDE = 1 << 16


def tracks_schema(num_frames: int, num_points: int) -> Check:
    """The fields of a `gendef.tracks` document of T = `num_frames` frames and N = `num_points` points
    (FORMATS.md, "Tracks")."""
    t, n = num_frames, num_points
    return obj({
        **HEADER,
        "clip": string(), "num_frames": integer(1, MAX_INT), "num_points": integer(1, MAX_INT),
        "height": integer(1, _MAX_SIDE), "width": integer(1, _MAX_SIDE), "convention": string(),
        "space": one_of("canonical", "frame"), "query_frame": nullable(integer(0, max(t - 1, 0))),
        "queries": array((n, 2), number()), "canonical_points": array((n, 2), number()),
        "tolerance": number(0),
        "tracks": array((t, n, 2), number()), "visible": array((t, n), boolean()), "residual": array((t, n), number(0)),
    }, HEADER_OPTIONAL)


def read_tracks(path: Path) -> dict[str, Any]:
    """A `gendef.tracks` document, validated: header (format, version) and every field (`tracks_schema`)."""
    fix = "make one with `gendef track --out tracks.json`"
    path = Path(path)
    doc = check_header(read_json(path, fix=fix), path, fmt=TRACKS_FORMAT, version=TRACKS_VERSION, what="tracks",
                       hint=fix)
    sizes = validate(doc, obj({"num_frames": integer(1, MAX_INT), "num_points": integer(1, MAX_INT)}), path, fix=fix)
    validate(doc, tracks_schema(sizes["num_frames"], sizes["num_points"]), path, fix=fix)
    return doc
