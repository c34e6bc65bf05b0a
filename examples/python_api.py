"""Everything `make demo` does, from Python, plus a contact sheet (canonical | frames | flow colour).

    python examples/python_api.py OUT_DIR [--resolution 64] [--frames 48]

Writes OUT_DIR/data (a clouds dataset), OUT_DIR/clip (the exact clip of its first video) and
OUT_DIR/contact_sheet.png. Runs in CI (tests/test_examples.py) at a tiny size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from gendef_core import api
from gendef_core.artifacts.clip import load_clip
from gendef_core.data.images import to_uint8, write_png
from gendef_core.flow import deformation_flow, flow_to_color
from gendef_core.warp import warp


def contact_sheet(clip_dir: Path, out: Path, *, columns: int = 4, scale: int = 3) -> Path:
    """Row 1: the canonical, then `columns` frames; row 2: the flow colour of those frames."""
    clip = load_clip(clip_dir)
    times = np.linspace(0, clip.num_frames - 2, columns).round().astype(int).tolist()
    frames = to_uint8(warp(clip.canonical[None], clip.offsets[None, times])[0])         # [k, H, W, 3]
    flow = deformation_flow(clip.offsets)                                                # [T-1, 2, H, W]
    colours = flow_to_color(flow)[times].movedim(1, -1)                                  # one scale per video
    blank = torch.full_like(frames[0], 255)
    top = torch.cat([to_uint8(clip.canonical), *frames], dim=1)
    bottom = torch.cat([blank, *colours], dim=1)
    sheet = torch.cat([top, bottom], dim=0).numpy()
    sheet = sheet.repeat(scale, axis=0).repeat(scale, axis=1)
    return write_png(out, sheet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    data = api.synth_dataset("clouds", args.out / "data", num_videos=1, num_frames=args.frames,
                             resolution=args.resolution, seed=0, overwrite=True)
    clip = api.dataset_clip(Path(data.path), args.out / "clip", flow=True, overwrite=True)
    print(contact_sheet(clip, args.out / "contact_sheet.png"))


if __name__ == "__main__":
    main()
