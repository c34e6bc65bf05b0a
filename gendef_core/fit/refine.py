"""Gradient refinement of a fit: the canonical image and the per-frame deformation, jointly, in PyTorch.

The map of frame t (canonical px) is ``base_t + upsample(grid_t) [+ residual_t]``: `base_t` the
global motion (fixed), `grid_t` a coarse control grid of the non-rigid part, `residual_t` an
optional full-resolution correction. Losses:

* photometric: Charbonnier of ``warp(canonical, m_t) - frame_t``, coarse (2x pooled) for the first
  part of the schedule and full resolution after, so the first steps see a wider basin;
* spatial smoothness: squared second differences of each control grid (0 for affine motion);
* temporal smoothness: squared second differences in time of the grids (acceleration, so a steady
  motion costs nothing) and, for the residual, first differences (the paper's Eq. 4 idea, without
  the edge weights);
* folds: ``relu(floor - det J)^2`` of the dense map, so the map stays locally invertible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gendef_core.fit.config import FitConfig
from gendef_core.fit.geometry import second_differences, upsample_grid
from gendef_core.warp import jacobian_determinant, sample


class StateError(ValueError):
    """A saved refinement state does not fit this refinement."""


@dataclass(frozen=True)
class Refined:
    canonical: Tensor      # [3, Hc, Wc] in [-1, 1]
    maps: Tensor           # [T, 2, H, W] canonical px
    grids: Tensor          # [T, 2, gh, gw] px
    losses: list[float]    # photometric loss per step


def charbonnier(x: Tensor, eps: float) -> Tensor:
    return torch.sqrt(x * x + eps * eps) - eps


def dense_maps(base: Tensor, grids: Tensor, residual: Tensor | None, idx: Tensor | slice) -> Tensor:
    """``base [T, 2, H, W]`` + upsampled ``grids`` (+ ``residual``) for the frames `idx`."""
    m = base[idx] + upsample_grid(grids[idx], (base.shape[-2], base.shape[-1]))
    if residual is not None:
        m = m + residual[idx]
    return m


def refine(frames: Tensor, canonical: Tensor, base: Tensor, grids: Tensor, cfg: FitConfig, *,
           seed: int = 0, progress: Callable[[int, int], None] | None = None,
           state: Mapping[str, Tensor] | None = None,
           checkpoint: Callable[[dict[str, Tensor]], None] | None = None, checkpoint_every: int = 20,
           fold_mask: Tensor | None = None) -> Refined:
    """Jointly refine ``canonical [3, Hc, Wc]`` and ``grids [T, 2, gh, gw]`` against ``frames [T, 3, H, W]``.

    ``base [T, 2, H, W]`` is the fixed global part of every map; all tensors must be on one device.
    Step s draws its `cfg.frames_per_step` frames from a generator seeded by (`seed`, s), so a fit is
    repeatable and a resumed one (`state`, as given to `checkpoint` every `checkpoint_every` steps)
    continues exactly as an uninterrupted one. `progress(step, steps)` is called after every step.
    ``fold_mask [T, H-1, W-1]`` (optional, float) restricts the fold penalty to those pixel cells
    (cells that straddle two layers of a layered map are tears, not folds).
    """
    t, _, h, w = frames.shape
    dev = frames.device
    canon = canonical.clone().requires_grad_(True)
    g = grids.clone().requires_grad_(True)
    named: dict[str, Tensor] = {"canonical": canon, "grids": g}
    params = [{"params": [canon], "lr": cfg.lr_canonical}, {"params": [g], "lr": cfg.lr_grid}]
    residual = None
    if cfg.residual:
        residual = torch.zeros(t, 2, h, w, device=dev, requires_grad=True)
        named["residual"] = residual
        params.append({"params": [residual], "lr": cfg.lr_residual})
    opt = torch.optim.Adam(params, betas=(0.9, 0.99))
    first = 0
    if state is not None:
        first = _restore(state, named, opt)
    steps = cfg.steps
    coarse_until = int(0.4 * steps)
    losses: list[float] = []
    per_step = min(cfg.frames_per_step, t)
    for step in range(first, steps):
        # the residual joins after the coarse phase: first the smooth part explains what it can
        use_residual = residual if (residual is not None and step >= coarse_until) else None
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
        idx = torch.randperm(t, generator=gen)[:per_step].sort().values.to(dev)
        maps = dense_maps(base, g, use_residual, idx)
        recon = sample(canon[None], maps[None])[0]                     # [b, 3, H, W]
        target = frames[idx]
        if step < coarse_until:
            recon, target = F.avg_pool2d(recon, 2), F.avg_pool2d(target, 2)
        photo = charbonnier(recon - target, cfg.charbonnier_eps).mean()
        loss = photo + cfg.smooth_weight * second_differences(g)
        if t >= 3:
            acc = g[2:] - 2 * g[1:-1] + g[:-2]
            loss = loss + cfg.temporal_weight * (acc**2).mean()
        if use_residual is not None:
            loss = loss + cfg.smooth_weight * _dense_smoothness(use_residual[idx])
            if t >= 2:
                loss = loss + cfg.temporal_weight * ((use_residual[1:] - use_residual[:-1]) ** 2).mean()
        det = jacobian_determinant(maps)
        fold = F.relu(cfg.fold_floor - det) ** 2
        if fold_mask is not None:
            fold = fold * fold_mask[idx]
        loss = loss + cfg.fold_weight * fold.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            canon.clamp_(-1, 1)
        value = float(photo.detach())
        if value != value:  # NaN: stop before it spreads into the outputs
            raise FloatingPointError(f"the photometric loss became NaN at refinement step {step + 1}")
        losses.append(value)
        if progress is not None:
            progress(step + 1, steps)
        if checkpoint is not None and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            checkpoint(_snapshot(step + 1, named, opt))
    with torch.no_grad():
        maps = torch.cat([dense_maps(base, g, residual, slice(s, s + 32)) for s in range(0, t, 32)])
    return Refined(canon.detach(), maps, g.detach(), losses)


def _snapshot(step: int, named: dict[str, Tensor], opt: torch.optim.Adam) -> dict[str, Tensor]:
    """Everything a resumed refinement needs, as CPU tensors (safetensors-ready)."""
    out = {"step": torch.tensor(step, dtype=torch.int64)}
    for name, p in named.items():
        out[f"param.{name}"] = p.detach().cpu().clone()
        st = opt.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq", "step"):
            if key in st:
                out[f"adam.{name}.{key}"] = torch.as_tensor(st[key]).detach().cpu().clone()
    return out


def _restore(state: Mapping[str, Tensor], named: dict[str, Tensor], opt: torch.optim.Adam) -> int:
    for name, p in named.items():
        key = f"param.{name}"
        if key not in state or tuple(state[key].shape) != tuple(p.shape):
            raise StateError(f"the saved refinement state has no {name} of shape {tuple(p.shape)}")
        with torch.no_grad():
            p.copy_(state[key])
        if f"adam.{name}.exp_avg" in state:
            opt.state[p] = {k: state[f"adam.{name}.{k}"].to(p.device if k != "step" else "cpu").clone()
                            for k in ("exp_avg", "exp_avg_sq", "step")}
    return int(state["step"])


def _dense_smoothness(field: Tensor) -> Tensor:
    dx = field[..., :, 1:] - field[..., :, :-1]
    dy = field[..., 1:, :] - field[..., :-1, :]
    return (dx**2).mean() + (dy**2).mean()
