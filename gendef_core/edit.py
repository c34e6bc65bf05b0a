"""Canonical edits and label maps carried to every frame: pure tensor functions, no I/O.

An edit of a clip is made once, on the canonical image, and reaches the frames through the same
backward warp that renders them (`gendef_core.warp`, the only coordinate convention):

* RGBA overlays are alpha-composited over the canonical (`composite`); warping the result gives
  the edited frames. Where the overlay is transparent the canonical, and so every frame pixel whose
  bilinear footprint touches no edited pixel, is unchanged bit for bit.
* Label maps (0 = background, other values = object ids, as in DAVIS) are warped with
  `propagate_labels`, which never invents a label that is not in the input.

Images are float ``[3, Hc, Wc]`` in [-1, 1] (canonical-sized); alpha is in [0, 1]; offsets are
``[T, 2, H, W]`` for frames of H x W, which sit at integer `origin` (ox, oy) on a canonical larger than
them (clip v2, fitted videos; (0, 0) and Hc x Wc = H x W for generated clips, see gendef_core.warp).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.edit_images import davis_palette
from gendef_core.warp import Origin, sample_positions, warp, warp_chunks

LabelMode = Literal["bilinear", "nearest"]

_OUTSIDE_TOL = 1e-4  # px: sample positions this close to the edge pixel centre count as inside


def composite(canonical: Tensor, overlay: Tensor) -> Tensor:
    """Straight-alpha "over": ``canonical [3, H, W]`` in [-1, 1], ``overlay [4, H, W]`` -> ``[3, H, W]``.

    The overlay is RGBA with rgb in [-1, 1] and alpha in [0, 1] (not premultiplied). The result is
    ``c + a * (rgb - c)``, except that it is exactly ``c`` where ``a == 0`` and exactly ``rgb`` where
    ``a == 1`` (bit for bit, so untouched pixels stay untouched).
    """
    if canonical.ndim != 3 or canonical.shape[0] != 3:
        raise ValueError(f"canonical must be [3, H, W], got {tuple(canonical.shape)}")
    if overlay.ndim != 3 or overlay.shape[0] != 4:
        raise ValueError(f"overlay must be RGBA [4, H, W], got {tuple(overlay.shape)}")
    if overlay.shape[1:] != canonical.shape[1:]:
        raise ValueError(f"overlay is {overlay.shape[2]}x{overlay.shape[1]} (WxH) but the canonical is "
                         f"{canonical.shape[2]}x{canonical.shape[1]}")
    rgb = overlay[:3].to(canonical.dtype)
    a = overlay[3:4].to(canonical.dtype)  # [1, H, W], broadcasts over the colour channels
    blended = canonical + a * (rgb - canonical)
    return torch.where(a <= 0, canonical, torch.where(a >= 1, rgb, blended))


def outside_fraction(offsets: Tensor, canonical_size: tuple[int, int], origin: Origin = (0, 0)) -> Tensor:
    """Per frame, the fraction of pixels that sample (partly or wholly) outside the canonical: ``[T]`` float32.

    ``offsets [T, 2, H, W]``; `canonical_size` is ``(Hc, Wc)`` and `origin` the frame's place on it. A pixel
    is outside when its sample position (`sample_positions`, canonical pixels) leaves the rectangle of
    pixel centres ``[0, Wc-1] x [0, Hc-1]`` by more than 1e-4 px, i.e. when its bilinear sample includes
    padding.
    """
    if offsets.ndim != 4 or offsets.shape[1] != 2:
        raise ValueError(f"offsets must be [T, 2, H, W], got {tuple(offsets.shape)}")
    hc, wc = canonical_size
    pos = sample_positions(offsets, (hc, wc), origin)  # [T, 2, H, W]
    x, y = pos[:, 0], pos[:, 1]
    out = (x < -_OUTSIDE_TOL) | (x > wc - 1 + _OUTSIDE_TOL) | (y < -_OUTSIDE_TOL) | (y > hc - 1 + _OUTSIDE_TOL)
    return out.flatten(1).float().mean(dim=1)


def edit_coverage(alpha: Tensor, offsets: Tensor, *, chunk: int = 32, origin: Origin = (0, 0)) -> Tensor:
    """Per frame, the fraction of frame pixels where the edit shows (warped alpha > 0): ``[T]`` float32.

    ``alpha [Hc, Wc]`` in [0, 1] lives on the canonical; ``offsets [T, 2, H, W]``; `origin` as in `warp`.
    """
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be [H, W], got {tuple(alpha.shape)}")
    parts = [(frames[:, 0] > 0).flatten(1).float().mean(dim=1)
             for frames in warp_chunks(alpha[None].float(), offsets, chunk=chunk, origin=origin)]
    return torch.cat(parts) if parts else torch.zeros(0)


def propagate_labels(labels: Tensor, offsets: Tensor, *, mode: LabelMode = "bilinear", chunk: int = 32,
                     origin: Origin = (0, 0)) -> Tensor:
    """Carry a canonical label map to the frames: ``labels [Hc, Wc]``, ``offsets [T, 2, H, W]`` -> ``int64 [T, H, W]``.

    `origin` is where the frames sit on a canonical larger than them (as in `warp`).

    Labels are 0 (background) and object ids >= 1, not necessarily contiguous (e.g. {0, 3, 7}).

    * ``"nearest"``: the label of the nearest canonical pixel (``warp(..., mode="nearest")``);
      outside the canonical, 0.
    * ``"bilinear"``: each object's one-hot mask is warped bilinearly, the background gets
      ``1 - sum(object weights)`` (so padding counts as background), and the largest weight wins;
      ties go to the lower label id (background first). For a binary mask this is exactly
      ``warp(mask) > 0.5``.

    Either way the output holds only labels of the input. Frames are processed `chunk` at a
    time, so memory is O(chunk * K * H * W) for K objects.
    """
    if labels.ndim != 2 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer [H, W] map, got {labels.dtype} {tuple(labels.shape)}")
    if offsets.ndim != 4 or offsets.shape[1] != 2:
        raise ValueError(f"offsets must be [T, 2, H, W], got {tuple(offsets.shape)}")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest', not {mode!r}")
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    labels = labels.to(device=offsets.device, dtype=torch.int64)
    if labels.numel() and (labels.min() < 0 or labels.max() >= 2**24):  # float32 holds these exactly
        raise ValueError(f"labels must be in [0, 2**24), got [{int(labels.min())}, {int(labels.max())}]")
    t, _, h, w = offsets.shape
    if mode == "nearest":
        src = labels.float()[None]  # [1, Hc, Wc]
        parts = [f[:, 0].round().long()
                 for f in warp_chunks(src, offsets, chunk=chunk, mode="nearest", origin=origin)]
        return torch.cat(parts) if parts else torch.zeros(0, h, w, dtype=torch.int64, device=offsets.device)

    ids = torch.unique(labels)  # sorted
    ids = ids[ids > 0]
    lut = torch.cat([ids.new_zeros(1), ids])  # argmax index -> label id; index 0 is background
    onehot = (labels[None] == ids.view(-1, 1, 1)).float()  # [K, Hc, Wc]
    out = torch.empty(t, h, w, dtype=torch.int64, device=offsets.device)
    for start in range(0, t, chunk):
        if ids.numel() == 0:
            out[start:start + chunk] = 0
            continue
        weights = warp(onehot[None], offsets[None, start:start + chunk], origin=origin)[0]  # [t, K, H, W]
        background = 1 - weights.sum(dim=1, keepdim=True)
        # torch.argmax returns the first maximal index, i.e. the lowest label id on ties.
        out[start:start + chunk] = lut[torch.cat([background, weights], dim=1).argmax(dim=1)]
    return out


def label_colors(labels: Tensor) -> Tensor:
    """Palette colour of each label: ``int [...]`` in [0, 255] -> ``uint8 [..., 3]``."""
    if labels.numel() and (labels.min() < 0 or labels.max() > 255):
        raise ValueError(f"labels must be in [0, 255] to have a palette colour, got "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    palette = torch.from_numpy(davis_palette()).to(labels.device)
    return palette[labels.long()]


def blend_labels(frames: Tensor | np.ndarray, labels: Tensor, alpha: float = 0.5, *,
                 boundary: bool = True) -> Tensor:
    """Colour label overlay for viewing: ``frames uint8 [T, H, W, 3]``, ``labels [T, H, W]`` -> ``uint8 [T, H, W, 3]``.

    Background (0) pixels are untouched; object pixels become ``(1 - alpha) * frame + alpha * colour``
    with the DAVIS palette colour. With `boundary`, object pixels with a differently labelled
    4-neighbour are drawn in the palette colour at half brightness (a 1-px outline).
    """
    frames = torch.from_numpy(np.array(frames)) if isinstance(frames, np.ndarray) else frames  # copy: may be read-only
    if frames.dtype != torch.uint8 or frames.shape[-1] != 3 or frames.shape[:-1] != labels.shape:
        raise ValueError(f"expected frames uint8 [..., H, W, 3] and labels [..., H, W], got "
                         f"{frames.dtype} {tuple(frames.shape)} and {tuple(labels.shape)}")
    labels = labels.to(frames.device)
    colors = label_colors(labels).float()  # [..., H, W, 3]
    obj = (labels > 0)[..., None]
    out = torch.where(obj, (1 - alpha) * frames.float() + alpha * colors, frames.float())
    if boundary:
        edge = torch.zeros_like(labels, dtype=torch.bool)
        edge[..., 1:, :] |= labels[..., 1:, :] != labels[..., :-1, :]
        edge[..., :-1, :] |= labels[..., :-1, :] != labels[..., 1:, :]
        edge[..., :, 1:] |= labels[..., :, 1:] != labels[..., :, :-1]
        edge[..., :, :-1] |= labels[..., :, :-1] != labels[..., :, 1:]
        out = torch.where((edge & (labels > 0))[..., None], colors * 0.5, out)
    return out.round().clamp(0, 255).to(torch.uint8)
