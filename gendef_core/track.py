"""Point tracking through a backward map: inverting m_t, pure tensor functions (no I/O).

A clip's frame t samples the canonical at ``m_t(p) = p + o + offsets_px[t](p)`` (gendef_core.warp:
pixels, x right, y down, (0, 0) the centre of the top-left pixel; ``o = (ox, oy)`` the integer origin of
the frame on a canonical larger than the frame, (0, 0) when the canonical has the frame's size). A
point q drawn on the canonical image is therefore at the frame position p that solves ``m_t(p) = q``.
Frame positions p are always frame pixels; canonical points q and residuals canonical pixels. Every
function takes the canonical's size ``(Hc, Wc)`` (default: the frame's) and the origin (default (0, 0)).

How it is solved, for all points of a frame at once (no Python loop over points):

* ``m_t`` between pixel centres is the bilinear interpolation of its values at the pixels (the same
  interpolation the warp uses). Outside the frame it is extended with slope one (the offset of the
  nearest border pixel), so a point whose content has left the frame still gets a well-defined
  position, outside the frame, and is reported invisible.
* First guess: the frame pixel whose sample position is nearest to q (a k-d tree over the H*W
  positions), or the previous frame's answer, so a track stays on one branch where the map folds.
* Damped Newton with the exact Jacobian of the bilinear cell; steps are capped in length and halved
  until the residual decreases. Points still off by more than `tolerance` after continuation are
  re-seeded from the nearest-pixel guess and the better answer is kept.
* A point is visible in a frame when its residual |m_t(p) - q| is below `tolerance` (0.5 canonical
  pixels by default) and p lies inside the frame's pixel centres, [0, W-1] x [0, H-1]; and, for a
  clip with a visibility map (fitted videos: False where the canonical does not explain the frame
  pixel, e.g. an occluder), when the frame pixel nearest to p is visible (`visible_at`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gendef_core.warp import Mode, Origin, sample, sample_positions

TOLERANCE = 0.5    # canonical pixels: larger residuals mean "no preimage here" (invisible)
_ITERATIONS = 30
_MAX_STEP = 4.0    # pixels per Newton step
_HALVINGS = 6

Size = tuple[int, int]


def _positions(offsets_t: Tensor, canonical_size: Size | None, origin: Origin) -> Tensor:
    """The backward map of one frame in canonical pixels, float64 ``[2, H, W]``; canonical size default: the frame's."""
    size = canonical_size if canonical_size is not None else (offsets_t.shape[-2], offsets_t.shape[-1])
    return sample_positions(offsets_t.double(), size, origin)


@dataclass(frozen=True)
class Tracks:
    """Tracks of N points through T frames (pixels, x right, y down)."""

    tracks: Tensor      # float32 [T, N, 2] frame positions
    visible: Tensor     # bool [T, N]
    residual: Tensor    # float32 [T, N] |m_t(track) - query| in canonical pixels
    canonical: Tensor   # float32 [N, 2] the canonical points that were tracked


