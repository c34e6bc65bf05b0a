"""Is a trained model's video plausible? Frame statistics of generated vs real videos, and a contact sheet.

    python benchmarks/bench_quality.py RUN DATA [--num 32] [--frames 32] [--sheet OUT.png]

RUN is a fine-tuning run (or checkpoint), DATA the dataset it was trained on. The same measures are
taken on real clips (the first `--frames` frames of `--num` videos) and on generated ones (EMA
generator, seeds 0..num-1, times 0..frames-1), all on 8-bit frames:

- still:  fraction of pixels whose value changes by less than 2/255 between every pair of
          consecutive frames of the clip (a still background scores high)
- change: mean |frame_{t+1} - frame_t| (0..1 scale): how much moves
- jerk:   mean |frame_{t+2} - 2 frame_{t+1} + frame_t|: temporal roughness (flicker, jumps)

It prints a markdown table; with `--sheet`, a PNG: per sample, canonical | 4 frames | deformation
colour. These are sanity numbers, not FVD (issue 6).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gendef_core.data.datasets import load_video_frames
from gendef_core.data.images import to_uint8, write_png
from gendef_core.metrics.motion import pixel_motion_stats
from gendef_core.models.generator import VideoGenerator
from gendef_core.models.loading import load_generator
from gendef_core.training.snapshots import sample_rows
from gendef_core.warp import offsets_to_pixels


@torch.no_grad()
def generate(g: VideoGenerator, z_dim: int, num: int, frames: int) -> tuple[torch.Tensor, object]:
    gen = torch.Generator().manual_seed(0)
    z_c, z_d = torch.randn(num, z_dim, generator=gen), torch.randn(num, z_dim, generator=gen)
    noise = g.motion.sample_noise(num, frames - 1, generator=gen)
    times = torch.arange(frames, dtype=torch.float32).expand(num, -1)
    out = g(z_c, z_d, times, noise)
    return to_uint8(out.frames), out


def contact_sheet(out: object, path: Path, rows: int = 6, scale: int = 3) -> Path:
    """Per sample: canonical | 4 frames | their offsets in flow colours, each sample on its own colour scale."""
    lines = [torch.cat(list(r), dim=1) for r in sample_rows(out, 4)[:rows]]
    sheet = torch.cat(lines, dim=0).numpy().repeat(scale, axis=0).repeat(scale, axis=1)
    return write_png(path, sheet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--num", type=int, default=32)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()
    vf = load_video_frames(args.data)
    keep = [v for v in range(vf.num_videos) if int(vf.lengths[v]) >= args.frames][: args.num]
    real = torch.stack([vf.frames[int(vf.starts[v]): int(vf.starts[v]) + args.frames] for v in keep])
    real = real.permute(0, 1, 3, 4, 2)                                   # [N, T, H, W, 3]
    model = load_generator(args.run, device="cpu")
    g, cfg, info = model.generator, model.config, model.checkpoint
    fake, out = generate(g, cfg.model.z_dim, len(keep), args.frames)
    rows = {"real": pixel_motion_stats(real), "generated": pixel_motion_stats(fake)}
    print(f"run: {info.path}  ({len(keep)} videos x {args.frames} frames)\n")
    print("| videos | still | change | jerk |\n|---|---|---|---|")
    for name, s in rows.items():
        print(f"| {name} | {s['still']:.3f} | {s['change']:.4f} | {s['jerk']:.4f} |")
    if out.offsets is not None:
        disp = offsets_to_pixels(out.offsets, tuple(out.offsets.shape[-2:]))
        speed = (disp[:, 1:] - disp[:, :-1]).norm(dim=2)
        print(f"\ndeformation flow: mean {float(speed.mean()):.3f} px/frame, "
              f"{float((speed < 0.05).float().mean()):.3f} of pixel-steps below 0.05 px")
    if args.sheet:
        print(contact_sheet(out, args.sheet))


if __name__ == "__main__":
    main()
