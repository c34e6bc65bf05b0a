"""`gendef demo`: the whole story, written as a static HTML page (plain HTML, no server, no script).

On the bundled model: sample clips, resample the motion of one, edit its canonical with a scribble,
track points drawn on the canonical, propagate a mask drawn on the canonical, and compute its optical
flow; then fit a generated camera pan (`gendef fit`) and edit it on its first frame, to show a
canonical larger than the frame. With `video`, the same story on the user's own video instead,
through `gendef fit`: the edit, points and mask are drawn on its frame 0. OUT/index.html shows
every video and picture side by side.
"""

from __future__ import annotations

import html
import math
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.common import prepare_output_dir, write_bytes_atomic
from gendef_core.artifacts.paths import check_apart
from gendef_core.artifacts.tracks import write_points
from gendef_core.errors import ConfigError, DataError
from gendef_core.events import Info, OnEvent, Progress, ignore

if TYPE_CHECKING:
    from gendef_core.apps.edit import EditReport, SegmentReport
    from gendef_core.apps.info import ArtifactSummary
    from gendef_core.apps.track import FlowReport
    from gendef_core.artifacts.tracks import TracksDocument

VIDEO_FRAMES = 64
"""Frames of the user's video the demo fits by default (about a minute at 128 px on 2 CPU cores)."""
PAN_FRAMES, PAN_SIZE = 48, 64
"""The generated pan of the "Your own video" section: frames and size (px); its fit takes ~7 s on 2 cores."""
FLOW_MAX_PX = 1.0
"""Flow colours of the demo's model clips: full colour at this many pixels per frame (one fixed scale for every
clip, so a still clip looks white instead of stretching a tiny flow over the whole colour wheel)."""
OBJECTS_MODEL = "sprites64"
"""The second bundled model (moving objects): the default demo adds a section on it when it is installed."""
_SHOW = 224  # CSS px (at most) of the longer side of a fitted frame on the page; its canonical at the same scale
_ROW = 1080  # CSS px that the four panels of a fit share when they fit on one row at a smaller scale


class DemoFitNumbers(TypedDict):
    """The numbers of a fit the demo shows (from the fitted clip's report)."""

    num_frames: int
    start: int
    end: int
    num_shots: int
    psnr_mean_db: float
    psnr_min_db: float
    folded_max: float
    outside_mean: float
    canonical_size: list[int]   # [Hc, Wc]
    layer_fraction: float
    frame_size: list[int]       # [H, W]
    runtime_s: float
    seconds: float              # with reading the video
    quality: str
    device: str | None


class MovementNumbers(TypedDict):
    """Net displacement of a clip's content (`movement`): mean px from frame t to t + 16 and from the first to
    the last frame, and the fraction of points that end more than 1 px from where they started."""

    num_frames: int
    disp_16: float | None    # None: a clip of 16 frames or fewer, or no point in view at both ends
    disp_clip: float | None
    moved_1px: float | None


class _DemoSummary(TypedDict):
    out: str
    index: str
    frames: int
    tracked_visible: float
    edit_coverage: float


class DemoSummary(_DemoSummary, total=False):
    """What `demo` returns. The model demo has `clips`, `model` and (with a fit section) `fit`; the demo of
    a video has `video` and `fit`."""

    clips: int
    model: str | None
    video: str
    fit: DemoFitNumbers
    movement: list[MovementNumbers]  # the model demo's sample clips, in order
    objects: ObjectsNumbers          # the default demo's section on the second bundled model (OBJECTS_MODEL)


class ObjectsNumbers(TypedDict):
    """The moving-objects section of the default demo: its model, the movement of its clips (the samples, then
    the resampled clip) and the fraction of tracked points in view."""

    model: str
    movement: list[MovementNumbers]
    tracked_visible: float


