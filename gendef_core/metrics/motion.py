"""Motion-aware checks that need no downloaded network (FVD barely sees temporal artefacts; Ge et al. 2024).

Three families, all on the same scale for real and generated videos:

* `pixel_motion_stats` (any video, including the direct baseline and MP4s from other tools), 8-bit frames
  on a 0..1 scale: ``still`` = fraction of pixels that change by less than 2/255 between EVERY pair of
  consecutive frames (a still background scores high); ``change`` = mean |f_{t+1} - f_t|;
  ``jerk`` = mean |f_{t+2} - 2 f_{t+1} + f_t| (flicker and jumps).
* `track_motion_stats` (point tracks: a dataset's ground truth, or a GenDeF clip's tracks), pixels per
  frame, over the steps where every frame involved shows the point: ``track_speed`` = mean |p_{t+1} - p_t|;
  ``track_static`` = fraction of steps moving less than 0.05 px; ``track_accel`` = mean |p_{t+1} - 2 p_t +
  p_{t-1}|; ``track_jerk`` = mean |third difference|. Smooth motion has small accel and jerk relative to speed.
* `warping_error` (a video and its forward optical flow): mean over valid pixels and frame pairs of
  |f_t(p) - f_{t+1}(p + flow_t(p))| on a 0..1 scale (temporal consistency of appearance along the motion).

`relative_differences(real, fake)` turns two stat dicts into distances |fake - real| / max(|real|, floor).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gendef_core.warp import sample

STILL_THRESHOLD = 2 / 255
STATIC_SPEED = 0.05  # px per frame


def pixel_motion_stats(videos: Tensor) -> dict[str, float]:
    """``uint8 [N, T, H, W, 3]`` (T >= 3) -> still, change, jerk (see the module docstring)."""
    if videos.ndim != 5 or videos.shape[1] < 3:
        raise ValueError(f"expected uint8 [N, T>=3, H, W, 3], got {tuple(videos.shape)}")
    x = videos.float() / 255
    d1 = (x[:, 1:] - x[:, :-1]).abs()
    d2 = (x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]).abs()
    still = (d1.amax(dim=(1, -1)) < STILL_THRESHOLD).float().mean()
    return {"still": float(still), "change": float(d1.mean()), "jerk": float(d2.mean())}


def _masked_mean(values: Tensor, mask: Tensor) -> float:
    return float(values[mask].mean()) if bool(mask.any()) else float("nan")


def track_motion_stats(tracks: Tensor, visible: Tensor) -> dict[str, float]:
    """``tracks [T, N, 2]`` px, ``visible [T, N]`` bool (T >= 4) -> track_speed, _static, _accel, _jerk."""
    if tracks.ndim != 3 or tracks.shape[-1] != 2 or visible.shape != tracks.shape[:2] or tracks.shape[0] < 4:
        raise ValueError(f"expected tracks [T>=4, N, 2] and visible [T, N], got {tuple(tracks.shape)} and "
                         f"{tuple(visible.shape)}")
    p = tracks.double()
    v = visible.bool()
    d1 = (p[1:] - p[:-1]).norm(dim=-1)
    m1 = v[1:] & v[:-1]
    d2 = (p[2:] - 2 * p[1:-1] + p[:-2]).norm(dim=-1)
    m2 = m1[1:] & v[:-2]
    d3 = (p[3:] - 3 * p[2:-1] + 3 * p[1:-2] - p[:-3]).norm(dim=-1)
    m3 = m2[1:] & v[:-3]
    return {"track_speed": _masked_mean(d1, m1), "track_static": _masked_mean((d1 < STATIC_SPEED).double(), m1),
            "track_accel": _masked_mean(d2, m2), "track_jerk": _masked_mean(d3, m3)}


def warping_error(frames: Tensor, flow: Tensor, valid: Tensor) -> float:
    """``frames [T, 3, H, W]`` in [-1, 1], forward ``flow [T-1, 2, H, W]`` px, ``valid [T-1, H, W]`` -> error."""
    t, _, h, w = frames.shape
    if flow.shape != (t - 1, 2, h, w) or valid.shape != (t - 1, h, w):
        raise ValueError(f"flow and valid must be [{t - 1}, 2, {h}, {w}] and [{t - 1}, {h}, {w}]")
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    positions = torch.stack([xs, ys]) + flow.float()                              # [T-1, 2, H, W]
    nxt = sample(frames[1:].float(), positions[:, None])[:, 0]                     # f_{t+1}(p + flow)
    err = (nxt - frames[:-1].float()).abs().mean(dim=1) / 2                        # 0..1 scale
    return _masked_mean(err, valid.bool())


def relative_differences(real: dict[str, float], fake: dict[str, float], *, floor: float = 1e-3) -> dict[str, float]:
    """Per shared statistic, |fake - real| / max(|real|, floor)."""
    return {k: abs(fake[k] - real[k]) / max(abs(real[k]), floor) for k in real if k in fake}
