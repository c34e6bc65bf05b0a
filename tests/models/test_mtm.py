"""The plain-PyTorch deformable conv against F.conv2d, and MTM inside SynthesisLayer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gendef_core.models.layers import SynthesisLayer
from gendef_core.models.mtm import deform_conv2d, split_offsets_mask


def _zeros_ones(n: int, k: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(n, 2 * k * k, h, w), torch.ones(n, k * k, h, w)


@pytest.mark.parametrize(("k", "padding"), [(3, 1), (1, 0), (3, 0), (5, 2)])
def test_zero_offsets_unit_mask_is_conv_shared_weight(k: int, padding: int) -> None:
    torch.manual_seed(0)
    x, w = torch.randn(2, 4, 7, 9), torch.randn(5, 4, k, k)
    ref = F.conv2d(x, w, padding=padding)
    off, mask = _zeros_ones(2, k, *ref.shape[2:])
    torch.testing.assert_close(deform_conv2d(x, off, mask, w, padding=padding), ref, rtol=0, atol=1e-5)


def test_zero_offsets_unit_mask_is_conv_per_sample_weight() -> None:
    torch.manual_seed(0)
    x, w = torch.randn(3, 4, 6, 5), torch.randn(3, 5, 4, 3, 3)
    off, mask = _zeros_ones(3, 3, 6, 5)
    ref = torch.cat([F.conv2d(x[n : n + 1], w[n], padding=1) for n in range(3)])
    torch.testing.assert_close(deform_conv2d(x, off, mask, w, padding=1), ref, rtol=0, atol=1e-5)


def test_integer_offsets_shift_the_input() -> None:
    torch.manual_seed(0)
    x, w = torch.randn(2, 3, 8, 9), torch.randn(4, 3, 3, 3)
    off, mask = _zeros_ones(2, 3, 8, 9)
    off[:, 1::2] = 1.0  # dx = +1 for every tap: each tap reads one pixel to the right
    shifted = torch.zeros_like(x)
    shifted[..., :-1] = x[..., 1:]
    out, ref = deform_conv2d(x, off, mask, w, padding=1), F.conv2d(shifted, w, padding=1)
    # The first column differs (its left taps read x[0] instead of padding); the rest is exact.
    torch.testing.assert_close(out[..., 1:], ref[..., 1:], rtol=0, atol=1e-5)
    assert not torch.allclose(out[..., 0], ref[..., 0])

    off.zero_()
    off[:, 0::2] = -2.0  # dy = -2: each tap reads two rows up
    shifted = torch.zeros_like(x)
    shifted[..., 2:, :] = x[..., :-2, :]
    out, ref = deform_conv2d(x, off, mask, w, padding=1), F.conv2d(shifted, w, padding=1)
    torch.testing.assert_close(out[..., :-2, :], ref[..., :-2, :], rtol=0, atol=1e-5)


def test_half_pixel_offset_is_bilinear_average_and_single_tap_offsets() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 6)
    w = torch.zeros(1, 2, 3, 3)
    w[0, :, 1, 1] = 1.0  # only the centre tap: output = sum over channels of the sampled pixel
    off, mask = _zeros_ones(1, 3, 6, 6)
    off[:, 2 * 4 + 1] = 0.5  # centre tap (t = 4), dx = +0.5
    out = deform_conv2d(x, off, mask, w, padding=1)
    xs = x.sum(1, keepdim=True)
    torch.testing.assert_close(out[..., :-1], 0.5 * (xs[..., :-1] + xs[..., 1:]), rtol=0, atol=1e-5)
    # Offsets of the other (zero-weight) taps change nothing.
    off[:, :8] = 3.7
    torch.testing.assert_close(deform_conv2d(x, off, mask, w, padding=1), out, rtol=0, atol=1e-6)


def test_mask_scales_each_tap() -> None:
    torch.manual_seed(0)
    x, w = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3)
    off, mask = _zeros_ones(2, 3, 5, 5)
    base = deform_conv2d(x, off, mask, w, padding=1)
    torch.testing.assert_close(deform_conv2d(x, off, mask * 0.5, w, padding=1), 0.5 * base)
    # Masking all taps but the centre one equals a conv with the centre weights only.
    centre_mask = torch.zeros_like(mask)
    centre_mask[:, 4] = 1.0
    centre_w = torch.zeros_like(w)
    centre_w[:, :, 1, 1] = w[:, :, 1, 1]
    torch.testing.assert_close(deform_conv2d(x, off, centre_mask, w, padding=1),
                               F.conv2d(x, centre_w, padding=1), rtol=0, atol=1e-5)


def test_gradcheck_all_inputs() -> None:
    torch.manual_seed(0)
    dt = torch.float64
    x = torch.randn(2, 2, 4, 5, dtype=dt, requires_grad=True)
    # Non-integer offsets keep every sample away from the bilinear kinks at integer positions.
    off = (torch.rand(2, 18, 4, 5, dtype=dt) * 0.8 + 0.1) * torch.randint(0, 2, (2, 18, 4, 5)).mul(2).sub(1)
    off.requires_grad_()
    mask = torch.rand(2, 9, 4, 5, dtype=dt, requires_grad=True)
    w_shared = torch.randn(3, 2, 3, 3, dtype=dt, requires_grad=True)
    w_per = torch.randn(2, 3, 2, 3, 3, dtype=dt, requires_grad=True)
    for w in (w_shared, w_per):
        assert torch.autograd.gradcheck(lambda a, b, c, d: deform_conv2d(a, b, c, d, padding=1),
                                        (x, off, mask, w), eps=1e-6, atol=1e-5)


def test_rejects_bad_shapes() -> None:
    x, w = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3)
    off, mask = _zeros_ones(2, 3, 5, 5)
    with pytest.raises(ValueError, match="offsets"):
        deform_conv2d(x, off[:, :9], mask, w, padding=1)
    with pytest.raises(ValueError, match="mask"):
        deform_conv2d(x, off, mask[..., :4], w, padding=1)
    with pytest.raises(ValueError, match="weight"):
        deform_conv2d(x, off, mask, torch.randn(3, 4, 3, 3, 3), padding=1)


def test_split_offsets_mask() -> None:
    raw = torch.zeros(2, 27, 4, 4)
    raw[:, :18] = torch.arange(18.0)[None, :, None, None]
    off, mask = split_offsets_mask(raw, 3)
    assert torch.equal(off, raw[:, :18])
    assert torch.equal(mask, torch.ones(2, 9, 4, 4))  # 2 * sigmoid(0) = 1 exactly
    with pytest.raises(ValueError, match="27"):
        split_offsets_mask(raw[:, :20], 3)


def _pair(cond_channels: int = 0) -> tuple[SynthesisLayer, SynthesisLayer]:
    torch.manual_seed(0)
    with_mtm = SynthesisLayer(4, 5, 8, mtm=True, cond_channels=cond_channels)
    plain = SynthesisLayer(4, 5, 8, cond_channels=cond_channels)
    plain.load_state_dict({k: v for k, v in with_mtm.state_dict().items() if not k.startswith("dcn_")})
    return with_mtm, plain


@pytest.mark.parametrize("cond_channels", [0, 2])
def test_mtm_layer_equals_plain_layer_at_init(cond_channels: int) -> None:
    with_mtm, plain = _pair(cond_channels)
    x, w = torch.randn(3, 4, 6, 6), torch.randn(3, 8)
    cond = torch.randn(3, cond_channels, 6, 6) if cond_channels else None
    offsets, mask = with_mtm.offsets_and_mask(torch.cat([x, cond], 1) if cond is not None else x, w)
    assert torch.equal(offsets, torch.zeros_like(offsets)) and torch.equal(mask, torch.ones_like(mask))
    torch.testing.assert_close(with_mtm(x, w, cond), plain(x, w, cond), rtol=0, atol=1e-5)


def test_mtm_layer_differs_after_perturbing_the_head_and_trains_it() -> None:
    with_mtm, plain = _pair()
    x, w = torch.randn(3, 4, 6, 6), torch.randn(3, 8)
    out = with_mtm(x, w)
    (out * torch.randn_like(out)).sum().backward()
    # At init only the zero-initialised scale and bias get gradients (the head's conv is multiplied by 0).
    assert with_mtm.dcn_scale.grad is not None and with_mtm.dcn_scale.grad.abs().sum() > 0
    assert with_mtm.dcn_bias.grad is not None and with_mtm.dcn_bias.grad.abs().sum() > 0
    with torch.no_grad():
        with_mtm.dcn_scale.fill_(0.5)
    diff_scale = (with_mtm(x, w) - plain(x, w)).abs().max().item()
    with torch.no_grad():
        with_mtm.dcn_scale.zero_()
        with_mtm.dcn_bias.normal_()
    diff_bias = (with_mtm(x, w) - plain(x, w)).abs().max().item()
    assert diff_scale > 1e-2 and diff_bias > 1e-2
