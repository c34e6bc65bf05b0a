"""The one warp of gendef, and the deformation convention it defines.

THE COORDINATE CONVENTION (also in FORMATS.md; this module is its only implementation)
---------------------------------------------------------------------------------------
* A deformation is a tensor of *offsets* shaped ``[..., 2, H, W]`` for frames of H x W pixels.
  Channel 0 is x (to the right), channel 1 is y (downward).
* Units are *normalised*: the canonical image spans [-1, 1] from the centre of its first
  pixel to the centre of its last (PyTorch's ``align_corners=True``). One canonical pixel is
  ``2 / (Wc - 1)`` in x and ``2 / (Hc - 1)`` in y.
* The canonical may be larger than the frame (clip v2: fitted videos whose content enters the
  view). The frame then sits on the canonical at an integer *origin* ``(ox, oy)``: the identity
  places frame pixel (j, i) on canonical pixel ``(j + ox, i + oy)``, one frame pixel per canonical
  pixel. With a canonical the frame's size the origin is (0, 0), the identity is normalised
  ``(-1 + 2j/(W-1), -1 + 2i/(H-1))``, zero offsets sample canonical pixel (j, i) itself, and ``warp``
  returns the canonical *bit for bit* (with an origin: the canonical's H x W window at the origin).
* In canonical pixels the backward map is ``m_t(j, i) = (j + ox, i + oy) + offsets_px[t, :, i, j]``.
* The warp is *backward*: ``frame[t, :, i, j] = canonical(identity[:, i, j] + offsets[t, :, i, j])``,
  sampled bilinearly. Outside the canonical the sample is 0 (``padding="zeros"``, the paper's
  choice; 0 is mid-grey for images in [-1, 1]) or the nearest edge pixel (``padding="border"``).

Why not the textbook ``F.grid_sample(..., align_corners=True)`` on ``identity + offsets``: for
no way of building that grid does it reproduce the canonical exactly at zero offsets (float
rounding in its un-normalisation leaks a little of the neighbouring pixel), and the upstream
GenDeF grid is off by up to a whole pixel. `sample` works from pixel positions instead, where
an offset of zero lands exactly on integer pixels (see its docstring for how).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

Padding = Literal["zeros", "border"]
Mode = Literal["bilinear", "nearest"]
Origin = tuple[int, int]
"""Where frame pixel (0, 0) sits on the canonical at zero offsets: integer canonical pixels (x, y)."""


def _check_size(h: int, w: int) -> None:
    if h < 2 or w < 2:
        raise ValueError(f"images must be at least 2x2 pixels for normalised coordinates, got {h}x{w}")


def pixel_scale(h: int, w: int, *, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> Tensor:
    """Pixels per normalised unit for an H x W image, shaped ``[2, 1, 1]`` as (x, y)."""
    _check_size(h, w)
    return torch.tensor([(w - 1) / 2.0, (h - 1) / 2.0], device=device, dtype=dtype).view(2, 1, 1)


def offsets_to_pixels(offsets: Tensor, canonical_size: tuple[int, int]) -> Tensor:
    """Normalised offsets ``[..., 2, H, W]`` -> canonical-pixel displacements (same shape)."""
    hc, wc = canonical_size
    return offsets * pixel_scale(hc, wc, device=offsets.device, dtype=offsets.dtype)


def pixels_to_offsets(displacement: Tensor, canonical_size: tuple[int, int]) -> Tensor:
    """Canonical-pixel displacements ``[..., 2, H, W]`` -> normalised offsets (same shape)."""
    hc, wc = canonical_size
    return displacement / pixel_scale(hc, wc, device=displacement.device, dtype=displacement.dtype)


def check_origin(frame_size: tuple[int, int], canonical_size: tuple[int, int], origin: Origin) -> None:
    """Raise ValueError unless the H x W frame at integer `origin` lies inside the canonical."""
    h, w = frame_size
    hc, wc = canonical_size
    ox, oy = origin
    if not (isinstance(ox, numbers.Integral) and isinstance(oy, numbers.Integral)) or isinstance(ox, bool):
        raise ValueError(f"the origin must be integer canonical pixels, got {origin!r}")
    if ox < 0 or oy < 0 or ox + w > wc or oy + h > hc:
        raise ValueError(f"a {h}x{w} frame at origin {origin} does not fit on a {hc}x{wc} canonical")


def identity_positions(frame_size: tuple[int, int], origin: Origin = (0, 0), *,
                       device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
                       ) -> tuple[Tensor, Tensor]:
    """The identity map in canonical pixels: x ``[W]`` = j + ox and y ``[H]`` = i + oy (exact integers)."""
    h, w = frame_size
    jx = torch.arange(w, device=device, dtype=dtype) + origin[0]
    iy = torch.arange(h, device=device, dtype=dtype) + origin[1]
    return jx, iy


def sample_positions(offsets: Tensor, canonical_size: tuple[int, int], origin: Origin = (0, 0)) -> Tensor:
    """Where each frame pixel samples the canonical, in canonical pixels: ``[..., 2, H, W]`` (x, y).

    This is the backward map ``m_t`` of the paper expressed in pixels (x right, y down):
    ``m_t(j, i) = (j + ox, i + oy) + offsets_px``.
    """
    h, w = offsets.shape[-2:]
    hc, wc = canonical_size
    _check_size(h, w)
    _check_size(hc, wc)
    check_origin((h, w), canonical_size, origin)
    jx, iy = identity_positions((h, w), origin, device=offsets.device, dtype=offsets.dtype)
    disp = offsets_to_pixels(offsets, canonical_size)
    return torch.stack([disp[..., 0, :, :] + jx.view(1, w), disp[..., 1, :, :] + iy.view(h, 1)], dim=-3)


def jacobian_determinant(maps: Tensor) -> Tensor:
    """``maps [..., 2, H, W]`` (canonical px) -> ``[..., H-1, W-1]`` determinant of the map's Jacobian.

    Forward differences over each pixel cell (from its top-left pixel); a value <= 0 means the map folds
    there (it is not locally invertible), 1 means it preserves area, below 1 that the frame magnifies the
    canonical. Used on `sample_positions` (generated warps, `fit`'s maps).
    """
    dx = maps[..., :, :-1, 1:] - maps[..., :, :-1, :-1]   # d m / d x  [..., 2, H-1, W-1]
    dy = maps[..., :, 1:, :-1] - maps[..., :, :-1, :-1]   # d m / d y
    return dx[..., 0, :, :] * dy[..., 1, :, :] - dx[..., 1, :, :] * dy[..., 0, :, :]


def warp_jacobian_determinant(offsets: Tensor) -> Tensor:
    """`jacobian_determinant` of the backward map of normalised ``offsets [..., 2, H, W]`` on a canonical the
    frame's size (generated clips): ``[..., H-1, W-1]``."""
    h, w = offsets.shape[-2:]
    return jacobian_determinant(sample_positions(offsets, (h, w)))


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def sample(image: Tensor, positions: Tensor, *, mode: Mode = "bilinear",
           padding: Padding = "zeros") -> Tensor:
    """Sample ``image [B, C, Hc, Wc]`` at pixel ``positions [B, N, 2, H, W]`` -> ``[B, N, C, H, W]``.

    Positions are (x, y) in canonical pixels. Bilinear sampling is differentiable in both
    arguments; ``mode="nearest"`` rounds to the nearest pixel (ties to even), for label maps.

    Implementation: ``F.grid_sample(align_corners=False)`` un-normalises ``(2x + 1)/S - 1`` back to
    exactly ``x`` when S is a power of two, so the image is zero-padded (bottom/right) to the
    next power-of-two size, which changes no pixel position and, with zero padding, no result.
    All frames are folded into one output image, so the canonical is never copied per frame.
    """
    if image.ndim != 4 or positions.ndim != 5 or positions.shape[2] != 2:
        raise ValueError(f"expected image [B,C,H,W] and positions [B,N,2,H,W], got "
                         f"{tuple(image.shape)} and {tuple(positions.shape)}")
    if image.shape[0] != positions.shape[0]:
        raise ValueError(f"batch sizes differ: image {image.shape[0]}, positions {positions.shape[0]}")
    if padding not in ("zeros", "border"):
        raise ValueError(f"padding must be 'zeros' or 'border', not {padding!r}")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest', not {mode!r}")
    out_dtype = image.dtype
    work = torch.float64 if image.dtype == torch.float64 else torch.float32  # never sample in half
    b, c, hc, wc = image.shape
    _, n, _, h, w = positions.shape
    px = positions[:, :, 0].to(work)
    py = positions[:, :, 1].to(work)
    if padding == "border":
        px = px.clamp(0, wc - 1)
        py = py.clamp(0, hc - 1)
    sh, sw = _next_pow2(hc), _next_pow2(wc)
    img = image.to(work)
    if (sh, sw) != (hc, wc):
        img = torch.nn.functional.pad(img, (0, sw - wc, 0, sh - hc))
    grid = torch.stack([(2 * px + 1) / sw - 1, (2 * py + 1) / sh - 1], dim=-1)  # [B, N, H, W, 2]
    out = torch.nn.functional.grid_sample(img, grid.reshape(b, n * h, w, 2), mode=mode,
                                          padding_mode="zeros", align_corners=False)
    return out.reshape(b, c, n, h, w).transpose(1, 2).to(out_dtype)


def warp(canonical: Tensor, offsets: Tensor, *, mode: Mode = "bilinear",
         padding: Padding = "zeros", origin: Origin = (0, 0)) -> Tensor:
    """Render frames: ``canonical [B, C, Hc, Wc]``, ``offsets [B, T, 2, H, W]`` -> ``[B, T, C, H, W]``.

    See the module docstring for the convention (`origin`: where the frame sits on a larger
    canonical). Zero offsets reproduce the canonical (its window at `origin`) exactly.
    """
    if offsets.ndim != 5 or offsets.shape[2] != 2:
        raise ValueError(f"offsets must be [B, T, 2, H, W], got {tuple(offsets.shape)}")
    if padding == "border":  # clamping happens in pixel space: take the general route
        positions = sample_positions(offsets, (canonical.shape[-2], canonical.shape[-1]), origin)
        return sample(canonical, positions, mode=mode, padding=padding)
    if padding != "zeros":
        raise ValueError(f"padding must be 'zeros' or 'border', not {padding!r}")
    if canonical.ndim != 4 or canonical.shape[0] != offsets.shape[0]:
        raise ValueError(f"expected canonical [B,C,H,W] matching offsets' batch, got {tuple(canonical.shape)}")
    # Fast path, same result as `sample(canonical, sample_positions(...))`: the grid_sample coordinate
    # (2x + 1)/S - 1 of pixel position x = j' + o * (Wc - 1)/2 (j' = j + ox) is o * (Wc - 1)/S + base, one fused
    # multiply-add per value. base = (2j' + 1)/S - 1 is exact (S a power of two) and zero offsets add
    # exactly 0, so the canonical is still reproduced bit for bit.
    b, t, _, h, w = offsets.shape
    hc, wc = canonical.shape[-2:]
    _check_size(h, w)
    _check_size(hc, wc)
    check_origin((h, w), (hc, wc), origin)
    work = torch.float64 if canonical.dtype == torch.float64 else torch.float32
    sh, sw = _next_pow2(hc), _next_pow2(wc)
    dev = offsets.device
    jx, iy = identity_positions((h, w), origin, device=dev, dtype=work)
    base = torch.stack(torch.broadcast_tensors((2 * jx + 1).view(1, w) / sw - 1, (2 * iy + 1).view(h, 1) / sh - 1),
                       dim=-1)                                                       # [H, W, 2]
    scale = torch.tensor([(wc - 1) / sw, (hc - 1) / sh], device=dev, dtype=work)
    grid = torch.addcmul(base, offsets.to(work).permute(0, 1, 3, 4, 2), scale)      # [B, T, H, W, 2]
    img = canonical.to(work)
    if (sh, sw) != (hc, wc):
        img = torch.nn.functional.pad(img, (0, sw - wc, 0, sh - hc))
    out = torch.nn.functional.grid_sample(img, grid.reshape(b, t * h, w, 2), mode=mode, padding_mode="zeros",
                                          align_corners=False)
    return out.reshape(b, -1, t, h, w).transpose(1, 2).to(canonical.dtype)


def warp_chunks(canonical: Tensor, offsets: Tensor, *, chunk: int = 32, mode: Mode = "bilinear",
                padding: Padding = "zeros", origin: Origin = (0, 0)) -> Iterator[Tensor]:
    """Warp one video in chunks of frames: ``canonical [C, Hc, Wc]``, ``offsets [T, 2, H, W]``.

    Yields ``[t, C, H, W]`` tensors, at most `chunk` frames each, so that memory does not grow
    with the number of frames beyond the offsets themselves.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    for start in range(0, offsets.shape[0], chunk):
        yield warp(canonical[None], offsets[None, start:start + chunk], mode=mode, padding=padding, origin=origin)[0]
