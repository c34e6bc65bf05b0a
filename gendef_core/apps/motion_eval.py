"""The `motion` metric of `gendef eval`: motion statistics of real vs generated videos (gendef_core.metrics.motion).

Real: StyleGAN-V-style random windows of `num_frames` frames from `num_videos` dataset videos; with the
synthetic datasets' ground truth also the true tracks (track statistics) and, for `clouds`, the true
deformation (warping error along its optical flow). Generated: the same number of samples; for GenDeF
(a checkpoint or clip files) also the tracks of an 8 x 8 grid of canonical points and the warping
error along the clip's own optical flow. MP4 files and the direct baseline give pixel statistics only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from gendef_core.data.images import from_uint8
from gendef_core.metrics.motion import pixel_motion_stats, relative_differences, track_motion_stats, warping_error
from gendef_core.track import optical_flow, track_canonical_points

if TYPE_CHECKING:
    from gendef_core.models.generator import VideoGenerator

GRID = 8


def _grid_points(h: int, w: int) -> Tensor:
    ys, xs = torch.meshgrid(torch.linspace(0.1 * (h - 1), 0.9 * (h - 1), GRID, dtype=torch.float64),
                            torch.linspace(0.1 * (w - 1), 0.9 * (w - 1), GRID, dtype=torch.float64), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)


def _deformation_stats(videos: Tensor, offsets: list[Tensor]) -> dict[str, float]:
    """Track statistics of canonical grid points and the warping error, for videos with their offsets."""
    h, w = videos.shape[2:4]
    tracks, visible, errors = [], [], []
    for v, off in zip(videos, offsets, strict=True):
        tr = track_canonical_points(off, _grid_points(h, w))
        tracks.append(tr.tracks)
        visible.append(tr.visible)
        flow, valid = optical_flow(off)
        errors.append(warping_error(from_uint8(v).permute(0, 3, 1, 2), flow, valid))
    stats = track_motion_stats(torch.cat(tracks, dim=1), torch.cat(visible, dim=1))
    return {**stats, "warp_error": float(np.nanmean(errors))}


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
        videos.append(v)
        if f.is_dir():
            offsets.append(load_clip(f, verify=False, require_videos=False).offsets[:t])
    if len(videos) < 1:
        from gendef_core.errors import DataError

        raise DataError(f"motion: no fake video has {t} frames; lower `motion_frames`")
    return torch.stack(videos), (offsets if len(offsets) == len(videos) else None)


def motion_report(frames: Any, *, gen: VideoGenerator | None, z_dim: int, files: list[Path] | None, num_videos: int,
                  num_frames: int, seed: int, device: torch.device, batch: int) -> dict[str, Any]:
    from gendef_core.artifacts.dataset import load_ground_truth
    from gendef_core.errors import DataError
    from gendef_core.metrics.videos import choose_real_clips, real_clip_batches

    clips = choose_real_clips(frames, num_frames, num_videos, seed)
    if not clips.videos:
        raise DataError(f"motion: no dataset video has {num_frames} frames; lower `motion_frames`")
    real_videos = torch.cat(list(real_clip_batches(frames, clips, 64)))
    real: dict[str, float] = pixel_motion_stats(real_videos)
    info = frames.info
    if info.ground_truth:
        gts = [load_ground_truth(info, info.videos[v].name) for v in clips.videos]
        windows = [(gt, s) for gt, s in zip(gts, clips.starts, strict=True)]
        real |= track_motion_stats(torch.cat([gt.tracks[s:s + num_frames] for gt, s in windows], dim=1),
                                   torch.cat([gt.visible[s:s + num_frames] for gt, s in windows], dim=1))
        gt_offsets = [gt.offsets[s:s + num_frames] for gt, s in windows if gt.offsets is not None]
        if len(gt_offsets) == len(windows):  # every video has its ground-truth deformation
            real["warp_error"] = _deformation_stats(real_videos, gt_offsets)["warp_error"]
    if gen is not None:
        fake_videos, offsets = _generated(gen, z_dim, len(clips.videos), num_frames, seed, device)
    else:
        fake_videos, offsets = _from_files(files or [], len(clips.videos), num_frames)
    fake: dict[str, float] = pixel_motion_stats(fake_videos)
    if offsets is not None:
        fake |= _deformation_stats(fake_videos, offsets)
    return {"num_videos": int(fake_videos.shape[0]), "num_frames": num_frames, "real": real, "fake": fake,
            "distance": relative_differences(real, fake)}


__all__ = ["motion_report"]
