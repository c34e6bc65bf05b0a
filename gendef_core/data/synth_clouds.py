"""The ``"clouds"`` procedural videos (see `gendef_core.data.synth`): one canonical sky and an analytic,
border-respecting, invertible deformation of it, rendered with gendef's own warp."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gendef_core.data.noise import sky
from gendef_core.data.synth_sprites import _PIXELS_PER_CHUNK, SynthVideo, _to_uint8
from gendef_core.warp import pixels_to_offsets, warp_chunks

# ---------------------------------------------------------------------------------------------
# clouds: one canonical sky and an analytic, border-respecting deformation of it
# ---------------------------------------------------------------------------------------------

_MODES = 3  # spatial modes per axis: coarse enough that bilinear sampling of the field is exact to ~0.02 px
_MAX_STRAIN = 0.85  # target max |grad d| (spectral norm) < 1, so phi_t = x + d_t(x) is invertible


@dataclass(frozen=True)
class _Flow:
    """d_t in units of (size - 1) pixels. x: sum A[0,k,l](t) sin((k+1) pi X) cos(l pi Y); y: swap X and Y.

    X = x / (W - 1), Y = y / (H - 1) in [0, 1]; A(t) = sum_m c (sin(w t + p) - sin p), zero at t = 0.
    """

    coef: np.ndarray  # [2, K, K, M, 3] amplitude, angular frequency (rad/frame), phase


def _draw_flow(rng: np.random.Generator) -> _Flow:
    k = np.arange(1, _MODES + 1)[:, None]
    l = np.arange(_MODES)[None, :]  # noqa: E741 (the mode index's name in every text)
    shape = (2, _MODES, _MODES, 2)
    amp = rng.normal(size=shape) / (k * k + l * l)[None, :, :, None]  # smooth: low modes dominate
    coef = np.stack([amp, 2 * math.pi / rng.uniform(40, 160, shape), rng.uniform(0, 2 * math.pi, shape)], -1)
    # Scale to the target strain, measured over a fixed 33 x 33 grid and 256 frames so the scale
    # does not depend on the video's size or length.
    times = torch.arange(0, 257, 2, dtype=torch.float64)
    strain = _strain(_Flow(coef), times, torch.linspace(0, 1, 33, dtype=torch.float64))
    coef[..., 0] *= _MAX_STRAIN / float(strain.max())
    return _Flow(coef)


def _amplitudes(flow: _Flow, t: Tensor) -> Tensor:
    """``A(t)``: ``[..., 2, K, K]`` float64 at times ``t [...]``."""
    c = torch.from_numpy(flow.coef)
    a, w, p = c[..., 0], c[..., 1], c[..., 2]
    tt = t.reshape(t.shape + (1,) * 4)
    return (a * (torch.sin(w * tt + p) - torch.sin(p))).sum(-1)


def _basis(s: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """sin((k+1) pi s), cos(l pi s) and their s-derivatives, each ``[..., K]`` for ``s [...]`` in [0, 1]."""
    k = torch.arange(1, _MODES + 1, dtype=torch.float64) * math.pi
    l = torch.arange(_MODES, dtype=torch.float64) * math.pi  # noqa: E741
    s = s[..., None]
    return torch.sin(k * s), torch.cos(l * s), k * torch.cos(k * s), -l * torch.sin(l * s)


def _field(flow: _Flow, t: Tensor, xs: Tensor) -> Tensor:
    """d_t on the grid ``xs x xs`` (normalised, [0, 1]): ``[T, 2, len, len]`` float64 in (W-1) units."""
    a = _amplitudes(flow, t)  # [T, 2, K, K]
    sk, cl, _, _ = _basis(xs)
    dx = torch.einsum("tkl,xk,yl->tyx", a[:, 0], sk, cl)
    dy = torch.einsum("tkl,yk,xl->tyx", a[:, 1], sk, cl)
    return torch.stack([dx, dy], dim=1)


def _at_points(flow: _Flow, a: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """d and grad d at points: a ``[T, 2, K, K]``, x, y ``[T, N]`` -> ``[T, N, 2]``, ``[T, N, 2, 2]``."""
    sx, cx, dsx, dcx = _basis(x)
    sy, cy, dsy, dcy = _basis(y)
    ax, ay = a[:, 0], a[:, 1]
    e = "tkl,tnk,tnl->tn"
    d = torch.stack([torch.einsum(e, ax, sx, cy), torch.einsum(e, ay, sy, cx)], -1)
    jac = torch.stack([torch.stack([torch.einsum(e, ax, dsx, cy), torch.einsum(e, ax, sx, dcy)], -1),
                       torch.stack([torch.einsum(e, ay, sy, dcx), torch.einsum(e, ay, dsy, cx)], -1)], -2)
    return d, jac


def _strain(flow: _Flow, t: Tensor, xs: Tensor) -> Tensor:
    """Spectral norm of grad d at times t on the grid xs x xs: ``[T, len, len]``."""
    y, x = torch.meshgrid(xs, xs, indexing="ij")
    a = _amplitudes(flow, t)
    n = t.shape[0]
    _, j = _at_points(flow, a, x.reshape(1, -1).expand(n, -1), y.reshape(1, -1).expand(n, -1))
    return torch.linalg.matrix_norm(j, ord=2).reshape(t.shape[0], xs.shape[0], xs.shape[0])


def _invert(flow: _Flow, t: Tensor, points: Tensor, res: int) -> Tensor:
    """Solve x + d_t(x) = p for every t and point by Newton's method: ``[T, N, 2]`` float64 pixels."""
    a = _amplitudes(flow, t)
    p = (points / (res - 1)).expand(t.shape[0], -1, -1)  # normalised, [T, N, 2]
    x = p.clone()
    eye = torch.eye(2, dtype=torch.float64)
    for _ in range(50):
        d, jac = _at_points(flow, a, x[..., 0], x[..., 1])
        residual = x + d - p
        if float(residual.abs().max()) * (res - 1) < 1e-9:
            break
        x = (x - torch.linalg.solve(eye + jac, residual)).clamp(0, 1)
    return x * (res - 1)


def clouds_video(rng: np.random.Generator, res: int, t: Tensor, points: Tensor) -> SynthVideo:
    canonical = sky(rng, res) * 2 - 1  # [3, H, W] in [-1, 1]
    flow = _draw_flow(rng)
    xs = torch.linspace(0, 1, res, dtype=torch.float64)
    chunk = max(1, _PIXELS_PER_CHUNK // (res * res))
    # The field is evaluated in float64 a chunk of frames at a time, then stored as float32.
    offsets = torch.cat([pixels_to_offsets(_field(flow, t[i:i + chunk], xs) * (res - 1), (res, res)).float()
                         for i in range(0, t.shape[0], chunk)])  # [T, 2, H, W]
    frames = torch.cat([_to_uint8((f + 1) / 2) for f in warp_chunks(canonical, offsets, chunk=chunk)])
    tracks = _invert(flow, t, points, res)
    visible = ((tracks >= 0) & (tracks <= res - 1)).all(-1)
    return SynthVideo(frames=frames, query_points=points.float(), tracks=tracks.float(), visible=visible,
                      canonical=canonical, offsets=offsets)
