"""The StyleGAN mapping network z -> w, with a tracked average w for truncation."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from gendef_core.models.layers import EqualLinear


def normalize_2nd_moment(x: Tensor, *, eps: float = 1e-8) -> Tensor:
    """Scale each row of ``[N, D]`` to unit mean square: ``x / sqrt(mean(x^2) + eps)``."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z -> w (StyleGAN): normalise z by its 2nd moment, then `num_layers` EqualLinear lrelu layers.

    The layers use `lr_mult` (0.01 by default, StyleGAN's slower mapping network). StyleGAN-V and
    GenDeF use 2 layers.

    ``w_avg`` (a buffer, so checkpoints carry it) is an EMA of the batch-mean w with `w_avg_beta`,
    updated only when ``forward(..., update_w_avg=True)``, which the training loop passes on its
    generator steps. Upstream StyleSV/GenDeF never passed the equivalent flag, so w_avg stayed zero and
    truncation lerped toward the zero vector; our training loop must pass it. The update does not
    depend on ``self.training``, so what happens is visible at the call site.
    """

    def __init__(self, z_dim: int, w_dim: int, *, num_layers: int = 2, lr_mult: float = 0.01,
                 w_avg_beta: float = 0.998) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= w_avg_beta < 1.0:
            raise ValueError(f"w_avg_beta must be in [0, 1), got {w_avg_beta}")
        self.z_dim, self.w_dim, self.num_layers, self.w_avg_beta = z_dim, w_dim, num_layers, w_avg_beta
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            EqualLinear(d_in, d_out, lr_mult=lr_mult, activation="lrelu") for d_in, d_out in itertools.pairwise(dims)
        )
        self.w_avg: Tensor
        self.register_buffer("w_avg", torch.zeros(w_dim))  # [w_dim]

    def forward(self, z: Tensor, *, truncation_psi: float = 1.0, update_w_avg: bool = False) -> Tensor:
        """z ``[N, z_dim]`` -> w ``[N, w_dim]``.

        With `update_w_avg`, ``w_avg`` first moves toward this batch's mean (untruncated) w. Then,
        if ``truncation_psi != 1``, ``w = w_avg + psi * (w - w_avg)`` (psi = 0 gives w_avg exactly).
        """
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"MappingNetwork expects z [N, {self.z_dim}], got {tuple(z.shape)}")
        x = normalize_2nd_moment(z)
        for layer in self.layers:
            x = layer(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if truncation_psi != 1.0:
            x = self.w_avg.to(x.dtype).lerp(x, truncation_psi)
        return x

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, w_dim={self.w_dim}, num_layers={self.num_layers}, w_avg_beta={self.w_avg_beta}"
