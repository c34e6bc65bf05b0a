"""Motion statistics and the warping error on hand-made videos, tracks and flows."""

from __future__ import annotations

import math

import pytest
import torch

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
from gendef_core.track import optical_flow
from gendef_core.warp import pixels_to_offsets, sample, warp


def test_pixel_stats_of_a_still_video_and_of_one_ramping_pixel() -> None:
    still = torch.full((2, 5, 4, 4, 3), 100, dtype=torch.uint8)
    assert pixel_motion_stats(still) == {"still": 1.0, "change": 0.0, "jerk": 0.0}
    v = still.clone()
    v[0, :, 1, 2, 0] = torch.tensor([100, 110, 120, 130, 140], dtype=torch.uint8)  # one channel ramps by 10/frame
    stats = pixel_motion_stats(v)
    assert stats["still"] == pytest.approx(1 - 1 / 32)          # 1 of 2*16 pixels moves
    assert stats["change"] == pytest.approx(10 / 255 / (2 * 16 * 3))
    assert stats["jerk"] == pytest.approx(0.0, abs=1e-9)        # a linear ramp has no second difference


def test_track_stats_of_constant_velocity_and_constant_acceleration() -> None:
    t = torch.arange(8, dtype=torch.float64)
    const = torch.stack([1.0 + 0.6 * t, 2.0 + 0.8 * t], -1)[:, None]         # |v| = 1
    still = torch.full((8, 1, 2), 3.0, dtype=torch.float64)
    accel = torch.stack([0.5 * t * t, torch.zeros_like(t)], -1)[:, None]      # a = 1
    tracks = torch.cat([const, still, accel], dim=1)
    visible = torch.ones(8, 3, dtype=torch.bool)
    s = track_motion_stats(tracks[:, :1], visible[:, :1])
    assert s["track_speed"] == pytest.approx(1.0) and s["track_static"] == 0
    assert s["track_accel"] < 1e-12 and s["track_jerk"] < 1e-12
    s = track_motion_stats(tracks[:, 1:2], visible[:, 1:2])
    assert s == {"track_speed": 0.0, "track_static": 1.0, "track_accel": 0.0, "track_jerk": 0.0}
    s = track_motion_stats(tracks[:, 2:], visible[:, 2:])
    assert s["track_accel"] == pytest.approx(1.0) and s["track_jerk"] == pytest.approx(0.0, abs=1e-12)
    assert s["track_speed"] == pytest.approx(sum(k + 0.5 for k in range(7)) / 7)


def test_track_stats_skip_steps_with_an_invisible_frame() -> None:
    t = torch.arange(6, dtype=torch.float64)
    tracks = torch.stack([t, torch.zeros_like(t)], -1)[:, None]
    tracks[3] = 100.0                    # a wild position ...
    visible = torch.ones(6, 1, dtype=torch.bool)
    visible[3] = False                   # ... where the point is hidden: never counted
    s = track_motion_stats(tracks, visible)
    assert s["track_speed"] == pytest.approx(1.0) and s["track_accel"] == pytest.approx(0.0)
    assert math.isnan(s["track_jerk"])         # no 4 consecutive visible frames


def test_warping_error_is_zero_along_the_true_flow_and_not_along_a_wrong_one() -> None:
    h = w = 16
    canonical = torch.rand(3, h, w, generator=torch.Generator().manual_seed(0)) * 2 - 1
    disp = torch.stack([torch.stack([torch.full((h, w), -1.0 * t), torch.full((h, w), 2.0 * t)]) for t in range(4)])
    offsets = pixels_to_offsets(disp.double(), (h, w)).float()
    frames = warp(canonical[None], offsets[None])[0]
    flow, valid = optical_flow(offsets)
    assert warping_error(frames, flow, valid) < 1e-5
    assert warping_error(frames, torch.zeros_like(flow), valid) > 0.1


def test_relative_differences() -> None:
    d = relative_differences({"a": 2.0, "b": 0.0}, {"a": 3.0, "b": 0.002, "c": 9.0})
    assert d == {"a": 0.5, "b": pytest.approx(2.0)}


# --- net displacement (issue 14): stillness and jitter cannot pass as motion --------------------------------


