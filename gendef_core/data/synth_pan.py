"""The ``"pan"`` synthetic kind: a camera panning over a large textured scene, with exact tracks.

The benchmark for fitting a canonical image *larger than the frame* plus per-frame backward maps:
content enters and leaves the frame, one region of the scene deforms non-rigidly, and one rigid
object crosses the frame and occludes what is behind it.

Geometry, all lengths in *frame units* (the frame at t = 0 spans [0, 1] x [0, 1]; pixel (j, i) of
an R x R frame has its centre at ((j + 0.5) / R, (i + 0.5) / R)), all times in frames:

* **World.** A static, infinite textured plane. World coordinates are frame-0 coordinates: the
  camera at t = 0 is the identity.
* **Camera** (world <- frame): ``w = c_t + z_t Rot(theta_t) (f - 1/2)``, a similarity whose centre
  ``c_t`` drifts along a random direction (~0.24-0.32 frame widths per 64 frames) with small
  sinusoidal wobbles, whose zoom ``z_t = exp(sum of sinusoids)`` stays within roughly ±8 % and whose
  roll ``theta_t`` stays within a few degrees. All terms vanish at t = 0.
* **Ripple** (the non-rigid part): a soft elliptical patch of the world near the camera's path
  whose texture is displaced by travelling waves, like water. A world point ``w`` shows, at time
  t, the surface point at *rest* position ``u = w + e_t(w)``, ``e_t(w) = m(w) g_t(w)`` with ``m``
  the patch's smooth mask and ``g_t`` a sum of travelling sines, zero at t = 0. The amplitudes are
  capped so that ``e_t`` is a contraction (Lipschitz < 1) at every t: ``w -> u`` is a fold-free
  bijection, inverted for the tracks by Newton's method to ~1e-12 frame units.
* **Object**: a textured, shaded rigid sprite (the `sprites` kind's) drawn above the scene, moving
  relative to the camera by ~0.45-0.6 frame widths per 64 frames from near one side of frame 0
  across it, turning as it goes. It casts no shadow: every surface point keeps its colour.

The scene's texture is a function of the rest position alone (fBm in world units, octaves faded by
the pixel footprint, so it is analytically anti-aliased); the frames sample it through the camera
and the ripple, so a tracked surface point keeps its colour in every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from gendef_core.data.noise import Fbm, fbm, hsv, make_fbm, mix, smoothstep
from gendef_core.data.synth_sprites import (
    SynthVideo,
    _alpha,
    _draw_sprite,
    _pose,
    _signed_distance,
    _Sprite,
    _sprite_colour,
    _to_local,
    _to_uint8,
    _wave,
)

# Frames are rendered a fixed number at a time (for a given resolution), so that every frame is
# computed by exactly the same tensor operations whatever the video's length: a longer video
# extends a shorter one bit for bit. The last chunk is padded with frames past the end.
_MAX_CHUNK_FRAMES = 8
_MAX_CHUNK_PIXELS = 1 << 19
_MAX_LIPSCHITZ = 0.7  # cap on the ripple displacement's Lipschitz constant (< 1: fold-free)
_NEWTON_STEPS = 12  # fixed, so a point's track does not depend on the other points or frames


@dataclass(frozen=True)
class PanCamera:
    """The camera's motion; every term is zero at t = 0 (the identity). Rows of ``[M, 3]`` arrays are
    sinusoid terms (amplitude, angular frequency in rad/frame, phase) as in ``a (sin(w t + p) - sin p)``.

    Attributes:
        drift: ``[2]`` velocity of the frame centre over the world, frame units per frame.
        along: ``[M, 3]`` wobble of the centre along the drift (frame units; slow enough never to reverse it).
        across: ``[M, 3]`` wobble of the centre across the drift (frame units).
        zoom: ``[M, 3]`` log-zoom terms: ``z_t = exp(sum)``, world units per frame unit (> 1 shows more).
        roll: ``[M, 3]`` rotation terms (radians; frame -> world, clockwise on screen as y is down).
    """

    drift: np.ndarray
    along: np.ndarray
    across: np.ndarray
    zoom: np.ndarray
    roll: np.ndarray


@dataclass(frozen=True)
class Ripple:
    """The non-rigid patch: ``e_t(w) = m(w) sum_k a_k d_k (sin(k_k . w - omega_k t + phi_k) - sin(k_k . w + phi_k))``.

    Attributes:
        centre: ``[2]`` world position of the patch's centre (frame units).
        radii: semi-axes (frame units) of the ellipse on which the mask reaches 0.
        angle: orientation of the ellipse's first axis, radians.
        soft: the mask rises from 0 at ellipse radius 1 to 1 at radius ``1 - soft`` (smoothstep).
        waves: ``[K, 7]`` rows (a_k frame units, d_k x, d_k y, k_k x, k_k y rad/frame unit,
            omega_k rad/frame, phi_k rad).
    """

    centre: np.ndarray
    radii: tuple[float, float]
    angle: float
    soft: float
    waves: np.ndarray


@dataclass(frozen=True)
class PanObject:
    """The rigid object: a `sprites` sprite (its ``centre``/``path`` in world units) plus a drift.

    Attributes:
        sprite: shape, texture, shading; ``sprite.centre`` is the world position at t = 0.
        velocity: ``[2]`` world velocity, frame units per frame (the camera's drift plus the
            object's motion across the frame).
    """

    sprite: _Sprite
    velocity: np.ndarray


@dataclass(frozen=True)
class PanTexture:
    """The scene's colour as a function of rest position.

    Attributes:
        fields: fBm for (domain warp, regions, luminance detail, patches).
        scale: noise units per frame unit of the region field.
        palette: ``[4, 3]`` colours in [0, 1]: two region colours, a third for high ground, one for patches.
        tint: ``[3]`` multiplier for the ripple patch's colour (so the patch can be told apart).
    """

    fields: tuple[Fbm, Fbm, Fbm, Fbm]
    scale: float
    palette: Tensor
    tint: Tensor


@dataclass(frozen=True)
class PanScene:
    """Everything a ``"pan"`` video is made of; drawn from a generator before any size is known."""

    texture: PanTexture
    camera: PanCamera
    ripple: Ripple
    obj: PanObject


def _terms(rng: np.random.Generator, n: int, amplitude: tuple[float, float],
           period: tuple[float, float]) -> np.ndarray:
    """``[n, 3]`` sinusoid rows (signed amplitude, angular frequency, phase)."""
    a = rng.uniform(*amplitude, size=n) * rng.choice([-1.0, 1.0], size=n)
    return np.stack([a, 2 * math.pi / rng.uniform(*period, size=n), rng.uniform(0, 2 * math.pi, size=n)], -1)


def _unit(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def draw_pan_scene(rng: np.random.Generator) -> PanScene:
    """Draw a pan scene from `rng` (a fixed sequence of draws, independent of any size or length)."""
    # Texture.
    fields = (make_fbm(rng, octaves=2), make_fbm(rng, octaves=9, persistence=0.55),
              make_fbm(rng, octaves=8, persistence=0.65), make_fbm(rng, octaves=8, persistence=0.55))
    hue = rng.uniform(0, 1)
    hues = hue + np.array([0.0, rng.uniform(0.08, 0.2), rng.uniform(0.35, 0.65), rng.uniform(0.7, 0.9)])
    sats, vals = rng.uniform(0.3, 0.75, 4), rng.uniform(0.45, 0.9, 4)
    vals[0], vals[1] = min(vals[0], 0.6), max(vals[1], 0.75)  # one dark, one light region colour
    palette = torch.stack([hsv(float(h), float(s), float(v)) for h, s, v in zip(hues, sats, vals, strict=True)])
    tint = hsv(hue + rng.uniform(0.4, 0.6), 0.35, 1.0)
    texture = PanTexture(fields=fields, scale=float(rng.uniform(2.0, 3.0)), palette=palette, tint=tint / tint.max())

    # Camera: a drift of 0.24-0.32 frame widths per 64 frames plus wobbles (all in frames, not in T).
    heading = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(0.24, 0.32) / 64
    camera = PanCamera(drift=speed * _unit(heading),
                       along=_terms(rng, 1, (0.004, 0.01), (60, 140)),
                       across=_terms(rng, 2, (0.008, 0.025), (50, 150)),
                       zoom=_terms(rng, 2, (0.02, 0.035), (50, 150)),
                       roll=_terms(rng, 1, (0.01, 0.03), (80, 200)))

    # Ripple: centred where the camera looks around frame 32 (give or take), about a quarter of the frame.
    centre = 0.5 + camera.drift * 32 + rng.uniform(-0.15, 0.15, size=2)
    ra = rng.uniform(0.26, 0.34)
    radii = (ra, ra * rng.uniform(0.7, 1.0))
    soft = 0.45
    n = 3
    weights = rng.uniform(0.5, 1.0, n)
    amp = rng.uniform(0.009, 0.013) * weights / weights.sum()  # frame units: 1-1.7 px at 128 px, peaks ~2x
    d_angle, k_angle = rng.uniform(0, 2 * math.pi, n), rng.uniform(0, 2 * math.pi, n)
    k_len = 2 * math.pi / rng.uniform(0.25, 0.5, n)  # wavelengths of a quarter to half a frame
    omega = 2 * math.pi / rng.uniform(24, 64, n)
    waves = np.stack([amp, np.cos(d_angle), np.sin(d_angle), k_len * np.cos(k_angle), k_len * np.sin(k_angle),
                      omega, rng.uniform(0, 2 * math.pi, n)], -1)
    # |grad e| <= |grad m| |g| + m |grad g| <= (1.5 / (soft * min radius)) 2 sum a + 2 sum a |k|.
    lipschitz = 2 * float((amp * (1.5 / (soft * min(radii)) + k_len)).sum())
    waves[:, 0] *= min(1.0, _MAX_LIPSCHITZ / lipschitz)
    ripple = Ripple(centre=centre, radii=radii, angle=float(rng.uniform(0, math.pi)), soft=soft, waves=waves)

    # Object: starts 0.3-0.4 frame from the centre of frame 0 and crosses it at 0.45-0.6 frame per
    # 64 frames relative to the camera's drift.
    sprite = _draw_sprite(rng, float(rng.uniform(0, 1)))
    direction = rng.uniform(0, 2 * math.pi)
    start = 0.5 - rng.uniform(0.3, 0.4) * _unit(direction) + rng.uniform(-0.15, 0.15) * _unit(direction + math.pi / 2)
    path = np.stack([_terms(rng, 2, (0.004, 0.015), (40, 160)) for _ in range(2)])
    sprite = replace(sprite, centre=start, path=path)
    relative = rng.uniform(0.45, 0.6) / 64 * _unit(direction)
    return PanScene(texture=texture, camera=camera, ripple=ripple,
                    obj=PanObject(sprite=sprite, velocity=camera.drift + relative))


# ---------------------------------------------------------------------------------------------
# camera
# ---------------------------------------------------------------------------------------------


def camera_pose(cam: PanCamera, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Centre ``[T, 2]`` (world position of the frame's centre), zoom ``[T]`` and roll ``[T]`` (radians)
    at float64 times ``t [T]`` (frames)."""
    drift = torch.from_numpy(cam.drift)
    along = drift / drift.norm()
    across = torch.stack([-along[1], along[0]])
    centre = (0.5 + drift * t[:, None] + _wave(cam.along, t)[:, None] * along
              + _wave(cam.across, t)[:, None] * across)
    return centre, torch.exp(_wave(cam.zoom, t)), _wave(cam.roll, t)


def frame_to_world(cam: PanCamera, t: Tensor, f: Tensor) -> Tensor:
    """World positions ``[T, ..., 2]`` of frame-unit points ``f [T, ..., 2]`` (or broadcastable) at times ``t [T]``."""
    centre, zoom, roll = camera_pose(cam, t)
    shape = (t.shape[0],) + (1,) * (f.ndim - 2)
    c, s, z = torch.cos(roll).reshape(shape), torch.sin(roll).reshape(shape), zoom.reshape(shape)
    dx, dy = f[..., 0] - 0.5, f[..., 1] - 0.5
    return torch.stack([centre[:, 0].reshape(shape) + z * (c * dx - s * dy),
                        centre[:, 1].reshape(shape) + z * (s * dx + c * dy)], -1)


def world_to_frame(cam: PanCamera, t: Tensor, w: Tensor) -> Tensor:
    """Frame-unit positions ``[T, ..., 2]`` of world points ``w [T, ..., 2]`` at times ``t [T]``."""
    centre, zoom, roll = camera_pose(cam, t)
    shape = (t.shape[0],) + (1,) * (w.ndim - 2)
    c, s, z = torch.cos(roll).reshape(shape), torch.sin(roll).reshape(shape), zoom.reshape(shape)
    dx, dy = w[..., 0] - centre[:, 0].reshape(shape), w[..., 1] - centre[:, 1].reshape(shape)
    return torch.stack([0.5 + (c * dx + s * dy) / z, 0.5 + (-s * dx + c * dy) / z], -1)


# ---------------------------------------------------------------------------------------------
# ripple
# ---------------------------------------------------------------------------------------------


def ripple_mask(rp: Ripple, w: Tensor) -> tuple[Tensor, Tensor]:
    """The patch's mask ``m [...]`` in [0, 1] and its gradient ``[..., 2]`` at world points ``w [..., 2]``."""
    ca, sa = math.cos(rp.angle), math.sin(rp.angle)
    dx, dy = w[..., 0] - float(rp.centre[0]), w[..., 1] - float(rp.centre[1])
    p, q = (ca * dx + sa * dy) / rp.radii[0], (-sa * dx + ca * dy) / rp.radii[1]
    rho = torch.sqrt(p * p + q * q).clamp(min=1e-12)
    s = ((1 - rho) / rp.soft).clamp(0, 1)
    m = s * s * (3 - 2 * s)
    dm = -6 * s * (1 - s) / rp.soft  # dm / drho, zero where the mask is flat (and so at rho = 0)
    gp, gq = dm * p / (rho * rp.radii[0]), dm * q / (rho * rp.radii[1])  # gradient in the ellipse's frame
    return m, torch.stack([ca * gp - sa * gq, sa * gp + ca * gq], -1)


def _ripple(rp: Ripple, t: Tensor, w: Tensor, jacobian: bool) -> tuple[Tensor, Tensor | None]:
    """``e_t(w) [T, ..., 2]`` and optionally its Jacobian ``[T, ..., 2, 2]`` (d e_i / d w_j), ``w [T, ..., 2]``."""
    shape = (t.shape[0],) + (1,) * (w.ndim - 2)
    tt = t.reshape(shape)
    g = torch.zeros_like(w)
    grad_g = torch.zeros((*w.shape, 2), dtype=w.dtype) if jacobian else None
    for a, dx, dy, kx, ky, omega, phi in rp.waves.tolist():
        arg = kx * w[..., 0] + ky * w[..., 1] + phi
        moving, still = arg - omega * tt, arg
        amp = a * (torch.sin(moving) - torch.sin(still))
        g = g + torch.stack([dx * amp, dy * amp], -1)
        if grad_g is not None:
            da = a * (torch.cos(moving) - torch.cos(still))
            grad_g = grad_g + torch.stack([torch.stack([dx * kx * da, dx * ky * da], -1),
                                           torch.stack([dy * kx * da, dy * ky * da], -1)], -2)
    m, grad_m = ripple_mask(rp, w)
    e = m[..., None] * g
    if grad_g is None:
        return e, None
    return e, g[..., :, None] * grad_m[..., None, :] + m[..., None, None] * grad_g


def rest_position(rp: Ripple, t: Tensor, w: Tensor) -> Tensor:
    """The backward map: rest positions ``u = w + e_t(w)`` ``[T, ..., 2]`` of world points ``w [T, ..., 2]``."""
    return w + _ripple(rp, t, w, jacobian=False)[0]


def world_position(rp: Ripple, t: Tensor, u: Tensor) -> Tensor:
    """The forward map: world positions ``w [T, ..., 2]`` solving ``w + e_t(w) = u`` for rest points
    ``u [T, ..., 2]`` (float64; Newton's method, converged to ~1e-12 frame units as ``e_t`` is a contraction)."""
    w = u.clone()
    for _ in range(_NEWTON_STEPS):
        e, jac = _ripple(rp, t, w, jacobian=True)
        assert jac is not None
        r = w + e - u
        a, b, c, d = 1 + jac[..., 0, 0], jac[..., 0, 1], jac[..., 1, 0], 1 + jac[..., 1, 1]
        det = a * d - b * c
        w = w - torch.stack([(d * r[..., 0] - b * r[..., 1]) / det, (a * r[..., 1] - c * r[..., 0]) / det], -1)
    return w


# ---------------------------------------------------------------------------------------------
# object
# ---------------------------------------------------------------------------------------------


def object_pose(obj: PanObject, t: Tensor) -> tuple[Tensor, Tensor]:
    """World centre ``[T, 2]`` (frame units) and angle ``[T]`` (radians) of the object at times ``t [T]``."""
    centre, angle = _pose(obj.sprite, t)
    return centre + torch.from_numpy(obj.velocity) * t[:, None], angle


def object_distance(obj: PanObject, t: Tensor, w: Tensor) -> Tensor:
    """Signed distance ``[T, ...]`` (frame units, negative inside) from world points ``w [T, ..., 2]`` to
    the object's outline at times ``t [T]``; a point with distance < 0 is covered."""
    centre, angle = object_pose(obj, t)
    shape = (t.shape[0],) + (1,) * (w.ndim - 2)
    u, v = _to_local(centre.reshape((*shape, 2)), angle.reshape(shape), w[..., 0], w[..., 1])
    return _signed_distance(obj.sprite, u, v)


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


def _scene_colour(tex: PanTexture, ux: Tensor, uy: Tensor, footprint: Tensor) -> Tensor:
    """Colour ``[3, ...]`` in [0, 1] at rest positions (ux, uy) (frame units), `footprint` frame units per pixel."""
    s = tex.scale
    nx, ny, fp = ux * s, uy * s, footprint * s
    warp_f, region_f, detail_f, patch_f = tex.fields
    # A gentle domain warp makes the regions organic rather than blobby.
    wx = fbm(warp_f, nx * 0.7, ny * 0.7, fp * 0.7)
    wy = fbm(warp_f, nx * 0.7 + 23.1, ny * 0.7 - 11.7, fp * 0.7)
    region = fbm(region_f, nx + 0.45 * wx, ny + 0.45 * wy, fp)
    patches = fbm(patch_f, nx * 3.1 - 0.3 * wy, ny * 3.1 + 0.3 * wx, fp * 3.1)
    # Two layers of grain, the second finer (cheap: most of its octaves are below the pixel).
    detail = fbm(detail_f, nx * 3.3, ny * 3.3, fp * 3.3)
    grain = fbm(detail_f, nx * 8.9 + 17.3, ny * 8.9 - 5.1, fp * 8.9)
    pal = tex.palette
    col = mix(pal[0], pal[1], smoothstep(-0.5, 0.1, region))
    col = mix(col, pal[2], smoothstep(0.1, 0.7, region))
    # Patches of a fourth colour with darker rims, like lichen or pebbles.
    cover = smoothstep(0.05, 0.4, patches)
    col = mix(col, pal[3], cover * 0.85) * (1 - 0.35 * (cover * (1 - cover) * 4)).unsqueeze(0)
    # Strong luminance detail at every scale down to the pixel, so flow can lock on anywhere.
    lum = 0.72 + 0.5 * detail + 0.25 * grain
    return (col * lum.unsqueeze(0) + 0.08 * detail.unsqueeze(0)).clamp(0, 1)


# The scene's colour is a function of the rest position alone, so it is evaluated once, on a
# lattice of two texels per frame pixel, in fixed tiles (a tile's texels are computed by the same
# operations whichever frames need it, so the frames do not depend on which tiles were built when),
# and the frames sample it with Catmull-Rom interpolation. The texture is faded to features of at
# least 1.5 pixels, so the lattice oversamples it and the interpolation keeps its detail.
_TEXELS_PER_PIXEL = 2
_TILE = 64  # texels per tile side


def _tile(scene: PanScene, res: int, i: int, j: int) -> Tensor:
    """Texels ``[TILE, TILE, 3]`` float32 of tile (column i, row j); texel n sits at ``(n + 0.5) h``,
    ``h = 1 / (2 res)`` frame units, in rest coordinates."""
    h = 1.0 / (_TEXELS_PER_PIXEL * res)
    k = torch.arange(_TILE, dtype=torch.float64) + 0.5
    uy, ux = torch.meshgrid((j * _TILE + k) * h, (i * _TILE + k) * h, indexing="ij")
    m, _ = ripple_mask(scene.ripple, torch.stack([ux, uy], -1))
    # Inside the patch the waves stretch the texture by up to ~50 %: fade its detail a little earlier.
    img = _scene_colour(scene.texture, ux, uy, (1 + 0.4 * m) / res)  # [3, TILE, TILE]
    img = mix(img, img * scene.texture.tint[:, None, None], 0.8 * m.float())
    return img.permute(1, 2, 0).contiguous()


def _catmull_rom(f: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Catmull-Rom weights of the taps at -1, 0, 1, 2 for fractions ``f`` in [0, 1)."""
    f2, f3 = f * f, f * f * f
    return (-f3 + 2 * f2 - f) / 2, (3 * f3 - 5 * f2 + 2) / 2, (-3 * f3 + 4 * f2 + f) / 2, (f3 - f2) / 2


def _sample_scene(scene: PanScene, res: int, u: Tensor, tiles: dict[tuple[int, int], Tensor]) -> Tensor:
    """The scene's colour ``[..., 3]`` float32 at rest positions ``u [..., 2]`` (float64 frame units).

    `tiles` caches tiles between calls; tiles this call does not need are dropped from it.
    """
    x = u * (_TEXELS_PER_PIXEL * res) - 0.5  # texel coordinates: texel n is at n
    base = torch.floor(x)
    fx, fy = (x - base).float().unbind(-1)
    ix, iy = base.long().unbind(-1)
    t0x, t1x = (int(ix.min()) - 1) // _TILE, (int(ix.max()) + 2) // _TILE
    t0y, t1y = (int(iy.min()) - 1) // _TILE, (int(iy.max()) + 2) // _TILE
    needed = [(i, j) for j in range(t0y, t1y + 1) for i in range(t0x, t1x + 1)]
    for key in [k for k in tiles if k not in set(needed)]:
        del tiles[key]
    for i, j in needed:
        if (i, j) not in tiles:
            tiles[(i, j)] = _tile(scene, res, i, j)
    mosaic = torch.cat([torch.cat([tiles[(i, j)] for i in range(t0x, t1x + 1)], 1)
                        for j in range(t0y, t1y + 1)], 0)  # [Hm, Wm, 3]
    width = mosaic.shape[1]
    flat = mosaic.reshape(-1, 3)
    ix, iy = ix - t0x * _TILE, iy - t0y * _TILE
    wx, wy = _catmull_rom(fx), _catmull_rom(fy)
    out = torch.zeros((*u.shape[:-1], 3))
    for dy in range(4):
        row = (iy + (dy - 1)) * width + ix
        acc = torch.zeros_like(out)
        for dx in range(4):
            acc += wx[dx][..., None] * flat[row + (dx - 1)]
        out += wy[dy][..., None] * acc
    return out.clamp(0, 1)


def _render(scene: PanScene, t: Tensor, res: int, tiles: dict[tuple[int, int], Tensor]) -> Tensor:
    """Frames ``[T, 3, R, R]`` float32 in [0, 1] at float64 times ``t [T]`` (`tiles`: the texture cache)."""
    c = (torch.arange(res, dtype=torch.float64) + 0.5) / res
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    f = torch.stack([gx, gy], -1)[None]  # [1, H, W, 2] pixel centres, frame units
    w = frame_to_world(scene.camera, t, f)  # [T, H, W, 2]
    img = _sample_scene(scene, res, rest_position(scene.ripple, t, w), tiles).permute(0, 3, 1, 2)
    # The object, drawn in its local frame with the frame's pixel size (1 / res frame units, times the zoom).
    sprite = scene.obj.sprite
    centre, angle = object_pose(scene.obj, t)
    _, zoom, _ = camera_pose(scene.camera, t)
    lu, lv = _to_local(centre[:, None, None], angle[:, None, None], w[..., 0], w[..., 1])
    lu, lv = lu.float(), lv.float()
    pixels_per_unit = (res / zoom).float()[:, None, None]  # [T, 1, 1]
    alpha = _alpha(_signed_distance(sprite, lu, lv), pixels_per_unit)
    on = alpha > 0  # texture only where the object shows (possibly nowhere: it leaves the frame)
    colour = torch.zeros(3, *alpha.shape)
    if bool(on.any()):
        colour[:, on] = _sprite_colour(sprite, lu[on], lv[on], pixels_per_unit.expand_as(alpha)[on])
    return img + (colour.transpose(0, 1) - img) * alpha.unsqueeze(1)


def render_pan(scene: PanScene, num_frames: int, res: int, speed: float = 1.0) -> Tensor:
    """Frames ``[T, R, R, 3]`` uint8 of `scene` at times ``speed * i``, rendered a fixed number of frames at a time."""
    chunk = max(1, min(_MAX_CHUNK_FRAMES, _MAX_CHUNK_PIXELS // (res * res)))
    tiles: dict[tuple[int, int], Tensor] = {}
    out = []
    for start in range(0, num_frames, chunk):
        t = torch.arange(start, start + chunk, dtype=torch.float64) * speed  # may run past the end: dropped
        out.append(_to_uint8(_render(scene, t, res, tiles))[: num_frames - start])
    return torch.cat(out)


def pan_video(rng: np.random.Generator, res: int, t: Tensor, points: Tensor, *, speed: float = 1.0) -> SynthVideo:
    """A ``"pan"`` video: frames at times ``t = speed * (0, 1, ...)`` ``[T]``, tracks of ``points [N, 2]``
    (frame-0 pixels)."""
    scene = draw_pan_scene(rng)
    frames = render_pan(scene, t.shape[0], res, speed)
    # Ground truth in float64: which surface each query point is on at t = 0 (the object if it covers it) ...
    t0 = t[:1]
    w0 = frame_to_world(scene.camera, t0, ((points + 0.5) / res)[None])  # [1, N, 2]
    on_object = object_distance(scene.obj, t0, w0)[0] < 0  # [N]
    # ... where that surface point is at every time: background points follow the ripple's forward
    # map of their rest position (e_0 = 0, so the rest position is w0) ...
    w = world_position(scene.ripple, t, w0.expand(t.shape[0], -1, -1))  # [T, N, 2]
    # ... object points the object's rigid motion ...
    centre, angle = object_pose(scene.obj, t)
    lu, lv = _to_local(centre[0], angle[0], w0[0, :, 0], w0[0, :, 1])  # fixed on the object, [N]
    cos, sin = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    on_obj = torch.stack([centre[:, None, 0] + cos * lu - sin * lv, centre[:, None, 1] + sin * lu + cos * lv], -1)
    w = torch.where(on_object[None, :, None], on_obj, w)
    tracks = (world_to_frame(scene.camera, t, w) * res - 0.5).float()  # [T, N, 2] pixels
    # ... and whether it is in the frame (pixel centres) and, for the background, not under the object.
    visible = ((tracks >= 0) & (tracks <= res - 1)).all(-1)
    covered = object_distance(scene.obj, t, w) < 0
    visible &= on_object[None] | ~covered
    return SynthVideo(frames=frames, query_points=points.float(), tracks=tracks, visible=visible,
                      canonical=None, offsets=None)
