"""The warp and its convention, against hand-built fields."""

from __future__ import annotations

import math

import pytest
import torch

from gendef_core.warp import (
    identity_positions,
    offsets_to_pixels,
    pixels_to_offsets,
    sample_positions,
    warp,
    warp_chunks,
)


@pytest.mark.parametrize("h,w", [(2, 2), (4, 4), (5, 7), (16, 16), (17, 31), (64, 64), (100, 100), (256, 256)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_zero_offsets_reproduce_canonical_exactly(h: int, w: int, mode: str, padding: str) -> None:
    g = torch.Generator().manual_seed(h * 1000 + w)
    img = torch.randn(2, 3, h, w, generator=g) * 10
    frames = warp(img, torch.zeros(2, 5, 2, h, w), mode=mode, padding=padding)  # type: ignore[arg-type]
    assert torch.equal(frames, img[:, None].expand(2, 5, 3, h, w))


def test_zero_offsets_exact_in_float64() -> None:
    img = torch.randn(1, 3, 9, 13, dtype=torch.float64)
    out = warp(img, torch.zeros(1, 2, 2, 9, 13, dtype=torch.float64))
    assert out.dtype == torch.float64 and torch.equal(out[0, 1], img[0])


def test_identity_positions_and_zero_offsets_are_exact_pixels() -> None:
    jx, iy = identity_positions((3, 5), (2, 1))
    assert torch.equal(jx, torch.tensor([2.0, 3.0, 4.0, 5.0, 6.0])) and torch.equal(iy, torch.tensor([1.0, 2.0, 3.0]))
    pos = sample_positions(torch.zeros(2, 3, 5), (3, 5))                  # same size: origin (0, 0)
    assert torch.equal(pos[0], torch.arange(5.0).expand(3, 5))           # x along columns
    assert torch.equal(pos[1], torch.arange(3.0)[:, None].expand(3, 5))  # y along rows
    # one normalised unit is (W - 1) / 2 pixels in x: offset 2 / (W - 1) moves one pixel right
    shifted = sample_positions(torch.stack([torch.full((3, 5), 0.5), torch.zeros(3, 5)]), (3, 5))
    assert torch.equal(shifted[0], torch.arange(5.0).expand(3, 5) + 1)


def test_one_pixel_shift_right_and_down() -> None:
    img = torch.arange(36.0).reshape(1, 1, 6, 6)
    off = torch.zeros(1, 2, 2, 6, 6)
    off[0, 0, 0] = 2 / (6 - 1)  # frame 0: sample one pixel to the right
    off[0, 1, 1] = 2 / (6 - 1)  # frame 1: sample one pixel down
    out = warp(img, off)[0, :, 0]
    torch.testing.assert_close(out[0, :, :5], img[0, 0, :, 1:])
    torch.testing.assert_close(out[1, :5, :], img[0, 0, 1:, :])
    # Beyond the right/bottom edge the zero padding gives 0; border padding repeats the edge.
    assert torch.all(out[0, :, 5] == 0) and torch.all(out[1, 5, :] == 0)
    border = warp(img, off, padding="border")[0, :, 0]
    torch.testing.assert_close(border[0, :, 5], img[0, 0, :, 5])


def test_half_pixel_shift_is_bilinear_average() -> None:
    img = torch.tensor([[0.0, 2.0, 4.0, 8.0]]).expand(3, 4).reshape(1, 1, 3, 4).contiguous()
    off = torch.zeros(1, 1, 2, 3, 4)
    off[0, 0, 0] = 0.5 * 2 / 3
    out = warp(img, off)[0, 0, 0, 0]
    torch.testing.assert_close(out, torch.tensor([1.0, 3.0, 6.0, 4.0]))  # last: half of 8 and half of 0 (pad)


def test_nearest_mode_keeps_labels() -> None:
    labels = torch.randint(0, 5, (1, 1, 8, 8)).float()
    off = torch.randn(1, 3, 2, 8, 8) * 0.3
    out = warp(labels, off, mode="nearest")
    assert set(out.unique().tolist()) <= set(range(5))


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_nearest_mode_takes_the_nearest_pixel(padding: str) -> None:
    # +0.4 px in x stays on the pixel, +0.6 px takes the next one, -0.7 px in y the row above; a rounded
    # bilinear blend would give e.g. 4 instead of 0 for the first. Off the canonical: 0, or the edge (border).
    img = torch.arange(12.0).reshape(1, 1, 3, 4) * 10
    off = torch.zeros(1, 3, 2, 3, 4)
    off[0, 0, 0] = 0.4 * 2 / 3
    off[0, 1, 0] = 0.6 * 2 / 3
    off[0, 2, 1] = -0.7 * 2 / 2
    out = warp(img, off, mode="nearest", padding=padding)[0, :, 0]  # type: ignore[arg-type]
    c = img[0, 0]
    assert torch.equal(out[0], c)
    assert torch.equal(out[1, :, :3], c[:, 1:]) and torch.equal(out[2, 1:], c[:-1])
    if padding == "zeros":
        assert torch.equal(out[1, :, 3], torch.zeros(3)) and torch.equal(out[2, 0], torch.zeros(4))
    else:
        assert torch.equal(out[1, :, 3], c[:, 3]) and torch.equal(out[2, 0], c[0])


def test_pixel_conversions_round_trip_and_units() -> None:
    d = torch.randn(4, 2, 9, 17)
    torch.testing.assert_close(offsets_to_pixels(pixels_to_offsets(d, (9, 17)), (9, 17)), d)
    one = offsets_to_pixels(torch.tensor([2 / 16, 2 / 8]).view(2, 1, 1).expand(2, 9, 17), (9, 17))
    torch.testing.assert_close(one, torch.ones(2, 9, 17))


def test_sample_positions_are_the_backward_map_in_pixels() -> None:
    off = pixels_to_offsets(torch.tensor([1.5, -2.0]).view(1, 2, 1, 1).expand(1, 2, 4, 6), (4, 6))
    pos = sample_positions(off, (4, 6))
    torch.testing.assert_close(pos[0, 0], torch.arange(6.0).view(1, 6).expand(4, 6) + 1.5)
    torch.testing.assert_close(pos[0, 1], torch.arange(4.0).view(4, 1).expand(4, 6) - 2.0)


def test_rotation_about_centre_matches_analytic_resampling() -> None:
    # A smooth image (a linear ramp) rotated by the backward map: bilinear is exact on linear functions.
    h = w = 33
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    img = (0.3 * x - 0.7 * y)[None, None]
    a = math.radians(10)
    cx = cy = 16.0
    sx = cx + math.cos(a) * (x - cx) - math.sin(a) * (y - cy)
    sy = cy + math.sin(a) * (x - cx) + math.cos(a) * (y - cy)
    disp = torch.stack([sx - x, sy - y])[None]
    out = warp(img, pixels_to_offsets(disp, (h, w))[None])[0, 0, 0]
    inside = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    torch.testing.assert_close(out[inside], (0.3 * sx - 0.7 * sy)[inside])


def test_canonical_larger_than_frame() -> None:
    # Clip v2: one frame pixel per canonical pixel, the frame placed at an integer origin. A 3x2 frame at
    # origin (1, 2) of a 5x6 canonical is that window, bit for bit, on both warp paths.
    img = torch.arange(30.0).reshape(1, 1, 5, 6)
    zero = torch.zeros(1, 1, 2, 2, 3)
    for padding in ("zeros", "border"):
        out = warp(img, zero, origin=(1, 2), padding=padding)[0, 0, 0]
        assert torch.equal(out, img[0, 0, 2:4, 1:4])
    assert torch.equal(warp(img, zero)[0, 0, 0], img[0, 0, :2, :3])  # default origin (0, 0): the top-left window


def test_origin_and_offsets_against_hand_computation() -> None:
    # Offsets are normalised to the canonical: +1 canonical px in x is 2/(Wc-1). Frame pixel (j, i) at origin
    # (2, 1) with +1.5 px in x and -0.5 px in y samples canonical (j + 3.5, i + 0.5): the mean of 4 pixels.
    hc, wc = 4, 8
    img = torch.arange(hc * wc, dtype=torch.float64).reshape(1, 1, hc, wc)  # value = 8 y + x: bilinear is exact
    off = torch.zeros(1, 1, 2, 2, 3, dtype=torch.float64)
    off[:, :, 0] = 1.5 * 2 / (wc - 1)
    off[:, :, 1] = -0.5 * 2 / (hc - 1)
    out = warp(img, off, origin=(2, 1))[0, 0, 0]
    i, j = torch.meshgrid(torch.arange(2.0), torch.arange(3.0), indexing="ij")
    torch.testing.assert_close(out, (8 * (i + 0.5) + (j + 3.5)).double())
    pos = sample_positions(off[0, 0], (hc, wc), (2, 1))
    torch.testing.assert_close(pos[0], (j + 3.5).double())
    torch.testing.assert_close(pos[1], (i + 0.5).double())


def test_origin_must_keep_the_frame_on_the_canonical() -> None:
    img = torch.zeros(1, 1, 5, 6)
    with pytest.raises(ValueError, match="does not fit"):
        warp(img, torch.zeros(1, 1, 2, 2, 3), origin=(4, 0))
    with pytest.raises(ValueError, match="integer"):
        warp(img, torch.zeros(1, 1, 2, 2, 3), origin=(0.5, 0))  # type: ignore[arg-type]


def test_gradients_reach_canonical_and_offsets() -> None:
    img = torch.randn(1, 3, 8, 8, requires_grad=True)
    off = (torch.randn(1, 2, 2, 8, 8) * 0.1).requires_grad_()
    warp(img, off).square().sum().backward()
    assert img.grad is not None and float(img.grad.abs().sum()) > 0
    assert off.grad is not None and float(off.grad.abs().sum()) > 0


def test_offset_gradient_matches_finite_difference() -> None:
    torch.manual_seed(0)
    img = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    off = (torch.randn(1, 1, 2, 6, 6, dtype=torch.float64) * 0.05).requires_grad_()
    assert torch.autograd.gradcheck(lambda o: warp(img, o), (off,), eps=1e-6, atol=1e-4)


def test_warp_chunks_equal_one_shot() -> None:
    img = torch.randn(3, 12, 12)
    off = torch.randn(10, 2, 12, 12) * 0.1
    full = warp(img[None], off[None])[0]
    parts = torch.cat(list(warp_chunks(img, off, chunk=3)))
    assert torch.equal(parts, full)


def test_half_precision_inputs_are_sampled_in_float32() -> None:
    img = torch.randn(1, 3, 8, 8).to(torch.bfloat16)
    out = warp(img, torch.zeros(1, 1, 2, 8, 8, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and torch.equal(out[0, 0], img[0])


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError):
        warp(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="at least 2x2"):
        warp(torch.zeros(1, 3, 1, 4), torch.zeros(1, 1, 2, 1, 4))


@pytest.mark.parametrize("size", [(16, 16), (17, 23), (64, 64)])
def test_fast_path_matches_the_general_sampler(size: tuple[int, int]) -> None:
    from gendef_core.warp import sample

    h, w = size
    g = torch.Generator().manual_seed(h)
    img = torch.rand(2, 3, h, w, generator=g)
    off = torch.randn(2, 5, 2, h, w, generator=g) * 0.2  # many samples fall outside: checks the zero padding too
    general = sample(img, sample_positions(off, (h, w)))
    torch.testing.assert_close(warp(img, off), general, atol=2e-5, rtol=0)
