"""`gendef data synth`: procedural videos (`data.synth`) written as a dataset with exact ground truth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gendef_core.artifacts.common import atomic_dir
from gendef_core.artifacts.dataset import VideoEntry, write_dataset_manifest, write_ground_truth, write_video_frames
from gendef_core.data.prepare import DatasetSummary, check_resolution
from gendef_core.data.synth import MAX_MOTION, SYNTH_KINDS, synth_video
from gendef_core.data.video_io import to_fraction
from gendef_core.errors import ConfigError
from gendef_core.events import Info, OnEvent, Progress, ignore

MAX_VIDEOS, MAX_FRAMES = 1_000_000, 1_000_000
MAX_MEMORY = 16 << 30
"""Largest estimated memory (bytes) of one video being made; its frames and ground truth are built whole."""
MAX_DISK = 1 << 40
"""Largest estimated size (bytes, before PNG compression) of a dataset."""


def _check_size(kind: str, num_videos: int, num_frames: int, resolution: int, grid: int) -> None:
    """Refuse sizes that cannot be meant (before anything is allocated or written), with the estimate."""
    if not 1 <= num_videos <= MAX_VIDEOS:
        raise ConfigError(f"`num_videos` must be in 1..{MAX_VIDEOS}, got {num_videos}")
    if not 2 <= num_frames <= MAX_FRAMES:
        raise ConfigError(f"`num_frames` must be in 2..{MAX_FRAMES}, got {num_frames}")
    if not 1 <= grid <= resolution:
        raise ConfigError(f"`grid` must be in 1..{resolution} (at most one query point per pixel of a row), got {grid}")
    pixels, points = resolution * resolution, grid * grid
    # per frame: RGB as uint8 and float32, the clouds' offsets, and float64 tracks with their Newton terms
    memory = num_frames * (pixels * (3 + 12 + (8 if kind == "clouds" else 0)) + points * 64)
    if memory > MAX_MEMORY:
        raise ConfigError(f"one video of {num_frames} frames at {resolution}x{resolution} with a {grid}x{grid} grid "
                          f"needs about {memory / 2**30:,.1f} GiB of memory (more than {MAX_MEMORY >> 30}); use fewer "
                          f"`num_frames`, a smaller `grid` or `resolution`")
    disk = num_videos * num_frames * (pixels * (3 + (8 if kind == "clouds" else 0)) + points * 9)
    if disk > MAX_DISK:
        raise ConfigError(f"{num_videos} videos of {num_frames} frames at {resolution}x{resolution} take up to "
                          f"{disk / 2**30:,.0f} GiB on disk (more than {MAX_DISK >> 30}); use fewer `num_videos` or "
                          f"`num_frames`")


def synth_dataset(kind: str, out: Path, *, num_videos: int, num_frames: int, resolution: int, seed: int = 0,
                  fps: float | str = 25, grid: int = 8, motion: float = 1.0, overwrite: bool = False,
                  on_event: OnEvent = ignore) -> DatasetSummary:
    """Write a procedural dataset with exact ground truth (`gendef data synth`).

    `kind` is "sprites" (textured objects over a still background, tracks with occlusion),
    "clouds" (a deforming sky; also the true backward map) or "pan" (a camera panning over a scene
    larger than the frame, with a non-rigid patch and an occluding object; tracks only).
    `motion` is the speed of the scenes' clock (0 = still, 2 = twice as fast along the same paths;
    see `data.synth.synth_video`). Deterministic in all arguments.
    """
    if kind not in SYNTH_KINDS:
        raise ConfigError(f"`kind` must be one of {', '.join(SYNTH_KINDS)}, got {kind!r}")
    check_resolution(resolution, minimum=16)
    if num_videos < 1 or num_frames < 2 or grid < 1:
        raise ConfigError("`num_videos` must be >= 1, `num_frames` >= 2 and `grid` >= 1")
    _check_size(kind, num_videos, num_frames, resolution, grid)
    if not 0 <= seed <= 2**63 - 1:
        raise ConfigError(f"`seed` must be in 0..{2**63 - 1}, got {seed}")
    if not (math.isfinite(motion) and 0 <= motion <= MAX_MOTION):
        raise ConfigError(f"`motion` must be in 0..{MAX_MOTION:g} (a speed factor; 1 is the default), got {motion}")
    try:
        rate = to_fraction(fps)
    except ValueError as e:
        raise ConfigError(f"`fps`: {e}") from None
    seeds = np.random.SeedSequence(seed).generate_state(num_videos, np.uint32)
    videos = []
    with atomic_dir(Path(out), overwrite=overwrite, what="dataset") as tmp:
        for i in range(num_videos):
            v = synth_video(kind, num_frames=num_frames, resolution=resolution, seed=int(seeds[i]), grid=grid,
                            motion=motion)
            name = f"{i:06d}"
            write_video_frames(tmp, name, v.frames.numpy())
            gt = {"query_points": v.query_points, "tracks": v.tracks, "visible": v.visible}
            if v.canonical is not None and v.offsets is not None:
                gt |= {"canonical": v.canonical, "offsets": v.offsets}
            write_ground_truth(tmp, name, gt)
            videos.append(VideoEntry(name, num_frames))
            on_event(Progress(f"synth {kind}", i + 1, num_videos))
        write_dataset_manifest(
            tmp, resolution=resolution, fps=rate, videos=videos, min_frames=num_frames,
            source={"kind": "synth", "path": None, "synth_kind": kind, "seed": seed, "grid": grid,
                    "motion": motion},
            ground_truth={"kind": kind, "backward_map": kind == "clouds"})
    on_event(Info(f"{num_videos} {kind} videos of {num_frames} frames at {resolution}x{resolution}"
                    + (f", motion {motion:g}" if motion != 1 else "")))
    return DatasetSummary(str(out), num_videos, num_videos * num_frames, resolution, str(rate), [])
