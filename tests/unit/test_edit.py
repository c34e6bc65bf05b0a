"""Canonical edits, coverage and label propagation, against hand-built fields."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gendef_core.artifacts.edit_images import davis_palette, overlay_from_uint8
from gendef_core.edit import blend_labels, composite, edit_coverage, label_colors, outside_fraction, propagate_labels
from gendef_core.warp import pixels_to_offsets, warp


def shifts(size: tuple[int, int], *displacements: tuple[float, float], canonical: tuple[int, int] | None = None
           ) -> torch.Tensor:
    """Offsets ``[T, 2, H, W]``: frame t samples the canonical displaced by ``displacements[t] = (dx, dy)`` px."""
    h, w = size
    px = torch.tensor(displacements, dtype=torch.float32).view(-1, 2, 1, 1).expand(-1, 2, h, w)
    return pixels_to_offsets(px, canonical or size).contiguous()


def smooth_field(t: int, h: int, w: int, amp_px: float, seed: int) -> torch.Tensor:
    """Random smooth sub-pixel offsets ``[T, 2, H, W]`` of up to about `amp_px` canonical pixels."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(t, 2, 3, 3, generator=g) * amp_px
    px = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    return pixels_to_offsets(px, (h, w))


def bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


# -- composite -------------------------------------------------------------------------------------

def test_composite_alpha_zero_is_bit_identical_and_alpha_one_is_the_overlay() -> None:
    g = torch.Generator().manual_seed(0)
    c = torch.rand(3, 8, 8, generator=g) * 2 - 1
    c[:, 0, 0] = -0.0  # c + 0 * (rgb - c) would turn -0.0 into +0.0
    rgb = torch.rand(3, 8, 8, generator=g) * 2 - 1
    alpha = torch.zeros(1, 8, 8)
    alpha[:, 2:5, 2:5] = 1.0
    alpha[:, 6, :] = 0.3
    out = composite(c, torch.cat([rgb, alpha]))
    untouched = (alpha == 0).expand(3, 8, 8)
    assert torch.equal(bits(out)[untouched], bits(c)[untouched])
    assert torch.equal(out[:, 2:5, 2:5], rgb[:, 2:5, 2:5])
    torch.testing.assert_close(out[:, 6], c[:, 6] + 0.3 * (rgb[:, 6] - c[:, 6]))


def test_composite_half_alpha_exact_value() -> None:
    c = torch.full((3, 4, 4), 0.5)
    overlay = torch.cat([torch.full((3, 4, 4), -0.25), torch.full((1, 4, 4), 0.5)])
    assert torch.equal(composite(c, overlay), torch.full((3, 4, 4), 0.125))  # 0.5 + 0.5 * (-0.75)


def test_composite_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="WxH"):
        composite(torch.zeros(3, 8, 8), torch.zeros(4, 8, 9))
    with pytest.raises(ValueError, match="RGBA"):
        composite(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))


def test_overlay_from_uint8_ranges() -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 0] = [255, 0, 255, 255]
    rgba[1, 2] = [0, 255, 0, 51]
    ov = overlay_from_uint8(rgba)
    assert ov.shape == (4, 2, 3) and ov.dtype == torch.float32
    assert ov[:3, 0, 0].tolist() == [1.0, -1.0, 1.0] and ov[3, 0, 0].item() == 1.0
    assert ov[:3, 1, 2].tolist() == [-1.0, 1.0, -1.0] and ov[3, 1, 2].item() == pytest.approx(0.2)
    assert ov[3, 0, 1].item() == 0.0
    opaque = overlay_from_uint8(torch.from_numpy(rgba[..., :3].copy()))
    assert torch.equal(opaque[3], torch.ones(2, 3)) and torch.equal(opaque[:3], ov[:3])
    with pytest.raises(ValueError):
        overlay_from_uint8(np.zeros((2, 3, 4), dtype=np.float32))


# -- an edit carried to the frames -----------------------------------------------------------------

def _edited(size: int = 17) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    c = torch.rand(3, size, size, generator=g) * 2 - 1
    overlay = torch.zeros(4, size, size)
    overlay[:3] = torch.rand(3, size, size, generator=g) * 2 - 1
    overlay[3, 6:10, 5:9] = 1.0
    overlay[3, 7, 4] = 0.5
    return c, overlay


def _footprint_touches(offsets: torch.Tensor, edited: torch.Tensor) -> torch.Tensor:
    """``[T, H, W]``: frame pixels whose bilinear footprint (all 4 corners, even at weight 0) is edited."""
    from gendef_core.warp import sample_positions

    hc, wc = edited.shape
    pos = sample_positions(offsets, (hc, wc))
    x0, y0 = pos[:, 0].floor().long(), pos[:, 1].floor().long()
    touch = torch.zeros(x0.shape, dtype=torch.bool)
    for dy in (0, 1):
        for dx in (0, 1):
            xs, ys = x0 + dx, y0 + dy
            inside = (xs >= 0) & (xs < wc) & (ys >= 0) & (ys < hc)
            touch |= inside & edited[ys.clamp(0, hc - 1), xs.clamp(0, wc - 1)]
    return touch


