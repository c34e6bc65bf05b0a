"""The `motion` metric of `gendef eval`: motion statistics of real vs generated videos (gendef_core.metrics.motion).

Real: StyleGAN-V-style random windows of `num_frames` frames from `num_videos` dataset videos; with the
synthetic datasets' ground truth also the true tracks (track statistics) and, for `clouds`, the true
deformation (warping error along its optical flow, folded cells). Generated: the same number of samples;
for GenDeF (a checkpoint or clip files) also the tracks of an 8 x 8 grid of canonical points, the warping
error along the clip's own optical flow and the fraction of folded pixel cells (``folded``).

Net displacement (``disp_*``, ``moved_1px``, ``disp_moving``; issue 14) on both sides, from the best
tracks each side has (`MotionReport.trackers`): real: the ground truth, else optical-flow tracks of the
frames; generated: the deformation's tracks, else (the direct baseline, MP4s) optical-flow tracks. And
``flow_disp_*`` etc. from optical-flow tracks of an 8 x 8 grid on BOTH sides: one tracker for every video,
the comparison that holds across models and data (the flow tracker over-estimates motion next to moving
objects on flat backgrounds, equally for real and generated videos). `MotionReport.displacement_w1` is the
1-D Wasserstein distance (px) between the real and generated displacement samples of each lag.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import torch
from torch import Tensor

from gendef_core.data.images import from_uint8
from gendef_core.metrics.motion import (
    displacement_samples,
    displacement_stats,
    flow_tracks,
    folded_fraction,
    pixel_motion_stats,
    relative_differences,
    track_motion_stats,
    warping_error,
    wasserstein_1d,
)
from gendef_core.track import optical_flow, track_canonical_points

if TYPE_CHECKING:
    from gendef_core.models.generator import VideoGenerator

GRID = 8


def grid_points(h: int, w: int) -> Tensor:
    """The `GRID` x `GRID` points (x, y) from 10 % to 90 % of an h x w image, float64: what the motion metric
    (and the demo's movement line) tracks."""
    ys, xs = torch.meshgrid(torch.linspace(0.1 * (h - 1), 0.9 * (h - 1), GRID, dtype=torch.float64),
                            torch.linspace(0.1 * (w - 1), 0.9 * (w - 1), GRID, dtype=torch.float64), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)


Tracks = tuple[Tensor, Tensor]  # [T, N, 2] px and visible [T, N], the points of many videos side by side


def _deformation_tracks(videos: Tensor, offsets: list[Tensor]) -> Tracks:
    """Tracks of canonical grid points through each video's deformation."""
    h, w = videos.shape[2:4]
    found = [track_canonical_points(off, grid_points(h, w)) for off in offsets]
    return torch.cat([tr.tracks for tr in found], dim=1), torch.cat([tr.visible for tr in found], dim=1)


def _warp_error(videos: Tensor, offsets: list[Tensor]) -> float:
    """Mean warping error of videos ``uint8 [N, T, H, W, 3]`` along their deformations' optical flow."""
    errors = []
    for v, off in zip(videos, offsets, strict=True):
        flow, valid = optical_flow(off)
        errors.append(warping_error(from_uint8(v).permute(0, 3, 1, 2), flow, valid))
    return float(np.nanmean(errors))


def _flow_tracks(videos: Tensor) -> Tracks:
    """Optical-flow tracks of a grid of first-frame points in every video ``uint8 [N, T, H, W, 3]``."""
    h, w = videos.shape[2:4]
    found = [flow_tracks(v, grid_points(h, w).float()) for v in videos]
    return torch.cat([f[0] for f in found], dim=1), torch.cat([f[1] for f in found], dim=1)


def _net(tracks: Tracks, prefix: str = "") -> tuple[dict[str, float], dict[str, Tensor]]:
    """Net-displacement statistics (names prefixed) and their per-lag samples."""
    stats = displacement_stats(*tracks)
    return {prefix + k: v for k, v in stats.items()}, {prefix + k: v for k, v in displacement_samples(*tracks).items()}


def _generated(gen: VideoGenerator, z_dim: int, n: int, t: int, seed: int,
               device: torch.device) -> tuple[Tensor, list[Tensor] | None]:
    from gendef_core.metrics.videos import generate_videos

    videos: list[Tensor] = []
    offsets: list[Tensor] = []
    for v, off in generate_videos(gen, z_dim, num_videos=n, num_frames=t, seed=seed):
        videos.append(v)
        if off is not None:
            offsets.extend(off)
    return torch.cat(videos), (offsets or None)


def _from_files(files: list[Path], n: int, t: int) -> tuple[Tensor, list[Tensor] | None]:
    from gendef_core.artifacts.clip import load_clip
    from gendef_core.metrics.videos import read_video_file

    videos: list[Tensor] = []
    offsets: list[Tensor] = []
    for f in files:
        if len(videos) >= n:
            break
        v = read_video_file(f, t)
        if v is None:
            continue
        if videos and v.shape != videos[0].shape:
            from gendef_core.errors import DataError

            raise DataError(f"motion: {f} is {v.shape[2]}x{v.shape[1]} px but the first fake video is "
                            f"{videos[0].shape[2]}x{videos[0].shape[1]}; give videos of one size (the data's)")
        videos.append(v)
        if f.is_dir():
            offsets.append(load_clip(f, verify=False, require_videos=False).offsets[:t])
    if len(videos) < 1:
        from gendef_core.errors import DataError

        raise DataError(f"motion: no fake video has {t} frames; lower `motion_frames`")
    return torch.stack(videos), (offsets if len(offsets) == len(videos) else None)


class MotionTrackers(TypedDict):
    """Where each side's ``disp_*`` tracks come from."""

    real: str  # "ground truth" or "optical flow"
    fake: str  # "deformation" or "optical flow"


class MotionReport(TypedDict):
    """The `motion` metric: statistics of real and generated videos and their relative differences."""

    num_videos: int
    num_frames: int
    real: dict[str, float]
    fake: dict[str, float]
    distance: dict[str, float]  # per statistic both have: |fake - real| / max(|real|, 1e-3)
    displacement_w1: dict[str, float]  # per disp_* / flow_disp_* lag: 1-Wasserstein distance (px), real vs fake
    trackers: MotionTrackers


def motion_report(frames: Any, *, gen: VideoGenerator | None, z_dim: int, files: list[Path] | None, num_videos: int,
                  num_frames: int, seed: int, device: torch.device, batch: int) -> MotionReport:
    from gendef_core.artifacts.dataset import load_ground_truth
    from gendef_core.errors import DataError
    from gendef_core.metrics.videos import choose_real_clips, real_clip_batches

    clips = choose_real_clips(frames, num_frames, num_videos, seed)
    if not clips.videos:
        raise DataError(f"motion: no dataset video has {num_frames} frames; lower `motion_frames`")
    real_videos = torch.cat(list(real_clip_batches(frames, clips, 64)))
    real: dict[str, float] = pixel_motion_stats(real_videos)
    real_flow = _flow_tracks(real_videos)
    real_tracks, real_tracker = real_flow, "optical flow"
    info = frames.info
    if info.ground_truth:
        gts = [load_ground_truth(info, info.videos[v].name) for v in clips.videos]
        windows = [(gt, s) for gt, s in zip(gts, clips.starts, strict=True)]
        real_tracks = (torch.cat([gt.tracks[s:s + num_frames] for gt, s in windows], dim=1),
                       torch.cat([gt.visible[s:s + num_frames] for gt, s in windows], dim=1))
        real_tracker = "ground truth"
        real |= track_motion_stats(*real_tracks)
        gt_offsets = [gt.offsets[s:s + num_frames] for gt, s in windows if gt.offsets is not None]
        if len(gt_offsets) == len(windows):  # every video has its ground-truth deformation
            real["warp_error"] = _warp_error(real_videos, gt_offsets)
            real["folded"] = folded_fraction(gt_offsets)
    if gen is not None:
        fake_videos, offsets = _generated(gen, z_dim, len(clips.videos), num_frames, seed, device)
    else:
        fake_videos, offsets = _from_files(files or [], len(clips.videos), num_frames)
    fake: dict[str, float] = pixel_motion_stats(fake_videos)
    fake_flow = _flow_tracks(fake_videos)
    fake_tracks, fake_tracker = fake_flow, "optical flow"
    if offsets is not None:
        fake_tracks = _deformation_tracks(fake_videos, offsets)
        fake_tracker = "deformation"
        fake |= track_motion_stats(*fake_tracks)
        fake["warp_error"] = _warp_error(fake_videos, offsets)
        fake["folded"] = folded_fraction(offsets)
    samples: dict[str, tuple[Tensor, Tensor]] = {}
    for prefix, (r, f) in {"": (real_tracks, fake_tracks), "flow_": (real_flow, fake_flow)}.items():
        (r_stats, r_samples), (f_stats, f_samples) = _net(r, prefix), _net(f, prefix)
        real |= r_stats
        fake |= f_stats
        samples |= {k: (r_samples[k], f_samples[k]) for k in r_samples if k in f_samples}
    # A statistic with nothing to average (no point moved, none stayed in view) is left out: no NaN in JSON.
    real = {k: v for k, v in real.items() if math.isfinite(v)}
    fake = {k: v for k, v in fake.items() if math.isfinite(v)}
    return {"num_videos": int(fake_videos.shape[0]), "num_frames": num_frames, "real": real, "fake": fake,
            "distance": relative_differences(real, fake),
            "displacement_w1": {k: w for k, (a, b) in samples.items() if math.isfinite(w := wasserstein_1d(a, b))},
            "trackers": {"real": real_tracker, "fake": fake_tracker}}


__all__ = ["MotionReport", "grid_points", "motion_report"]
