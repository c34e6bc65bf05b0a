"""The ``"sprites"`` procedural videos (see `gendef_core.data.synth`): a still, textured scene with 1-3
textured, shaded objects moving and rotating in front of it, and the video record all kinds return."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gendef_core.data.noise import Fbm, fbm, hsv, jitter, make_fbm, mix, scenery, smoothstep, unit_grid

_PIXELS_PER_CHUNK = 1 << 21  # frames are rendered a few at a time to bound memory at 256 px


@dataclass(frozen=True)
class SynthVideo:
    """One synthetic video and its ground truth (N = grid**2 query points, T frames of H x W).

    Attributes:
        frames: ``[T, H, W, 3]`` uint8 RGB.
        query_points: ``[N, 2]`` float32 pixel (x, y) on frame 0 (for clouds, frame 0 is the canonical).
        tracks: ``[T, N, 2]`` float32 pixel (x, y) of each query point's surface point in every frame.
        visible: ``[T, N]`` bool, True where that point is inside the frame and not occluded.
        canonical: ``[3, H, W]`` float32 in [-1, 1] for clouds; None for sprites and pan (occlusion
            and content entering the frame leave no same-size backward map).
        offsets: ``[T, 2, H, W]`` float32 normalised backward-warp offsets (see `gendef_core.warp`)
            for clouds; None for sprites and pan. For clouds ``frames`` is ``warp(canonical, offsets)``
            quantised as ``round((x + 1) / 2 * 255)``, so frame 0 is the quantised canonical.
    """

    frames: Tensor
    query_points: Tensor
    tracks: Tensor
    visible: Tensor
    canonical: Tensor | None
    offsets: Tensor | None


def _to_uint8(rgb01: Tensor) -> Tensor:
    """``[T, 3, H, W]`` floats in [0, 1] -> ``[T, H, W, 3]`` uint8."""
    return (rgb01 * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


# ---------------------------------------------------------------------------------------------
# sprites: a still scene, and rigid textured objects in a fixed depth order
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sprite:
    """One object. Lengths are in frame units (the frame is 1 x 1); time is in frames."""

    radii: tuple[float, float]  # superellipse semi-axes along local u, v
    power: float  # superellipse exponent: 2 is an ellipse, larger is squarer
    wobble: np.ndarray  # [3, 2] amplitude and phase of the radius' cos(k * angle), k = 2, 3, 4
    centre: np.ndarray  # [2] position at t = 0
    path: np.ndarray  # [2, 3, 3] per axis and term: amplitude, angular frequency (rad/frame), phase
    angle: float  # rotation at t = 0, radians (local -> frame, clockwise on screen as y is down)
    spin: np.ndarray  # [4, 3]: row 0 (rate rad/frame, 0, 0), rows 1-3 (amplitude, frequency, phase)
    texture: tuple[Fbm, Fbm]  # colour mottling, pattern distortion
    colours: tuple[Tensor, Tensor, Tensor]  # base, second, pattern colours [3]
    pattern: int  # 0 mottled, 1 marbled stripes, 2 spots
    pattern_scale: float  # texture feature size, frame units
    stripe_dir: float  # marble direction, radians
    light: Tensor  # [3] unit light direction in the local frame
    gloss: float  # specular strength
    shadow: float  # how much of the light below this object it blocks


@dataclass(frozen=True)
class _Scene:
    background: Tensor  # [3, H, W] float32 in [0, 1]
    sprites: tuple[_Sprite, ...]  # bottom to top
    res: int


def _wave(params: np.ndarray, t: Tensor) -> Tensor:
    """``sum_m a_m (sin(w_m t + p_m) - sin p_m)`` for ``params [M, 3]`` rows (a, w, p): zero at t = 0."""
    a, w, p = (torch.from_numpy(params[:, i]) for i in range(3))
    return (a * (torch.sin(w * t[..., None] + p) - torch.sin(p))).sum(-1)


def _pose(s: _Sprite, t: Tensor) -> tuple[Tensor, Tensor]:
    """Centre ``[T, 2]`` (frame units) and angle ``[T]`` at float64 times ``t [T]``."""
    centre = torch.from_numpy(s.centre) + torch.stack([_wave(s.path[0], t), _wave(s.path[1], t)], -1)
    return centre, s.angle + s.spin[0, 0] * t + _wave(s.spin[1:], t)


def _to_local(centre: Tensor, angle: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse rigid map from frame units to the object's local frame; centre/angle broadcast to x."""
    dx, dy = x - centre[..., 0], y - centre[..., 1]
    c, s = torch.cos(angle), torch.sin(angle)
    return c * dx + s * dy, -s * dx + c * dy


