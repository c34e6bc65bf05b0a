"""Fitting one shot: frames -> canonical image + per-frame backward maps (the method of `gendef fit`).

1. Dense DIS optical flow between consecutive frames, forward and backward, and the
   forward-backward consistency of every pixel.
2. The global motion of every frame (a homography, RANSAC over the consistent flow) chained to
   frame 0; it sizes the canvas (content that enters the view gets a place) and is the fixed part
   of each map.
3. The non-rigid part by chaining the flow frame to frame (``m_t = m_{t-1} o (id + flow_{t->t-1})``);
   where the flow is not consistent (occlusion, content entering) the residual to the global
   motion is filled in smoothly from the surroundings. Then a coarse control grid per frame is
   fitted to it.
4. The canonical as a robust weighted mean of the frames splatted onto the canvas.
5. Joint gradient refinement of canonical and grids (`gendef_core.fit.refine`).
6. Per-frame visibility from the photometric residual and the canvas, and the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, SupportsFloat

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gendef_core.data.images import from_uint8, to_uint8
from gendef_core.fit.canonical import aggregate, fill_holes
from gendef_core.fit.config import FitConfig
from gendef_core.fit.geometry import (
    Canvas,
    chain_homographies,
    chain_maps,
    fit_grid,
    grid_shape,
    homography_from_flow,
    homography_map,
    size_canvas,
    upsample_grid,
)
from gendef_core.fit.opticalflow import consistent, gray, pair_flows
from gendef_core.fit.refine import refine
from gendef_core.warp import identity_positions, jacobian_determinant, pixels_to_offsets, sample

Stage = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FitResult:
    """A fitted shot: everything a clip v2 needs, plus the measurements of the report."""

    canonical: Tensor            # float32 [3, Hc, Wc] in [-1, 1]
    offsets: Tensor              # float32 [T, 2, H, W], normalised to the canonical (gendef.warp)
    origin: tuple[int, int]      # frame 0's place on the canonical
    visibility: Tensor           # bool [T, H, W]
    psnr: list[float]            # per frame, dB, of the 8-bit reconstruction against the input
    outside: list[float]         # per frame: fraction of frame pixels mapped outside the canonical
    folded: list[float]          # per frame: fraction of pixel cells with Jacobian determinant <= 0
    visible: list[float]         # per frame: fraction of visible pixels
    canvas_clamped: bool
    timings: dict[str, float] = field(default_factory=dict)
    layer_fraction: float = 0.0  # fraction of frame pixels on the moving-object layer (0: single layer)


def psnr_per_frame(a: np.ndarray, b: np.ndarray) -> list[float]:
    """PSNR (dB, peak 255) of each frame pair of two ``uint8 [T, H, W, 3]`` videos; 99 dB caps identical frames.

    Frame by frame in int32, so no float copy of the video is made."""
    out = []
    for x, y in zip(a, b, strict=True):
        d = x.astype(np.int32) - y.astype(np.int32)
        m = float((d * d).mean())
        out.append(99.0 if m <= 1e-10 else float(min(99.0, 10 * np.log10(255.0**2 / m))))
    return out


def initial_maps(luma: np.ndarray, cfg: FitConfig, stage: Stage
                 ) -> tuple[Tensor, Tensor, Canvas, Tensor, tuple[np.ndarray, np.ndarray]]:
    """Steps 1-3: ``base [T, 2, H, W]``, chained ``maps [T, 2, H, W]`` (canonical px), the canvas,
    ``reliable bool [T, H, W]`` (True where the flow into the frame was consistent) and the flows
    (forward, backward) of `pair_flows`."""
    t, h, w = luma.shape
    fwd, bwd = pair_flows(luma, preset=cfg.flow_preset)
    stage("flow", 1, 3)
    steps, valid_b = [], []
    for i in range(t - 1):
        ok = consistent(bwd[i], fwd[i], tolerance=cfg.fb_tolerance)   # frame i+1 -> i
        valid_b.append(ok)
        steps.append(homography_from_flow(bwd[i], ok))
    homs = chain_homographies(steps)
    canvas = size_canvas(homs, (h, w), margin=cfg.margin, max_area=cfg.max_canvas)
    base = torch.stack([homography_map(m, (h, w), canvas.origin) for m in homs])
    stage("global motion", 2, 3)
    maps = [base[0].clone()]
    reliable = [torch.ones(h, w, dtype=torch.bool)]
    for i in range(t - 1):
        chained = chain_maps(maps[-1], bwd[i])
        ok_t = torch.from_numpy(valid_b[i])
        residual = fill_holes(chained - base[i + 1], ok_t.float())
        maps.append(base[i + 1] + residual)
        reliable.append(ok_t)
    stage("chaining", 3, 3)
    return base, torch.stack(maps), canvas, torch.stack(reliable), (fwd, bwd)


@dataclass(frozen=True)
class _Scored:
    canonical: Tensor
    maps: Tensor
    psnr: list[float]
    visibility: Tensor
    inside: Tensor
    det: Tensor
    layer: Tensor | None      # bool [T, H, W]: frame pixels on the moving-object layer
    error: Tensor             # [T, H, W] reconstruction error, 8-bit levels, 3x3 mean


def _score(canonical: Tensor, maps: Tensor, frames: np.ndarray, cfg: FitConfig, layer: Tensor | None) -> _Scored:
    t = maps.shape[0]
    recon = torch.cat([sample(canonical[None], maps[None, s:s + 32])[0] for s in range(0, t, 32)])
    recon8 = to_uint8(recon).numpy()
    err = torch.from_numpy(np.abs(recon8.astype(np.float32) - frames.astype(np.float32)).mean(-1))  # [T, H, W]
    err = F.avg_pool2d(err[:, None], 3, stride=1, padding=1, count_include_pad=False)[:, 0]
    hc, wc = canonical.shape[-2:]
    x, y = maps[:, 0], maps[:, 1]
    inside = (x >= -1e-4) & (x <= wc - 1 + 1e-4) & (y >= -1e-4) & (y <= hc - 1 + 1e-4)
    visibility = (err <= cfg.visibility_threshold) & inside
    det = jacobian_determinant(maps)
    if layer is not None:  # a cell across the layer boundary is a tear between layers, not a fold
        det = torch.where(same_layer_cells(layer), det, torch.ones_like(det))
    return _Scored(canonical, maps, psnr_per_frame(recon8, frames), visibility, inside, det, layer, err)


def same_layer_cells(layer: Tensor) -> Tensor:
    """``bool [T, H-1, W-1]``: pixel cells whose four corners lie on one layer of ``layer bool [T, H, W]``."""
    a, b = layer[:, :-1, :-1], layer[:, :-1, 1:]
    c, d = layer[:, 1:, :-1], layer[:, 1:, 1:]
    return (a == b) & (a == c) & (a == d)


def object_layer(unexplained: Tensor, fwd: np.ndarray, bwd: np.ndarray, *, min_fraction: float = 0.01
                 ) -> tuple[Tensor, Tensor, int] | None:
    """Moving content the first, single-layer fit could not explain, as its own layer.

    ``unexplained bool [T, H, W]`` (frame pixels whose reconstruction failed). Returns the cleaned
    layer mask ``bool [T, H, W]``, the layer's map ``[T, 2, H, W]`` in the pixels of its keyframe (the
    frame where it is largest) by chaining the flow out from the keyframe, and the keyframe; None
    when the layer is too small to matter (under `min_fraction` of the frame in every frame).
    """
    import cv2

    t, h, w = unexplained.shape
    k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    k7 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    masks = []
    for m in unexplained.numpy().astype(np.uint8):
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k3)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k7)
        n, comp, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        keep = np.zeros(n, np.uint8)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_fraction * h * w  # scattered misfits are not an object
        masks.append(cv2.dilate(fill_mask_holes(keep[comp]), k3))
    layer = torch.from_numpy(np.stack(masks).astype(bool))
    area = layer.float().mean(dim=(1, 2))
    if float(area.max()) < min_fraction:
        return None
    key = int(area.argmax())
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    maps = {key: torch.stack([xs, ys])}
    for i in range(key + 1, t):
        maps[i] = chain_maps(maps[i - 1], bwd[i - 1])
    for i in range(key - 1, -1, -1):
        maps[i] = chain_maps(maps[i + 1], fwd[i])
    return layer, torch.stack([maps[i] for i in range(t)]), key


def fill_mask_holes(mask: np.ndarray) -> np.ndarray:
    """``uint8 [H, W]`` 0/1 -> the same with every region enclosed by 1s set to 1 (a ring becomes a disc)."""
    import cv2

    h, w = mask.shape
    outside = np.ones((h + 2, w + 2), np.uint8)   # a ring of background around the frame, so the fill
    outside[1:-1, 1:-1] = 1 - mask                 # reaches every background region touching the border
    flood = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 2)
    return (outside[1:-1, 1:-1] != 2).astype(np.uint8)


def fit_frames(frames: np.ndarray, cfg: FitConfig, *, seed: int = 0, device: str | torch.device = "cpu",
               progress: Callable[[str, int, int], None] | None = None,
               state: Mapping[str, Tensor] | None = None,
               checkpoint: Callable[[dict[str, Tensor]], None] | None = None) -> FitResult:
    """Fit one shot ``uint8 [T, H, W, 3]`` (T >= 2). Deterministic for given frames, config and seed.

    The refinement runs on `device`; `state`/`checkpoint` resume and save it (see `refine`). The
    initialisation is recomputed on resume: it is deterministic and takes seconds.
    """
    def stage(name: str, done: int, total: int) -> None:
        if progress is not None:
            progress(name, done, total)

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    t, h, w, _ = frames.shape
    luma = gray(frames)
    base, chained, canvas, reliable, (fwd, bwd) = initial_maps(luma, cfg, stage)
    timings["flow_and_chaining_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    shape = grid_shape((h, w), cfg.grid_spacing)
    grids = fit_grid(chained - base, shape)
    images = from_uint8(torch.from_numpy(frames).permute(0, 3, 1, 2))  # [T, 3, H, W] in [-1, 1]
    init_maps = base + upsample_grid(grids, (h, w))
    canonical, _ = aggregate(images, init_maps, reliable.float() * 0.9 + 0.1, (canvas.height, canvas.width))
    timings["initial_canonical_s"] = time.perf_counter() - t1

    # a saved state of the second (layered) stage resumes after an uninterrupted, deterministic first stage
    stage_of_state = int(state["stage"]) if state is not None and "stage" in state else 1

    def saver(which: int) -> Callable[[dict[str, Tensor]], None] | None:
        if checkpoint is None or (which == 1 and stage_of_state == 2):
            return None
        return lambda snap: checkpoint({**snap, "stage": torch.tensor(which)})

    t2 = time.perf_counter()
    dev = torch.device(device)
    steps = cfg.steps_for(t)
    r1 = refine(images.to(dev), canonical.to(dev), base.to(dev), grids.to(dev), replace(cfg, steps=steps),
                seed=seed, progress=lambda s, n: stage("refine", s, n),
                state=state if stage_of_state == 1 else None, checkpoint=saver(1))
    best = _score(r1.canonical.cpu(), r1.maps.cpu(), frames, cfg, None)
    timings["refine_s"] = time.perf_counter() - t2

    if cfg.layers:
        t3 = time.perf_counter()
        # what the single-layer fit explains badly; a moving object's smeared interior can look right, so the
        # layer is its outline with the holes filled (`object_layer`)
        badly = best.error > 2 * cfg.visibility_threshold
        found = object_layer(badly & best.inside, fwd, bwd)
        if found is not None:
            layer, omaps, _key = found
            second = _layered(images, frames, best, base, layer, omaps, canvas, shape, cfg, steps, seed, dev, stage,
                              state if stage_of_state == 2 else None, saver(2))
            if float(np.mean(second.psnr)) > float(np.mean(best.psnr)):
                best = second
        timings["layer_s"] = time.perf_counter() - t3

    hc, wc = best.canonical.shape[-2:]
    jx, iy = identity_positions((h, w), canvas.origin, dtype=torch.float32)
    identity = torch.stack(torch.broadcast_tensors(jx.view(1, w), iy.view(h, 1)))
    offsets = pixels_to_offsets(best.maps - identity, (hc, wc)).float().contiguous()
    return FitResult(
        canonical=best.canonical.float().contiguous(), offsets=offsets, origin=canvas.origin,
        visibility=best.visibility.contiguous(), psnr=best.psnr,
        outside=[float(v) for v in (~best.inside).float().mean(dim=(1, 2))],
        folded=[float(v) for v in (best.det <= 0).float().mean(dim=(1, 2))],
        visible=[float(v) for v in best.visibility.float().mean(dim=(1, 2))],
        canvas_clamped=canvas.clamped, timings=timings,
        layer_fraction=0.0 if best.layer is None else float(best.layer.float().mean()))


def _layered(images: Tensor, frames: np.ndarray, first: _Scored, base: Tensor, layer: Tensor, omaps: Tensor,
             canvas: Canvas, shape: tuple[int, int], cfg: FitConfig, steps: int, seed: int, dev: torch.device,
             stage: Stage, state: Mapping[str, Tensor] | None,
             checkpoint: Callable[[dict[str, Tensor]], None] | None) -> _Scored:
    """Second stage: the moving layer gets its own region of the canvas, right of the scene; refit jointly."""
    t, _, h, w = images.shape
    pts = omaps.permute(0, 2, 3, 1)[layer]                     # [n, 2] layer pixels in keyframe coordinates
    lo = torch.maximum(pts.min(0).values.floor(), torch.tensor([-w, -h], dtype=torch.float32)) - 2
    hi = torch.minimum(pts.max(0).values.ceil(), torch.tensor([2 * w, 2 * h], dtype=torch.float32)) + 2
    gap = 4
    shift = torch.tensor([canvas.width + gap - float(lo[0]), -float(lo[1])])
    size = (max(canvas.height, int(hi[1] - lo[1]) + 1), canvas.width + gap + int(hi[0] - lo[0]) + 1)
    lmaps = (omaps + shift.view(1, 2, 1, 1)).clamp(min=0)
    lmaps[:, 0] = lmaps[:, 0].clamp(max=size[1] - 1)
    lmaps[:, 1] = lmaps[:, 1].clamp(max=size[0] - 1)
    # the scene under and around the layer: its first-stage map carries the layer's motion (chained flow
    # filled across the occlusion); replace it there by the scene's own deformation, filled in from outside
    around = F.max_pool2d(layer[:, None].float(), 9, stride=1, padding=4)[:, 0] > 0
    scene = torch.stack([base[i] + fill_holes(first.maps[i] - base[i], (~around[i]).float()) for i in range(t)])
    base2 = torch.where(layer[:, None], lmaps, scene)
    canonical2, _ = aggregate(images, base2, torch.ones(t, h, w), size)
    # the scene part keeps the first stage's refined canonical
    hc1, wc1 = first.canonical.shape[-2:]
    canonical2[:, :hc1, :wc1] = first.canonical
    grids = torch.zeros(t, 2, *shape)
    fold_mask = same_layer_cells(layer).float()
    r2 = refine(images.to(dev), canonical2.to(dev), base2.to(dev), grids.to(dev),
                replace(cfg, steps=max(1, steps // 2)), seed=seed + 1,
                progress=lambda s, n: stage("refine layers", s, n),
                state=state, checkpoint=checkpoint, fold_mask=fold_mask.to(dev))
    maps = r2.maps.cpu()
    # a pixel is on the layer when it samples the layer's region of the canvas
    on_layer = maps[:, 0] > canvas.width + gap / 2
    return _score(r2.canonical.cpu(), maps, frames, cfg, on_layer)


def summary(result: FitResult) -> dict[str, Any]:
    """The numbers of a fit in JSON form (the `fit` record of a fitted clip, minus the command)."""
    def r(v: SupportsFloat, n: int = 3) -> float:
        return round(float(v), n)

    p = np.array(result.psnr)
    return {"psnr_db": [r(v, 2) for v in result.psnr], "psnr_mean_db": r(p.mean(), 2), "psnr_min_db": r(p.min(), 2),
            "outside_fraction": [r(v, 5) for v in result.outside], "outside_mean": r(np.mean(result.outside), 5),
            "folded_fraction": [r(v, 6) for v in result.folded], "folded_max": r(max(result.folded), 6),
            "visible_fraction": [r(v, 4) for v in result.visible],
            "canonical_size": [int(result.canonical.shape[1]), int(result.canonical.shape[2])],
            "layer_fraction": r(result.layer_fraction, 4),
            "origin": list(result.origin), "canvas_clamped": result.canvas_clamped,
            "timings_s": {k: r(v, 2) for k, v in result.timings.items()}}
