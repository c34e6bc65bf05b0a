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
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

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
    jacobian_determinant,
    size_canvas,
)
from gendef_core.fit.opticalflow import consistent, gray, pair_flows
from gendef_core.fit.refine import Refined, refine
from gendef_core.warp import identity_positions, pixels_to_offsets, sample

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


def to_float(frames: np.ndarray) -> Tensor:
    """``uint8 [T, H, W, 3]`` -> ``float32 [T, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_uint8_frames(images: Tensor) -> np.ndarray:
    """``float [T, 3, H, W]`` in [-1, 1] -> ``uint8 [T, H, W, 3]`` (the quantisation of gendef.data.images)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def psnr_per_frame(a: np.ndarray, b: np.ndarray) -> list[float]:
    """PSNR (dB, peak 255) of each frame pair of two ``uint8 [T, H, W, 3]`` videos; 99 dB caps identical frames."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = d.reshape(len(a), -1).mean(1)
    return [99.0 if m <= 1e-10 else float(min(99.0, 10 * np.log10(255.0**2 / m))) for m in mse]


def initial_maps(luma: np.ndarray, cfg: FitConfig, stage: Stage) -> tuple[Tensor, Tensor, Canvas, Tensor]:
    """Steps 1-3: ``base [T, 2, H, W]``, chained ``maps [T, 2, H, W]`` (canonical px), the canvas and
    ``reliable bool [T, H, W]`` (True where the chained flow was consistent all along from frame 0)."""
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
        ok = torch.from_numpy(valid_b[i])
        residual = fill_holes(chained - base[i + 1], ok.float())
        maps.append(base[i + 1] + residual)
        reliable.append(ok)
    stage("chaining", 3, 3)
    return base, torch.stack(maps), canvas, torch.stack(reliable)


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

    torch.manual_seed(seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    t, h, w, _ = frames.shape
    luma = gray(frames)
    base, chained, canvas, reliable = initial_maps(luma, cfg, stage)
    timings["flow_and_chaining_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    shape = grid_shape((h, w), cfg.grid_spacing)
    grids = fit_grid(chained - base, shape)
    images = to_float(frames)
    init_maps = base + F.interpolate(grids, size=(h, w), mode="bicubic", align_corners=True)
    canonical, _ = aggregate(images, init_maps, reliable.float() * 0.9 + 0.1, (canvas.height, canvas.width))
    timings["initial_canonical_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    dev = torch.device(device)
    refined = refine(images.to(dev), canonical.to(dev), base.to(dev), grids.to(dev),
                     replace(cfg, steps=cfg.steps_for(t)), seed=seed,
                     progress=lambda s, n: stage("refine", s, n), state=state, checkpoint=checkpoint)
    refined = Refined(refined.canonical.cpu(), refined.maps.cpu(), refined.grids.cpu(), refined.losses)
    timings["refine_s"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    maps = refined.maps
    recon = torch.cat([sample(refined.canonical[None], maps[None, s:s + 32])[0] for s in range(0, t, 32)])
    recon8 = to_uint8_frames(recon)
    psnr = psnr_per_frame(recon8, frames)
    err = torch.from_numpy(np.abs(recon8.astype(np.float32) - frames.astype(np.float32)).mean(-1))  # [T, H, W]
    err = F.avg_pool2d(err[:, None], 3, stride=1, padding=1, count_include_pad=False)[:, 0]
    hc, wc = canvas.height, canvas.width
    x, y = maps[:, 0], maps[:, 1]
    inside = (x >= -1e-4) & (x <= wc - 1 + 1e-4) & (y >= -1e-4) & (y <= hc - 1 + 1e-4)
    visibility = (err <= cfg.visibility_threshold) & inside
    det = jacobian_determinant(maps)
    jx, iy = identity_positions((h, w), canvas.origin, dtype=torch.float32)
    identity = torch.stack(torch.broadcast_tensors(jx.view(1, w), iy.view(h, 1)))
    offsets = pixels_to_offsets(maps - identity, (hc, wc)).float().contiguous()
    timings["report_s"] = time.perf_counter() - t3
    return FitResult(
        canonical=refined.canonical.float().contiguous(), offsets=offsets, origin=canvas.origin,
        visibility=visibility.contiguous(), psnr=psnr,
        outside=[float(v) for v in (~inside).float().mean(dim=(1, 2))],
        folded=[float(v) for v in (det <= 0).float().mean(dim=(1, 2))],
        visible=[float(v) for v in visibility.float().mean(dim=(1, 2))],
        canvas_clamped=canvas.clamped, timings=timings)


def summary(result: FitResult) -> dict[str, Any]:
    """The numbers of a fit in JSON form (the `fit` record of a fitted clip, minus the command)."""
    def r(v: float, n: int = 3) -> float:
        return round(float(v), n)

    p = np.array(result.psnr)
    return {"psnr_db": [r(v, 2) for v in result.psnr], "psnr_mean_db": r(p.mean(), 2), "psnr_min_db": r(p.min(), 2),
            "outside_fraction": [r(v, 5) for v in result.outside], "outside_mean": r(np.mean(result.outside), 5),
            "folded_fraction": [r(v, 6) for v in result.folded], "folded_max": r(max(result.folded), 6),
            "visible_fraction": [r(v, 4) for v in result.visible],
            "canonical_size": [int(result.canonical.shape[1]), int(result.canonical.shape[2])],
            "origin": list(result.origin), "canvas_clamped": result.canvas_clamped,
            "timings_s": {k: r(v, 2) for k, v in result.timings.items()}}