def draw_scribble(size: int, path: Path, height: int | None = None) -> Path:
    """An RGBA overlay `size` wide (and `height`, default `size`, high): a red ring and a yellow bar,
    transparent elsewhere. At the canonical's size for `gendef edit --scribble`, at the frame size for `--frame`."""
    from PIL import Image, ImageDraw

    w, h = size, height or size
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.2, h * 0.2, w * 0.55, h * 0.55], outline=(230, 20, 20, 255), width=max(1, min(w, h) // 16))
    d.rectangle([w * 0.6, h * 0.7, w * 0.9, h * 0.78], fill=(250, 220, 0, 255))
    img.save(path)
    return path


def draw_mask(canonical: Tensor, path: Path) -> Path:
    """A two-label mask of a canonical ``[3, H, W]`` (DAVIS palette PNG, so a browser shows the labels in their
    colours): 1 = its brightest 30 %, 2 = its darkest 20 %."""
    from gendef_core.artifacts.edit_images import write_label_png

    lum = canonical.float().mean(dim=0)
    labels = np.zeros(lum.shape, np.uint8)
    labels[(lum >= lum.quantile(0.7)).numpy()] = 1
    labels[(lum <= lum.quantile(0.2)).numpy()] = 2
    return write_label_png(path, labels)


def draw_flow_legend(path: Path, size: int = 65, flow_max: float = FLOW_MAX_PX) -> Path:
    """The flow colour key: a disc whose colour at offset (dx, dy) from the centre is that of a flow pointing
    (dx, dy), full colour on its rim at `flow_max` px per frame (`gendef_core.flow.flow_to_color`)."""
    from gendef_core.data.images import write_png
    from gendef_core.flow import flow_to_color

    r = (size - 1) / 2
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32) - r, torch.arange(size, dtype=torch.float32) - r,
                            indexing="ij")
    flow = torch.stack([xs, ys]) / r * flow_max                       # [2, S, S]: flow_max px on the rim
    colour = flow_to_color(flow, flow_max).permute(1, 2, 0).clone()   # [S, S, 3]
    colour[xs.square() + ys.square() > r * r] = 255                    # white outside the disc
    write_png(path, colour.numpy())
    return path


def movement(clip: Path) -> MovementNumbers:
    """How far the content of a clip moves: net displacement (px) of an 8 x 8 grid of canonical points,
    tracked through the clip's deformation (`gendef_core.metrics.motion.displacement_stats`)."""
    from gendef_core.apps.motion_eval import grid_points as motion_grid
    from gendef_core.artifacts.clip import load_clip
    from gendef_core.metrics.motion import displacement_stats
    from gendef_core.track import track_canonical_points

    c = load_clip(Path(clip), require_videos=False)
    tr = track_canonical_points(c.offsets, motion_grid(*c.canonical_size), canonical_size=c.canonical_size,
                                origin=c.origin, visibility=c.visibility)
    d = {k: v for k, v in displacement_stats(tr.tracks, tr.visible).items() if math.isfinite(v)}  # JSON: no NaN
    return {"num_frames": c.num_frames, "disp_16": d.get("disp_16"), "disp_clip": d.get("disp_clip"),
            "moved_1px": d.get("moved_1px")}


def _movement_line(m: MovementNumbers) -> str:
    if m["disp_clip"] is None or m["moved_1px"] is None:
        return "content: no tracked point stays in view"
    return (f"content moves {m['disp_clip']:.1f} px over {m['num_frames']} frames "
            f"({m['moved_1px'] * 100:.0f} % of points > 1 px)")


def draw_frame_mask(frame: np.ndarray, path: Path) -> Path:
    """A two-label mask of a frame ``uint8 [H, W, 3]`` (DAVIS palette PNG): 1 = an ellipse around the centre
    (half the frame's width and height), 2 = the brightest 15 % of the pixels outside it, on the frame blurred
    by ~1/32 of its size (so label 2 is a few regions, not single pixels)."""
    from PIL import Image, ImageFilter

    from gendef_core.artifacts.edit_images import write_label_png

    h, w = frame.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    blob = ((xx + 0.5 - w / 2) / (w / 4)) ** 2 + ((yy + 0.5 - h / 2) / (h / 4)) ** 2 <= 1
    grey = Image.fromarray(np.ascontiguousarray(frame)).convert("L")
    lum = np.asarray(grey.filter(ImageFilter.GaussianBlur(max(1.0, min(h, w) / 32))), np.float32)
    labels = blob.astype(np.uint8)
    labels[~blob & (lum >= np.quantile(lum[~blob], 0.85)) & (lum > lum.min())] = 2
    return write_label_png(path, labels)


