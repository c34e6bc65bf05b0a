"""`gendef track` and `gendef flow`: point tracks and optical flow read off a clip's deformation."""

from __future__ import annotations

from pathlib import Path

from gendef_core.apps.edit import beside
from gendef_core.artifacts.clip import load_clip
from gendef_core.artifacts.common import atomic_dir, prepare_output_dir, prepare_output_file
from gendef_core.artifacts.flow import FLOW_VIDEO, FlowManifest, write_flow
from gendef_core.artifacts.paths import check_apart
from gendef_core.artifacts.tracks import (
    EXPORT_FORMATS,
    TracksDocument,
    query_frames,
    read_points,
    tracks_document,
    write_export,
    write_tracks,
)
from gendef_core.errors import ConfigError
from gendef_core.events import Info, OnEvent, ignore
from gendef_core.track import TOLERANCE, frame_to_canonical, optical_flow, track_canonical_points


def track(clip: Path, points: Path, *, out: Path | None = None, overlay: Path | None = None,
          formats: tuple[str, ...] = (), npz: Path | None = None, tolerance: float = TOLERANCE,
          overwrite: bool = False, on_event: OnEvent = ignore) -> TracksDocument:
    """Track query points through a clip (`gendef track`); returns the `gendef.tracks` document.

    Canonical points are canonical pixels, frame points and tracks frame pixels (the canonical of a
    fitted clip may be larger than its frames); a clip's visibility map hides points where it is False.
    Writes the document to `out` (JSON) if given, each of `formats` ("tapvid", "cotracker") as NPZ
    (`npz`, or beside `out` as ``<out stem>.<format>.npz``), and with `overlay` an MP4 of the tracks.
    Existing output files are replaced only with `overwrite`; all are checked before any work starts.
    """
    from gendef_core.render import render_tracks_video

    bad = [f for f in formats if f not in EXPORT_FORMATS]
    if bad:
        raise ConfigError(f"`formats` must be one of {', '.join(EXPORT_FORMATS)}, got {bad[0]!r}")
    if formats and npz is None and out is None:
        raise ConfigError("`formats` writes NPZ files: give `out` tracks.json (they go beside it) or `npz` PATH")
    if npz is not None and len(formats) > 1:
        raise ConfigError("`npz` names one file: give one `formats`, or `out` to write each beside it")
    if not tolerance > 0:
        raise ConfigError(f"`tolerance` must be positive, got {tolerance}")
    targets = {fmt: Path(npz) if npz is not None else Path(out).with_name(f"{Path(out).stem}.{fmt}.npz")  # type: ignore[arg-type]
               for fmt in formats}
    written = {"out": out, "overlay": overlay, **{f"npz ({fmt})": p for fmt, p in targets.items()}}
    for name, path in written.items():
        if path is not None:
            check_apart(Path(path), {"clip": clip, "points": points}, out_name=name.split(" ")[0])
    for path in [*targets.values(), *(p for p in (overlay, out) if p is not None)]:
        prepare_output_file(Path(path), overwrite=overwrite)
    c = load_clip(Path(clip), require_videos=False)
    q = read_points(Path(points), size=(c.height, c.width), num_frames=c.num_frames, canonical_size=c.canonical_size)
    if q.space == "frame":
        assert q.frame is not None
        canonical_points = frame_to_canonical(c.offsets[q.frame], q.points, canonical_size=c.canonical_size,
                                              origin=c.origin)
        result = track_canonical_points(c.offsets, canonical_points, start_frame=q.frame, start=q.points,
                                        tolerance=tolerance, canonical_size=c.canonical_size, origin=c.origin,
                                        visibility=c.visibility)
    else:
        result = track_canonical_points(c.offsets, q.points, tolerance=tolerance, canonical_size=c.canonical_size,
                                        origin=c.origin, visibility=c.visibility)
    doc = tracks_document(clip=str(clip), queries=q, canonical_points=result.canonical, tracks=result.tracks,
                          visible=result.visible, residual=result.residual, tolerance=tolerance,
                          size=(c.height, c.width))
    frames = query_frames(q, result.visible)
    if overlay is not None:  # the likeliest step to fail (or be interrupted) goes first; the JSON goes last
        render_tracks_video(c, result.tracks, result.visible, Path(overlay), replace=overwrite, on_event=on_event)
    for fmt, target in targets.items():
        write_export(target, fmt, tracks=result.tracks, visible=result.visible, frames=frames, replace=overwrite)
    if out is not None:
        write_tracks(Path(out), doc, replace=overwrite)  # never onto a file another command wrote meanwhile
    on_event(Info(f"{q.points.shape[0]} points through {c.num_frames} frames: "
                  f"{float(result.visible.float().mean()) * 100:.1f}% visible"))
    return doc


class FlowReport(FlowManifest):
    """What `flow` returns: the flow artifact's manifest and where it is."""

    path: str


def flow(clip: Path, out: Path | None = None, *, flow_max: float | None = None, overwrite: bool = False,
         on_event: OnEvent = ignore) -> FlowReport:
    """Forward optical flow between consecutive frames of a clip (`gendef flow`), from its deformation.

    Writes ``OUT/flow.safetensors`` (``flow [T-1, 2, H, W]`` float32 frame pixels, ``valid [T-1, H, W]``
    bool; False also where the clip's visibility map is), ``OUT/flow.mp4`` (Middlebury colours; invalid
    pixels black) and ``OUT/manifest.json``.
    `out` defaults to ``<CLIP>-flow`` beside the clip. Returns the manifest.
    """
    from gendef_core.data.video_io import VideoWriter
    from gendef_core.flow import flow_to_color

    if flow_max is not None and not flow_max > 0:
        raise ConfigError(f"`flow_max` must be a positive number of pixels, got {flow_max}")
    clip = Path(clip)
    out = Path(out) if out is not None else beside(clip, "-flow")
    check_apart(out, {"clip": clip}, sealed=("clip",))
    prepare_output_dir(out, overwrite=overwrite, what="flow directory")
    c = load_clip(clip, require_videos=False)
    if c.num_frames < 2:
        raise ConfigError(f"{clip} has one frame; optical flow needs at least two")
    f, valid = optical_flow(c.offsets, canonical_size=c.canonical_size, origin=c.origin, visibility=c.visibility)
    magnitude = f.norm(dim=1)
    scale = flow_max if flow_max is not None else (float(magnitude[valid].max()) if bool(valid.any()) else 1.0) or 1.0
    with atomic_dir(out, overwrite=overwrite, what="flow directory") as tmp:
        with VideoWriter(tmp / FLOW_VIDEO, c.fps) as writer:
            for start in range(0, f.shape[0], 32):
                colours = flow_to_color(f[start:start + 32], scale) * valid[start:start + 32, None]
                writer.write(colours.movedim(-3, -1))
        manifest = write_flow(tmp, clip=str(clip), flow=f, valid=valid, fps=c.fps, flow_max=scale,
                              videos={FLOW_VIDEO: {"num_frames": writer.frames_written}})
    on_event(Info(f"optical flow of {f.shape[0]} frame pairs: mean {manifest['mean_magnitude']:.3f} px, "
                  f"{manifest['valid_fraction'] * 100:.1f}% valid"))
    return {**manifest, "path": str(out)}
