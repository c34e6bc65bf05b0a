"""Pure geometry of the fit: global motion, canvas sizing, map chaining, control grids, folds.

A *map* is the backward map of gendef.warp in canonical pixels: ``[2, H, W]`` (x, y) giving, for
each frame pixel, where it samples the canonical. Homographies are 3x3 numpy float64 matrices
acting on homogeneous pixel coordinates (x, y, 1), x right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def homography_from_flow(flow: np.ndarray, valid: np.ndarray, *, step: int = 4,
                         threshold: float = 1.0) -> np.ndarray:
    """The homography H with ``H p ≈ p + flow[p]`` (RANSAC over a grid of valid pixels).

    ``flow [H, W, 2]``, ``valid bool [H, W]``. Falls back to the mean translation when fewer
    than 12 valid samples exist, and to the identity when none do.
    """
    import cv2

    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    keep = valid[ys, xs]
    src = np.stack([xs[keep], ys[keep]], -1).astype(np.float32)
    if len(src) == 0:
        return np.eye(3)
    dst = src + flow[ys[keep], xs[keep]]
    if len(src) < 12:
        d = (dst - src).mean(0)
        return np.array([[1, 0, d[0]], [0, 1, d[1]], [0, 0, 1]], dtype=np.float64)
    hom, _ = cv2.findHomography(src, dst, cv2.RANSAC, threshold, maxIters=500, confidence=0.995)
    if hom is None or not np.all(np.isfinite(hom)) or abs(np.linalg.det(hom[:2, :2])) < 1e-3:
        d = np.median(dst - src, axis=0)
        return np.array([[1, 0, d[0]], [0, 1, d[1]], [0, 0, 1]], dtype=np.float64)
    return hom / hom[2, 2]


def chain_homographies(steps: list[np.ndarray]) -> list[np.ndarray]:
    """Frame t -> frame 0 homographies from the steps ``H_{t -> t-1}`` (t = 1..T-1): ``[I, H_1, H_1 H_2, ...]``."""
    out = [np.eye(3)]
    for s in steps:
        m = out[-1] @ s
        out.append(m / m[2, 2])
    return out


def apply_homography(hom: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points [..., 2]`` (x, y) -> ``[..., 2]`` under the 3x3 homography."""
    p = np.concatenate([points, np.ones((*points.shape[:-1], 1))], -1) @ hom.T
    return p[..., :2] / p[..., 2:3]


@dataclass(frozen=True)
class Canvas:
    """The canonical's size and where frame 0 sits on it: canonical = frame-0 pixels + origin."""

    height: int
    width: int
    origin: tuple[int, int]   # (ox, oy), integer canonical pixels
    clamped: bool             # True when the global motion asked for more than the area cap