def test_jitter_in_place_has_speed_but_no_net_displacement() -> None:
    g = torch.Generator().manual_seed(0)
    t, n = 32, 50
    home = torch.rand(n, 2, generator=g, dtype=torch.float64) * 60
    jitter = home + (torch.rand(t, n, 2, generator=g, dtype=torch.float64) - 0.5) * 0.6  # +-0.3 px, fresh every frame
    visible = torch.ones(t, n, dtype=torch.bool)
    speed = track_motion_stats(jitter, visible)["track_speed"]
    d = displacement_stats(jitter, visible)
    assert set(d) == {"disp_1", "disp_4", "disp_16", "disp_clip", "moved_1px", "disp_moving"}
    assert speed > 0.25                       # a speed statistic calls this motion: 'moving' 7.75 px in 31 frames;
    assert d["disp_1"] < 0.45                 # net displacement does not grow with the lag
    for key in ("disp_4", "disp_16", "disp_clip"):
        assert d[key] == pytest.approx(d["disp_1"], rel=0.15) and d[key] < 0.45
    assert d["moved_1px"] == 0.0 and math.isnan(d["disp_moving"])


def test_constant_drift_scores_its_drift_at_every_lag() -> None:
    t = torch.arange(32, dtype=torch.float64)[:, None]
    v = torch.tensor([0.15, -0.2], dtype=torch.float64)       # 0.25 px per frame
    tracks = torch.tensor([[3.0, 40.0], [20.0, 10.0]], dtype=torch.float64) + t[..., None] * v
    visible = torch.ones(32, 2, dtype=torch.bool)
    d = displacement_stats(tracks, visible)
    assert d["disp_1"] == pytest.approx(0.25) and d["disp_4"] == pytest.approx(1.0)
    assert d["disp_16"] == pytest.approx(4.0) and d["disp_clip"] == pytest.approx(0.25 * 31)
    assert d["moved_1px"] == 1.0 and d["disp_moving"] == pytest.approx(0.25 * 31)
    both = torch.cat([tracks, tracks[:1].expand(32, -1, -1)], dim=1)     # the drifting points and two still ones
    half = displacement_stats(both, torch.ones(32, 4, dtype=torch.bool))
    assert half["moved_1px"] == 0.5 and half["disp_moving"] == pytest.approx(0.25 * 31)  # the still half is not in it
    assert half["disp_clip"] == pytest.approx(0.25 * 31 / 2)
    still = displacement_stats(tracks[:1].expand(32, -1, -1), visible)
    assert math.isnan(still.pop("disp_moving")) and all(value == 0.0 for value in still.values())


def test_displacement_counts_only_pairs_visible_at_both_ends() -> None:
    t = torch.arange(8, dtype=torch.float64)[:, None, None]
    tracks = torch.cat([t * torch.tensor([1.0, 0.0]), t * torch.tensor([0.0, 3.0])], dim=1)  # 1 and 3 px/frame
    visible = torch.ones(8, 2, dtype=torch.bool)
    visible[5:, 1] = False                                   # point 1 leaves after frame 4
    s = displacement_samples(tracks, visible)
    assert sorted(s) == ["disp_1", "disp_4", "disp_clip"]    # lag 16 needs 17 frames
    assert s["disp_clip"].tolist() == [7.0]                  # only point 0 is there at both ends
    assert sorted(s["disp_4"].tolist()) == [4.0, 4.0, 4.0, 4.0, 12.0]  # point 0 from t = 0..3, point 1 from t = 0
    assert displacement_stats(tracks, visible)["disp_4"] == pytest.approx((4 * 4 + 12) / 5)
    nothing = displacement_stats(tracks, torch.zeros(8, 2, dtype=torch.bool))
    assert all(math.isnan(v) for v in nothing.values())


def test_wasserstein_1d() -> None:
    a = torch.tensor([0.0, 1.0, 2.0])
    assert wasserstein_1d(a, a) == 0.0
    assert wasserstein_1d(a, a + 0.5) == pytest.approx(0.5)            # a shift moves all mass by 0.5
    assert wasserstein_1d(torch.tensor([0.0]), torch.tensor([0.0, 2.0])) == pytest.approx(1.0)
    assert math.isnan(wasserstein_1d(a, torch.tensor([])))


