"""Modulated deformable convolution in plain PyTorch, the sampling core of MTM.

MTM ("Learning Modulated Transformation in GANs", Yang et al. 2023) lets a latent-controlled head
move each tap of a conv kernel per pixel and scale it by a mask (DCNv2). Upstream runs it through
``torchvision.ops.deform_conv2d``; torchvision is not available here, so `deform_conv2d` samples the
k*k shifted taps bilinearly with one `F.grid_sample` call and contracts them with the weights in one
(batched) matmul. Autograd supplies every gradient (x, offsets, mask, weight).

The layer that owns the offset head is `gendef_core.models.layers.SynthesisLayer` (``mtm=True``);
this module holds only the functional parts, so it imports nothing from the layers.

OFFSET CONVENTION (the same as torchvision's, one offset group)
----------------------------------------------------------------
``offsets`` is ``[N, 2*k*k, H_out, W_out]`` laid out as ``[N, k*k, 2, H_out, W_out]``: for tap
``t = a * k + b`` (kernel row a, column b, row-major like the weight's last two dims) channel ``2t``
is dy (down) and ``2t + 1`` is dx (right), both in input pixels. Output pixel (p, q) reads tap t at
``(p - padding + a + dy, q - padding + b + dx)``, bilinearly, with zeros outside the image (so zero
offsets and padding reproduce a zero-padded `F.conv2d`). ``mask`` ``[N, k*k, H_out, W_out]``
multiplies tap t's sample.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _tap_positions(k: int, out_size: int, padding: int, *, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``[k, out_size]``: input coordinate of kernel row/column a at output index p, ``p - padding + a``."""
    return (torch.arange(out_size, device=device, dtype=dtype)[None, :] - padding
            + torch.arange(k, device=device, dtype=dtype)[:, None])


def deform_conv2d(x: Tensor, offsets: Tensor, mask: Tensor, weight: Tensor, *, padding: int) -> Tensor:
    """Modulated deformable convolution (DCNv2), stride 1, dilation 1, one offset group, no bias.

    x ``[N, I, H, W]``; offsets ``[N, 2*k*k, H_out, W_out]`` as (dy, dx) per tap in pixels (see the
    module docstring for the order); mask ``[N, k*k, H_out, W_out]``; weight ``[O, I, k, k]`` shared
    or ``[N, O, I, k, k]`` per sample -> ``[N, O, H_out, W_out]`` with ``H_out = H + 2 * padding - k + 1``
    (``H`` for odd k and ``padding = k // 2``).

    Memory: the sampled taps are an ``[N, I * k * k, H_out * W_out]`` tensor, as in an im2col conv.
    """
    n, i, h, w = x.shape
    k = weight.shape[-1]
    if weight.ndim == 4:
        o, wi, kh, _ = weight.shape
    elif weight.ndim == 5 and weight.shape[0] == n:
        _, o, wi, kh, _ = weight.shape
    else:
        raise ValueError(f"weight must be [O, I, k, k] or [{n}, O, I, k, k], got {tuple(weight.shape)}")
    if wi != i or kh != k:
        raise ValueError(f"weight {tuple(weight.shape)} does not fit x {tuple(x.shape)} (square kernel, I={i})")
    kk = k * k
    ho, wo = h + 2 * padding - k + 1, w + 2 * padding - k + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"kernel {k} with padding {padding} leaves no output for a {h}x{w} input")
    if offsets.shape != (n, 2 * kk, ho, wo):
        raise ValueError(f"offsets must be [{n}, {2 * kk}, {ho}, {wo}], got {tuple(offsets.shape)}")
    if mask.shape != (n, kk, ho, wo):
        raise ValueError(f"mask must be [{n}, {kk}, {ho}, {wo}], got {tuple(mask.shape)}")

    off = offsets.reshape(n, k, k, 2, ho, wo)  # [N, a, b, (dy, dx), Ho, Wo]
    rows = _tap_positions(k, ho, padding, device=x.device, dtype=offsets.dtype)  # [k, Ho]
    cols = _tap_positions(k, wo, padding, device=x.device, dtype=offsets.dtype)  # [k, Wo]
    py = rows[None, :, None, :, None] + off[:, :, :, 0]  # [N, k, k, Ho, Wo]
    px = cols[None, None, :, None, :] + off[:, :, :, 1]  # [N, k, k, Ho, Wo]
    # grid_sample with align_corners=False: pixel p sits at (2p + 1) / size - 1. This works for size-1
    # images too, and zero padding there matches the conv's zero padding.
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1)  # [N, k, k, Ho, Wo, 2]
    taps = F.grid_sample(x, grid.reshape(n, kk * ho, wo, 2).to(x.dtype), mode="bilinear",
                         padding_mode="zeros", align_corners=False)  # [N, I, kk*Ho, Wo]
    taps = taps.reshape(n, i, kk, ho * wo) * mask.reshape(n, 1, kk, ho * wo)
    taps = taps.reshape(n, i * kk, ho * wo)  # (I, a, b) order matches weight.reshape(O, I*k*k)
    if weight.ndim == 4:
        out = torch.matmul(weight.reshape(o, i * kk), taps)  # [N, O, Ho*Wo]
    else:
        out = torch.bmm(weight.reshape(n, o, i * kk), taps)
    return out.reshape(n, o, ho, wo)


def split_offsets_mask(raw: Tensor, kernel_size: int) -> tuple[Tensor, Tensor]:
    """MTM head output ``[N, 3*k*k, H, W]`` -> (offsets ``[N, 2*k*k, H, W]``, mask ``[N, k*k, H, W]``).

    The first 2*k*k channels are the offsets as they are (pixels, `deform_conv2d`'s order); the last
    k*k become the mask ``2 * sigmoid(raw)``, in (0, 2) and exactly 1 at ``raw = 0``.
    """
    kk = kernel_size**2
    if raw.ndim != 4 or raw.shape[1] != 3 * kk:
        raise ValueError(f"MTM head output must be [N, {3 * kk}, H, W], got {tuple(raw.shape)}")
    return raw[:, : 2 * kk], 2.0 * torch.sigmoid(raw[:, 2 * kk :])
