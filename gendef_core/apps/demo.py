"""`gendef demo`: the whole story on the bundled model, written as a static HTML page.

Sample clips, resample the motion of one, edit its canonical with a scribble, track points drawn on
the canonical, propagate a mask drawn on the canonical, and compute its optical flow; then write
OUT/index.html that shows every video and picture side by side (plain HTML, no server, no script).
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from gendef_core.artifacts.common import prepare_output_dir, write_bytes_atomic
from gendef_core.errors import ConfigError
from gendef_core.events import Info, OnEvent, Progress, ignore


def draw_scribble(size: int, path: Path) -> Path:
    """An RGBA overlay the size of the canonical: a red ring and a yellow bar, transparent elsewhere."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse([size * 0.2, size * 0.2, size * 0.55, size * 0.55], outline=(230, 20, 20, 255), width=max(1, size // 16))
    d.rectangle([size * 0.6, size * 0.7, size * 0.9, size * 0.78], fill=(250, 220, 0, 255))
    img.save(path)
    return path


def draw_mask(canonical: Tensor, path: Path) -> Path:
    """A two-label mask of a canonical ``[3, H, W]``: 1 = its brightest 30 %, 2 = its darkest 20 % (greyscale ids)."""
    from PIL import Image

    lum = canonical.float().mean(dim=0)
    labels = np.zeros(lum.shape, np.uint8)
    labels[(lum >= lum.quantile(0.7)).numpy()] = 1
    labels[(lum <= lum.quantile(0.2)).numpy()] = 2
    Image.fromarray(labels).save(path)
    return path


def grid_points(size: int, n: int = 4) -> list[list[float]]:
    g = np.linspace(size * 0.15, size * 0.85, n)
    return [[round(float(x), 2), round(float(y), 2)] for y in g for x in g]


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.row{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0;text-align:center}
figcaption{font-size:.85em;color:#555;max-width:256px}
img,video{width:256px;height:256px;image-rendering:pixelated;background:#eee;border:1px solid #ccc}
code{background:#f4f4f4;padding:0 .3em}"""


def _figure(src: str, caption: str) -> str:
    tag = (f'<video src="{src}" autoplay loop muted playsinline></video>' if src.endswith(".mp4")
           else f'<img src="{src}" alt="{html.escape(caption)}">')
    return f"<figure>{tag}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _section(title: str, text: str, figures: list[tuple[str, str]]) -> str:
    return (f"<h2>{html.escape(title)}</h2><p>{text}</p><div class=row>"
            + "".join(_figure(s, c) for s, c in figures) + "</div>")


def demo(out: Path, *, ckpt: Path | str | None = None, num: int = 4, frames: int = 48, seed: int = 0,
         overwrite: bool = False, on_event: OnEvent = ignore) -> dict[str, Any]:
    """Run the showcase (`gendef demo`) into `out` and return a summary; OUT/index.html is the page.

    At least two clips are sampled (the page shows them side by side)."""
    from gendef_core import api
    from gendef_core.artifacts.clip import load_clip

    out = Path(out)
    if num < 1:
        raise ConfigError(f"num must be >= 1, got {num}")
    prepare_output_dir(out, overwrite=overwrite, what="demo")
    if out.exists():
        shutil.rmtree(out)
    # Built in place (not in a temporary directory) so that the paths the outputs record stay valid;
    # on any failure the directory is removed again.
    out.mkdir(parents=True)
    steps = 7
    try:
        paths = api.sample(out / "clips", ckpt=ckpt, num=max(num, 2), frames=frames, seed=seed, flow=True)
        on_event(Progress("demo", 1, steps))
        clip = paths[0]
        c = load_clip(clip)
        api.resample(clip, out / "resampled", motion_seed=seed + 1000, ckpt=ckpt)
        on_event(Progress("demo", 2, steps))
        edit = api.edit(clip, out / "edited", scribble=draw_scribble(c.height, out / "scribble.png"))
        on_event(Progress("demo", 3, steps))
        (out / "points.json").write_text(json.dumps(grid_points(c.height)))
        tracks = api.track(clip, out / "points.json", out=out / "tracks.json", overlay=out / "tracks.mp4")
        on_event(Progress("demo", 4, steps))
        seg = api.segment(clip, draw_mask(c.canonical, out / "mask.png"), out=out / "masks",
                          overlay=out / "segment.mp4")
        on_event(Progress("demo", 5, steps))
        flow = api.flow(clip, out / "flow")
        on_event(Progress("demo", 6, steps))
        model = api.describe(ckpt)
        page = _page(model, len(paths), frames, edit, tracks, seg, flow)
        write_bytes_atomic(out / "index.html", page.encode())
        on_event(Progress("demo", steps, steps))
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    on_event(Info(f"open {out / 'index.html'} in a browser"))
    return {"out": str(out), "index": str(out / "index.html"), "clips": len(paths), "frames": frames,
            "model": model.get("bundled") or model.get("path"),
            "tracked_visible": float(np.mean(tracks["visible"])), "edit_coverage": edit["edit_coverage"]["mean"]}


def _page(model: dict[str, Any], num: int, frames: int, edit: dict[str, Any], tracks: dict[str, Any],
          seg: dict[str, Any], flow: dict[str, Any]) -> str:
    name = model.get("bundled") or model.get("path")
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>gendef demo</title><style>{_STYLE}</style>"
             f"</head><body><h1>gendef demo</h1><p>GenDeF renders every frame by warping <b>one canonical image</b> "
             f"with a generated deformation, so whatever is drawn once on the canonical image follows the "
             f"content in every frame. Model: <code>{html.escape(str(name))}</code>; {num} clips of {frames} "
             f"frames. Made by <code>gendef demo</code>.</p>"]
    parts.append(_section("1. Samples", "Each clip: its canonical image, the video, and the frame-to-frame "
                          "deformation flow in colour (<code>gendef sample --num 4 --flow</code>).",
                          [f for i in range(num) for f in (
                              (f"clips/{i:06d}/canonical.png", f"clip {i}: canonical image"),
                              (f"clips/{i:06d}/video.mp4", f"clip {i}: video"))]))
    parts.append(_section("2. Same content, new motion", "<code>gendef resample</code> keeps the canonical "
                          "image and takes the motion of another seed.",
                          [("clips/000000/video.mp4", "clip 0"), ("resampled/video.mp4", "clip 0, resampled motion"),
                           ("clips/000000/flow.mp4", "clip 0: deformation flow")]))
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
                          [("mask.png", "the mask (label ids)"), ("segment.mp4", "propagated")]))
    parts.append(_section("6. Optical flow", f"Forward optical flow from the deformation (<code>gendef flow</code>), "
                          f"mean {flow['mean_magnitude']:.3f} px per frame, "
                          f"{flow['valid_fraction'] * 100:.0f} % valid.",
                          [("flow/flow.mp4", "optical flow (colour)")]))
    parts.append("</body></html>\n")
    return "\n".join(parts)
