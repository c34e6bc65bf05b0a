"""Motion statistics and the warping error on hand-made videos, tracks and flows."""

from __future__ import annotations

import math

import pytest
import torch

from gendef_core.metrics.motion import pixel_motion_stats, relative_differences, track_motion_stats, warping_error
from gendef_core.track import optical_flow
from gendef_core.warp import pixels_to_offsets, warp


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
