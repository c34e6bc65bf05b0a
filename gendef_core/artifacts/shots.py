"""The shots index (`gendef.shots`): what `gendef fit` writes when a video has scene cuts (FORMATS.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gendef_core.artifacts.common import artifact_path, header, read_manifest, write_json_atomic
from gendef_core.artifacts.schema import (
    HEADER,
    HEADER_OPTIONAL,
    integer,
    list_of,
    nullable,
    number,
    obj,
    plain_name,
    string,
    validate,
)
from gendef_core.errors import ArtifactError

SHOTS_FORMAT = "gendef.shots"
SHOTS_VERSION = 1


@dataclass(frozen=True)
class ShotEntry:
    """One shot: frames ``[start, end)`` of the fitted range of the source, fitted as clip `name`."""

    name: str
    start: int
    end: int
    psnr_mean_db: float | None = None


def shot_name(k: int) -> str:
    return f"shot-{k:03d}"


def write_shots_index(directory: Path, *, source: str, start: int, shots: Sequence[ShotEntry],
                      cuts: Sequence[int]) -> Path:
    """Write ``directory/manifest.json`` for a folder of per-shot clips."""
    m: dict[str, Any] = {**header(SHOTS_FORMAT, SHOTS_VERSION), "source": source, "start": start,
                         "cuts": [int(c) for c in cuts],
                         "shots": [{"name": s.name, "start": s.start, "end": s.end, "num_frames": s.end - s.start,
                                    "psnr_mean_db": s.psnr_mean_db} for s in shots]}
    return write_json_atomic(Path(directory) / "manifest.json", m)


SHOTS_INDEX = obj({
    **HEADER,
    "shots": list_of(obj({"name": plain_name(), "start": integer(0), "end": integer(1)},
                         {"num_frames": integer(1), "psnr_mean_db": nullable(number())})),
}, {**HEADER_OPTIONAL, "source": string(), "start": integer(0), "cuts": list_of(integer(0))})
"""The fields of a shots folder's manifest.json (FORMATS.md, "Shots")."""
_FIX = "re-run `gendef fit`"


def read_shots_index(directory: Path) -> list[ShotEntry]:
    """The shots of a `gendef fit` output folder, validated (each shot's clip must exist)."""
    directory = Path(directory)
    m = read_manifest(directory, fmt=SHOTS_FORMAT, version=SHOTS_VERSION, what="shots folder",
                      fix="point at a folder written by `gendef fit` for a video with scene cuts")
    where = directory / "manifest.json"
    validate(m, SHOTS_INDEX, where, fix=_FIX)
    out = []
    for s in m["shots"]:
        if not s["start"] < s["end"]:
            raise ArtifactError(f"{where}: shot {s['name']} has no valid [start, end); {_FIX}")
        if not artifact_path(directory, s["name"], fix=_FIX).is_dir():
            raise ArtifactError(f"{directory / s['name']} is missing; {_FIX}")
        psnr = s.get("psnr_mean_db")
        out.append(ShotEntry(s["name"], s["start"], s["end"], None if psnr is None else float(psnr)))
    return out
