"""Tracking by inverting the backward map, against deformations whose inverse is known by hand."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from gendef_core.track import (
    frame_to_canonical,
    invert,
    map_at,
    optical_flow,
    pull_to_canonical,
    track_canonical_points,
)
from gendef_core.warp import pixels_to_offsets, sample_positions

Field = Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


def _grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return xs, ys


def _offsets(disp: Field, frames: int, h: int, w: int) -> torch.Tensor:
    """Offsets of the backward map m_t(p) = p + disp(p, t), sampled at the pixel centres."""
    xs, ys = _grid(h, w)
    d = torch.stack([torch.stack(disp(xs, ys, t)) for t in range(frames)])
    return pixels_to_offsets(d, (h, w)).float()


def _points(n: int, lo: float, hi: float, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * (hi - lo) + lo


def test_map_at_matches_the_grid_and_its_jacobian_matches_finite_differences() -> None:
    h, w = 12, 10
    pos = sample_positions(torch.randn(2, h, w, generator=torch.Generator().manual_seed(1)).double() * 0.1, (h, w))
    xs, ys = _grid(h, w)
    at_pixels, _ = map_at(pos, torch.stack([xs.reshape(-1), ys.reshape(-1)], -1))
    assert torch.equal(at_pixels.T.reshape(2, h, w), pos)
    p = _points(50, 0.1, 8.9, seed=2)
    _, jac = map_at(pos, p)
    eps = 1e-6
    for k in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[k] = eps
        fd = (map_at(pos, p + e)[0] - map_at(pos, p - e)[0]) / (2 * eps)
        torch.testing.assert_close(jac[:, :, k], fd, atol=1e-6, rtol=0)


def test_outside_the_frame_the_map_continues_with_slope_one() -> None:
    h = w = 8
    pos = sample_positions(torch.zeros(2, h, w, dtype=torch.float64), (h, w))
    p = torch.tensor([[-3.0, 2.0], [9.5, -1.25]], dtype=torch.float64)
    value, jac = map_at(pos, p)
    assert torch.equal(value, p)
    assert torch.equal(jac, torch.eye(2, dtype=torch.float64).expand(2, 2, 2))


@pytest.mark.parametrize("shift", [(2.0, -1.0), (0.37, 1.71)])
def test_translation_is_inverted_exactly_and_points_pushed_out_are_invisible(shift: tuple[float, float]) -> None:
    h, w, frames = 16, 20, 8
    sx, sy = shift

    def disp(x: torch.Tensor, y: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full_like(x, -sx * t), torch.full_like(y, -sy * t)  # content moves by +t*shift

    q = torch.tensor([[1.0, 14.0], [10.0, 7.5], [18.0, 2.0], [4.25, 9.0]], dtype=torch.float64)
    tr = track_canonical_points(_offsets(disp, frames, h, w), q)
    t = torch.arange(frames, dtype=torch.float64).view(-1, 1, 1)
    truth = q + t * torch.tensor([sx, sy], dtype=torch.float64)
    assert (tr.tracks.double() - truth).abs().max() < 1e-4
    inside = (truth[..., 0] >= 0) & (truth[..., 0] <= w - 1) & (truth[..., 1] >= 0) & (truth[..., 1] <= h - 1)
    assert torch.equal(tr.visible, inside)
    assert (~inside).any() and inside.any()  # both cases really occur
    assert tr.residual.max() < 1e-4


def test_rotation_is_inverted_to_within_a_hundredth_of_a_pixel() -> None:
    h = w = 48
    c = (w - 1) / 2

    def disp(x: torch.Tensor, y: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        a = 0.06 * t
        return (c + math.cos(a) * (x - c) - math.sin(a) * (y - c) - x,
                c + math.sin(a) * (x - c) + math.cos(a) * (y - c) - y)

    q = _points(300, 10, 37, seed=3)
    tr = track_canonical_points(_offsets(disp, 10, h, w), q)
    for t in range(10):
        a = 0.06 * t  # p = c + R(-a) (q - c)
        px = c + math.cos(a) * (q[:, 0] - c) + math.sin(a) * (q[:, 1] - c)
        py = c - math.sin(a) * (q[:, 0] - c) + math.cos(a) * (q[:, 1] - c)
        err = (torch.stack([px, py], -1) - tr.tracks[t].double()).norm(dim=-1)
        assert tr.visible[t].all()
        assert err.max() < 0.01, (t, float(err.max()))


@pytest.mark.parametrize("gradient", [0.3, 1.5])
def test_smooth_fields_with_large_gradients_are_tracked_to_within_005_px(gradient: float) -> None:
    h = w = 64
    k = 2 * math.pi / 48
    amp = gradient / k  # max |du/dx| = amp * k

    def disp(x: torch.Tensor, y: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = 0.25 * t
        return amp * math.sin(s) * torch.sin(k * y + 0.3), 0.5 * amp * math.cos(s) * torch.sin(k * x + 1.1)

    frames = 7
    q = _points(400, 5, 58, seed=4)
    tr = track_canonical_points(_offsets(disp, frames, h, w), q)
    for t in range(frames):  # the true preimage: Newton on the analytic map, started from our answer
        p = tr.tracks[t].double().clone()
        for _ in range(30):
            dx, dy = disp(p[:, 0], p[:, 1], t)
            s = 0.25 * t
            jac = torch.zeros(len(p), 2, 2, dtype=torch.float64)
            jac[:, 0, 0] = 1
            jac[:, 0, 1] = amp * math.sin(s) * k * torch.cos(k * p[:, 1] + 0.3)
            jac[:, 1, 0] = 0.5 * amp * math.cos(s) * k * torch.cos(k * p[:, 0] + 1.1)
            jac[:, 1, 1] = 1
            r = torch.stack([p[:, 0] + dx, p[:, 1] + dy], -1) - q
            p = p - torch.linalg.solve(jac, r.unsqueeze(-1)).squeeze(-1)
        vis = tr.visible[t]
        assert vis.float().mean() > 0.8
        err = (p - tr.tracks[t].double()).norm(dim=-1)[vis]
        assert err.max() < 0.05, (t, float(err.max()))


def test_a_folding_map_keeps_each_track_on_one_branch() -> None:
    """m_t(x) = x + a_t sin(kx) folds once a_t k > 1; the track must stay continuous, not jump branches."""
    h, w = 8, 64
    k = 2 * math.pi / 32
    frames = 30

    def disp(x: torch.Tensor, y: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (2.0 / k) * (t / (frames - 1)) * torch.sin(k * x), torch.zeros_like(y)  # a_t k goes 0 -> 2

    q = torch.stack([torch.linspace(20, 44, 25, dtype=torch.float64), torch.full((25,), 3.0, dtype=torch.float64)], -1)
    tr = track_canonical_points(_offsets(disp, frames, h, w), q)
    assert torch.equal(tr.tracks[0].double(), q.float().double())  # zero offsets: the canonical itself
    jumps = (tr.tracks[1:] - tr.tracks[:-1]).norm(dim=-1)
    assert jumps.max() < 1.5, float(jumps.max())
    assert tr.residual.max() < 1e-3


def test_frame_queries_start_where_they_were_drawn() -> None:
    h = w = 32
    k = 2 * math.pi / 24

    def disp(x: torch.Tensor, y: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        return 0.3 * t * torch.sin(k * y), -0.2 * t * torch.cos(k * x)

    off = _offsets(disp, 9, h, w)
    p = _points(20, 4, 27, seed=5)
    q = frame_to_canonical(off[4], p)
    tr = track_canonical_points(off, q, start_frame=4, start=p)
    assert (tr.tracks[4].double() - p).abs().max() < 1e-5
    assert tr.visible.all()
    back = torch.stack([frame_to_canonical(off[t], tr.tracks[t].double()) for t in range(9)])
    assert (back - q).abs().max() < 1e-5  # every frame's position maps back to the same canonical point


def test_invert_from_the_nearest_pixel_needs_no_first_guess() -> None:
    h = w = 16
    pos = sample_positions(_offsets(lambda x, y, t: (0.4 * torch.sin(y / 3), 0.3 * torch.cos(x / 4)), 1, h, w)[0]
                           .double(), (h, w))
    q = _points(30, 2, 13, seed=6)
    p, res = invert(pos, q)
    assert res.max() < 1e-6
    assert (map_at(pos, p)[0] - q).abs().max() < 1e-6


def test_optical_flow_of_a_translation_and_where_content_leaves() -> None:
    h, w = 10, 12
    off = _offsets(lambda x, y, t: (torch.full_like(x, -1.5 * t), torch.full_like(y, 0.5 * t)), 4, h, w)
    flow, valid = optical_flow(off)
    assert flow.shape == (3, 2, h, w) and valid.shape == (3, h, w)
    torch.testing.assert_close(flow[:, 0], torch.full((3, h, w), 1.5), atol=1e-4, rtol=0)
    torch.testing.assert_close(flow[:, 1], torch.full((3, h, w), -0.5), atol=1e-4, rtol=0)
    xs, ys = _grid(h, w)
    expected = ((xs + 1.5 <= w - 1) & (ys - 0.5 >= 0)).expand(3, h, w)
    assert torch.equal(valid, expected)


def test_pull_to_canonical_undoes_the_warp_of_a_translation() -> None:
    h = w = 16
    off = _offsets(lambda x, y, t: (torch.full_like(x, -3.0), torch.full_like(y, 2.0)), 1, h, w)[0]
    img = torch.arange(h * w, dtype=torch.float32).reshape(1, h, w)
    pulled, valid = pull_to_canonical(img, off)
    # frame pixel p shows canonical p - (3, -2): canonical q is at frame q + (3, -2)
    assert torch.equal(valid[2:, :w - 3], torch.ones(h - 2, w - 3, dtype=torch.bool))
    assert not valid[:2].any() and not valid[:, w - 3:].any()
    torch.testing.assert_close(pulled[0, 2:, :w - 3], img[0, :h - 2, 3:], atol=1e-4, rtol=0)


def test_a_track_lost_by_continuation_is_found_again_from_the_nearest_pixel() -> None:
    # Frame 0 is the identity; frame 1 a strong, folding random field. From the frame-0 answer, Newton gets
    # stuck for some points (checked below); re-seeding from the nearest pixel must still solve m_1(p) = q.
    h = w = 24
    coarse = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    coarse = coarse * 5
    disp = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)[0]
    off = torch.stack([torch.zeros(2, h, w), pixels_to_offsets(disp, (h, w)).float()])
    xs, ys = torch.meshgrid(torch.arange(2.0, 22.0, dtype=torch.float64), torch.arange(2.0, 22.0, dtype=torch.float64),
                            indexing="xy")
    q = torch.stack([xs.flatten(), ys.flatten()], -1)
    pos = sample_positions(off[1].double(), (h, w))
    _, stuck = invert(pos, q, q.clone())           # continuation alone
    _, fresh = invert(pos, q)                      # from the nearest pixel
    lost = (stuck > 0.5) & (fresh < 0.5)
    assert int(lost.sum()) >= 20, int(lost.sum())  # 38 of the 400
    tr = track_canonical_points(off, q)
    assert tr.residual[1][lost].max() < 1e-3
    back = frame_to_canonical(off[1], tr.tracks[1][lost].double())
    assert (back - q[lost]).abs().max() < 1e-3
