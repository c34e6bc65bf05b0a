"""Flow from deformations, and the Middlebury colour coding of flow.

Deformation flow (the paper's Sec. 3.2): ``F_{t->t+1} = m_{t+1} - m_t``, the change from frame t
to frame t+1 of the canonical position a fixed frame pixel samples, in canonical pixels (x right,
y down). For content translating by +d pixels per frame the backward map moves by -d, so the
deformation flow of a rigid translation is the *negated* optical flow; for any motion it is
the quantity the paper's smoothness term (Eq. 4) regularises.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gendef_core.warp import offsets_to_pixels

# Middlebury colour wheel (Baker et al. 2007): segment lengths between the six primary hues.
_SEGMENTS = ((15, (255, 0, 0), (255, 255, 0)),    # red -> yellow
             (6, (255, 255, 0), (0, 255, 0)),     # yellow -> green
             (4, (0, 255, 0), (0, 255, 255)),     # green -> cyan
             (11, (0, 255, 255), (0, 0, 255)),    # cyan -> blue
             (13, (0, 0, 255), (255, 0, 255)),    # blue -> magenta
             (6, (255, 0, 255), (255, 0, 0)))     # magenta -> red


def color_wheel() -> Tensor:
    """The 55 Middlebury wheel colours, ``[55, 3]`` float in [0, 1]."""
    rows = []
    for n, start, end in _SEGMENTS:
        s = torch.tensor(start, dtype=torch.float64)
        e = torch.tensor(end, dtype=torch.float64)
        for k in range(n):
            rows.append(s + (e - s) * (k / n))
    return (torch.stack(rows) / 255.0).float()


def deformation_flow(offsets: Tensor, canonical_size: tuple[int, int] | None = None) -> Tensor:
    """``offsets [..., T, 2, H, W]`` (normalised) -> flow ``[..., T-1, 2, H, W]`` in canonical pixels.

    `canonical_size` defaults to the frame size (the GenDeF case).
    """
    if offsets.ndim < 4 or offsets.shape[-3] != 2:
        raise ValueError(f"offsets must be [..., T, 2, H, W], got {tuple(offsets.shape)}")
    size = canonical_size or (offsets.shape[-2], offsets.shape[-1])
    return offsets_to_pixels(offsets[..., 1:, :, :, :] - offsets[..., :-1, :, :, :], size)


def flow_to_color(flow: Tensor, max_magnitude: float | None = None) -> Tensor:
    """Colour-code flow ``[..., 2, H, W]`` (pixels) -> ``uint8 [..., 3, H, W]``.

    Hue is the direction, saturation the magnitude divided by `max_magnitude`: white is no
    motion, full colour is `max_magnitude` pixels; beyond it colours are darkened (x0.75) as in
    the Middlebury code. With ``max_magnitude=None`` the largest magnitude in the whole tensor is
    used, so pass all frames of a video at once to get colours comparable across frames; pass a
    fixed value to compare videos.
    """
    if flow.ndim < 3 or flow.shape[-3] != 2:
        raise ValueError(f"flow must be [..., 2, H, W], got {tuple(flow.shape)}")
    # float32 is ample for 8-bit colours: against a float64 version, 6 in a million values differ, by
    # one level, on random flows; float64 ran about 2x slower on a CPU.
    u = flow[..., 0, :, :].float()
    v = flow[..., 1, :, :].float()
    rad = torch.sqrt(u * u + v * v)
    if max_magnitude is None:
        max_magnitude = float(rad.max()) if rad.numel() else 0.0
    if max_magnitude <= 0 or not math.isfinite(max_magnitude):
        max_magnitude = 1.0
    u = u / max_magnitude
    v = v / max_magnitude
    rad = rad / max_magnitude
    wheel = color_wheel().to(flow.device)
    ncols = wheel.shape[0]
    angle = torch.atan2(-v, -u) / math.pi               # [-1, 1]
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = torch.floor(fk).long().clamp(0, ncols - 1)
    k1 = (k0 + 1) % ncols
    f = (fk - k0.float()).unsqueeze(-1)
    col = (1 - f) * wheel[k0] + f * wheel[k1]           # [..., H, W, 3]
    r = rad.unsqueeze(-1)
    col = torch.where(r <= 1, 1 - r * (1 - col), col * 0.75)
    out = torch.round(col * 255).clamp(0, 255).to(torch.uint8)
    return out.movedim(-1, -3)
