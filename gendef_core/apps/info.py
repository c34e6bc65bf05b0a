"""`gendef info`: validate any gendef artifact and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias, TypedDict

from gendef_core.artifacts.checkpoint import CheckpointSummary
from gendef_core.artifacts.common import MANIFEST, JsonObject, read_format
from gendef_core.errors import ArtifactError


class BundledSummary(CheckpointSummary):
    """`describe` of the bundled model: its checkpoint, and what it is."""

    bundled: str                # how clips record it ("bundled:NAME")
    resolution: int             # px
    model_card: str | None      # MODEL_CARD.md beside it, if any


class _ClipSummary(TypedDict):
    format: str
    path: str
    num_frames: int
    height: int                 # the frame size
    width: int
    canonical_height: int       # the canonical's (larger than the frames' for fitted videos)
    canonical_width: int
    origin: list[int]           # (x, y) of frame pixel (0, 0) on the canonical
    has_visibility: bool
    fps: str                    # "25", "30000/1001"
    seed: int | None
    checkpoint: str | None
    source: str
    latents: list[str]
    videos: list[str]


class ClipSummary(_ClipSummary, total=False):
    """`describe` of a clip; `fit` (fitted clips only) holds the scalar fields of the fit report."""

    fit: dict[str, str | int | float | bool | None]


class ShotsEntry(TypedDict):
    clip: str
    start: int
    end: int
    psnr_mean_db: float | None


class ShotsSummary(TypedDict):
    """`describe` of the shots folder `gendef fit` writes for a video with scene cuts."""

    format: str
    path: str
    num_shots: int
    shots: list[ShotsEntry]


class FrameCounts(TypedDict):
    min: int
    max: int


class DatasetInfoSummary(TypedDict):
    """`describe` of a dataset."""

    format: str
    path: str
    resolution: int
    fps: str
    num_videos: int
    num_frames: int             # over all videos
    frames_per_video: FrameCounts
    source: JsonObject
    skipped: int                # source videos left out
    ground_truth: JsonObject | None


class MasksInfoSummary(TypedDict):
    """`describe` of the masks directory `gendef segment` writes."""

    format: str
    path: str
    clip: str
    num_frames: int
    height: int
    width: int
    labels: list[int]
    frame: int | None           # the frame the mask was drawn on; None: the canonical
    mode: str


class FlowInfoSummary(TypedDict):
    """`describe` of the flow artifact `gendef flow` writes."""

    format: str
    path: str
    clip: str
    num_frames: int             # frame pairs
    height: int
    width: int
    flow_max: float             # px shown in full colour in flow.mp4
    valid_fraction: float
    mean_magnitude: float       # px


ArtifactSummary: TypeAlias = (BundledSummary | CheckpointSummary | ClipSummary | ShotsSummary | DatasetInfoSummary
                              | MasksInfoSummary | FlowInfoSummary)
"""What `describe` returns: the summary of the kind of artifact it was given (its `format`)."""


def describe(path: Path | str | None = None) -> ArtifactSummary:
    """Validate any gendef artifact and summarise it (`gendef info`); None or "bundled": the bundled model.

    A clip's summary gives the frame size (height, width), the canonical's (canonical_height,
    canonical_width; larger for fitted videos), the frames' origin on it, whether it has a visibility
    map and, for fitted clips, the scalar fields of the fit report.
    """
    from gendef_core.artifacts.checkpoint import checkpoint_summary, load_checkpoint
    from gendef_core.models.bundled import resolve_ckpt

    path, bundled = resolve_ckpt(path, param="path")
    if bundled:
        ck = load_checkpoint(path)
        card = path / "MODEL_CARD.md"
        summary = checkpoint_summary(ck)
        return {"format": summary["format"], "bundled": bundled, "path": summary["path"], "step": summary["step"],
                "networks": summary["networks"], "resolution": ck.config["model"]["resolution"],
                "metadata": summary["metadata"], "model_card": str(card) if card.is_file() else None}
    if not path.exists():
        raise ArtifactError(f"{path} does not exist; give a clip, dataset, checkpoint, run, masks, flow or shots "
                            f"directory")
    if not (path / MANIFEST).is_file():
        if path.is_dir() and (path / "checkpoints").is_dir():
            return checkpoint_summary(load_checkpoint(path))
        raise ArtifactError(f"{path} is not a gendef artifact (no manifest.json); expected a clip, dataset, "
                            f"checkpoint, run, masks, flow or shots directory")
    fmt = read_format(path)
    if fmt == "gendef.clip":
        return _clip_summary(path)
    if fmt == "gendef.shots":
        from gendef_core.artifacts.shots import read_shots_index

        shots = read_shots_index(path)
        return {"format": fmt, "path": str(path), "num_shots": len(shots),
                "shots": [{"clip": str(path / s.name), "start": s.start, "end": s.end, "psnr_mean_db": s.psnr_mean_db}
                          for s in shots]}
    if fmt == "gendef.dataset":
        from gendef_core.artifacts.dataset import load_dataset_info

        d = load_dataset_info(path)
        lengths = [v.num_frames for v in d.videos]
        return {"format": fmt, "path": str(path), "resolution": d.resolution, "fps": str(d.fps),
                "num_videos": len(d.videos), "num_frames": d.num_frames,
                "frames_per_video": {"min": min(lengths), "max": max(lengths)},
                "source": dict(d.source), "skipped": len(d.skipped),
                "ground_truth": None if d.ground_truth is None else dict(d.ground_truth)}
    if fmt == "gendef.checkpoint":
        return checkpoint_summary(load_checkpoint(path))
    if fmt == "gendef.masks":
        from gendef_core.artifacts.masks import read_masks_manifest

        mk = read_masks_manifest(path)
        return {"format": fmt, "path": str(path), "clip": mk["clip"], "num_frames": mk["num_frames"],
                "height": mk["height"], "width": mk["width"], "labels": list(mk["labels"]), "frame": mk["frame"],
                "mode": mk["mode"]}
    if fmt == "gendef.flow":
        from gendef_core.artifacts.flow import read_flow_manifest

        fl = read_flow_manifest(path)
        return {"format": fmt, "path": str(path), "clip": fl["clip"], "num_frames": fl["num_frames"],
                "height": fl["height"], "width": fl["width"], "flow_max": fl["flow_max"],
                "valid_fraction": fl["valid_fraction"], "mean_magnitude": fl["mean_magnitude"]}
    raise ArtifactError(f"{path / MANIFEST}: unknown format {fmt!r}; upgrade gendef if it is newer")


def _clip_summary(path: Path) -> ClipSummary:
    from gendef_core.artifacts.clip import load_clip, read_clip_manifest

    c = load_clip(path)
    m = read_clip_manifest(path)
    summary: ClipSummary = {"format": "gendef.clip", "path": str(path), "num_frames": c.num_frames, "height": c.height,
               "width": c.width, "canonical_height": c.canonical_size[0], "canonical_width": c.canonical_size[1],
               "origin": list(c.origin), "has_visibility": c.visibility is not None, "fps": str(c.fps),
               "seed": c.seed, "checkpoint": c.checkpoint, "source": c.source, "latents": sorted(c.latents),
               "videos": sorted(m["videos"])}
    if c.fit:  # the report of `gendef fit`: its scalar fields (per-frame lists and nested objects left out)
        summary["fit"] = {k: v for k, v in c.fit.items() if v is None or isinstance(v, str | int | float | bool)}
    return summary