def test_edit_under_integer_translation_is_the_shifted_composite() -> None:
    c, overlay = _edited()
    off = shifts((17, 17), (1.0, 0.0), (0.0, -2.0))  # 17 px: one pixel is exactly 1/8 in normalised units
    edited = composite(c, overlay)
    frames = warp(edited[None], off[None])[0]                       # [T, 3, H, W]
    assert torch.equal(frames[0, :, :, :16], edited[:, :, 1:]) and torch.equal(frames[0, :, :, 16], torch.zeros(3, 17))
    assert torch.equal(frames[1, :, 2:], edited[:, :15]) and torch.equal(frames[1, :, :2], torch.zeros(3, 2, 17))
    # Compositing the warped overlay over the warped canonical (the NLA way) gives the same frames here.
    plain = warp(c[None], off[None])[0]
    warped_overlay = warp(overlay[None], off[None])[0]
    for t in range(2):
        assert torch.equal(composite(plain[t], warped_overlay[t]), frames[t])
    touch = _footprint_touches(off, overlay[3] > 0)[:, None].expand_as(frames)
    assert (~touch).sum() > 0.8 * touch.numel()
    assert torch.equal(bits(frames)[~touch], bits(plain)[~touch])
    assert not torch.equal(frames[touch], plain[touch])


def test_edit_under_subpixel_translation_changes_only_the_footprint() -> None:
    c, overlay = _edited()
    off = shifts((17, 17), (0.5, 0.25), (-0.75, 1.5))
    edited = composite(c, overlay)
    frames = warp(edited[None], off[None])[0]
    plain = warp(c[None], off[None])[0]
    touch = _footprint_touches(off, overlay[3] > 0)[:, None].expand_as(frames)
    assert (~touch).sum() > 0.7 * touch.numel()
    assert torch.equal(bits(frames)[~touch], bits(plain)[~touch])
    # Inside the footprint: the hand-computed bilinear mix of the edited canonical (frame 0, pixel (7, 6)).
    x, y = 6 + 0.5, 7 + 0.25
    expect = (0.5 * 0.75 * edited[:, 7, 6] + 0.5 * 0.75 * edited[:, 7, 7]
              + 0.5 * 0.25 * edited[:, 8, 6] + 0.5 * 0.25 * edited[:, 8, 7])
    assert (x, y) == (6.5, 7.25)
    torch.testing.assert_close(frames[0, :, 7, 6], expect)


# -- coverage --------------------------------------------------------------------------------------

def test_outside_fraction_by_hand() -> None:
    off = shifts((16, 16), (0.0, 0.0), (2.0, 0.0), (2.0, -1.0), (-0.5, 0.0))
    frac = outside_fraction(off, (16, 16))
    assert frac.shape == (4,) and frac.dtype == torch.float32
    assert frac[0].item() == 0.0                                    # exactly, not approximately
    assert frac[1].item() == pytest.approx(2 * 16 / 256)            # columns 14 and 15 sample x = 16, 17
    assert frac[2].item() == pytest.approx((2 * 16 + 16 - 2) / 256)  # ... plus row 0 samples y = -1
    assert frac[3].item() == pytest.approx(16 / 256)                # column 0 samples x = -0.5: half padding


def test_outside_fraction_tolerance_is_1e4_px() -> None:
    # Only the last column moves past the edge pixel centre: by 5e-5 px (inside), then by 2e-3 px (outside).
    px = torch.zeros(2, 2, 8, 8, dtype=torch.float64)
    px[0, 0, :, 7] = 5e-5
    px[1, 0, :, 7] = 2e-3
    frac = outside_fraction(pixels_to_offsets(px, (8, 8)), (8, 8))
    assert frac.tolist() == [0.0, 8 / 64]


def test_outside_fraction_zero_for_a_larger_canonical() -> None:
    assert outside_fraction(torch.zeros(2, 2, 16, 12), (31, 23)).tolist() == [0.0, 0.0]


def test_edit_coverage_by_hand() -> None:
    alpha = torch.zeros(17, 17)
    alpha[4:8, 4:8] = 1.0
    alpha[5, 5] = 0.25
    cov = edit_coverage(alpha, shifts((17, 17), (0.0, 0.0), (6.0, 0.0), (0.5, 0.0)), chunk=2)
    # 4x4 block; shifted 6 px only columns 0-1 still see it; half a pixel widens it to 5 columns.
    torch.testing.assert_close(cov, torch.tensor([16, 8, 20]) / 289.0)


# -- labels ----------------------------------------------------------------------------------------

