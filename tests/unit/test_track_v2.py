"""Tracking, flow and pulling through clip-v2 geometry: a canonical larger than the frames, an origin, visibility.

Every deformation here is known by hand: a 12x16 frame sits at origin (5, 3) of a 20x28 canonical, so
frame pixel p of frame t samples canonical ``p + origin + d_t``; the content at canonical q is at frame
``q - origin - d_t``. The offsets are normalised to the CANONICAL (not the frame), so a function that
still assumed canonical = frame size, or ignored the origin, gets every answer wrong by pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gendef_core.track import (
    frame_to_canonical,
    optical_flow,
    pull_to_canonical,
    track_canonical_points,
    visible_at,
)
from gendef_core.warp import pixels_to_offsets

HC, WC = 20, 28          # canonical
H, W = 12, 16            # frame
ORIGIN = (5, 3)          # (ox, oy)
# Per-frame translation d_t in canonical px. No fraction is 1/2, nor any difference d_t - d_t+1, so the
# nearest pixel of every position below is unambiguous. Frame 3 pushes content off the frame's right.
SHIFTS = [(0.0, 0.0), (2.25, -1.25), (-3.0, 2.0), (6.0, 4.25)]
PATCH = (slice(4, 8), slice(6, 10))   # rows, cols of frame pixels the canonical does not explain ...
PATCH_FRAMES = (1, 3)                 # ... in these frames


def translation(shifts: list[tuple[float, float]]) -> torch.Tensor:
    px = torch.tensor(shifts, dtype=torch.float64).view(-1, 2, 1, 1).expand(-1, 2, H, W)
    return pixels_to_offsets(px, (HC, WC)).float().contiguous()  # normalised to the canonical


def visibility(frames: int = len(SHIFTS)) -> torch.Tensor:
    vis = torch.ones(frames, H, W, dtype=torch.bool)
    for t in PATCH_FRAMES:
        if t < frames:
            vis[t][PATCH] = False
    return vis


def expected_visible(pos: np.ndarray, vis: torch.Tensor) -> np.ndarray:
    """pos [T, N, 2] frame px -> inside the frame and visible at the nearest pixel (computed point by point)."""
    out = np.zeros(pos.shape[:2], dtype=bool)
    for t in range(pos.shape[0]):
        for n in range(pos.shape[1]):
            x, y = pos[t, n]
            if 0 <= x <= W - 1 and 0 <= y <= H - 1:
                assert abs(x % 1 - 0.5) > 1e-3 and abs(y % 1 - 0.5) > 1e-3  # the nearest pixel is unambiguous
                out[t, n] = bool(vis[t, round(y), round(x)])
    return out


# Canonical points: fractional parts .1 / .4 in x and .6 / .3 in y never become 1/2 after the shifts.
# The last four fall on the patch in frame 1 (first two) or frame 3 (last two).
QUERIES = np.array([[12.1, 8.6], [14.4, 9.3], [9.1, 4.6], [26.4, 18.3], [7.1, 13.6], [20.4, 12.3], [0.1, 0.3],
                    [16.1, 11.3], [13.1, 6.6], [15.4, 8.3], [18.1, 12.6], [19.4, 13.3]], dtype=np.float64)


def test_translation_tracks_are_analytic_and_hidden_exactly_on_the_patch_and_off_the_frame() -> None:
    off, vis = translation(SHIFTS), visibility()
    tr = track_canonical_points(off, torch.from_numpy(QUERIES), canonical_size=(HC, WC), origin=ORIGIN,
                                visibility=vis)
    truth = np.stack([QUERIES - np.array(ORIGIN) - np.array(d) for d in SHIFTS])  # [T, N, 2]
    assert np.abs(tr.tracks.double().numpy() - truth).max() < 1e-3
    assert tr.residual.max() < 1e-3
    want = expected_visible(truth, vis)
    assert np.array_equal(tr.visible.numpy(), want)
    # Both reasons for invisibility really occur, and so does plain visibility.
    inside = (truth[..., 0] >= 0) & (truth[..., 0] <= W - 1) & (truth[..., 1] >= 0) & (truth[..., 1] <= H - 1)
    assert (inside & ~want).sum() >= 4, "some points must fall on the patch"
    assert not want[1, 8:10].any() and not want[3, 10:].any() and want[0, 8:].all()
    assert (~inside).sum() >= 3 and want.sum() >= 10
    # Without the visibility map only leaving the frame hides a point.
    plain = track_canonical_points(off, torch.from_numpy(QUERIES), canonical_size=(HC, WC), origin=ORIGIN)
    assert np.array_equal(plain.visible.numpy(), inside)
    assert torch.equal(plain.tracks, tr.tracks)


def test_canonical_size_and_origin_both_matter() -> None:
    """The control: the old assumption (canonical = frame, origin 0) gives other, wrong positions."""
    off = translation(SHIFTS)
    q = torch.tensor([[12.1, 8.6]], dtype=torch.float64)
    right = track_canonical_points(off, q, canonical_size=(HC, WC), origin=ORIGIN).tracks
    no_origin = track_canonical_points(off, q, canonical_size=(HC, WC)).tracks
    frame_sized = track_canonical_points(off, q, origin=(0, 0)).tracks
    assert (right - no_origin).abs().max() > 2.9 and (right - frame_sized).abs().max() > 1.0


def test_a_smooth_non_rigid_field_is_inverted_analytically() -> None:
    """d_t(p) = t * (A p + b): shear and scale, non-rigid; bilinear in each cell, so the inverse is exact:
    p = (I + t A)^-1 (q - origin - t b)."""
    a = np.array([[0.03, -0.05], [0.04, -0.02]])
    b = np.array([0.4, -0.3])
    frames = 4
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    disp = np.stack([np.stack([t * (a[0, 0] * xs + a[0, 1] * ys + b[0]), t * (a[1, 0] * xs + a[1, 1] * ys + b[1])])
                     for t in range(frames)])                                    # [T, 2, H, W] canonical px
    off = pixels_to_offsets(torch.from_numpy(disp), (HC, WC)).float()
    q = np.array([[9.3, 6.2], [14.7, 10.1], [11.0, 12.9], [18.2, 5.4]])
    tr = track_canonical_points(off, torch.from_numpy(q), canonical_size=(HC, WC), origin=ORIGIN)
    for t in range(frames):
        truth = np.linalg.solve(np.eye(2) + t * a, (q - np.array(ORIGIN) - t * b).T).T
        assert np.abs(tr.tracks[t].double().numpy() - truth).max() < 1e-3, t
    assert tr.visible.all()


def test_frame_queries_map_to_the_canonical_and_back() -> None:
    off = translation(SHIFTS)
    f = 2
    p = torch.tensor([[3.2, 4.1], [15.0, 0.0], [7.7, 10.9]], dtype=torch.float64)
    q = frame_to_canonical(off[f], p, canonical_size=(HC, WC), origin=ORIGIN)
    want_q = p + torch.tensor(ORIGIN, dtype=torch.float64) + torch.tensor(SHIFTS[f], dtype=torch.float64)
    assert (q - want_q).abs().max() < 1e-4
    tr = track_canonical_points(off, q, start_frame=f, start=p, canonical_size=(HC, WC), origin=ORIGIN)
    assert (tr.tracks[f].double() - p).abs().max() < 1e-4
    for t, d in enumerate(SHIFTS):
        want = p + torch.tensor(SHIFTS[f], dtype=torch.float64) - torch.tensor(d, dtype=torch.float64)
        assert (tr.tracks[t].double() - want).abs().max() < 1e-3, t
        back = frame_to_canonical(off[t], tr.tracks[t].double(), canonical_size=(HC, WC), origin=ORIGIN)
        assert (back - q).abs().max() < 1e-4, t


def test_optical_flow_is_the_translation_in_frame_pixels_and_valid_respects_visibility() -> None:
    off, vis = translation(SHIFTS), visibility()
    flow, valid = optical_flow(off, canonical_size=(HC, WC), origin=ORIGIN, visibility=vis)
    assert flow.shape == (3, 2, H, W) and valid.shape == (3, H, W)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    for t in range(3):
        d = np.array(SHIFTS[t]) - np.array(SHIFTS[t + 1])  # content at p moves to p + d_t - d_t+1
        torch.testing.assert_close(flow[t, 0], torch.full((H, W), float(d[0])), atol=1e-3, rtol=0)
        torch.testing.assert_close(flow[t, 1], torch.full((H, W), float(d[1])), atol=1e-3, rtol=0)
        tx, ty = xs + d[0], ys + d[1]
        want = np.zeros((H, W), dtype=bool)
        for i in range(H):
            for j in range(W):
                x, y = tx[i, j], ty[i, j]
                if 0 <= x <= W - 1 and 0 <= y <= H - 1:
                    want[i, j] = bool(vis[t, i, j]) and bool(vis[t + 1, round(y), round(x)])
        assert np.array_equal(valid[t].numpy(), want), t
    # The patch of frame 1 hides sources of pair (1, 2) and targets of pair (0, 1); without the map it counts.
    _, plain = optical_flow(off, canonical_size=(HC, WC), origin=ORIGIN)
    assert not valid[1][PATCH].any() and plain[1][PATCH].all()
    assert (plain[0] & ~valid[0]).sum() > 0


def test_pull_to_canonical_lands_on_the_canonical_pixels_the_frame_shows() -> None:
    d = (4, -2)  # integer: frame pixel (j, i) shows canonical (j + 5 + 4, i + 3 - 2)
    off = translation([(float(d[0]), float(d[1]))])[0]
    vis = torch.ones(H, W, dtype=torch.bool)
    vis[PATCH] = False
    img = torch.arange(H * W, dtype=torch.float32).reshape(1, H, W) + 1  # no zero values: 0 means "not shown"
    for mode in ("bilinear", "nearest"):
        pulled, valid = pull_to_canonical(img, off, canonical_size=(HC, WC), origin=ORIGIN, visibility=vis,
                                          mode=mode)  # type: ignore[arg-type]
        assert pulled.shape == (1, HC, WC) and valid.shape == (HC, WC)
        want = torch.zeros(HC, WC)
        for y in range(HC):
            for x in range(WC):
                j, i = x - ORIGIN[0] - d[0], y - ORIGIN[1] - d[1]
                if 0 <= j < W and 0 <= i < H and vis[i, j]:
                    want[y, x] = img[0, i, j]
        assert torch.equal(valid, want > 0), mode
        torch.testing.assert_close(pulled[0], want, atol=1e-3, rtol=0)
        assert int(valid.sum()) == H * W - 16  # every visible frame pixel, once


def test_visible_at_reads_the_nearest_pixel_and_nothing_outside() -> None:
    vis = torch.zeros(3, 4, dtype=torch.bool)
    vis[1, 2] = True
    pts = torch.tensor([[2.4, 0.6], [1.6, 1.4], [2.0, 1.0], [3.4, 1.0], [-0.6, 1.0], [2.0, 2.00001]])
    assert visible_at(vis, pts).tolist() == [True, True, True, False, False, False]


@pytest.mark.parametrize("fn", ["track", "flow"])
def test_visibility_of_the_wrong_shape_is_refused(fn: str) -> None:
    off = translation(SHIFTS)
    bad = torch.ones(len(SHIFTS), W, H, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"visibility must be \[T, H, W\] = \[4, 12, 16\]"):
        if fn == "track":
            track_canonical_points(off, torch.tensor([[10.0, 8.0]]), canonical_size=(HC, WC), origin=ORIGIN,
                                   visibility=bad)
        else:
            optical_flow(off, canonical_size=(HC, WC), origin=ORIGIN, visibility=bad)
