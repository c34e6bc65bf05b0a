"""Speed of the applications on this machine: tracking (inverting the backward map), optical flow, and
sampling (canonical once + deformation per frame, then warp) for the `small` and `paper` presets.

    python benchmarks/bench_apps.py [--threads 2] [--repeats 3] [--paper-frames 16]

Models have random weights (the cost does not depend on them). Prints markdown tables (median of
`repeats` runs). Numbers for this project's machine are in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import torch
from timing import median_time

from gendef_core.artifacts.checkpoint import CheckpointInfo
from gendef_core.config import preset
from gendef_core.models.generator import GenDeFGenerator
from gendef_core.models.loading import LoadedGenerator
from gendef_core.sampling import VideoRollout, clip_tensors, draw_latents
from gendef_core.track import optical_flow, track_canonical_points
from gendef_core.warp import pixels_to_offsets, warp_chunks


def smooth_offsets(frames: int, res: int) -> torch.Tensor:
    """A smooth, moving deformation (up to ~8 px at 256 px, scaled with the size)."""
    ys, xs = torch.meshgrid(torch.arange(res, dtype=torch.float64), torch.arange(res, dtype=torch.float64),
                            indexing="ij")
    k, amp = 2 * math.pi / (res / 2), res / 32
    disp = torch.stack([torch.stack([amp * math.sin(0.05 * t) * torch.sin(k * ys + 0.3),
                                     amp * math.cos(0.05 * t) * torch.sin(k * xs)]) for t in range(frames)])
    return pixels_to_offsets(disp, (res, res)).float()


def time_tracking(off: torch.Tensor, q: torch.Tensor, repeats: int) -> tuple[float, float]:
    result = []
    t = median_time(lambda: result.append(track_canonical_points(off, q)), repeats)
    return t, float(result[-1].visible.float().mean())


def bench_tracking(repeats: int) -> None:
    print("| points | frames | size | track (s) | visible | optical flow, all pixels (s) |")
    print("|---|---|---|---|---|---|")
    g = torch.Generator().manual_seed(0)
    for points, frames, res in ((1000, 128, 64), (1000, 128, 256)):
        off = smooth_offsets(frames, res)
        q = torch.rand(points, 2, generator=g, dtype=torch.float64) * (res - 1)
        t_track, visible = time_tracking(off, q, repeats)
        t_flow = median_time(lambda off=off: optical_flow(off), 1)
        print(f"| {points} | {frames} | {res}² | {t_track:.3f} | {visible:.3f} | {t_flow:.2f} |")


def random_model(name: str, resolution: int) -> LoadedGenerator:
    cfg = preset(name, "finetune")
    cfg = replace(cfg, model=replace(cfg.model, resolution=resolution))
    gen = GenDeFGenerator(cfg.model).eval().requires_grad_(False)
    info = CheckpointInfo(Path(f"random-{name}"), 0, cfg.to_dict(), ("canonical", "deformation"), {}, {})
    return LoadedGenerator(gen, cfg, info)


def time_sampling(model: LoadedGenerator, frames: int, reps: int) -> tuple[float, float, float]:
    """Seconds for the canonical image (once), the deformation of `frames` frames, and warping them."""
    lat = draw_latents(model, 0, frames)
    canonical, offsets = clip_tensors(model, lat, frames)
    batch = (lat["z_c"][None], lat["z_d"][None], lat["motion_noise"][None])
    roll = VideoRollout(model.generator, *batch)
    tc = median_time(lambda: VideoRollout(model.generator, *batch), reps)
    td = median_time(lambda: [roll.offsets(s, min(s + 32, frames)) for s in range(0, frames, 32)], reps)
    tw = median_time(lambda: sum(1 for _ in warp_chunks(canonical, offsets)), reps)
    return tc, td, tw


def bench_sampling(repeats: int, paper_frames: int) -> None:
    print("| preset | size | frames | canonical (s) | deformation (s) | warp (s) | frames/s (generate + warp) |")
    print("|---|---|---|---|---|---|---|")
    cases = (("small", 64, (16, 128)), ("small", 256, (16,)), ("paper", 64, (16,)), ("paper", 256, (paper_frames,)))
    for name, res, frame_counts in cases:
        model = random_model(name, res)
        for frames in frame_counts:
            tc, td, tw = time_sampling(model, frames, repeats if (name, res) == ("small", 64) else 1)
            print(f"| {name} | {res}² | {frames} | {tc:.3f} | {td:.2f} | {tw:.3f} | {frames / (tc + td + tw):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paper-frames", type=int, default=16)
    parser.add_argument("--skip-sampling", action="store_true", help="tracking only (fast)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads: {args.threads}\n")
    bench_tracking(args.repeats)
    if not args.skip_sampling:
        print()
        bench_sampling(args.repeats, args.paper_frames)


if __name__ == "__main__":
    main()
