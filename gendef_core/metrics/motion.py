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
* `displacement_stats` (point tracks), pixels: **net displacement**, which jitter cannot fake: ``disp_k`` =
  mean |p(t + k) - p(t)| over every start t and point visible at both ends, for k in `LAGS` and ``disp_clip``
  for k = T - 1 (first to last frame); ``moved_1px`` = fraction of the points visible in the first and last
  frame that end more than 1 px from where they started, ``disp_moving`` their mean ``disp_clip`` (how far
  what moves moves: sprites' objects over a still background). A point jittering in place scores ~0 at every lag
  however fast it shakes; a constant drift of v px/frame scores k v. `displacement_samples` gives the
  per-lag samples and `wasserstein_1d` the distance between a real and a generated distribution.
* `folded_fraction` (a deformation): the fraction of pixel cells whose backward map has a Jacobian
  determinant <= 0, i.e. where the warp folds (two frame neighbourhoods cross on the canonical: streaks,
  and tracks that jump between a canonical point's two pre-images). 0 for the synthetic clouds' truth.
* `flow_tracks` (any video): tracks of points by chaining classical dense optical flow (OpenCV DIS), for
  videos that have no deformation or ground truth (real footage, the direct baseline, other tools' MP4s).

`relative_differences(real, fake)` turns two stat dicts into distances |fake - real| / max(|real|, floor).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gendef_core.warp import sample, warp_jacobian_determinant

STILL_THRESHOLD = 2 / 255
STATIC_SPEED = 0.05  # px per frame
LAGS = (1, 4, 16)
"""Lags (frames) of the net-displacement statistics, besides the clip length."""
MOVED_PX = 1.0
"""A point 'moved' if it ends more than this many pixels from where it started."""
FLOW_PRESET = "fast"
"""OpenCV DIS preset of `flow_tracks`: on a textured 64 px translation at 0.5 px/frame, "fast" is within 1 %
of the true flow, "medium" (its variational refinement) 9 % too fast."""


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


def _lags(num_frames: int) -> dict[str, int]:
    """Statistic name -> lag: ``disp_k`` for the `LAGS` shorter than the clip, ``disp_clip`` = T - 1."""
    return {f"disp_{k}": k for k in LAGS if k < num_frames - 1} | {"disp_clip": num_frames - 1}


def displacement_samples(tracks: Tensor, visible: Tensor) -> dict[str, Tensor]:
    """``tracks [T, N, 2]`` px, ``visible [T, N]`` -> per ``disp_*`` name, the float64 samples |p(t+k) - p(t)|
    for every t and point visible at t and t + k (see the module docstring)."""
    if tracks.ndim != 3 or tracks.shape[-1] != 2 or visible.shape != tracks.shape[:2] or tracks.shape[0] < 2:
        raise ValueError(f"expected tracks [T>=2, N, 2] and visible [T, N], got {tuple(tracks.shape)} and "
                         f"{tuple(visible.shape)}")
    p, v = tracks.double(), visible.bool()
    out = {}
    for name, k in _lags(tracks.shape[0]).items():
        d = (p[k:] - p[:-k]).norm(dim=-1)
        out[name] = d[v[k:] & v[:-k]]
    return out


def displacement_stats(tracks: Tensor, visible: Tensor) -> dict[str, float]:
    """``tracks [T, N, 2]`` px, ``visible [T, N]`` (T >= 2) -> disp_1, disp_4, disp_16 (the lags shorter than
    the clip), disp_clip, moved_1px and disp_moving (see the module docstring); nan where no point qualifies."""
    samples = displacement_samples(tracks, visible)
    stats = {name: float(s.mean()) if s.numel() else float("nan") for name, s in samples.items()}
    clip = samples["disp_clip"]
    moved = clip[clip > MOVED_PX]
    return stats | {"moved_1px": float((clip > MOVED_PX).double().mean()) if clip.numel() else float("nan"),
                    "disp_moving": float(moved.mean()) if moved.numel() else float("nan")}


def folded_fraction(offsets: list[Tensor]) -> float:
    """Fraction of the pixel cells of deformations ``[T, 2, H, W]`` (normalised, canonical the frame's size)
    whose backward map folds (Jacobian determinant <= 0), over all frames of all videos."""
    folded = cells = 0
    for off in offsets:
        det = warp_jacobian_determinant(off.double())
        folded, cells = folded + int((det <= 0).sum()), cells + det.numel()
    return folded / cells if cells else float("nan")


def wasserstein_1d(a: Tensor, b: Tensor) -> float:
    """The 1-Wasserstein (earth mover's) distance between two 1-D samples: the area between their CDFs."""
    if a.numel() == 0 or b.numel() == 0:
        return float("nan")
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a.double().numpy(), b.double().numpy()))


def flow_tracks(video: Tensor, points: Tensor, *, tolerance: float = 1.0,
                preset: str = FLOW_PRESET) -> tuple[Tensor, Tensor]:
    """Track ``points [N, 2]`` (pixels of frame 0) through ``video uint8 [T, H, W, 3]`` by chaining forward
    optical flow (OpenCV DIS, bilinear at the current position): ``tracks [T, N, 2]`` float32 px and
    ``visible [T, N]``. A point is lost (invisible from then on) when it leaves the frame or fails the
    forward-backward check (`tolerance` px): occluded content is not followed into what covers it."""
    import cv2

    from gendef_core.fit.opticalflow import consistent, gray, pair_flows

    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != torch.uint8 or points.ndim != 2:
        raise ValueError(f"expected a uint8 video [T, H, W, 3] and points [N, 2], got {tuple(video.shape)} "
                         f"{video.dtype} and {tuple(points.shape)}")
    frames = video.numpy()
    t, h, w = frames.shape[:3]
    fwd, bwd = pair_flows(gray(frames), preset=preset)
    pos = points.double().numpy().astype(np.float32).copy()  # [N, 2]
    alive = np.ones(len(pos), bool)
    tracks, visible = [pos.copy()], [alive.copy()]
    for i in range(t - 1):
        ok = consistent(fwd[i], bwd[i], tolerance=tolerance).astype(np.float32)
        field = np.concatenate([fwd[i], ok[..., None]], axis=-1)  # [H, W, 3]: flow and reliability
        at = cv2.remap(field, pos[:, 0:1], pos[:, 1:2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[:, 0]
        pos = pos + at[:, :2]
        alive &= (at[:, 2] > 0.5) & (pos[:, 0] >= 0) & (pos[:, 0] <= w - 1) & (pos[:, 1] >= 0) & (pos[:, 1] <= h - 1)
        tracks.append(pos.copy())
        visible.append(alive.copy())
    return torch.from_numpy(np.stack(tracks)), torch.from_numpy(np.stack(visible))


def relative_differences(real: dict[str, float], fake: dict[str, float], *, floor: float = 1e-3) -> dict[str, float]:
    """Per shared statistic, |fake - real| / max(|real|, floor)."""
    return {k: abs(fake[k] - real[k]) / max(abs(real[k]), floor) for k in real if k in fake}
