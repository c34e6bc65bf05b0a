"""The canonical image as a robust aggregate of the frames pulled onto it (splatting), and hole filling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gendef_core.warp import sample


def splat(frames: Tensor, maps: Tensor, weights: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Forward-splat frame pixels onto the canvas with bilinear weights.

    ``frames [T, C, H, W]``, ``maps [T, 2, H, W]`` (where each frame pixel lies on the canvas,
    canonical px), ``weights [T, H, W]`` >= 0, ``size`` (Hc, Wc). Returns the weighted sums
    ``[C, Hc, Wc]`` and the total weight ``[Hc, Wc]``; pixels landing off the canvas are dropped.
    """
    hc, wc = size
    c = frames.shape[1]
    # float32 is plenty: a canvas pixel sums at most a few weights per frame
    x, y = maps[:, 0].reshape(-1).float(), maps[:, 1].reshape(-1).float()
    vals = frames.permute(1, 0, 2, 3).reshape(c, -1).float()
    wts = weights.reshape(-1).float()
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    acc = torch.zeros(c, hc * wc)
    tot = torch.zeros(hc * wc)
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0.long() + dx, y0.long() + dy
        ok = (xi >= 0) & (xi < wc) & (yi >= 0) & (yi < hc) & (wgt > 0)
        idx = (yi * wc + xi)[ok]
        ww = (wgt * wts)[ok]
        tot.index_add_(0, idx, ww)
        acc.index_add_(1, idx, vals[:, ok] * ww)
    return acc.view(c, hc, wc), tot.view(hc, wc)


def fill_holes(image: Tensor, weight: Tensor, *, min_weight: float = 1e-3) -> Tensor:
    """Fill pixels of ``image [C, H, W]`` whose ``weight [H, W]`` is below `min_weight` from their surroundings.

    Pull-push: average down a pyramid over the known pixels, then fill the unknown ones from the
    coarsest level that has data, so large holes get a smooth, plausible colour (never a hard edge).
    """
    known = (weight >= min_weight).float()
    if bool(known.all()):
        return image
    levels = [(image * known, known)]
    while min(levels[-1][1].shape[-2:]) > 1:
        v, k = levels[-1]
        v2 = F.avg_pool2d(v[None], 2, ceil_mode=True)[0]
        k2 = F.avg_pool2d(k[None, None], 2, ceil_mode=True)[0, 0]
        levels.append((v2, k2))
    v, k = levels[-1]
    filled = v / k.clamp_min(1e-8)
    for v, k in reversed(levels[:-1]):
        up = F.interpolate(filled[None], size=v.shape[-2:], mode="bilinear", align_corners=False)[0]
        own = v / k.clamp_min(1e-8)
        filled = torch.where(k[None] > 1e-8, own * k[None].clamp(max=1) + up * (1 - k[None].clamp(max=1)), up)
    return torch.where(known[None] > 0, image, filled)


def aggregate(frames: Tensor, maps: Tensor, weights: Tensor, size: tuple[int, int], *,
              rounds: int = 2, scale: float = 0.08) -> tuple[Tensor, Tensor]:
    """The canonical ``[C, Hc, Wc]`` as a robust weighted mean of the frames, and its coverage ``[Hc, Wc]``.

    Round 0 is the weighted mean; each later round down-weights frame pixels that disagree with
    the current canonical (Cauchy weights with `scale` in image units; 0.08 ~ 10 levels of 255),
    so a passing object or a badly registered frame does not smear into the canonical.
    """
    sums, total = splat(frames, maps, weights, size)
    canonical = fill_holes(sums / total.clamp_min(1e-8), total)
    for _ in range(rounds - 1):
        recon = sample(canonical[None], maps[None])[0]            # [T, C, H, W]
        r2 = ((recon - frames) ** 2).mean(1)
        robust = weights / (1 + r2 / scale**2)
        sums, total = splat(frames, maps, robust, size)
        canonical = fill_holes(sums / total.clamp_min(1e-8), total)
    return canonical.clamp(-1, 1), total