def _signed_distance(s: _Sprite, u: Tensor, v: Tensor) -> Tensor:
    """Approximate signed distance to the outline (frame units, negative inside), measured radially."""
    a, b = s.radii
    su, sv = u / a, v / b
    rho = (su.abs() ** s.power + sv.abs() ** s.power) ** (1 / s.power)
    theta = torch.atan2(sv, su)
    edge = 1 + sum(float(amp) * torch.cos((k + 2) * theta + float(phase))
                   for k, (amp, phase) in enumerate(s.wobble))
    # Radial distance: r / rho is the length of a unit of rho along this ray (min(a, b) at the centre).
    scale = torch.where(rho > 1e-6, torch.hypot(u, v) / rho.clamp(min=1e-6), torch.full_like(rho, min(a, b)))
    return (rho - edge) * scale


def _alpha(d: Tensor, res: float | Tensor) -> Tensor:
    # A 1.5 px linear-ish ramp centred on the outline: anti-aliased, and alpha > 0.5 exactly inside.
    return smoothstep(0.75 / res, -0.75 / res, d)


def _sprite_colour(s: _Sprite, u: Tensor, v: Tensor, res: float | Tensor) -> Tensor:
    """Shaded colour ``[3, ...]`` in [0, 1] at local points (u, v) (frame units); `res` is pixels per
    frame unit (a tensor broadcastable to u for a per-point pixel size)."""
    fp = 1.0 / (res * s.pattern_scale)  # noise units per pixel
    nu, nv = u / s.pattern_scale, v / s.pattern_scale
    mottle = fbm(s.texture[0], nu, nv, fp)
    albedo = mix(s.colours[0], s.colours[1], smoothstep(-0.6, 0.6, mottle))
    if s.pattern == 1:
        warp_n = fbm(s.texture[1], nu, nv, fp)
        phase = (math.cos(s.stripe_dir) * nu + math.sin(s.stripe_dir) * nv) * 0.7 + 1.2 * warp_n
        albedo = mix(albedo, s.colours[2], smoothstep(0.2, 0.9, torch.sin(phase * math.pi)) * 0.85)
    elif s.pattern == 2:
        spots = smoothstep(0.1, 0.4, fbm(s.texture[1], nu * 0.7, nv * 0.7, fp * 0.7))
        albedo = mix(albedo, s.colours[2], spots)
    # Fake relief: an ellipsoidal dome over the outline, lit in the object's own frame, so a
    # surface point keeps its colour as the object turns (the tracks stay colour-consistent).
    a, b = s.radii
    qu, qv = u / (1.15 * a), v / (1.15 * b)
    nz = (1 - qu * qu - qv * qv).clamp(min=0).sqrt() + 0.35
    norm = torch.sqrt(qu * qu + qv * qv + nz * nz)
    lam = ((qu * s.light[0] + qv * s.light[1] + nz * s.light[2]) / norm).clamp(min=0)
    half = s.light + torch.tensor([0.0, 0.0, 1.0])
    half = half / half.norm()
    spec = ((qu * half[0] + qv * half[1] + nz * half[2]) / norm).clamp(min=0) ** 24 * s.gloss
    return (albedo * (0.35 + 0.8 * lam).unsqueeze(0) + spec.unsqueeze(0)).clamp(0, 1)


def _draw_sprite(rng: np.random.Generator, hue: float) -> _Sprite:
    a = rng.uniform(0.09, 0.2)
    periods = rng.uniform(40, 160, size=(2, 3))
    path = np.stack([rng.uniform(0.04, 0.2, size=(2, 3)) * rng.choice([-1, 1], size=(2, 3)),
                     2 * math.pi / periods, rng.uniform(0, 2 * math.pi, size=(2, 3))], -1)
    spin = np.zeros((4, 3))
    spin[0, 0] = rng.uniform(-0.015, 0.015)
    spin[1:] = np.stack([rng.uniform(0.05, 0.3, 3), 2 * math.pi / rng.uniform(40, 160, 3),
                         rng.uniform(0, 2 * math.pi, 3)], -1)
    base = hsv(hue, rng.uniform(0.4, 0.85), rng.uniform(0.55, 0.95))
    second = jitter(rng, base * rng.uniform(0.55, 0.85), 0.08)
    accent_hue = hue + (0.5 if rng.random() < 0.4 else rng.uniform(-0.15, 0.15))
    accent = hsv(accent_hue, rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.95))
    light_angle = rng.uniform(0.6, 1.2) * math.pi  # from the upper left, in the object's frame
    light = torch.tensor([math.cos(light_angle), -abs(math.sin(light_angle)), 1.1])
    return _Sprite(radii=(a, a * rng.uniform(0.55, 1.0)), power=rng.uniform(1.7, 4.0),
                   wobble=np.stack([rng.uniform(0, 0.06, 3), rng.uniform(0, 2 * math.pi, 3)], -1),
                   centre=rng.uniform(0.2, 0.8, size=2), path=path, angle=rng.uniform(0, 2 * math.pi),
                   spin=spin, colours=(base, second, accent),
                   texture=(make_fbm(rng, persistence=0.45), make_fbm(rng, octaves=3, persistence=0.4)),
                   pattern=int(rng.integers(0, 3)), pattern_scale=a * rng.uniform(0.35, 0.7),
                   stripe_dir=rng.uniform(0, math.pi), light=light / light.norm(),
                   gloss=rng.uniform(0.0, 0.35), shadow=rng.uniform(0.25, 0.45))


