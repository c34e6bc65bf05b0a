"""Speed of the geometry core on this machine: warp, deformation flow + colour, clip rendering.

    python benchmarks/bench_warp.py [--threads 2] [--repeats 5]

Prints a markdown table (median of `repeats` runs). Compare `warp` with a bare F.grid_sample on
the same work to see what exactness costs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import median_time

from gendef_core.artifacts.clip import Clip
from gendef_core.flow import deformation_flow, flow_to_color
from gendef_core.render import render_video
from gendef_core.warp import warp


def bench_case(frames: int, res: int, repeats: int) -> tuple[float, float, float, float]:
    """Seconds for warp, a bare grid_sample, flow + colour, and rendering an MP4, for one video size."""
    g = torch.Generator().manual_seed(0)
    canonical = torch.rand(1, 3, res, res, generator=g) * 2 - 1
    offsets = torch.randn(1, frames, 2, res, res, generator=g) * 0.02
    grid = torch.randn(frames, res, res, 2, generator=g) * 0.5
    with torch.inference_mode():
        t_warp = median_time(lambda: warp(canonical, offsets), repeats)
        t_gs = median_time(lambda: F.grid_sample(canonical.expand(frames, -1, -1, -1), grid, align_corners=True),
                           repeats)
        t_flow = median_time(lambda: flow_to_color(deformation_flow(offsets[0])), repeats)
    clip = Clip(canonical[0], offsets[0])
    with tempfile.TemporaryDirectory() as tmp:
        t_render = median_time(lambda: render_video(clip, Path(tmp) / "v.mp4"), max(1, repeats // 2))
    return t_warp, t_gs, t_flow, t_render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads: {args.threads}\n")
    print("| frames | size | warp (s) | bare grid_sample (s) | flow + colour (s) | render MP4 (s) | render frames/s |")
    print("|---|---|---|---|---|---|---|")
    for frames, res in ((128, 64), (128, 256), (1024, 64)):
        tw, tg, tf, tr = bench_case(frames, res, args.repeats)
        print(f"| {frames} | {res}² | {tw:.3f} | {tg:.3f} | {tf:.3f} | {tr:.2f} | {frames / tr:.0f} |")


if __name__ == "__main__":
    main()
