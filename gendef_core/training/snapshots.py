"""Periodic snapshots of fixed-seed samples, so a person sees progress without any tool.

RUN/snapshots/step-XXXXXXXX.png: one row per sample: canonical | frames | deformation colour of
those frames (pre-training: a grid of canonical images). The samples are those of `gendef sample
--seed 0..3` (canonical clamped to [-1, 1], no truncation). RUN/snapshots/step-XXXXXXXX.mp4: the
sample videos side by side.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gendef_core.data.images import to_uint8, write_png
from gendef_core.data.video_io import write_video
from gendef_core.flow import flow_to_color
from gendef_core.models.generator import CanonicalGenerator, GeneratorOutput, VideoGenerator
from gendef_core.sampling import VideoRollout, stack_latents
from gendef_core.warp import offsets_to_pixels

NUM_SAMPLES = 4
SNAPSHOT_SEED = 1234
"""Pre-training snapshots: images of z_c drawn from this seed. Video snapshots show seeds 0..NUM_SAMPLES-1,
made exactly as `gendef sample --seed i` makes them from a checkpoint of that step."""


def _grid_rows(rows: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([torch.cat(list(r), dim=1) for r in rows], dim=0)  # rows of [k, H, W, 3] -> image


@torch.no_grad()
def write_snapshot(generator: CanonicalGenerator | VideoGenerator, run_dir: Path, step: int, *, z_dim: int,
                   num_frames: int = 16, fps: int = 25) -> Path:
    """Render fixed-seed samples of `generator` (an EMA copy) and write a PNG (and, for videos, an MP4)."""
    device = next(generator.parameters()).device
    out_dir = run_dir / "snapshots"
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"step-{step:08d}.png"
    if not isinstance(generator, VideoGenerator):  # pre-training: the image generator G_c
        g = torch.Generator().manual_seed(SNAPSHOT_SEED)
        images, _ = generator(torch.randn(NUM_SAMPLES, z_dim, generator=g).to(device))
        write_png(png, _grid_rows([to_uint8(images.cpu())]).numpy())
        return png
    roll = VideoRollout(generator, *stack_latents(generator, z_dim, range(NUM_SAMPLES), num_frames),
                        what=f"the generator at step {step}")
    out = roll.frames(0, num_frames)
    frames = to_uint8(out.frames.cpu())                                        # [N, T, H, W, 3]
    scale = None
    if out.offsets is not None:  # one colour scale for the whole snapshot
        size = (out.offsets.shape[-2], out.offsets.shape[-1])
        scale = float(offsets_to_pixels(out.offsets.cpu(), size).norm(dim=-3).max()) or 1.0
    write_png(png, _grid_rows(sample_rows(out, 4, scale=scale)).numpy())
    write_video(out_dir / f"step-{step:08d}.mp4", [torch.cat(list(frames), dim=2)], fps)  # samples side by side
    return png


def sample_rows(out: GeneratorOutput, columns: int, *, scale: float | None = None) -> list[torch.Tensor]:
    """Per sample ``uint8 [k, H, W, 3]``: canonical | `columns` frames spread over the video | their offsets in
    flow colours (GenDeF; the baseline has frames only). `scale` (px) fixes the colours; None scales each
    sample by its own largest offset."""
    frames = to_uint8(out.frames.cpu())                                        # [N, T, H, W, 3]
    shown = torch.linspace(0, frames.shape[1] - 1, columns).round().long()
    rows = []
    for i in range(frames.shape[0]):
        row = list(frames[i, shown])
        if out.canonical is not None and out.offsets is not None:
            size = (out.offsets.shape[-2], out.offsets.shape[-1])
            disp = offsets_to_pixels(out.offsets[i].cpu(), size)               # [T, 2, H, W]
            s = scale if scale is not None else (float(disp.norm(dim=-3).max()) or 1.0)
            row = [to_uint8(out.canonical[i].cpu()), *row, *flow_to_color(disp[shown], s).movedim(1, -1)]
        rows.append(torch.stack(row))
    return rows