def grid_points(size: int, n: int = 4, height: int | None = None) -> list[list[float]]:
    """An n x n grid of [x, y] pixel points over the middle 70 % of a `size` x `height` (default `size`) image."""
    xs = np.linspace(size * 0.15, size * 0.85, n)
    ys = np.linspace((height or size) * 0.15, (height or size) * 0.85, n)
    return [[round(float(x), 2), round(float(y), 2)] for y in ys for x in xs]


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.pair{display:flex;flex-wrap:nowrap;gap:16px;min-width:0;max-width:100%}
figure{margin:0;text-align:center;width:256px;min-width:0;flex:0 1 auto}
figcaption{font-size:.85em;color:#555}
img,video{display:block;width:100%;height:auto;aspect-ratio:1/1;image-rendering:pixelated;
background:#eee;border:1px solid #ccc;box-sizing:border-box}
table.numbers{border-collapse:collapse;margin-top:1em;font-size:.9em}
table.numbers td{padding:.15em .8em .15em 0;vertical-align:top}
table.numbers td:first-child{color:#555;white-space:nowrap}
code{background:#f4f4f4;padding:0 .3em}"""


def _figure(src: str, caption: str, size: tuple[int, int] | None = None) -> str:
    """One picture or looping video with its caption; `size` (w, h) is its CSS size (default 256 x 256). It
    shrinks with the page (keeping its aspect ratio) when the page is narrower."""
    box = f' style="width:{size[0]}px"' if size else ""
    ratio = f' style="aspect-ratio:{size[0]}/{size[1]}"' if size else ""
    tag = (f'<video src="{src}"{ratio} autoplay loop muted playsinline></video>' if src.endswith(".mp4")
           else f'<img src="{src}"{ratio} alt="{html.escape(caption)}">')
    return f"<figure{box}>{tag}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _pair(*figures: str) -> str:
    """Figures that stay side by side at any page width (they shrink instead of wrapping)."""
    return "<div class=pair>" + "".join(figures) + "</div>"


def _section(title: str, text: str, figures: Sequence[str | tuple[str, str] | tuple[str, str, tuple[int, int]]]) -> str:
    body = "".join(f if isinstance(f, str) else _figure(*f) for f in figures)
    return f"<h2>{html.escape(title)}</h2><p>{text}</p><div class=row>{body}</div>"


def _head(title: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>")


def demo(out: Path, *, ckpt: Path | str | None = None, num: int = 4, frames: int | None = None, seed: int = 0,
         video: Path | None = None, size: int | None = None, quality: str = "default", fit_frames: int = PAN_FRAMES,
         overwrite: bool = False, on_event: OnEvent = ignore) -> DemoSummary:
    """Run the showcase (`gendef demo`) into `out` and return a summary; OUT/index.html is the page.

    Without `video`: `num` (at least two) clips of `frames` (default 48) frames from the model, and a
    generated pan of `fit_frames` frames (0: no such section) fitted with `quality`. With `video`: its
    first `frames` (default `VIDEO_FRAMES`) frames are fitted at short side `size` (default: `gendef
    fit`'s) with `quality`; if it has cuts, the first shot. `seed` seeds the first clip and the fit.
    """
    from gendef_core.fit.config import fit_preset

    out = Path(out)
    if num < 1:
        raise ConfigError(f"num must be >= 1, got {num}")
    if frames is not None and frames < 2:
        raise ConfigError(f"`frames` must be >= 2, got {frames}")
    if fit_frames != 0 and fit_frames < 2:
        raise ConfigError(f"`fit_frames` must be 0 (no fit section) or >= 2, got {fit_frames}")
    if video is not None and ckpt is not None:
        raise ConfigError("`ckpt` has no use with `video`: the demo of your own video fits it and uses no model")
    if video is None and size is not None:
        raise ConfigError("`size` goes with `video` (the generated pan of the demo is fitted at its own size)")
    fit_preset(quality)  # refuse a bad --quality before any work
    if video is not None and not Path(video).exists():
        raise DataError(f"`video` {video} does not exist; give a video file or a folder of frames")
    if video is not None and out.resolve() in (Path(video).resolve(), *Path(video).resolve().parents):
        raise ConfigError(f"`out` {out} contains the video {video}, and the demo replaces it; give another `out`")
    check_apart(out, {"video": video, "ckpt": ckpt}, sealed=("ckpt",))  # the demo deletes `out` first
    prepare_output_dir(out, overwrite=overwrite, what="demo")
    if out.exists():
        shutil.rmtree(out)
    # Built in place (not in a temporary directory) so that the paths the outputs record stay valid;
    # on any failure the directory is removed again.
    out.mkdir(parents=True)
    try:
        if video is not None:
            summary = _video_demo(Path(video), out, frames=frames or VIDEO_FRAMES, size=size, quality=quality,
                                  seed=seed, on_event=on_event)
        else:
            summary = _model_demo(out, ckpt=ckpt, num=num, frames=frames or 48, seed=seed, quality=quality,
                                  fit_frames=fit_frames, on_event=on_event)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    on_event(Info(f"open {out / 'index.html'} in a browser"))
    return summary


def _model_demo(out: Path, *, ckpt: Path | str | None, num: int, frames: int, seed: int, quality: str,
                fit_frames: int, on_event: OnEvent) -> DemoSummary:
    from gendef_core.apps.edit import edit as edit_clip
    from gendef_core.apps.edit import segment
    from gendef_core.apps.info import describe
    from gendef_core.apps.sample import resample, sample
    from gendef_core.apps.track import flow as clip_flow
    from gendef_core.apps.track import track
    from gendef_core.artifacts.clip import load_clip
    from gendef_core.data.synth_dataset import synth_dataset
    from gendef_core.models.bundled import is_installed

    with_objects = ckpt is None and is_installed(OBJECTS_MODEL)
    steps = 7 + bool(fit_frames) + with_objects
    paths = sample(out / "clips", ckpt=ckpt, num=max(num, 2), frames=frames, seed=seed, flow=True,
                   flow_max=FLOW_MAX_PX)
    moves = [movement(p) for p in paths]
    draw_flow_legend(out / "flow_legend.png")
    on_event(Progress("demo", 1, steps))
    clip = paths[0]
    c = load_clip(clip)
    moves.append(movement(resample(clip, out / "resampled", motion_seed=seed + 1000, ckpt=ckpt, flow=True,
                                   flow_max=FLOW_MAX_PX)))
    on_event(Progress("demo", 2, steps))
    edit = edit_clip(clip, out / "edited", scribble=draw_scribble(c.height, out / "scribble.png"))
    on_event(Progress("demo", 3, steps))
    write_points(out / "points.json", grid_points(c.height))
    tracks = track(clip, out / "points.json", out=out / "tracks.json", overlay=out / "tracks.mp4")
    on_event(Progress("demo", 4, steps))
    seg = segment(clip, draw_mask(c.canonical, out / "mask.png"), out=out / "masks",
                      overlay=out / "segment.mp4")
    on_event(Progress("demo", 5, steps))
    flow = clip_flow(clip, out / "flow", flow_max=FLOW_MAX_PX)
    on_event(Progress("demo", 6, steps))
    own = None
    if fit_frames:
        synth_dataset("pan", out / "own" / "pan", num_videos=1, num_frames=fit_frames, resolution=PAN_SIZE,
                          seed=seed)
        own = _fit_story(out / "own" / "pan" / "videos" / "000000", out / "own", frames=fit_frames, size=None,
                         quality=quality, seed=seed, full=False, task="demo: pan",
                         on_event=on_event)
        on_event(Progress("demo", 7, steps))
    objects = None
    if with_objects:
        objects = _objects_story(out / "objects", f"bundled:{OBJECTS_MODEL}", frames=frames, seed=seed)
        on_event(Progress("demo", steps - 1, steps))
    model = describe(ckpt)
    page = _page(model, len(paths), frames, edit, tracks, seg, flow, own, moves, objects)
    write_bytes_atomic(out / "index.html", page.encode())
    on_event(Progress("demo", steps, steps))
    name = cast("str | None", model.get("bundled") or model.get("path"))
    summary: DemoSummary = {"out": str(out), "index": str(out / "index.html"), "clips": len(paths), "frames": frames,
                            "model": name, "tracked_visible": float(np.mean(tracks["visible"])),
                            "edit_coverage": edit["edit_coverage"]["mean"], "movement": moves[:len(paths)]}
    if own:
        summary["fit"] = own["numbers"]
    if objects:
        summary["objects"] = objects
    return summary


def _objects_story(root: Path, ckpt: str, *, frames: int, seed: int) -> ObjectsNumbers:
    """The moving-objects section: two clips of `ckpt` (with flow), the first with new motion, its tracked grid
    of canonical points and a mask drawn on its canonical propagated; files under `root`."""
    from gendef_core.apps.edit import segment
    from gendef_core.apps.sample import resample, sample
    from gendef_core.apps.track import track
    from gendef_core.artifacts.clip import load_clip

    paths = sample(root / "clips", ckpt=ckpt, num=2, frames=frames, seed=seed, flow=True, flow_max=FLOW_MAX_PX)
    moves = [movement(p) for p in paths]
    clip = paths[0]
    c = load_clip(clip)
    moves.append(movement(resample(clip, root / "resampled", motion_seed=seed + 1000, ckpt=ckpt)))
    write_points(root / "points.json", grid_points(c.height))
    tracks = track(clip, root / "points.json", out=root / "tracks.json", overlay=root / "tracks.mp4")
    segment(clip, draw_mask(c.canonical, root / "mask.png"), out=root / "masks", overlay=root / "segment.mp4")
    return {"model": ckpt, "movement": moves, "tracked_visible": float(np.mean(tracks["visible"]))}


def _video_demo(video: Path, out: Path, *, frames: int, size: int | None, quality: str, seed: int,
                on_event: OnEvent) -> DemoSummary:
    story = _fit_story(video, out, frames=frames, size=size, quality=quality, seed=seed, full=True, task="demo",
                       on_event=on_event)
    write_bytes_atomic(out / "index.html", _video_page(video, story).encode())
    return {"out": str(out), "index": str(out / "index.html"), "video": str(video),
            "frames": story["numbers"]["num_frames"], "fit": story["numbers"],
            "tracked_visible": float(np.mean(story["tracks"]["visible"])),
            "edit_coverage": story["edit"]["edit_coverage"]["mean"]}


def _fit_story(video: Path, root: Path, *, frames: int, size: int | None, quality: str, seed: int, full: bool,
               task: str, on_event: OnEvent) -> dict[str, Any]:
    """Fit the first `frames` frames of `video` (its first shot) as ROOT/fit and edit it on frame 0 (ROOT/edited,
    ROOT/scribble.png); with `full` also track frame-0 points, propagate a frame-0 mask and compute the flow."""
    from gendef_core.apps.edit import edit as edit_clip
    from gendef_core.apps.edit import segment
    from gendef_core.apps.fit import fit
    from gendef_core.apps.track import flow as clip_flow
    from gendef_core.apps.track import track
    from gendef_core.artifacts.clip import load_clip, read_clip_manifest
    from gendef_core.artifacts.images import open_image
    from gendef_core.data.video_io import read_video
    from gendef_core.fit.source import probe_source

    info = probe_source(video)
    count: int | None = frames  # None: the whole video
    if info.num_frames is not None and info.num_frames < frames:  # a short video: all of it
        count = info.num_frames if info.num_frames_exact else None
    steps = 5 if full else 2
    cmd = ["gendef", "fit", str(video), "--out", str(root / "fit"), "--quality", quality, "--seed", str(seed),
           "--shot", "0"] + (["--frames", str(count)] if count else []) + (["--size", str(size)] if size else [])
    fitted = fit(video, root / "fit", frames=count, size=size, quality=quality, shot=0, seed=seed,
                     command=shlex.join(cmd), on_event=on_event)
    on_event(Progress(task, 1, steps))
    m = read_clip_manifest(root / "fit")
    h, w = m["height"], m["width"]
    edit = edit_clip(root / "fit", root / "edited", frame=0, scribble=draw_scribble(w, root / "scribble.png", h))
    on_event(Progress(task, 2, steps))
    with open_image(root / "scribble.png") as im:
        drawn = np.asarray(im.convert("RGBA"))[..., 3] > 0
    visible = load_clip(root / "fit", verify=False).visibility
    carried = 1.0 if visible is None else float(visible[0].numpy()[drawn].mean())
    rep = m["fit"]
    story: dict[str, Any] = {
        "edit": edit, "size": (w, h), "canonical_size": (m["canonical_width"], m["canonical_height"]),
        "origin": tuple(m["origin"]), "cuts": fitted.cuts, "command": shlex.join(cmd), "carried": carried,
        "numbers": {"num_frames": m["num_frames"], "start": rep["start"], "end": rep["end"],
                    "num_shots": rep["num_shots"], "psnr_mean_db": rep["psnr_mean_db"],
                    "psnr_min_db": rep["psnr_min_db"], "folded_max": rep["folded_max"],
                    "outside_mean": rep["outside_mean"], "canonical_size": rep["canonical_size"],
                    "layer_fraction": rep.get("layer_fraction", 0.0),
                    "frame_size": [h, w], "runtime_s": rep["runtime_s"], "seconds": round(fitted.seconds, 2),
                    "quality": quality, "device": rep.get("device")}}
    if not full:
        return story
    write_points(root / "points.json", grid_points(w, 5, h), frame=0)
    story["tracks"] = track(root / "fit", root / "points.json", out=root / "tracks.json",
                                overlay=root / "tracks.mp4")
    on_event(Progress(task, 3, steps))
    first, _ = read_video(root / "fit" / "source.mp4", max_frames=1)
    story["segment"] = segment(root / "fit", draw_frame_mask(first[0], root / "mask.png"), frame=0,
                                   out=root / "masks", overlay=root / "segment.mp4")
    on_event(Progress(task, 4, steps))
    story["flow"] = clip_flow(root / "fit", root / "flow")
    on_event(Progress(task, 5, steps))
    return story


def _scale(story: dict[str, Any]) -> float:
    """CSS px per pixel of a fitted clip: the frame's longer side at `_SHOW`, or less so that its source, video,
    canonical and edited video fit on one row (a canonical much wider than the frame wraps nonetheless)."""
    (w, h), (wc, _) = story["size"], story["canonical_size"]
    return min(_SHOW / max(w, h), max(_ROW / (3 * w + wc), 96 / max(w, h)))


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return round(size[0] * scale), round(size[1] * scale)


def _fit_panels(story: dict[str, Any], prefix: str) -> str:
    """source | reconstruction + canonical (kept together) | edited, at one scale, and the fit's numbers."""
    n = story["numbers"]
    (w, h), (wc, hc) = story["size"], story["canonical_size"]
    s = _scale(story)
    frame, canon = _scaled((w, h), s), _scaled((wc, hc), s)
    area = wc * hc / (w * h)
    row = ("<div class=row>" + _figure(f"{prefix}fit/source.mp4", "source.mp4: the input at the fitted size", frame)
           + _pair(_figure(f"{prefix}fit/video.mp4", "video.mp4: the fit's reconstruction", frame),
                   _figure(f"{prefix}fit/canonical.png", f"canonical.png: {wc}x{hc} px, shown at the frames' scale",
                           canon))
           + _figure(f"{prefix}edited/video.mp4", "edited: a scribble drawn on frame 0, in every frame", frame)
           + "</div>")
    ox, oy = story["origin"]
    rows = [("reconstruction PSNR", f"mean {n['psnr_mean_db']:.2f} dB, min {n['psnr_min_db']:.2f} dB per frame "
                                    f"(over {n['num_frames']} frames)"),
            ("canonical vs frame", f"{wc}x{hc} px canonical for {w}x{h} px frames ({area:.2f}x the area); frame 0 "
                                   f"sits at ({ox}, {oy}) on it"),
            ("folded", f"at most {n['folded_max'] * 100:.2f} % of a frame's pixels (where the map folds over)"),
            ("outside", f"{n['outside_mean'] * 100:.3f} % of frame pixels sample outside the canonical (mean)"),
            *([("layers", f"{n['layer_fraction'] * 100:.1f} % of frame pixels are on the moving-object layer "
                           f"(its own region, right of the scene on the canonical)")] if n["layer_fraction"] else []),
            ("edit", f"{story['carried'] * 100:.0f} % of the scribble lies on frame-0 pixels the fit explains (its "
                     f"visibility map; only those reach the canonical); the edit covers "
                     f"{story['edit']['edit_coverage']['mean'] * 100:.1f} % of each frame on average"),
            ("runtime", f"{n['runtime_s']:.1f} s fitting ({n['seconds']:.1f} s with reading the video), quality "
                        f"<code>{html.escape(n['quality'])}</code>, on {html.escape(str(n['device']))}"),
            ("command", f"<code>{html.escape(story['command'])}</code>")]
    table = "<table class=numbers>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"
    return row + table


def _cut_note(video: Path, story: dict[str, Any]) -> str:
    n = story["numbers"]
    if not story["cuts"]:
        return ""
    return (f" <b>{html.escape(str(video))} has scene cuts</b> (before frames {', '.join(map(str, story['cuts']))}): "
            f"one canonical is never fitted across a cut, so this demo uses the <b>first shot</b>, frames "
            f"{n['start']}..{n['end'] - 1}; <code>gendef fit</code> without <code>--shot</code> fits every shot.")


def _video_page(video: Path, story: dict[str, Any]) -> str:
    n, (w, h) = story["numbers"], story["size"]
    scale = _scale(story)
    frame = _scaled((w, h), scale)
    seg, flow, tracks, edit = story["segment"], story["flow"], story["tracks"], story["edit"]
    name = html.escape(Path(video).name)
    parts = [_head(f"gendef demo: {Path(video).name}"),
             f"<h1>gendef demo: {name}</h1><p><code>gendef fit</code> decomposes a video into <b>one canonical "
             f"image</b> and a deformation per frame, so whatever is drawn once (here, on frame 0) follows the "
             f"content in every frame. Frames {n['start']}..{n['end'] - 1} of <code>{html.escape(str(video))}</code>"
             f" at {w}x{h} px. Made by <code>gendef demo --video</code>.{_cut_note(video, story)}</p>"]
    parts.append(f"<h2>1. The fit</h2><p>The input, the fit's reconstruction from the canonical, the canonical "
                 f"image itself (content that enters or leaves the view is kept on it, so it can be larger than "
                 f"the frame), and the clip after the edit of section 2.</p>{_fit_panels(story, '')}")
    parts.append(_section("2. Edit frame 0, see it everywhere", f"A scribble drawn on frame 0 at the frame size "
                          f"(<code>gendef edit fit --frame 0 --scribble scribble.png</code>) is pulled into the "
                          f"canonical and shows in every frame; it covers "
                          f"{edit['edit_coverage']['mean'] * 100:.1f} % of each frame on average.",
                          [("scribble.png", "the scribble, drawn on frame 0", frame),
                           ("edited/canonical.png", "edited canonical", _scaled(story["canonical_size"], scale)),
                           ("edited/video.mp4", "edited video", frame)]))
    vis = float(np.mean(tracks["visible"])) * 100
    parts.append(_section("3. Points on frame 0, tracked", f"{tracks['num_points']} points of frame 0 tracked "
                          f"through {tracks['num_frames']} frames (<code>gendef track --points points.json</code>, "
                          f"frame-space points); visible {vis:.0f} % of the time. Tracks: "
                          f"<a href=tracks.json>tracks.json</a>.", [("tracks.mp4", "tracks with short trails", frame)]))
    parts.append(_section("4. A mask drawn on frame 0, propagated", f"Labels {seg['labels']} (1: a blob around the "
                          f"centre, 2: the brightest pixels around it) drawn on frame 0 "
                          f"(<code>gendef segment --frame 0 --mask mask.png</code>): per-frame DAVIS-style PNGs in "
                          f"<a href=masks/>masks/</a>.",
                          [("mask.png", "the mask, drawn on frame 0", frame), ("segment.mp4", "propagated", frame)]))
    parts.append(_section("5. Optical flow", f"Forward optical flow from the deformation (<code>gendef flow</code>), "
                          f"mean {flow['mean_magnitude']:.3f} px per frame, {flow['valid_fraction'] * 100:.0f} % "
                          f"valid.", [("flow/flow.mp4", "optical flow (colour)", frame)]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _page(model: ArtifactSummary, num: int, frames: int, edit: EditReport, tracks: TracksDocument,
          seg: SegmentReport, flow: FlowReport, own: dict[str, Any] | None, moves: list[MovementNumbers],
          objects: ObjectsNumbers | None = None) -> str:
    name = model.get("bundled") or model.get("path")
    parts = [_head("gendef demo"),
             f"<h1>gendef demo</h1><p>GenDeF renders every frame by warping <b>one canonical image</b> "
             f"with a generated deformation, so whatever is drawn once on the canonical image follows the "
             f"content in every frame. Model: <code>{html.escape(str(name))}</code>; {num} clips of {frames} "
             f"frames. Made by <code>gendef demo</code>.</p>"]
    scale = (f"Flow colours: hue = direction, full colour = {FLOW_MAX_PX:g} px per frame, white = still "
             f"(key: <a href=flow_legend.png>flow_legend.png</a>). Under each video: how far its content moves "
             f"(net displacement of 64 canonical points tracked through the deformation, first to last frame).")
    parts.append(_section("1. Samples", "Each clip: its canonical image, the video, and the frame-to-frame "
                          f"deformation flow in colour (<code>gendef sample --num 4 --flow --flow-max "
                          f"{FLOW_MAX_PX:g}</code>). {scale}",
                          [_pair(_figure(f"clips/{i:06d}/canonical.png", f"clip {i}: canonical image"),
                                 _figure(f"clips/{i:06d}/video.mp4", f"clip {i}: {_movement_line(moves[i])}"),
                                 _figure(f"clips/{i:06d}/flow.mp4", f"clip {i}: flow ({FLOW_MAX_PX:g} px/frame = "
                                         f"full colour)")) for i in range(num)]
                          + [_figure("flow_legend.png", f"flow key: the rim is {FLOW_MAX_PX:g} px per frame",
                                     (96, 96))]))
    parts.append(_section("2. Same content, new motion", "<code>gendef resample</code> keeps the canonical "
                          "image and takes the motion of another seed.",
                          [_pair(_figure("clips/000000/video.mp4", f"clip 0: {_movement_line(moves[0])}"),
                                 _figure("resampled/video.mp4", f"resampled: {_movement_line(moves[-1])}"),
                                 _figure("resampled/flow.mp4", "resampled: flow"))]))
    parts.append(_section("3. Edit once, see it everywhere", f"A scribble composited once onto the canonical "
                          f"(<code>gendef edit --scribble</code>); it covers {edit['edit_coverage']['mean'] * 100:.1f}"
                          f"% of each frame on average.",
                          [("scribble.png", "the scribble (RGBA)"), ("edited/canonical.png", "edited canonical"),
                           ("edited/video.mp4", "edited video")]))
    vis = float(np.mean(tracks["visible"])) * 100
    parts.append(_section("4. Points drawn on the canonical, tracked", f"{tracks['num_points']} points tracked "
                          f"through {tracks['num_frames']} frames by inverting the deformation "
                          f"(<code>gendef track</code>); visible {vis:.0f} % of the time. Tracks: "
                          f"<a href=tracks.json>tracks.json</a>.", [("tracks.mp4", "tracks")]))
    parts.append(_section("5. A mask drawn on the canonical, propagated", f"Labels {seg['labels']} "
                          f"(<code>gendef segment</code>): per-frame DAVIS-style PNGs in <a href=masks/>masks/</a>.",
                          [("mask.png", "the mask (labels in their palette colours)"), ("segment.mp4", "propagated")]))
    parts.append(_section("6. Optical flow", f"Forward optical flow from the deformation (<code>gendef flow "
                          f"--flow-max {FLOW_MAX_PX:g}</code>), mean {flow['mean_magnitude']:.3f} px per frame, "
                          f"{flow['valid_fraction'] * 100:.0f} % valid; full colour = {FLOW_MAX_PX:g} px per frame.",
                          [("flow/flow.mp4", "optical flow (colour)"),
                           ("flow_legend.png", f"flow key: the rim is {FLOW_MAX_PX:g} px per frame", (96, 96))]))
    if own is not None:
        n = own["numbers"]
        parts.append(f"<h2>7. Your own video: gendef fit</h2><p><code>gendef fit</code> decomposes any video into a "
                     f"canonical image and a deformation, so every command above works on it. Here: a generated "
                     f"camera pan and zoom over a scene larger than the frame, with a non-rigid patch and an object "
                     f"crossing it (<code>gendef data synth --kind pan --num-videos 1 --frames {n['num_frames']} "
                     f"--resolution {PAN_SIZE}</code>), fitted with quality <code>{html.escape(n['quality'])}</code>. "
                     f"Content that enters the frame during the pan is kept on the canonical, which is therefore "
                     f"<b>larger than the frame</b>; the scribble was drawn on frame 0 "
                     f"(<code>gendef edit --frame 0</code>) and moves with the scene. Try it on yours: "
                     f"<code>gendef demo --video FILE</code>.</p>{_fit_panels(own, 'own/')}")
    if objects is not None:
        mv = objects["movement"]
        parts.append(_section(f"{8 if own is not None else 7}. Moving objects: {objects['model']}",
                              f"The second bundled model, trained on <code>sprites</code> (textured objects moving "
                              f"and turning over a still scene). Sample, new motion for the same content "
                              f"(<code>gendef resample</code>), points and a mask drawn once on the canonical, "
                              f"tracked and propagated (visible {objects['tracked_visible'] * 100:.0f} % of the time). "
                              f"<code>gendef sample --ckpt {objects['model']}</code>.",
                              [_pair(_figure("objects/clips/000000/canonical.png", "clip 0: canonical image"),
                                     _figure("objects/clips/000000/video.mp4", f"clip 0: {_movement_line(mv[0])}"),
                                     _figure("objects/clips/000000/flow.mp4", "clip 0: flow")),
                               _pair(_figure("objects/clips/000001/canonical.png", "clip 1: canonical image"),
                                     _figure("objects/clips/000001/video.mp4", f"clip 1: {_movement_line(mv[1])}"),
                                     _figure("objects/clips/000001/flow.mp4", "clip 1: flow")),
                               _pair(_figure("objects/resampled/video.mp4",
                                             f"clip 0, new motion: {_movement_line(mv[2])}"),
                                     _figure("objects/tracks.mp4", "clip 0: tracked points"),
                                     _figure("objects/mask.png", "mask on the canonical"),
                                     _figure("objects/segment.mp4", "clip 0: mask propagated"))]))
    parts.append("</body></html>\n")
    return "\n".join(parts)
