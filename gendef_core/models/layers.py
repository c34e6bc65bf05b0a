"""StyleGAN2 building blocks: equalized-lr linear layer, modulated convolution, synthesis and ToRGB layers.

Equalized learning rate (Karras et al. 2018) throughout: every weight is *stored* ~N(0, 1) (divided by
`lr_mult` where one is given) and multiplied by ``lr_mult / sqrt(fan_in)`` at run time, so Adam's
per-parameter step is the same relative size for every layer whatever its fan-in.

Unlike StyleGAN2 there is no per-pixel noise input (StyleGAN-V and GenDeF turn it off), no fp16
pre-normalisation and no conv clamping: this code targets fp32 on CPU.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gendef_core.models.mtm import deform_conv2d, split_offsets_mask

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # keeps the activations' second moment roughly constant through lrelu(0.2)
DEMOD_EPS = 1e-8

# Measured on the 2-core CPU (torch 2.13, batch 16, forward + backward, min of 16 runs): the non-fused
# form (scale x, one shared conv, scale the output) takes 11.7 ms vs 21.3 fused at 128->128 ch 16 px,
# 46.9 vs 54.6 at 128->128 32 px, 25.5 vs 28.7 at 128->64 32 px, 115.9 vs 117.2 at 128->64 64 px; only
# 64->64 at 64 px favours fused (64.6 vs 57.0). A whole 64 px synthesis network (128 ch to 32 px, 64 at
# 64) runs 401 ms non-fused vs 473 fused, so the networks use the non-fused form; `modulated_conv2d(...,
# fused=True)` keeps the other (tested equal) for GPUs.


def lrelu_agc(x: Tensor) -> Tensor:
    """StyleGAN's activation: ``leaky_relu(x, 0.2) * sqrt(2)`` (the gain keeps the second moment ~1)."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


