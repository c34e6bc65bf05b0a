"""Procedural textures for the synthetic datasets: seeded fractal noise, colour, and still backdrops.

Noise lives in *noise units*: one lattice cell of the coarsest octave is one unit. Callers map their
coordinates (frame pixels, an object's local frame, a ground plane) into noise units themselves and
say how many noise units one pixel spans (the *footprint*); octaves too fine to be shown by a pixel
are faded out, so textures stay free of aliasing at every resolution and under any zoom.

Randomness enters only through the `numpy.random.Generator` a caller hands in (`make_fbm`,
`jitter`, `scenery`, `sky` draw from it); there is no global RNG state, and every other function
is pure.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

# Lattice period in cells. Each octave is randomly rotated and shifted, so its repeats never line
# up with another's; 64 cells exceeds what any texture here shows unfaded at its coarsest octave.
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
    fade = smoothstep(period / 4, period / 2, soft * (period / math.pi))  # back to the footprint
    return torch.lerp(board, torch.full_like(board, 0.5), fade)


def unit_grid(res: int) -> tuple[Tensor, Tensor]:
    """Pixel centres in *frame units* (the frame spans [0, 1]): X, Y each ``[H, W]`` float32."""
    c = (torch.arange(res, dtype=torch.float32) + 0.5) / res
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    return gx, gy


def scenery(rng: np.random.Generator, res: int) -> Tensor:
    """A still backdrop ``[3, H, W]`` in [0, 1]: sky, hills and ground outdoors, or wall and floor indoors.

    Both put a ground plane in perspective below a horizon; its texture is evaluated in ground
    coordinates with the pixel footprint there, so it recedes without aliasing.
    """
    fields = tuple(make_fbm(rng) for _ in range(4))
    indoor = bool(rng.random() < 0.45)
    horizon, cam = float(rng.uniform(0.3, 0.55)), float(rng.uniform(0.12, 0.3))
    # A fixed number of draws whatever the branch, so that later draws never depend on it.
    d = rng.random(16)
    tint = jitter(rng, torch.zeros(3), 0.05)
    gx, gy = unit_grid(res)
    px = 1.0 / res  # one pixel in frame units
    dy = (gy - horizon).clamp(min=0.5 * px)
    z = cam / dy  # ground depth, in ground units
    ground_at = _Ground(ux=(gx - 0.5) * z, uz=z, fp_x=z * px, fp_z=cam / (dy * dy) * px,
                        fog=(1 - torch.exp(-z / (2.5 + 3 * float(d[0])))).clamp(0, 1))
    paint = _indoor if indoor else _outdoor
    top, ground = paint(fields, d, gx, gy, horizon, ground_at, px)
    img = mix(top, ground, smoothstep(-0.5 * px, 0.5 * px, gy - horizon)) + tint[:, None, None]
    # Soft light from the upper left and a lens vignette, as a camera would record them.
    light = 1.05 - 0.15 * (gx + gy) / 2 - 0.3 * ((gx - 0.5) ** 2 + (gy - 0.5) ** 2)
    return (img * light).clamp(0, 1)


@dataclass(frozen=True)
class _Ground:
    """A ground plane seen in perspective: coordinates, pixel footprints (all ``[H, W]``) and fog."""

    ux: Tensor  # across the picture, ground units
    uz: Tensor  # depth, ground units
    fp_x: Tensor  # ground units per pixel along ux
    fp_z: Tensor  # ground units per pixel along uz
    fog: Tensor  # [0, 1] haze towards the horizon

    @property
    def fp(self) -> Tensor:
        """Isotropic footprint: the larger of the two, so nothing aliases."""
        return torch.maximum(self.fp_x, self.fp_z)


def _indoor(fields: tuple[Fbm, ...], d: np.ndarray, gx: Tensor, gy: Tensor, horizon: float, g: _Ground,
            px: float) -> tuple[Tensor, Tensor]:
    """Plaster wall (maybe striped paper, a framed panel) with skirting; planks or tiles below."""
    hue = float(d[15])
    wall = hsv(hue, 0.08 + 0.35 * d[1], 0.55 + 0.3 * d[2])
    top = wall[:, None, None] * (1 + 0.06 * fbm(fields[0], gx * 10, gy * 10, 10 * px)) * (0.85 + 0.2 * gy)
    stripes = 6 + int(10 * d[3])
    band = smoothstep(0.3, 0.7, 0.5 + 0.5 * torch.cos(2 * math.pi * stripes * gx))
    band = band * smoothstep(0.5, 0.25, torch.tensor(stripes * px)) * float(d[4] < 0.5)
    top = mix(top, top * 0.82, band)
    # A framed panel (picture or window) hung on the wall: an anti-aliased box and its frame.
    cx, w, h = 0.15 + 0.7 * d[12], 0.12 + 0.15 * d[13], 0.1 + 0.12 * d[14]
    cy = max(horizon * 0.45, h / 2 + 0.04)
    box = (torch.maximum((gx - cx).abs() - w / 2, (gy - cy).abs() - h / 2)) / px
    inner = hsv(hue + 0.5, 0.3 + 0.4 * d[5], 0.3 + 0.5 * d[6])[:, None, None] * (
        1 + 0.35 * fbm(fields[3], gx * 12, gy * 12, 12 * px))
    if d[4] < 0.75:
        top = mix(top, top * 0.35, smoothstep(1.0, 0.0, box - 0.04 / px))  # frame
        top = mix(top, inner, smoothstep(0.5, -0.5, box + 0.01 / px))
    skirting = smoothstep(-0.5 * px, 0.5 * px, gy - (horizon - 0.02 - 0.03 * d[5]))
    top = mix(top, hsv(hue, 0.1, 0.92)[:, None, None] * (0.8 + 0.2 * gy), skirting)
    wooden = d[7] < 0.6
    floor_hue = 0.05 + 0.06 * d[6] if wooden else hue + 0.5
    c1 = hsv(floor_hue, 0.35 + 0.35 * d[8], 0.35 + 0.4 * d[9])
    c2 = c1 * (0.6 + 0.25 * d[10])
    if wooden:  # planks running away from the camera, each its own tone, with grain and butt joints
        width = 0.035 + 0.03 * d[11]
        plank = torch.floor(g.ux / width)
        # Per-plank tones and staggered joints change every plank, so they fade out (to their
        # mean) where a pixel spans a large part of a plank, lest they alias.
        fade = smoothstep(width / 2, width / 5, g.fp_x)
        tone = fbm(fields[1], plank * 3.1, plank * 1.7, 0.0) * fade
        grain = fbm(fields[2], g.ux * 120, g.uz * 6, torch.maximum(g.fp_x * 120, g.fp_z * 6))
        ground = mix(c1, c2, smoothstep(-0.8, 0.8, 1.5 * tone + 0.5 * grain))
        joints = lines(g.uz + plank * 0.37, 0.6, 0.003, g.fp_z) * fade
        seams = torch.maximum(lines(g.ux, width, 0.003, g.fp_x), joints)
    else:  # tiles with grout
        size = 0.05 + 0.05 * d[11]
        ground = mix(c1, c2, checker(g.ux, g.uz, size, g.fp) * 0.7)
        ground = ground * (1 + 0.1 * fbm(fields[2], g.ux * 40, g.uz * 40, g.fp * 40))
        seams = torch.maximum(lines(g.ux, size, 0.004, g.fp_x), lines(g.uz, size, 0.004, g.fp_z))
    ground = mix(ground, ground * 0.45, seams)
    return top, mix(ground, top.mean(dim=(1, 2)) * 0.7, g.fog * 0.6)


def _outdoor(fields: tuple[Fbm, ...], d: np.ndarray, gx: Tensor, gy: Tensor, horizon: float, g: _Ground,
             px: float) -> tuple[Tensor, Tensor]:
    """Graded sky with faint clouds, hazy far hills, a tree line; grass, sand or earth below."""
    sky_top = hsv(0.55 + 0.08 * d[1], 0.35 + 0.35 * d[2], 0.7 + 0.25 * d[3])
    sky_low = mix(sky_top, hsv(0.1 * d[4], 0.15, 0.97), torch.tensor(0.7))
    top = mix(sky_top, sky_low, (gy / horizon).clamp(0, 1) ** 0.7)
    puffs = smoothstep(0.05, 0.7, fbm(fields[0], gx * 3, gy * 9, 9 * px))
    top = mix(top, torch.full((3,), 0.97), puffs * 0.6)
    hills = hsv(0.22 + 0.15 * d[5], 0.35 + 0.2 * d[6], 0.3 + 0.25 * d[7])
    ridge = fbm(fields[1], gx * 1.5, torch.zeros_like(gx), 1.5 * px)
    far = mix(hills, sky_low, torch.tensor(0.55))
    ridge_line = horizon - 0.04 - 0.12 * (0.5 + 0.5 * ridge)
    top = mix(top, far, smoothstep(-0.5 * px, 0.5 * px, gy - ridge_line))
    canopy = fbm(fields[1], gx * 7, torch.full_like(gx, 5.0), 7 * px)
    trees = hills[:, None, None] * 0.6 * (1 + 0.3 * fbm(fields[2], gx * 25, gy * 25, 25 * px))
    tree_line = horizon - 0.01 - 0.05 * (0.5 + 0.5 * canopy)
    top = mix(top, trees, smoothstep(-0.5 * px, 0.5 * px, gy - tree_line))
    kind = int(3 * d[8])  # grass, sand, earth
    c1 = hsv((0.24, 0.11, 0.07)[kind] + 0.04 * d[9], (0.55, 0.35, 0.45)[kind], (0.5, 0.78, 0.45)[kind])
    c2 = c1 * (0.65 + 0.15 * d[10])
    patches = fbm(fields[3], g.ux * 3, g.uz * 3, g.fp * 3)
    detail = fbm(fields[2], g.ux * 30, g.uz * 30, g.fp * 30)
    ground = mix(c1, c2, smoothstep(-0.5, 0.5, patches)) * (1 + 0.25 * detail)
    return top, mix(ground, sky_low * 0.85, g.fog * 0.8)


def sky(rng: np.random.Generator, res: int) -> Tensor:
    """Canonical sky ``[3, H, W]`` in [0, 1]: graded blue (or dusk, or overcast) with lit fBm clouds."""
    shape_f, warp_f, wisp_f = make_fbm(rng, octaves=7), make_fbm(rng, octaves=3), make_fbm(rng)
    d = rng.random(10)
    mood = 0 if d[0] < 0.6 else (1 if d[0] < 0.85 else 2)  # day, dusk, overcast
    top = hsv(0.56 + 0.06 * d[1], (0.65, 0.45, 0.12)[mood] + 0.2 * d[2], (0.75, 0.5, 0.6)[mood] + 0.2 * d[3])
    low = (hsv(0.55 + 0.05 * d[4], 0.2, 0.95), hsv(0.02 + 0.07 * d[4], 0.55, 0.95),
           hsv(0.6, 0.05, 0.8))[mood]
    cloud = (torch.ones(3), hsv(0.02 + 0.06 * d[5], 0.3, 1.0), torch.tensor([0.92, 0.92, 0.94]))[mood]
    # Cloud shadows take the colour of the sky that lights them.
    umbra = mix(cloud * 0.5, top, torch.tensor(0.35))
    gx, gy = unit_grid(res)
    scale, px = 1.5 + 1.5 * d[6], 1.0 / res
    img = mix(top, low, ((gy + 0.3 * (gx - 0.5) * (d[7] - 0.5)).clamp(0, 1)) ** 1.3)
    # Gently domain-warped fBm; squashing y flattens the clouds as if seen obliquely.
    nx, ny = gx * scale, gy * scale * 1.6
    fp = px * scale * 1.6
    wx, wy = fbm(warp_f, nx, ny, fp), fbm(warp_f, nx + 17.3, ny - 9.1, fp)

    def density(ox: float, oy: float, footprint: float) -> Tensor:
        return fbm(shape_f, nx + 0.35 * wx + ox, ny + 0.35 * wy + oy, footprint)

    cover = (-0.2, -0.05, -0.4)[mood] + 0.35 * d[8]
    dens = density(0.0, 0.0, fp)
    alpha = smoothstep(cover, cover + 0.4, dens)
    # Lighting from a blurred density (only the coarse octaves, via a large footprint): brighter
    # where the cloud thins towards the sun, darker where it is thick; fine octaves add the
    # cauliflower relief. Lighting from the full density would look like satin.
    blur = max(fp, 1 / 24)
    coarse = density(0.0, 0.0, blur)
    lit = (coarse - density(-0.15, -0.2, blur)) * 3.0 + (dens - coarse) * 1.0
    thick = smoothstep(cover + 0.1, cover + 0.7, coarse)
    shade = (0.8 + 0.45 * lit - 0.35 * thick).clamp(0, 1)
    img = mix(img, mix(umbra, cloud, shade) * (1 - 0.1 * gy), alpha * 0.97)
    wisps = smoothstep(0.1, 0.6, fbm(wisp_f, gx * scale * 0.6, gy * scale * 4, px * scale * 4)) * 0.35
    return mix(img, cloud, wisps * (1 - alpha)).clamp(0, 1)