def size_canvas(homs: list[np.ndarray], frame_size: tuple[int, int], *, margin: int | None = None,
                pad: int = 2, max_area: float = 4.0) -> Canvas:
    """Size the canonical to hold every frame's footprint under its frame t -> frame 0 homography.

    `margin` (px on every side) overrides the estimate. The canvas is clamped to `max_area` frame
    areas (symmetrically around the frames' union) so a diverging motion estimate cannot explode it.
    """
    h, w = frame_size
    if margin is not None:
        if margin < 0:
            raise ValueError("margin must be >= 0")
        return Canvas(h + 2 * margin, w + 2 * margin, (margin, margin), False)
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [(w - 1) / 2, 0], [(w - 1) / 2, h - 1],
                        [0, (h - 1) / 2], [w - 1, (h - 1) / 2]], dtype=np.float64)
    pts = np.concatenate([apply_homography(m, corners) for m in homs])
    lo = np.floor(np.minimum(pts.min(0), 0)) - pad
    hi = np.ceil(np.maximum(pts.max(0), [w - 1, h - 1])) + pad
    left, top = -lo[0], -lo[1]
    right, bottom = hi[0] - (w - 1), hi[1] - (h - 1)
    clamped = False
    cap = max_area * h * w
    if (w + left + right) * (h + top + bottom) > cap:
        # shrink every side's extension by one factor s: (w + s a)(h + s b) = cap, the positive root
        a, b = left + right, top + bottom
        qa, qb, qc = a * b, w * b + h * a, w * h - cap
        s = (-qc / qb) if qa == 0 else (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
        s = min(1.0, max(0.0, s))
        left, right, top, bottom = (math.floor(v * s) for v in (left, right, top, bottom))
        clamped = True
    left, top, right, bottom = (int(v) for v in (left, top, right, bottom))
    return Canvas(h + top + bottom, w + left + right, (left, top), clamped)


def homography_map(hom: np.ndarray, frame_size: tuple[int, int], origin: tuple[int, int]) -> Tensor:
    """The map ``[2, H, W]`` (canonical px, float32) of frame pixels under frame -> frame-0 `hom`, plus origin."""
    h, w = frame_size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    p = apply_homography(hom, np.stack([xs, ys], -1))
    p[..., 0] += origin[0]
    p[..., 1] += origin[1]
    return torch.from_numpy(np.ascontiguousarray(p.transpose(2, 0, 1))).float()


def grid_shape(frame_size: tuple[int, int], spacing: int) -> tuple[int, int]:
    """Control points (rows, cols) covering an H x W frame with the given spacing (at least 2 x 2)."""
    h, w = frame_size
    return max(2, math.ceil((h - 1) / spacing) + 1), max(2, math.ceil((w - 1) / spacing) + 1)


def upsample_grid(grid: Tensor, frame_size: tuple[int, int]) -> Tensor:
    """Control grids ``[T, 2, gh, gw]`` -> dense fields ``[T, 2, H, W]`` (bicubic through the corners).

    The control points sit at the frame's corners and evenly between them (align_corners=True). A
    constant grid gives the same constant field; a linear grid gives a linear field only away from the
    border (PyTorch's bicubic clamps there: up to ~0.16 px off for a 4 % slope; the refinement's
    full-resolution residual absorbs it).
    """
    return F.interpolate(grid, size=frame_size, mode="bicubic", align_corners=True)


def interpolation_matrix(points: int, size: int) -> Tensor:
    """``[points, size]``: row k is the 1-D bicubic (align_corners=True) response of control point k.

    `upsample_grid` is separable, so a dense field is ``U_y^T @ grid @ U_x`` with these matrices.
    """
    eye = torch.eye(points, dtype=torch.float64).view(points, 1, 1, points).expand(points, 1, 2, points)
    return F.interpolate(eye, size=(2, size), mode="bicubic", align_corners=True)[:, 0, 0, :]


def fit_grid(field: Tensor, shape: tuple[int, int]) -> Tensor:
    """The least-squares control grid ``[T, 2, gh, gw]`` whose `upsample_grid` is nearest to ``field [T, 2, H, W]``.

    Closed form through the separable interpolation: ``grid = pinv(U_y^T) @ field @ pinv(U_x)``.
    """
    h, w = field.shape[-2:]
    uy = interpolation_matrix(shape[0], h)     # [gh, H]
    ux = interpolation_matrix(shape[1], w)     # [gw, W]
    left = torch.linalg.pinv(uy.T)             # [gh, H]
    right = torch.linalg.pinv(ux)              # [W, gw]
    return (left @ field.double() @ right).float()


def second_differences(grid: Tensor) -> Tensor:
    """Mean squared second difference of ``[..., gh, gw]`` along both axes (0 for affine grids)."""
    dx = grid[..., :, 2:] - 2 * grid[..., :, 1:-1] + grid[..., :, :-2]
    dy = grid[..., 2:, :] - 2 * grid[..., 1:-1, :] + grid[..., :-2, :]
    total = grid.new_zeros(())
    if dx.numel():
        total = total + (dx**2).mean()
    if dy.numel():
        total = total + (dy**2).mean()
    return total


def chain_maps(prev: Tensor, backward_flow: np.ndarray) -> Tensor:
    """Carry frame t-1's map to frame t: ``m_t(p) = m_{t-1}(p + flow_{t -> t-1}(p))``.

    ``prev [2, H, W]`` (canonical px), ``backward_flow [H, W, 2]`` (frame t -> t-1). Samples of
    ``m_{t-1}`` beyond the frame continue it linearly (edge slope), so content entering the view
    gets a position on the canvas, which the caller replaces with the global motion where it can.
    """
    from gendef_core.fit.opticalflow import warp_field

    field = prev.permute(1, 2, 0).contiguous().numpy()
    sampled = warp_field(field, backward_flow)  # edge-clamped
    h, w = backward_flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tx, ty = xs + backward_flow[..., 0], ys + backward_flow[..., 1]
    # linear continuation beyond the border: slope of the map at the border ~ 1 px per px
    sampled[..., 0] += tx - np.clip(tx, 0, w - 1)
    sampled[..., 1] += ty - np.clip(ty, 0, h - 1)
    return torch.from_numpy(np.ascontiguousarray(sampled.transpose(2, 0, 1)))
