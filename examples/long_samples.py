"""Do long samples keep moving? Frames and displacement curves of T-frame samples (issue 14: no freezing,
no runaway drift).

    python examples/long_samples.py CKPT OUT_DIR [--frames 256] [--num 3] [--seed 0] [--lag 16] [--scale 2]
                                                 [--reference PX]

Samples `--num` clips of `--frames` frames, tracks a 6 x 6 grid of canonical points through each clip's
deformation, and writes

- OUT_DIR/long_samples.json: per clip, the windowed displacement w(t) = mean over points of
  |p(t + lag) - p(t)| (px) for every t, its mean over the first and the last quarter of the clip, their ratio
  (about 1: the motion keeps its pace; near 0: it freezes; large: it speeds up), and the drift
  mean |p(T-1) - p(0)|; null where no tracked point is in view at both ends;
- OUT_DIR/long_samples.png: one row per clip of 8 frames spread over the clip (tracked points drawn with
  short trails), each row above its curve w(t); `--reference` draws the data's lag displacement as a
  grey line (e.g. disp_16 of the data from `gendef eval --metrics motion`).

Prints the PNG's path. Runs in CI (tests/test_examples.py) at a tiny size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gendef_core import api
from gendef_core.apps.demo import grid_points
from gendef_core.artifacts.clip import load_clip
from gendef_core.data.images import to_uint8
from gendef_core.render import draw_tracks
from gendef_core.track import track_canonical_points
from gendef_core.warp import warp

STRIP = 8        # frames shown per clip
PLOT_H = 60      # px of each curve panel


def window_displacement(tracks: torch.Tensor, visible: torch.Tensor, lag: int) -> np.ndarray:
    """``tracks [T, N, 2]``, ``visible [T, N]`` -> w(t) = mean |p(t + lag) - p(t)| over points visible at both
    (nan where none is), for t = 0 .. T - 1 - lag."""
    d = (tracks[lag:] - tracks[:-lag]).double().norm(dim=-1)
    both = (visible[lag:] & visible[:-lag]).double()
    n = both.sum(dim=1)
    w = (d * both).sum(dim=1) / n.clamp(min=1)
    return torch.where(n > 0, w, torch.full_like(w, float("nan"))).numpy()


def _mean(w: np.ndarray) -> float | None:
    """The mean of the finite values, rounded to 4 decimals; None if there is none (JSON has no NaN)."""
    finite = w[np.isfinite(w)]
    return round(float(finite.mean()), 4) if finite.size else None


def curve_panel(w: np.ndarray, width: int, top: float, reference: float | None) -> Image.Image:
    """w(t) as a black polyline over `width` px (y from 0 to `top` px of displacement), the reference grey."""
    img = Image.new("RGB", (width, PLOT_H), (255, 255, 255))
    draw = ImageDraw.Draw(img)

    def y(v: float) -> float:
        return PLOT_H - 4 - (PLOT_H - 8) * min(v, top) / top
    if reference is not None:
        draw.line([(0, y(reference)), (width, y(reference))], fill=(170, 170, 170), width=1)
    xs = np.linspace(0, width - 1, len(w))
    pts = [(float(x), y(float(v))) for x, v in zip(xs, w, strict=True) if np.isfinite(v)]
    if len(pts) > 1:
        draw.line(pts, fill=(0, 0, 0), width=2)
    label = f"displacement over the lag, 0-{top:.1f} px" + (" (grey: the data)" if reference is not None else "")
    draw.text((3, 2), label, fill=(120, 120, 120))
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt")
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--num", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lag", type=int, default=16)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--reference", type=float, default=None, help="the data's displacement at the lag (px)")
    args = parser.parse_args()
    if not 1 <= args.lag < args.frames or args.frames < 4 or args.num < 1 or args.scale < 1:
        parser.error("need 1 <= --lag < --frames, --frames >= 4, --num >= 1 and --scale >= 1")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    clips = api.sample(out / "clips", ckpt=args.ckpt, num=args.num, frames=args.frames, seed=args.seed,
                       overwrite=True)
    report, rows, curves = [], [], []
    times = np.linspace(0, args.frames - 1, STRIP).round().astype(int).tolist()
    q = max(1, (args.frames - args.lag) // 4)
    for path in clips:
        c = load_clip(path)
        points = torch.tensor(grid_points(c.width, 6, c.height))
        tr = track_canonical_points(c.offsets, points)
        w = window_displacement(tr.tracks, tr.visible, args.lag)
        first, last = _mean(w[:q]), _mean(w[-q:])
        drift = (tr.tracks[-1] - tr.tracks[0]).double().norm(dim=-1)[tr.visible[-1] & tr.visible[0]]
        report.append({"clip": str(path), "num_frames": args.frames, "lag": args.lag,
                       "window_displacement": [round(float(v), 4) if np.isfinite(v) else None for v in w],
                       "first_quarter_px": first, "last_quarter_px": last,
                       "last_over_first": round(last / first, 4) if first and last is not None else None,
                       "drift_px": round(float(drift.mean()), 4) if drift.numel() else None})
        frames = to_uint8(warp(c.canonical[None], c.offsets[None])[0])  # [T, H, W, 3]
        tiles = [draw_tracks(frames[t], tr.tracks, tr.visible, t, scale=args.scale) for t in times]
        rows.append(np.concatenate([t.numpy() for t in tiles], axis=1))
        curves.append(w)
    top = max([float(np.nanmax(w)) for w in curves if np.isfinite(w).any()] + [args.reference or 0.0, 1e-3]) * 1.1
    width = rows[0].shape[1]
    panels = []
    for row, w in zip(rows, curves, strict=True):
        panels.append(row)
        panels.append(np.asarray(curve_panel(w, width, top, args.reference)))
    Image.fromarray(np.concatenate(panels, axis=0)).save(out / "long_samples.png")
    doc = {"clips": report, "frames_shown": times}
    (out / "long_samples.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    print(out / "long_samples.png")


if __name__ == "__main__":
    main()
