"""Procedural texture helpers for the synthetic datasets: seeded fractal noise and colour utilities.

Noise lives in *noise units*: one lattice cell of the coarsest octave is one unit. Callers map their
coordinates (frame pixels, an object's local frame, a ground plane) into noise units themselves and
say how many noise units one pixel spans (the *footprint*); octaves too fine to be shown by a pixel
are faded out, so textures stay free of aliasing at every resolution and under any zoom.

Everything here is a pure function of its arguments: randomness enters only through the
`numpy.random.Generator` handed to `make_fbm`, never through global RNG state.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

# Lattice period in cells. Each octave is randomly rotated and shifted, so repeats are never
# aligned; 64 cells is far more than any texture here spans at its coarsest octave.
_PERIOD = 64
# Perlin-style 2-D gradient noise rarely leaves [-0.7, 0.7]; this brings fBm to roughly [-1, 1].
_FBM_GAIN = 2.5


@dataclass(frozen=True)
class Fbm:
    """A seeded fractal Brownian motion field over the plane, evaluable at any points.

    Attributes:
        gradients: ``[O, P, P, 2]`` float32 unit gradient vectors of each octave's periodic lattice.
        transforms: ``[O, 2, 3]`` float32 per-octave affine maps (random rotation, frequency
            ``2**o``, random shift) from noise units to that octave's lattice coordinates.
        amplitudes: ``[O]`` float32 octave weights, summing to 1.
    """

    gradients: Tensor
    transforms: Tensor
    amplitudes: Tensor

    @property
    def octaves(self) -> int:
        """Number of octaves O."""
        return int(self.gradients.shape[0])


def make_fbm(rng: np.random.Generator, *, octaves: int = 6, persistence: float = 0.5) -> Fbm:
    """Draw a new fBm field from `rng`: `octaves` octaves, each `persistence` times weaker than the last."""
    if octaves < 1:
        raise ValueError(f"octaves must be at least 1, got {octaves}")
    angles = rng.uniform(0.0, 2 * math.pi, size=(octaves, _PERIOD, _PERIOD))
    gradients = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # [O, P, P, 2]
    # A random rotation per octave hides the lattice axes that plain fBm shows as a grid look.
    rot = rng.uniform(0.0, 2 * math.pi, size=octaves)
    shift = rng.uniform(0.0, _PERIOD, size=(octaves, 2))
    freq = 2.0 ** np.arange(octaves)
    c, s = np.cos(rot) * freq, np.sin(rot) * freq
    transforms = np.stack([np.stack([c, -s, shift[:, 0]], -1), np.stack([s, c, shift[:, 1]], -1)], 1)
    amps = persistence ** np.arange(octaves)
    return Fbm(gradients=torch.from_numpy(gradients).float(), transforms=torch.from_numpy(transforms).float(),
               amplitudes=torch.from_numpy(amps / amps.sum()).float())


def _fade(f: Tensor) -> Tensor:
    # Quintic fade: C2-continuous, so the noise has no creases at cell borders.
    return f * f * f * (f * (f * 6 - 15) + 10)


def gradient_noise(gradients: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Perlin-style gradient noise on a periodic lattice ``gradients [P, P, 2]`` at points (x, y).

    x, y: lattice coordinates (any equal shapes). Returns the same shape, roughly in [-0.7, 0.7],
    zero at lattice points and C2-smooth everywhere.
    """
    p = gradients.shape[0]
    flat = gradients.reshape(p * p, 2)
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = x - x0, y - y0
    ix, iy = x0.long() % p, y0.long() % p
    ix1, iy1 = (ix + 1) % p, (iy + 1) % p

    def corner(jx: Tensor, jy: Tensor, dx: Tensor, dy: Tensor) -> Tensor:
        g = flat[jy * p + jx]  # [..., 2]
        return g[..., 0] * dx + g[..., 1] * dy

    n00 = corner(ix, iy, fx, fy)
    n10 = corner(ix1, iy, fx - 1, fy)
    n01 = corner(ix, iy1, fx, fy - 1)
    n11 = corner(ix1, iy1, fx - 1, fy - 1)
    u, v = _fade(fx), _fade(fy)
    return torch.lerp(torch.lerp(n00, n10, u), torch.lerp(n01, n11, u), v)


