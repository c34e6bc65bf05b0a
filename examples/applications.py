"""The applications from Python: sample, resample, edit, track, segment, flow, and one picture of them all.

    python examples/applications.py CKPT OUT_DIR [--frames 32] [--seed 0] [--scale 3]

CKPT is a `gendef finetune` run. Writes OUT_DIR/{clip, resampled, edited, masks, flow}, the inputs it
drew (scribble.png, points.json, mask.png), tracks.json and OUT_DIR/applications.png with one row per
application: canonical image, then three frames. Runs in CI (tests/test_examples.py) at a tiny size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gendef_core import api
from gendef_core.apps.demo import draw_mask, draw_scribble, grid_points
from gendef_core.artifacts.clip import load_clip
from gendef_core.data.images import to_uint8, write_png
from gendef_core.edit import blend_labels
from gendef_core.render import draw_tracks
from gendef_core.warp import warp


def frames_of(clip_dir: Path, times: list[int]) -> torch.Tensor:
    clip = load_clip(clip_dir)
    return to_uint8(warp(clip.canonical[None], clip.offsets[None, times])[0])  # [k, H, W, 3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=3)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    clip = api.sample(out / "clip", ckpt=args.ckpt, frames=args.frames, seed=args.seed, overwrite=True)[0]
    api.resample(clip, out / "resampled", overwrite=True)
    c = load_clip(clip)
    size = c.height
    api.edit(clip, out / "edited", scribble=draw_scribble(size, out / "scribble.png"), overwrite=True)
    (out / "points.json").write_text(json.dumps(grid_points(size)))
    doc = api.track(clip, out / "points.json", out=out / "tracks.json")
    masks = api.segment(clip, draw_mask(c.canonical, out / "mask.png"), out=out / "masks", overwrite=True)
    api.flow(clip, out / "flow", overwrite=True)

    times = np.linspace(0, args.frames - 1, 3).round().astype(int).tolist()
    s = args.scale
    tracks, visible = torch.tensor(doc["tracks"]), torch.tensor(doc["visible"])
    canonical_points = torch.tensor(doc["canonical_points"])[None]

    def up(img: torch.Tensor) -> torch.Tensor:
        return img.repeat_interleave(s, 0).repeat_interleave(s, 1)

    rows = []
    for name in ("clip", "resampled", "edited"):
        cl = load_clip(out / name)
        rows.append([up(to_uint8(cl.canonical)), *(up(f) for f in frames_of(out / name, times))])
    frames = frames_of(clip, times)
    rows.append([draw_tracks(to_uint8(c.canonical), canonical_points, torch.ones(1, tracks.shape[1], dtype=torch.bool),
                             0, scale=s)]
                + [draw_tracks(f, tracks, visible, t, scale=s) for f, t in zip(frames, times, strict=True)])
    pngs = [Path(masks["path"]) / f"{t:05d}.png" for t in times]
    labels = torch.stack([torch.from_numpy(np.asarray(Image.open(p)).astype(np.int64)) for p in pngs])
    mask0 = torch.from_numpy(np.asarray(Image.open(out / "mask.png")).astype(np.int64))
    rows.append([up(blend_labels(to_uint8(c.canonical), mask0)), *(up(f) for f in blend_labels(frames, labels))])
    sheet = torch.cat([torch.cat(r, dim=1) for r in rows], dim=0)
    print(write_png(out / "applications.png", sheet.numpy()))


if __name__ == "__main__":
    main()
