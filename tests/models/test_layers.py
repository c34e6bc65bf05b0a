"""EqualLinear, modulated convolution, SynthesisLayer and ToRGB against hand-written references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gendef_core.models import layers
from gendef_core.models.layers import EqualLinear, SynthesisLayer, ToRGB, modulate_weight, modulated_conv2d


def test_equal_linear_stores_unit_weights_and_scales_at_runtime() -> None:
    torch.manual_seed(0)
    lin = EqualLinear(512, 256)
    assert lin.weight.std().item() == pytest.approx(1.0, abs=0.02)
    x = torch.randn(4096, 512)
    y = lin(x)
    torch.testing.assert_close(y, x @ (lin.weight / math.sqrt(512)).t())
    # Effective weight std 1/sqrt(in) keeps a unit-variance input at unit variance.
    assert y.std().item() == pytest.approx(1.0, abs=0.03)


def test_equal_linear_lr_mult_bias_init_and_lrelu() -> None:
    torch.manual_seed(0)
    lin = EqualLinear(64, 32, lr_mult=0.01, bias_init=0.5, activation="lrelu")
    assert lin.weight.std().item() == pytest.approx(100.0, rel=0.05)  # stored / lr_mult ...
    x = torch.randn(8, 64)
    eff_w, eff_b = lin.weight * 0.01 / 8.0, lin.bias * 0.01
    torch.testing.assert_close(eff_b, torch.full((32,), 0.5))  # ... but the effective bias is bias_init
    torch.testing.assert_close(lin(x), F.leaky_relu(x @ eff_w.t() + eff_b, 0.2) * math.sqrt(2))
    # The gradient on the stored weight is lr_mult / sqrt(in) times the effective weight's gradient.
    lin(x).sum().backward()
    w_eff = eff_w.detach().requires_grad_()
    (F.leaky_relu(x @ w_eff.t() + eff_b.detach(), 0.2) * math.sqrt(2)).sum().backward()
    torch.testing.assert_close(lin.weight.grad, w_eff.grad * 0.01 / 8.0)


def test_equal_linear_without_bias_and_leading_dims() -> None:
    lin = EqualLinear(6, 3, bias=False)
    assert lin.bias is None
    x = torch.randn(2, 5, 6)
    assert lin(x).shape == (2, 5, 3)
    with pytest.raises(ValueError, match="activation"):
        EqualLinear(6, 3, activation="relu")  # type: ignore[arg-type]


def test_modconv_unit_styles_without_demod_is_plain_conv() -> None:
    torch.manual_seed(0)
    x, w = torch.randn(3, 5, 9, 7), torch.randn(4, 5, 3, 3) / math.sqrt(45)
    out = modulated_conv2d(x, w, torch.ones(3, 5), demodulate=False)
    torch.testing.assert_close(out, F.conv2d(x, w, padding=1))


def test_modconv_styles_scale_input_channels() -> None:
    torch.manual_seed(0)
    x, w, s = torch.randn(2, 5, 8, 8), torch.randn(4, 5, 3, 3), torch.randn(2, 5)
    out = modulated_conv2d(x, w, s, demodulate=False, padding=0)
    ref = torch.cat([F.conv2d(x[n : n + 1] * s[n, :, None, None], w) for n in range(2)])
    torch.testing.assert_close(out, ref)
    assert out.shape == (2, 4, 6, 6)


def test_demodulation_gives_unit_norm_filters() -> None:
    torch.manual_seed(0)
    w, s = torch.randn(6, 5, 3, 3), torch.randn(4, 5) * 3
    wts = modulate_weight(w, s, demodulate=True)  # [N, O, I, k, k]
    torch.testing.assert_close(wts.square().sum(dim=(2, 3, 4)), torch.ones(4, 6))
    # The conv output equals a per-sample conv with those unit-norm weights and ignores the style scale.
    x = torch.randn(4, 5, 6, 6)
    out = modulated_conv2d(x, w, s, demodulate=True)
    ref = torch.cat([F.conv2d(x[n : n + 1], wts[n], padding=1) for n in range(4)])
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(modulated_conv2d(x, w, s * 7.0, demodulate=True), out)


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("padding", [0, 1])
def test_fused_and_non_fused_agree(demodulate: bool, padding: int) -> None:
    torch.manual_seed(0)
    x, w, s = torch.randn(3, 6, 7, 8), torch.randn(5, 6, 3, 3), torch.randn(3, 6)
    fused = layers._modconv_fused(x, w, s, demodulate, padding)
    non_fused = layers._modconv_nonfused(x, w, s, demodulate, padding)
    torch.testing.assert_close(fused, non_fused, rtol=1e-5, atol=1e-5)


def test_public_modconv_runs_either_form() -> None:
    torch.manual_seed(0)
    x, w, s = torch.randn(2, 4, 6, 6), torch.randn(3, 4, 3, 3), torch.randn(2, 4)
    default = modulated_conv2d(x, w, s)
    fused = modulated_conv2d(x, w, s, fused=True)
    torch.testing.assert_close(fused, default, rtol=1e-5, atol=1e-5)


def test_modconv_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        modulated_conv2d(torch.randn(2, 5, 4, 4), torch.randn(3, 4, 3, 3), torch.randn(2, 4))


def test_synthesis_layer_matches_manual_computation() -> None:
    torch.manual_seed(0)
    layer = SynthesisLayer(4, 6, 8)
    with torch.no_grad():
        layer.bias.normal_()
    x, w = torch.randn(2, 4, 5, 5), torch.randn(2, 8)
    styles = layer.affine(w)
    torch.testing.assert_close(layer.affine.bias, torch.ones(4))  # bias_init 1: identity modulation at w = 0
    wts = modulate_weight(layer.weight / math.sqrt(4 * 9), styles)
    conv = torch.cat([F.conv2d(x[n : n + 1], wts[n], padding=1) for n in range(2)])
    ref = F.leaky_relu(conv + layer.bias[None, :, None, None], 0.2) * math.sqrt(2)
    torch.testing.assert_close(layer(x, w), ref, rtol=1e-5, atol=1e-5)


def test_synthesis_layer_up_and_cond() -> None:
    torch.manual_seed(0)
    layer = SynthesisLayer(4, 6, 8, up=True, cond_channels=3)
    assert layer.weight.shape == (6, 7, 3, 3) and layer.affine.out_features == 7
    x, w, cond = torch.randn(2, 4, 5, 5), torch.randn(2, 8), torch.randn(2, 3, 5, 5)
    out = layer(x, w, cond)
    assert out.shape == (2, 6, 10, 10)
    # cond is concatenated before the upsampling, exactly like extra input channels.
    plain = SynthesisLayer(7, 6, 8, up=True)
    plain.load_state_dict(layer.state_dict())
    torch.testing.assert_close(out, plain(torch.cat([x, cond], 1), w))
    assert not torch.allclose(out, layer(x, w, cond + 1.0))
    with pytest.raises(ValueError, match="cond"):
        layer(x, w, cond[..., :4, :4])
    with pytest.raises(ValueError, match="cond"):
        layer(x, w)
    with pytest.raises(ValueError, match="up=True"):
        SynthesisLayer(4, 6, 8, up=True, mtm=True)


def test_torgb_is_modconv_without_demod() -> None:
    torch.manual_seed(0)
    rgb = ToRGB(5, 3, 8)
    with torch.no_grad():
        rgb.bias.normal_()
    x, w = torch.randn(2, 5, 4, 4), torch.randn(2, 8)
    s = rgb.affine(w)
    ref = torch.einsum("oi,ni,nihw->nohw", rgb.weight[:, :, 0, 0] / math.sqrt(5), s, x) + rgb.bias[None, :, None, None]
    torch.testing.assert_close(rgb(x, w), ref, rtol=1e-5, atol=1e-5)


def test_torgb_zero_init_is_exactly_zero_but_trainable() -> None:
    torch.manual_seed(0)
    rgb = ToRGB(5, 4, 8, init="zero", kernel_size=3)
    x, w = torch.randn(2, 5, 6, 6), torch.randn(2, 8)
    out = rgb(x, w)
    assert torch.equal(out, torch.zeros(2, 4, 6, 6))
    (out * torch.randn_like(out)).sum().backward()
    assert rgb.weight.grad is not None and rgb.weight.grad.abs().sum() > 0
    assert rgb.bias.grad is not None and rgb.bias.grad.abs().sum() > 0


def test_torgb_init_variants() -> None:
    torch.manual_seed(0)
    default = ToRGB(256, 64, 8)
    xavier = ToRGB(256, 64, 8, init="xavier")
    assert default.weight.std().item() == pytest.approx(1.0, abs=0.02)
    assert xavier.weight.std().item() == pytest.approx(math.sqrt(2 / (256 + 64)), rel=0.05)
    assert torch.equal(xavier.bias, torch.zeros(64))
    with pytest.raises(ValueError, match="init"):
        ToRGB(4, 3, 8, init="random")  # type: ignore[arg-type]


@pytest.mark.parametrize("up", [False, True])
def test_shared_cond_equals_repeating_it_per_sample(up: bool) -> None:
    """cond_repeat=t computes the cond channels' conv once per group; same values and gradients as repeating."""
    torch.manual_seed(0)
    layer = SynthesisLayer(6, 5, 8, up=up, cond_channels=3)
    b, t = 2, 4
    x = torch.randn(b * t, 6, 8, 8, requires_grad=True)
    w = torch.randn(b, 8).repeat_interleave(t, dim=0)          # the samples of a group share w
    cond = torch.randn(b, 3, 8, 8, requires_grad=True)
    shared = layer(x, w, cond, cond_repeat=t)
    repeated = layer(x, w, cond.repeat_interleave(t, dim=0))
    torch.testing.assert_close(shared, repeated, atol=1e-5, rtol=1e-5)
    g1 = torch.autograd.grad(shared.square().sum(), [x, cond, layer.weight])
    g2 = torch.autograd.grad(repeated.square().sum(), [x, cond, layer.weight])
    for a, c in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, c, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="expects cond"):
        layer(x, w, cond, cond_repeat=3)                        # 8 samples are not groups of 3
