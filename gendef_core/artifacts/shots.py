"""The shots index (`gendef.shots`): what `gendef fit` writes when a video has scene cuts (FORMATS.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gendef_core.artifacts.common import header, read_manifest, require, write_json_atomic
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


def read_shots_index(directory: Path) -> list[ShotEntry]:
    """The shots of a `gendef fit` output folder, validated (each shot's clip must exist)."""
    directory = Path(directory)
    m = read_manifest(directory, fmt=SHOTS_FORMAT, version=SHOTS_VERSION, what="shots folder",
                      fix="point at a folder written by `gendef fit` for a video with scene cuts")
    where = directory / "manifest.json"
    out = []
    for s in require(m, "shots", list, where):
        name = s.get("name") if isinstance(s, dict) else None
        if not isinstance(name, str) or "/" in name or "\\" in name or name in ("", ".", ".."):
            raise ArtifactError(f"{where}: every shot needs a plain 'name'; re-run `gendef fit`")
        start, end = s.get("start"), s.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
            raise ArtifactError(f"{where}: shot {s['name']} has no valid [start, end); re-run `gendef fit`")
        if not (directory / s["name"]).is_dir():
            raise ArtifactError(f"{directory / s['name']} is missing; re-run `gendef fit`")
        psnr = s.get("psnr_mean_db")
        out.append(ShotEntry(s["name"], start, end, float(psnr) if isinstance(psnr, int | float) else None))
    return out
