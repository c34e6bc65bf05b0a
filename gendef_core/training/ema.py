"""Exponential moving average of the generator weights (StyleGAN's G_ema)."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch: int, ema_kimg: float, rampup: float | None, images_seen: int) -> float:
    """Per-step decay for a half-life of `ema_kimg` thousand images, ramped up over the first images."""
    ema_nimg = ema_kimg * 1000
    if rampup is not None:
        ema_nimg = min(ema_nimg, images_seen * rampup)
    return 0.5 ** (batch / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model for parameters; buffers (e.g. w_avg) are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