def smoothstep(edge0: float | Tensor, edge1: float | Tensor, x: Tensor) -> Tensor:
    """Hermite step from 0 at `edge0` to 1 at `edge1` (either order), same shape as `x`."""
    t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
    return t * t * (3 - 2 * t)


def fbm(field: Fbm, x: Tensor, y: Tensor, footprint: float | Tensor = 0.0) -> Tensor:
    """Evaluate `field` at points (x, y) in noise units (equal shapes) -> same shape, roughly in [-1, 1].

    footprint: noise units spanned by one output pixel (a float, or a tensor broadcastable to x).
    An octave is faded out as its lattice cells shrink from 3 to 1.5 pixels, since finer detail
    would only alias; the faded octaves contribute their mean, zero, so contrast drops with
    distance as it does in a real, optically filtered image.
    """
    xf, yf = x.float(), y.float()
    fp = footprint.float() if isinstance(footprint, Tensor) else torch.tensor(float(footprint))
    out = torch.zeros_like(xf)
    for o in range(field.octaves):
        cells_per_pixel = fp * (2.0 ** o)
        weight = smoothstep(2 / 3, 1 / 3, cells_per_pixel)
        if float(weight.max()) <= 0.0:
            break  # finer octaves are faded out too
        m = field.transforms[o]
        lx = m[0, 0] * xf + m[0, 1] * yf + m[0, 2]
        ly = m[1, 0] * xf + m[1, 1] * yf + m[1, 2]
        out = out + (field.amplitudes[o] * _FBM_GAIN) * weight * gradient_noise(field.gradients[o], lx, ly)
    return out


def hsv(h: float, s: float, v: float) -> Tensor:
    """An RGB colour ``[3]`` float32 in [0, 1] from hue (wraps at 1), saturation and value in [0, 1]."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return torch.tensor([r, g, b], dtype=torch.float32)


def mix(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Blend colours: ``a``, ``b`` ``[3]`` (or ``[3, ...]``) by weight ``t [...]`` -> ``[3, ...]``."""
    extra = t.ndim
    a = a.reshape(a.shape + (1,) * (extra - (a.ndim - 1)))
    b = b.reshape(b.shape + (1,) * (extra - (b.ndim - 1)))
    return a + (b - a) * t.unsqueeze(0)


def jitter(rng: np.random.Generator, colour: Tensor, amount: float) -> Tensor:
    """`colour` ``[3]`` with each channel moved by up to ``±amount`` (a slightly different shade)."""
    return (colour + torch.from_numpy(rng.uniform(-amount, amount, size=3)).float()).clamp(0.0, 1.0)


def lines(coord: Tensor, period: float, width: float, footprint: float | Tensor) -> Tensor:
    """Anti-aliased coverage ``[0, 1]`` of lines of `width` at every multiple of `period` along `coord`.

    All lengths are in the units of `coord`; footprint is how many of them one pixel spans. Where a
    pixel spans a large part of a period the lines fade to their mean coverage, as a camera shows them.
    """
    dist = (coord / period - torch.round(coord / period)).abs() * period
    soft = torch.as_tensor(footprint, dtype=coord.dtype).clamp(min=1e-6)
    cover = ((width / 2 - dist) / soft + 0.5).clamp(0.0, 1.0) * (width / soft).clamp(max=1.0)
    return torch.lerp(cover, torch.full_like(cover, width / period), smoothstep(period / 4, period / 2, soft))


def checker(a: Tensor, b: Tensor, period: float, footprint: float | Tensor) -> Tensor:
    """Anti-aliased checkerboard ``[0, 1]`` with squares of side `period` in coordinates (a, b)."""
    soft = torch.as_tensor(footprint, dtype=a.dtype).clamp(min=1e-6) * (math.pi / period)
    ca = smoothstep(-soft, soft, torch.sin(a * (math.pi / period)))
    cb = smoothstep(-soft, soft, torch.sin(b * (math.pi / period)))
    board = ca * cb + (1 - ca) * (1 - cb)
    return torch.lerp(board, torch.full_like(board, 0.5), smoothstep(period / 4, period / 2, soft * period / math.pi))
