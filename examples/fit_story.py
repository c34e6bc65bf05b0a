"""Your own video from Python: fit it, then edit on frame 0, track frame-0 points, propagate a mask; one picture.

    python examples/fit_story.py VIDEO OUT_DIR [--size 128] [--frames 64] [--quality default] [--scale 2]

VIDEO is any video file or folder of frames (without one, e.g. `gendef data synth --kind pan --num-videos 1
--out pan` and pass pan/videos/000000). Writes OUT_DIR/{clip, edited, masks}, the inputs it drew on frame 0
(scribble.png, mask.png, points.json), tracks.json and OUT_DIR/fit_story.png: rows = frames 0, T/2, T-1;
columns = source | reconstruction | edit propagated (drawn on frame 0) | tracks and mask; plus the canonical
image. Prints the picture's path. Runs in CI (tests/test_examples.py) at a tiny size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gendef_core import api
from gendef_core.artifacts.clip import load_clip
from gendef_core.data.images import to_uint8, write_png
from gendef_core.data.video_io import read_video
from gendef_core.edit import blend_labels
from gendef_core.render import draw_tracks
from gendef_core.warp import warp


def draw_on_frame(w: int, h: int, out: Path) -> tuple[Path, Path]:
    """A frame-size RGBA scribble (a ring and a bar) and a label mask (an ellipse, id 1) for frame 0."""
    scribble = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(scribble)
    r = max(3, min(w, h) // 6)
    cx, cy = w // 3, h // 3
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 220, 0, 255), width=max(1, r // 3))
    d.rectangle([w // 2, 2 * h // 3, w // 2 + 2 * r, 2 * h // 3 + max(2, r // 2)], fill=(0, 200, 255, 255))
    scribble.save(out / "scribble.png")
    mask = Image.new("P", (w, h), 0)
    ImageDraw.Draw(mask).ellipse([w // 2, h // 6, w // 2 + 2 * r, h // 6 + 2 * r], fill=1)
    mask.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    mask.save(out / "mask.png")
    return out / "scribble.png", out / "mask.png"


def frames_of(clip_dir: Path) -> torch.Tensor:
    clip = load_clip(clip_dir)
    return to_uint8(warp(clip.canonical[None], clip.offsets[None], origin=clip.origin)[0])  # [T, H, W, 3]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--quality", default="default")
    ap.add_argument("--scale", type=int, default=2)
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    api.fit(args.video, out / "clip", frames=args.frames, size=args.size, quality=args.quality, shot=0,
            overwrite=True)
    clip = load_clip(out / "clip")
    w, h, t = clip.width, clip.height, clip.num_frames
    scribble, mask = draw_on_frame(w, h, out)
    api.edit(out / "clip", out / "edited", frame=0, scribble=scribble, overwrite=True)
    step = max(4, min(w, h) // 6)
    pts = [[float(x), float(y)] for y in range(step // 2, h, step) for x in range(step // 2, w, step)]
    (out / "points.json").write_text(json.dumps({"space": "frame", "frame": 0, "points": pts}))
    api.track(out / "clip", out / "points.json", out=out / "tracks.json", overwrite=True)
    api.segment(out / "clip", mask, frame=0, out=out / "masks", overwrite=True)
    doc = json.loads((out / "tracks.json").read_text())
    tracks, visible = torch.tensor(doc["tracks"]), torch.tensor(doc["visible"])
    source, _ = read_video(out / "clip" / "source.mp4")
    recon, edited = frames_of(out / "clip"), frames_of(out / "edited")
    rows = []
    for k in (0, t // 2, t - 1):
        labels = torch.from_numpy(np.asarray(Image.open(out / "masks" / f"{k:05d}.png")).astype(np.int64))
        overlay = blend_labels(recon[k:k + 1], labels[None])[0]
        tracked = draw_tracks(overlay, tracks, visible, k, scale=1)
        rows.append(np.concatenate([source[k], recon[k].numpy(), edited[k].numpy(), np.asarray(tracked)], axis=1))
    grid = np.concatenate(rows, axis=0)
    canon = to_uint8(clip.canonical).numpy()
    pad = np.full((canon.shape[0], max(0, grid.shape[1] - canon.shape[1]), 3), 255, np.uint8)
    sheet = np.concatenate([grid, np.concatenate([canon, pad], axis=1)[:, :grid.shape[1]]], axis=0)
    sheet = np.repeat(np.repeat(sheet, args.scale, axis=0), args.scale, axis=1)
    path = write_png(out / "fit_story.png", sheet)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