_SHADOW_OFFSET = (0.025, 0.045)  # frame units; the scene is lit from the upper left


def _layers(scene: _Scene, t: Tensor) -> tuple[Tensor, Tensor]:
    """Render times ``t [T]``: frames ``[T, 3, H, W]`` in [0, 1], and ``[T, H, W]`` bool where any
    object or shadow touches the frame (everywhere else the frame is the background, bit for bit)."""
    res = scene.res
    gx, gy = unit_grid(res)
    img = scene.background.unsqueeze(0).repeat(t.shape[0], 1, 1, 1)  # [T, 3, H, W]
    touched = torch.zeros(t.shape[0], res, res, dtype=torch.bool)
    for s in scene.sprites:
        centre, angle = _pose(s, t)
        centre, angle = centre.float()[:, None, None], angle.float()[:, None, None]
        su, sv = _to_local(centre, angle, gx - _SHADOW_OFFSET[0], gy - _SHADOW_OFFSET[1])
        # The shadow is the outline blurred by a penumbra of 3% of the frame plus a pixel.
        pen = 0.03 + 1.0 / res
        shade = smoothstep(pen, -pen, _signed_distance(s, su, sv)) * s.shadow
        img = img * (1 - shade.unsqueeze(1))
        u, v = _to_local(centre, angle, gx, gy)
        alpha = _alpha(_signed_distance(s, u, v), res)
        on = alpha > 0  # texture only where the object shows: most of the frame is elsewhere
        colour = torch.zeros(3, *alpha.shape)
        colour[:, on] = _sprite_colour(s, u[on], v[on], res)
        img = img + (colour.transpose(0, 1) - img) * alpha.unsqueeze(1)
        touched |= (shade > 0) | on
    return img, touched


def sprite_scene(rng: np.random.Generator, res: int) -> _Scene:
    background = scenery(rng, res)
    hues = rng.uniform(0, 1) + np.arange(3) / 3 + rng.uniform(-0.08, 0.08, 3)  # spread for variety
    sprites = tuple(_draw_sprite(rng, float(h)) for h in hues[: int(rng.integers(1, 4))])
    return _Scene(background=background, sprites=sprites, res=res)


def sprites_video(scene: _Scene, t: Tensor, points: Tensor) -> SynthVideo:
    res = scene.res
    chunk = max(1, _PIXELS_PER_CHUNK // (res * res))
    frames = torch.cat([_to_uint8(_layers(scene, t[i:i + chunk])[0]) for i in range(0, t.shape[0], chunk)])
    # Ground truth in float64 on the analytic shapes: which surface each point is on at t = 0, ...
    qx, qy = (points[:, 0] + 0.5) / res, (points[:, 1] + 0.5) / res  # frame units, [N]
    surface = torch.full((points.shape[0],), -1)
    poses = [_pose(s, t) for s in scene.sprites]
    for k, (s, (c, a)) in enumerate(zip(scene.sprites, poses, strict=True)):
        inside = _signed_distance(s, *_to_local(c[0], a[0], qx, qy)) < 0
        surface = torch.where(inside, k, surface)
    # ... where that surface point is in every frame (still for the background) ...
    tx, ty = qx.expand(t.shape[0], -1).clone(), qy.expand(t.shape[0], -1).clone()  # [T, N]
    for k, (c, a) in enumerate(poses):
        u, v = _to_local(c[0], a[0], qx, qy)  # the point's local coordinates, fixed on the object
        cos, sin = torch.cos(a)[:, None], torch.sin(a)[:, None]
        on = surface == k
        tx = torch.where(on, c[:, None, 0] + cos * u - sin * v, tx)
        ty = torch.where(on, c[:, None, 1] + sin * u + cos * v, ty)
    # ... and whether an object drawn above it covers it there (alpha > 0.5 means d < 0).
    visible = (tx >= 0.5 / res) & (tx <= 1 - 0.5 / res) & (ty >= 0.5 / res) & (ty <= 1 - 0.5 / res)
    for k, (s, (c, a)) in enumerate(zip(scene.sprites, poses, strict=True)):
        covered = _signed_distance(s, *_to_local(c[:, None], a[:, None], tx, ty)) < 0
        visible &= ~(covered & (surface < k))
    tracks = torch.stack([tx * res - 0.5, ty * res - 0.5], dim=-1)
    return SynthVideo(frames=frames, query_points=points.float(), tracks=tracks.float(), visible=visible,
                      canonical=None, offsets=None)