def map_at(positions: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
    """Evaluate a backward map and its Jacobian at real frame positions.

    positions ``[2, H, W]``: the map at the pixel centres (canonical pixels, `sample_positions`);
    points ``[N, 2]`` frame pixels (x, y). Returns values ``[N, 2]`` and Jacobians ``[N, 2, 2]``
    (``J[:, i, j] = d m_i / d p_j``), bilinear inside the frame, slope one outside it.
    """
    _, h, w = positions.shape
    dtype = points.dtype
    x, y = points[:, 0], points[:, 1]
    cx, cy = x.clamp(0, w - 1), y.clamp(0, h - 1)
    j0 = cx.floor().clamp(max=w - 2).long()
    i0 = cy.floor().clamp(max=h - 2).long()
    a = (cx - j0).unsqueeze(0)   # [1, N] fraction along x
    b = (cy - i0).unsqueeze(0)
    flat = positions.reshape(2, -1).to(dtype)
    idx = i0 * w + j0
    m00, m01, m10, m11 = flat[:, idx], flat[:, idx + 1], flat[:, idx + w], flat[:, idx + w + 1]  # [2, N]
    value = (1 - b) * ((1 - a) * m00 + a * m01) + b * ((1 - a) * m10 + a * m11)
    dx = (1 - b) * (m01 - m00) + b * (m11 - m10)
    dy = (1 - a) * (m10 - m00) + a * (m11 - m01)
    out_x = (x != cx).unsqueeze(0)  # beyond the left/right border: m moves with slope one in x
    out_y = (y != cy).unsqueeze(0)
    unit_x = torch.tensor([[1.0], [0.0]], dtype=dtype, device=points.device)
    unit_y = torch.tensor([[0.0], [1.0]], dtype=dtype, device=points.device)
    dx = torch.where(out_x, unit_x, dx)
    dy = torch.where(out_y, unit_y, dy)
    value = value + unit_x * (x - cx) + unit_y * (y - cy)
    return value.T, torch.stack([dx.T, dy.T], dim=-1)


def nearest_pixels(positions: Tensor, targets: Tensor) -> Tensor:
    """For each target ``[N, 2]`` (canonical px), the frame pixel ``[N, 2]`` whose sample position is nearest."""
    from scipy.spatial import cKDTree

    w = positions.shape[-1]
    tree = cKDTree(positions.reshape(2, -1).T.double().cpu().numpy())
    _, index = tree.query(targets.double().cpu().numpy())
    index = torch.as_tensor(index, dtype=torch.long)
    return torch.stack([index % w, index // w], dim=-1).to(targets.dtype)


def invert(positions: Tensor, targets: Tensor, init: Tensor | None = None, *,
           iterations: int = _ITERATIONS, tol: float = 1e-7) -> tuple[Tensor, Tensor]:
    """Solve ``m(p) = target`` for each target: ``([N, 2] frame px, [N] residual in canonical px)``.

    `positions` ``[2, H, W]`` is the map (see `map_at`); `init` ``[N, 2]`` the first guess (default:
    `nearest_pixels`). Works in float64 whatever the input dtype.
    """
    pos = positions.double()
    t = targets.double()
    x = (nearest_pixels(pos, t) if init is None else init).double().clone()
    value, jac = map_at(pos, x)
    r = value - t
    res = torch.hypot(r[:, 0], r[:, 1])
    for _ in range(iterations):
        active = res > tol
        if not bool(active.any()):
            break
        det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
        adj = torch.stack([torch.stack([jac[:, 1, 1], -jac[:, 0, 1]], -1),
                           torch.stack([-jac[:, 1, 0], jac[:, 0, 0]], -1)], dim=-2)
        safe = det.abs() > 1e-9
        newton = -(adj @ r.unsqueeze(-1)).squeeze(-1) / torch.where(safe, det, torch.ones_like(det)).unsqueeze(-1)
        step = torch.where(safe.unsqueeze(-1), newton, -r)  # singular Jacobian: a fixed-point step
        length = torch.hypot(step[:, :1], step[:, 1:])  # [N, 1]; torch.norm is slow on [N, 2]
        step = step * (_MAX_STEP / length.clamp(min=_MAX_STEP))
        improved = torch.zeros_like(active)
        for _ in range(_HALVINGS):  # backtracking, for every point at once
            trial = x + step
            v2, j2 = map_at(pos, trial)
            r2 = v2 - t
            res2 = torch.hypot(r2[:, 0], r2[:, 1])
            accept = active & ~improved & (res2 < res)
            x = torch.where(accept.unsqueeze(-1), trial, x)
            r = torch.where(accept.unsqueeze(-1), r2, r)
            jac = torch.where(accept.view(-1, 1, 1), j2, jac)
            res = torch.where(accept, res2, res)
            improved |= accept
            if bool((improved | ~active).all()):
                break
            step = step * 0.5
        if not bool(improved.any()):
            break
    return x, res


def inside(points: Tensor, h: int, w: int, eps: float = 1e-4) -> Tensor:
    """``[..., 2]`` frame positions -> bool ``[...]``: within the pixel centres [0, W-1] x [0, H-1], give or
    take `eps` pixels (float32 offsets put a point on the border a few 1e-8 px to either side)."""
    x, y = points[..., 0], points[..., 1]
    return (x >= -eps) & (x <= w - 1 + eps) & (y >= -eps) & (y <= h - 1 + eps)


def visible_at(visibility: Tensor, points: Tensor) -> Tensor:
    """A frame's visibility map ``bool [H, W]`` read at frame positions ``[..., 2]`` -> bool ``[...]``.

    The nearest pixel's value (rounding half to even); False for positions outside the frame (`inside`).
    """
    h, w = visibility.shape
    j = points[..., 0].round().clamp(0, w - 1).long()
    i = points[..., 1].round().clamp(0, h - 1).long()
    return visibility.to(device=points.device, dtype=torch.bool)[i, j] & inside(points, h, w)


def _solve(positions: Tensor, targets: Tensor, init: Tensor | None, tolerance: float) -> tuple[Tensor, Tensor]:
    x, res = invert(positions, targets, init)
    bad = res > tolerance
    if init is not None and bool(bad.any()):  # lost (or never had) a preimage: try the nearest-pixel guess
        x2, res2 = invert(positions, targets[bad])
        better = res2 < res[bad]
        x[bad] = torch.where(better.unsqueeze(-1), x2, x[bad])
        res[bad] = torch.where(better, res2, res[bad])
    return x, res


def track_canonical_points(offsets: Tensor, points: Tensor, *, start_frame: int = 0, start: Tensor | None = None,
                           tolerance: float = TOLERANCE, canonical_size: Size | None = None, origin: Origin = (0, 0),
                           visibility: Tensor | None = None) -> Tracks:
    """Track canonical points ``[N, 2]`` (canonical px) through a clip's ``offsets [T, 2, H, W]``.

    Frames are solved outward from `start_frame` (forward, then backward), each from its neighbour's
    answer; `start` ``[N, 2]`` (frame px) is the first guess at `start_frame` (default: nearest pixel).
    `canonical_size` ``(Hc, Wc)`` defaults to the frame size and `origin` to (0, 0) (generated clips);
    with `visibility` ``bool [T, H, W]`` a point is visible only where the nearest frame pixel is.
    """
    t_total, _, h, w = offsets.shape
    if not 0 <= start_frame < t_total:
        raise ValueError(f"start_frame must be in 0..{t_total - 1}, got {start_frame}")
    if visibility is not None and tuple(visibility.shape) != (t_total, h, w):
        raise ValueError(f"visibility must be [T, H, W] = [{t_total}, {h}, {w}], got {tuple(visibility.shape)}")
    q = points.double()
    tracks = torch.zeros(t_total, q.shape[0], 2, dtype=torch.float64)
    res = torch.zeros(t_total, q.shape[0], dtype=torch.float64)

    def sweep(frames: range, guess: Tensor | None) -> None:
        for t in frames:
            tracks[t], res[t] = _solve(_positions(offsets[t], canonical_size, origin), q, guess, tolerance)
            guess = tracks[t].clone()

    sweep(range(start_frame, t_total), None if start is None else start.double())
    sweep(range(start_frame - 1, -1, -1), tracks[start_frame].clone())
    visible = (res < tolerance) & inside(tracks, h, w)
    if visibility is not None:
        visible &= torch.stack([visible_at(visibility[t], tracks[t]) for t in range(t_total)])
    return Tracks(tracks.float(), visible, res.float(), points.float())


def frame_to_canonical(offsets_t: Tensor, points: Tensor, *, canonical_size: Size | None = None,
                       origin: Origin = (0, 0)) -> Tensor:
    """Frame points ``[N, 2]`` of one frame (``offsets_t [2, H, W]``) -> canonical points ``[N, 2]``: m_t(p)."""
    value, _ = map_at(_positions(offsets_t, canonical_size, origin), points.double())
    return value.to(points.dtype)


def _pixel_grid(h: int, w: int) -> Tensor:
    """Every pixel centre of an H x W image as (x, y), row by row: float64 ``[H*W, 2]``."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)


def pull_to_canonical(image: Tensor, offsets_t: Tensor, *, tolerance: float = TOLERANCE,
                      canonical_size: Size | None = None, origin: Origin = (0, 0), visibility: Tensor | None = None,
                      mode: Mode = "bilinear") -> tuple[Tensor, Tensor]:
    """Map an image drawn on frame t (``[C, H, W]``, frame size) onto the canonical through the deformation.

    Every canonical pixel q of the ``(Hc, Wc)`` canonical (default: the frame's size) is located in the
    frame (p = m_t^-1(q)) and samples the image there (`mode` "bilinear", or "nearest" for label maps).
    Returns the canonical-space image ``[C, Hc, Wc]`` and ``valid [Hc, Wc]`` (q is shown by frame t: it
    has a preimage inside the frame and, with `visibility` ``bool [H, W]`` of frame t, at a visible
    pixel); invalid pixels are 0.
    """
    h, w = offsets_t.shape[-2:]
    if visibility is not None and tuple(visibility.shape) != (h, w):
        raise ValueError(f"visibility must be the frame's [H, W] = [{h}, {w}], got {tuple(visibility.shape)}")
    hc, wc = canonical_size if canonical_size is not None else (h, w)
    p, res = invert(_positions(offsets_t, (hc, wc), origin), _pixel_grid(hc, wc))
    ok = (res < tolerance) & inside(p, h, w)
    if visibility is not None:
        ok &= visible_at(visibility, p)
    valid = ok.reshape(hc, wc)
    field = p.T.reshape(1, 1, 2, hc, wc).to(image.dtype if image.is_floating_point() else torch.float32)
    pulled = sample(image[None].float(), field, mode=mode)[0, 0]
    return pulled * valid, valid


def optical_flow(offsets: Tensor, *, tolerance: float = TOLERANCE, canonical_size: Size | None = None,
                 origin: Origin = (0, 0), visibility: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Forward optical flow between consecutive frames, from the deformation: ``([T-1, 2, H, W], [T-1, H, W])``.

    ``flow[t][:, i, j]`` is where the content at frame-t pixel (j, i) is in frame t+1, minus (j, i), in
    frame pixels; `valid` is False where that content is not visible in frame t+1. With `visibility`
    ``bool [T, H, W]`` it is also False where the source pixel is not visible in frame t or the target's
    nearest pixel is not visible in frame t+1.
    """
    t_total, _, h, w = offsets.shape
    if visibility is not None and tuple(visibility.shape) != (t_total, h, w):
        raise ValueError(f"visibility must be [T, H, W] = [{t_total}, {h}, {w}], got {tuple(visibility.shape)}")
    p = _pixel_grid(h, w)
    flow = torch.zeros(max(t_total - 1, 0), 2, h, w)
    valid = torch.zeros(max(t_total - 1, 0), h, w, dtype=torch.bool)
    nxt = _positions(offsets[0], canonical_size, origin)
    for t in range(t_total - 1):
        current, nxt = nxt, _positions(offsets[t + 1], canonical_size, origin)
        q = current.reshape(2, -1).T
        p1, res = _solve(nxt, q, p, tolerance)
        flow[t] = (p1 - p).T.reshape(2, h, w).float()
        ok = (res < tolerance) & inside(p1, h, w)
        if visibility is not None:
            ok &= visibility[t].reshape(-1).to(torch.bool) & visible_at(visibility[t + 1], p1)
        valid[t] = ok.reshape(h, w)
    return flow, valid