class EqualLinear(nn.Module):
    """StyleGAN equalized-learning-rate linear layer.

    The stored weight is ``randn(out, in) / lr_mult`` and is multiplied by ``lr_mult / sqrt(in)`` at
    run time, so the effective weight has std ``1 / sqrt(in)`` at init while gradient steps on the
    stored weight move the effective weight ``lr_mult`` times slower (the mapping network's 0.01).
    The bias is stored as ``bias_init / lr_mult`` and multiplied by ``lr_mult``, so its effective
    initial value is exactly `bias_init` (StyleGAN2 multiplies `bias_init` by `lr_mult`; all our
    uses with `bias_init` != 0 have ``lr_mult == 1``, where the two agree).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float = 0.0,
                 lr_mult: float = 1.0, activation: Literal["linear", "lrelu"] = "linear") -> None:
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        if lr_mult <= 0:
            raise ValueError(f"lr_mult must be positive, got {lr_mult}")
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.lr_mult = lr_mult
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mult)  # [out, in]
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mult)) if bias else None
        self.weight_gain = lr_mult / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        """``[..., in]`` -> ``[..., out]``; lrelu(0.2) * sqrt(2) after the bias when ``activation="lrelu"``."""
        bias = None if self.bias is None else self.bias * self.lr_mult
        out = F.linear(x, self.weight * self.weight_gain, bias)
        return lrelu_agc(out) if self.activation == "lrelu" else out

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"lr_mult={self.lr_mult}, activation={self.activation}")


def modulate_weight(weight: Tensor, styles: Tensor, *, demodulate: bool = True) -> Tensor:
    """Per-sample modulated (and optionally demodulated) weights.

    weight ``[O, I, k, k]``, styles ``[N, I]`` -> ``[N, O, I, k, k]`` with
    ``w'[n, o, i] = weight[o, i] * styles[n, i]``, then, when demodulating, each ``w'[n, o]`` divided
    by ``sqrt(sum(w'[n, o]^2) + 1e-8)`` so it has unit L2 norm (StyleGAN2 eq. 3).
    """
    w = weight.unsqueeze(0) * styles[:, None, :, None, None]  # [N, O, I, k, k]
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + DEMOD_EPS).rsqrt()
    return w


def _demod_coefs(weight: Tensor, styles: Tensor) -> Tensor:
    """``[N, O]`` demodulation factors without materialising the ``[N, O, I, k, k]`` weights.

    ``sum_{i,kk} (w[o,i,kk] s[n,i])^2 = (s^2 @ sum_kk w^2 .T)[n, o]``: an [N, I] x [I, O] matmul.
    """
    return (styles.square() @ weight.square().sum(dim=(2, 3)).t() + DEMOD_EPS).rsqrt()


def _modconv_fused(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool, padding: int) -> Tensor:
    """One grouped conv with the batch folded into groups (StyleGAN2's ``fused_modconv=True``)."""
    n, i, h, w_ = x.shape
    o, _, kh, kw = weight.shape
    wts = modulate_weight(weight, styles, demodulate=demodulate).reshape(n * o, i, kh, kw)
    out = F.conv2d(x.reshape(1, n * i, h, w_), wts, padding=padding, groups=n)  # [1, N*O, H', W']
    return out.reshape(n, o, *out.shape[2:])


def _modconv_nonfused(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool, padding: int) -> Tensor:
    """Scale the input channels, run one shared conv, scale the output channels (``fused_modconv=False``)."""
    out = F.conv2d(x * styles[:, :, None, None], weight, padding=padding)  # [N, O, H', W']
    if demodulate:
        out = out * _demod_coefs(weight, styles)[:, :, None, None]
    return out


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, *, demodulate: bool = True,
                     padding: int | None = None, fused: bool = False) -> Tensor:
    """StyleGAN2 modulated convolution (stride 1): the weight is scaled per sample by `styles`.

    x ``[N, I, H, W]``, weight ``[O, I, k, k]`` (already multiplied by its equalized-lr gain),
    styles ``[N, I]`` -> ``[N, O, H', W']`` with ``H' = H + 2 * padding - k + 1`` (``H`` for the default
    ``padding = k // 2`` and odd k). With `demodulate` each sample's output filters are rescaled to unit
    L2 norm (eps 1e-8), see `modulate_weight`. `fused`: one grouped conv with per-sample weights instead
    of scaling the input and output of one shared conv; both compute the same thing.
    """
    n, i = x.shape[:2]
    if x.ndim != 4 or weight.ndim != 4 or weight.shape[1] != i or styles.shape != (n, i):
        raise ValueError(f"modulated_conv2d: x {tuple(x.shape)}, weight {tuple(weight.shape)} and styles "
                         f"{tuple(styles.shape)} do not fit [N,I,H,W], [O,I,k,k], [N,I]")
    pad = weight.shape[-1] // 2 if padding is None else padding
    impl = _modconv_fused if fused else _modconv_nonfused
    return impl(x, weight, styles, demodulate, pad)


def _check_kernel(kernel_size: int) -> None:
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive (same-size padding), got {kernel_size}")


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv + bias + lrelu(0.2)*sqrt(2) (no noise input, as in StyleGAN-V), optionally 2x up and MTM.

    Conditioning features (`cond_channels` > 0; GenDeF's canonical features) are concatenated to the
    input before everything else, so the style affine and the conv weight both span
    ``in_total = in_channels + cond_channels`` channels, as upstream's ``canonical_cond=concat``.

    ``up=True`` upsamples the (concatenated) input 2x bilinearly (``align_corners=False``) and then
    runs the stride-1 conv. That is simpler than StyleGAN2's transposed conv with a [1,3,3,1] FIR
    filter and, since that filter *is* bilinear 2x interpolation, differs only in boundary handling
    and in the kernel being applied after rather than folded into the upsampling.

    ``mtm=True`` (only with ``up=False``) makes the conv a modulated transformation module (MTM,
    Yang et al. 2023): a second modulated conv predicts per-pixel tap offsets and a mask from the same
    input, and the main conv samples its taps there (`deform_conv2d`). The offset head's output is
    ``raw * dcn_scale + dcn_bias`` with both zero-initialised, so at init offsets are 0, the mask is
    ``2 * sigmoid(0) = 1`` and the layer equals the plain modulated conv exactly.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, kernel_size: int = 3, up: bool = False,
                 cond_channels: int = 0, mtm: bool = False) -> None:
        super().__init__()
        _check_kernel(kernel_size)
        if mtm and up:
            raise ValueError("MTM (deformable conv) is not supported on upsampling layers (up=True), as upstream")
        if cond_channels < 0:
            raise ValueError(f"cond_channels must be >= 0, got {cond_channels}")
        in_total = in_channels + cond_channels
        self.in_channels, self.out_channels, self.cond_channels = in_channels, out_channels, cond_channels
        self.kernel_size, self.up, self.mtm = kernel_size, up, mtm
        self.padding = kernel_size // 2
        self.affine = EqualLinear(w_dim, in_total, bias_init=1.0)  # styles start at 1: the identity modulation
        self.weight = nn.Parameter(torch.randn(out_channels, in_total, kernel_size, kernel_size))  # [O, I, k, k]
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_total * kernel_size**2)
        if mtm:
            kk = kernel_size**2
            self.dcn_affine = EqualLinear(w_dim, in_total, bias_init=1.0)
            self.dcn_weight = nn.Parameter(torch.randn(3 * kk, in_total, kernel_size, kernel_size))  # [3kk, I, k, k]
            self.dcn_scale = nn.Parameter(torch.zeros(3 * kk))  # zero: offsets 0 and mask 1 at init
            self.dcn_bias = nn.Parameter(torch.zeros(3 * kk))

    def forward(self, x: Tensor, w: Tensor, cond: Tensor | None = None, *, cond_repeat: int = 1) -> Tensor:
        """x ``[N, in, H, W]``, w ``[N, w_dim]``, cond ``[N / cond_repeat, cond_ch, H, W]`` -> ``[N, out, H', W']``.

        `cond` must already have x's spatial size (the caller resizes it). ``H' = 2H`` when `up`, else H.
        With ``cond_repeat = t > 1``, cond row b serves samples ``b*t .. b*t + t - 1``, which must share
        their w (GenDeF: the frames of one video share f_c and w_d). The conv over the cond channels is
        then computed once per row instead of once per sample; the result is the same as repeating cond
        (up to float round-off: the sum over input channels is split in two).
        """
        n = x.shape[0]
        if self.cond_channels:
            if (cond is None or cond_repeat < 1 or n % cond_repeat
                    or cond.shape != (n // cond_repeat, self.cond_channels, *x.shape[2:])):
                got = None if cond is None else tuple(cond.shape)
                raise ValueError(f"SynthesisLayer expects cond [N / {cond_repeat}, {self.cond_channels}, H, W] at x's "
                                 f"size {tuple(x.shape[2:])} for N = {n}, got {got}")
            if cond_repeat > 1 and not self.mtm:
                return self._forward_shared_cond(x, w, cond, cond_repeat)
            x = torch.cat([x, cond.repeat_interleave(cond_repeat, dim=0) if cond_repeat > 1 else cond], dim=1)
        elif cond is not None:
            raise ValueError("SynthesisLayer was built with cond_channels=0 but got a cond tensor")
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        styles = self.affine(w)  # [N, in_total]
        weight = self.weight * self.weight_gain
        if self.mtm:
            offsets, mask = self.offsets_and_mask(x, w)
            wts = modulate_weight(weight, styles, demodulate=True)  # [N, O, in_total, k, k]
            out = deform_conv2d(x, offsets, mask, wts, padding=self.padding)
        else:
            out = modulated_conv2d(x, weight, styles, demodulate=True, padding=self.padding)
        return lrelu_agc(out + self.bias[None, :, None, None])

    def _forward_shared_cond(self, x: Tensor, w: Tensor, cond: Tensor, t: int) -> Tensor:
        """The non-fused modulated conv split into the per-sample x channels and the per-group cond channels."""
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            cond = F.interpolate(cond, scale_factor=2.0, mode="bilinear", align_corners=False)
        styles = self.affine(w)  # [N, in_total]
        weight = self.weight * self.weight_gain
        i = self.in_channels
        w_x, w_c = weight[:, :i].contiguous(), weight[:, i:].contiguous()  # a strided weight takes a slow conv path
        out = F.conv2d(x * styles[:, :i, None, None], w_x, padding=self.padding)            # [N, O, H, W]
        shared = F.conv2d(cond * styles[::t, i:, None, None], w_c, padding=self.padding)  # [N/t, O, H, W]
        out = (out.unflatten(0, (-1, t)) + shared.unsqueeze(1)).flatten(0, 1)
        out = out * _demod_coefs(weight, styles)[:, :, None, None]
        return lrelu_agc(out + self.bias[None, :, None, None])

    def offsets_and_mask(self, x: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        """MTM offset head: x ``[N, in_total, H, W]`` (after concat) -> offsets ``[N, 2kk, H, W]`` (dy, dx
        per tap, pixels; see `deform_conv2d`) and mask ``[N, kk, H, W]`` in (0, 2)."""
        if not self.mtm:
            raise RuntimeError("offsets_and_mask needs a layer built with mtm=True")
        dcn_styles = self.dcn_affine(w)  # [N, in_total]
        dcn_weight = self.dcn_weight * self.weight_gain
        raw = modulated_conv2d(x, dcn_weight, dcn_styles, demodulate=True, padding=self.padding)  # [N, 3kk, H, W]
        raw = raw * self.dcn_scale[None, :, None, None] + self.dcn_bias[None, :, None, None]
        return split_offsets_mask(raw, self.kernel_size)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"cond_channels={self.cond_channels}, kernel_size={self.kernel_size}, up={self.up}, mtm={self.mtm}")


class ToRGB(nn.Module):
    """Modulated conv WITHOUT demodulation + bias, linear output (StyleGAN2 ToRGB; "ToOut" in GenDeF).

    `init` picks the stored weight's initialisation (the equalized-lr gain ``1/sqrt(in * k * k)`` is
    applied at run time in every case, as upstream does):

    * ``"default"``: StyleGAN, randn weight.
    * ``"zero"``: weight *and* bias zero, so the output is exactly 0 at init while the weight's
      gradient is not (GenDeF's zero-initialised deformation head).
    * ``"xavier"``: xavier-normal weight (upstream GenDeF uses xavier-uniform; same variance).

    The bias is zero in every case.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, kernel_size: int = 1,
                 init: Literal["default", "zero", "xavier"] = "default") -> None:
        super().__init__()
        _check_kernel(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size, self.init = in_channels, out_channels, kernel_size, init
        self.padding = kernel_size // 2
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        weight = torch.empty(out_channels, in_channels, kernel_size, kernel_size)  # [O, I, k, k]
        match init:
            case "default":
                nn.init.normal_(weight)
            case "zero":
                nn.init.zeros_(weight)
            case "xavier":
                nn.init.xavier_normal_(weight)
            case _:
                raise ValueError(f"init must be 'default', 'zero' or 'xavier', got {init!r}")
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """x ``[N, in, H, W]``, w ``[N, w_dim]`` -> ``[N, out, H, W]`` (no activation)."""
        styles = self.affine(w)  # [N, in]
        out = modulated_conv2d(x, self.weight * self.weight_gain, styles, demodulate=False, padding=self.padding)
        return out + self.bias[None, :, None, None]

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, "
                f"init={self.init}")
