"""Procedural benchmark videos with exact point tracks, until real footage is plugged in.

Two kinds, one per situation the GenDeF paper evaluates, and a third for fitting videos:

* ``"sprites"`` (TaiChi-like): a still, textured scene with 1-3 textured, shaded objects moving and
  rotating in front of it on smooth paths, occluding each other and casting soft shadows.
  Every object is drawn by mapping frame pixels back into its own local frame, so the track of any
  surface point is its rigid motion, exactly.
* ``"clouds"`` (SkyTimelapse-like): a fractal-noise sky (the canonical image) deformed by a smooth
  analytic displacement field and rendered with gendef's own `warp`, so the frames *are* a GenDeF
  canonical + offsets pair, and tracks are the exact inverse of the backward map.
* ``"pan"`` (in `gendef_core.data.synth_pan`): a camera panning and zooming over a large textured
  scene, with a non-rigidly deforming patch and a rigid object crossing the frame, so content
  enters and leaves the frame (the benchmark for fitting a canonical larger than the frame).

Pixel coordinates follow the warp convention: (x right, y down), pixel (j, i) has its centre at
(j, i). Every random choice is drawn from a generator seeded by (kind, seed) alone and before any
size is known, so a video's scene and motion do not depend on `num_frames` or `resolution`:
a longer video extends a shorter one with the same seed, frame for frame.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from gendef_core.data.synth_clouds import clouds_video
from gendef_core.data.synth_pan import pan_video
from gendef_core.data.synth_sprites import SynthVideo, sprite_scene, sprites_video

SynthKind = Literal["sprites", "clouds", "pan"]
SYNTH_KINDS: tuple[SynthKind, ...] = ("sprites", "clouds", "pan")
MAX_MOTION = 10.0
"""Largest `motion` (speed factor) `synth_video` accepts."""

__all__ = ["MAX_MOTION", "SYNTH_KINDS", "SynthKind", "SynthVideo", "synth_video"]


def synth_video(kind: SynthKind, *, num_frames: int, resolution: int, seed: int, grid: int = 8,
                motion: float = 1.0) -> SynthVideo:
    """One procedural video, deterministic in (kind, num_frames, resolution, seed, motion).

    Frames are square, `resolution` pixels a side. The `grid` x `grid` query points sit at the
    (rounded-down) centres of the cells of a regular partition of frame 0, on whole pixels.
    `motion` is the speed of the scene's clock: frame i shows the scene at time ``motion * i``, so
    0 is a still video, 2 moves twice as fast along the same paths (same scene for every value).
    Raises ValueError for an unknown kind, num_frames < 2, resolution < 16, grid < 1 or a motion
    outside 0..MAX_MOTION.
    """
    if kind not in SYNTH_KINDS:
        raise ValueError(f"`kind` must be one of {', '.join(SYNTH_KINDS)}, not {kind!r}")
    if num_frames < 2:
        raise ValueError(f"`num_frames` must be at least 2, got {num_frames}")
    if resolution < 16:
        raise ValueError(f"`resolution` must be at least 16, got {resolution}")
    if grid < 1:
        raise ValueError(f"`grid` must be at least 1, got {grid}")
    if not (math.isfinite(motion) and 0 <= motion <= MAX_MOTION):
        raise ValueError(f"`motion` must be in 0..{MAX_MOTION:g} (a speed factor; 1 is the default), got {motion}")
    # Seeding by (kind, sign, |seed|) keeps kinds and negative seeds from sharing streams.
    rng = np.random.default_rng([SYNTH_KINDS.index(kind), int(seed < 0), abs(int(seed))])
    times = torch.arange(num_frames, dtype=torch.float64) * motion
    points = _query_grid(resolution, grid)
    match kind:
        case "sprites":
            return sprites_video(sprite_scene(rng, resolution), times, points)
        case "clouds":
            return clouds_video(rng, resolution, times, points)
        case "pan":
            return pan_video(rng, resolution, times, points, speed=motion)


def _query_grid(res: int, grid: int) -> Tensor:
    """``[grid**2, 2]`` float64 whole-pixel (x, y) points, row-major (y outer, x inner)."""
    c = (torch.arange(grid, dtype=torch.float64) * 2 + 1) * res // (2 * grid)
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=-1)