def _textured_canvas(size: int, seed: int = 0) -> torch.Tensor:
    """Smooth random texture [3, size, size] in [-1, 1] (low-pass noise: trackable at every pixel)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, size // 4, size // 4, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)[0].clamp(-1, 1)


def _translated(canvas: torch.Tensor, shifts: torch.Tensor, res: int) -> torch.Tensor:
    """uint8 [T, res, res, 3] frames: the canvas' centre window, its content moved by shifts [T, 2] px."""
    c = canvas.shape[-1]
    pad = (c - res) // 2
    ys, xs = torch.meshgrid(torch.arange(res, dtype=torch.float64), torch.arange(res, dtype=torch.float64),
                            indexing="ij")
    frames = []
    for dx, dy in shifts.tolist():  # frame(p) = canvas(p + pad - shift): content at q moves to q + shift
        pos = torch.stack([xs + pad - dx, ys + pad - dy])[None].float()
        frames.append(sample(canvas[None], pos[:, None])[0, 0])
    return ((torch.stack(frames).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)


def test_flow_tracks_follow_a_drift_and_stay_put_under_jitter() -> None:
    canvas = _textured_canvas(128)
    t = torch.arange(24, dtype=torch.float64)[:, None]
    points = torch.tensor([[16.0, 16.0], [32.0, 20.0], [44.0, 40.0], [24.0, 44.0]])
    drift = _translated(canvas, t * torch.tensor([0.4, 0.3], dtype=torch.float64), 64)  # 0.5 px per frame
    tracks, visible = flow_tracks(drift, points)
    assert tracks.shape == (24, 4, 2) and bool(visible.all())
    d = displacement_stats(tracks, visible)
    assert d["disp_clip"] == pytest.approx(0.5 * 23, rel=0.1) and d["disp_4"] == pytest.approx(2.0, rel=0.1)
    g = torch.Generator().manual_seed(1)
    shifts = (torch.rand(24, 2, generator=g, dtype=torch.float64) - 0.5) * 1.2  # faster than the drift, no net motion
    assert float((shifts[1:] - shifts[:-1]).norm(dim=-1).mean()) > 0.5
    tracks, visible = flow_tracks(_translated(canvas, shifts, 64), points)
    shaken = displacement_stats(tracks, visible)
    truth = float((shifts[-1] - shifts[0]).norm())
    assert shaken["disp_clip"] == pytest.approx(truth, abs=0.6)   # chained flow drifts a little, not 11 px
    assert shaken["disp_clip"] < d["disp_clip"] / 8 and shaken["disp_16"] < d["disp_16"] / 4


def test_flow_tracks_lose_points_that_leave_the_frame() -> None:
    canvas = _textured_canvas(160)
    t = torch.arange(12, dtype=torch.float64)[:, None]
    video = _translated(canvas, t * torch.tensor([1.5, 0.0], dtype=torch.float64), 64)
    tracks, visible = flow_tracks(video, torch.tensor([[60.0, 30.0], [10.0, 30.0]]))
    assert bool(visible[:, 1].all())                          # 16.5 px to the right: still inside
    assert not bool(visible[-1, 0]) and bool(visible[0, 0])   # 60 + 16.5 > 63: lost on the way
    assert float(tracks[-1, 1, 0]) == pytest.approx(10 + 16.5, abs=1.0)


def test_folded_fraction_counts_the_cells_of_a_hand_built_fold() -> None:
    h = w = 12
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    smooth = torch.stack([1.5 * torch.sin(ys / 3) + 2.0, 0.8 * torch.cos(xs / 4)])  # rippling, fold-free
    fold = torch.stack([torch.where(xs >= 6, -2.0 * (xs - 6), 0.0), torch.zeros_like(ys)])  # x >= 6 mirrored
    clip = lambda *px: torch.stack([pixels_to_offsets(p, (h, w)) for p in px])  # noqa: E731
    assert folded_fraction([clip(smooth, smooth)]) == 0.0
    # the mirrored half: cell columns 6..10 of 11 in every row, in 1 of the 2 frames of the second video
    assert folded_fraction([clip(fold, smooth)]) == pytest.approx(5 / 11 / 2)
    assert folded_fraction([clip(smooth, smooth), clip(fold, fold)]) == pytest.approx(5 / 11 / 2)
    assert math.isnan(folded_fraction([]))