def _random_labels(h: int, w: int, values: list[int], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(values), (h // 4 + 1, w // 4 + 1), generator=g)
    return torch.tensor(values)[idx].repeat_interleave(4, 0).repeat_interleave(4, 1)[:h, :w].contiguous()


def test_nearest_labels_equal_nearest_warp() -> None:
    labels = _random_labels(17, 19, [0, 3, 7], seed=2)
    off = smooth_field(5, 17, 19, amp_px=3.0, seed=3)
    out = propagate_labels(labels, off, mode="nearest", chunk=2)
    ref = warp(labels.float()[None, None], off[None], mode="nearest")[0, :, 0]
    assert out.dtype == torch.int64 and out.shape == (5, 17, 19)
    assert torch.equal(out, ref.long())
    assert set(out.unique().tolist()) <= {0, 3, 7}
    shifted = propagate_labels(labels, shifts((17, 19), (2.0, 0.0)), mode="nearest")[0]
    assert torch.equal(shifted[:, :17], labels[:, 2:]) and torch.all(shifted[:, 17:] == 0)


def test_bilinear_binary_mask_is_the_thresholded_warp() -> None:
    mask = _random_labels(17, 17, [0, 1], seed=4)
    off = torch.cat([smooth_field(4, 17, 17, amp_px=4.0, seed=5), shifts((17, 17), (0.5, 0.0), (0.5, 0.5))])
    out = propagate_labels(mask, off, mode="bilinear", chunk=3)
    w = warp(mask.float()[None, None], off[None])[0, :, 0]
    decided = w != 0.5
    assert torch.equal(out[decided], (w[decided] > 0.5).long())
    assert (w == 0.5).any() and torch.all(out[w == 0.5] == 0)  # exact ties go to the background
    assert (w > 0).any() and (w < 1).any() and ((w > 0) & (w < 1)).any()


def test_bilinear_noncontiguous_labels_make_no_new_labels() -> None:
    labels = torch.zeros(17, 17, dtype=torch.int64)
    labels[4:, :8] = 3
    labels[4:, 8:] = 7
    off = shifts((17, 17), (0.5, 0.0), (0.0, -0.5), (1.5, 0.25))
    out = propagate_labels(labels, off, mode="bilinear")
    assert set(out.unique().tolist()) == {0, 3, 7}
    # Frame 0, column 7 samples x = 7.5: half 3, half 7. Warping the label values would give 5;
    # the one-hot warp keeps a real label and breaks the tie towards the lower id.
    naive = warp(labels.float()[None, None], off[None])[0, 0, 0]
    assert naive[10, 7].item() == 5.0
    assert torch.all(out[0, 4:, 7] == 3) and torch.all(out[0, 4:, 8] == 7)
    # Frame 1, row 4 samples y = 3.5: half background, half object -> background (tie, lower id).
    assert torch.all(out[1, 4] == 0) and torch.all(out[1, 5:, :8] == 3)
    # Chunking changes nothing.
    assert torch.equal(propagate_labels(labels, off, chunk=1), out)


def test_bilinear_padding_counts_as_background() -> None:
    labels = torch.full((9, 9), 7, dtype=torch.int64)
    out = propagate_labels(labels, shifts((9, 9), (0.25, 0.0), (0.75, 0.0)))
    assert torch.all(out[0] == 7)          # column 8 samples x = 8.25: 3/4 object, 1/4 padding
    assert torch.all(out[1, :, 8] == 0) and torch.all(out[1, :, :8] == 7)


def test_propagate_labels_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="integer"):
        propagate_labels(torch.zeros(4, 4), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="mode"):
        propagate_labels(torch.zeros(4, 4, dtype=torch.int64), torch.zeros(1, 2, 4, 4), mode="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[0, 2\*\*24\)"):
        propagate_labels(torch.full((4, 4), -1), torch.zeros(1, 2, 4, 4))


# -- palette and visualisation ---------------------------------------------------------------------

def test_davis_palette_known_entries() -> None:
    pal = davis_palette()
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    known = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128),
             5: (128, 0, 128), 7: (128, 128, 128), 8: (64, 0, 0), 255: (224, 224, 192)}
    for index, colour in known.items():
        assert tuple(pal[index].tolist()) == colour, index
    assert len({tuple(row) for row in pal.tolist()}) == 256


def test_label_colors() -> None:
    out = label_colors(torch.tensor([[0, 1], [2, 255]]))
    assert out.dtype == torch.uint8 and out.tolist() == [[[0, 0, 0], [128, 0, 0]], [[0, 128, 0], [224, 224, 192]]]
    with pytest.raises(ValueError):
        label_colors(torch.tensor([256]))


def test_blend_labels_values() -> None:
    frames = np.full((2, 6, 6, 3), 100, dtype=np.uint8)
    labels = torch.zeros(2, 6, 6, dtype=torch.int64)
    labels[0, 1:5, 1:5] = 1
    out = blend_labels(frames, labels, alpha=0.5)
    assert out.dtype == torch.uint8 and out.shape == (2, 6, 6, 3)
    assert torch.all(out[1] == 100)                                    # no objects: untouched
    assert torch.all(out[0, 0] == 100) and torch.all(out[0, :, 5] == 100)
    assert out[0, 2, 2].tolist() == [114, 50, 50]                      # (100 + 128) / 2, 100 / 2, 100 / 2
    assert out[0, 1, 3].tolist() == [64, 0, 0]                         # outline: half the palette colour
    plain = blend_labels(frames, labels, alpha=0.5, boundary=False)
    assert plain[0, 1, 3].tolist() == [114, 50, 50]
