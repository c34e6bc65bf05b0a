"""The deformation generator G_d (paper Sec. 3.1, appendix A, Figs. A1-A2).

StyleGAN2-style synthesis driven by (z_d, u_t): a learned 4x4 constant concatenated with the motion
code u_t (StyleGAN-V's concat_const), modulated by w_d = mapping(z_d). The canonical feature f_c is
projected to `feature_dim` channels, resized to each layer's input resolution and concatenated
before every synthesis layer (as the upstream code does; the paper says "each synthesis block").
A ToOut per block builds the field coarse to fine (field = up(field) + ToOut(x)); the last block's
ToOut emits 4 channels, (multiplier, adder), and field = up(field) * multiplier + adder, with
weights and bias zero-initialised, so every frame equals the canonical exactly at initialisation.
The output is offsets in the convention of `gendef_core.warp` (normalised units).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gendef_core.config import DeformInit
from gendef_core.models.layers import SynthesisLayer, ToRGB
from gendef_core.models.mapping import MappingNetwork


def _resize(x: Tensor, size: int) -> Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    # float32: antialiased resizing has no bf16/fp16 kernel on every device.
    return F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False,
                         antialias=size < x.shape[-1]).to(x.dtype)


class DeformationGenerator(nn.Module):
    """(z_d, u_t, f_c) -> offsets ``[B, T, 2, R, R]``."""

    def __init__(self, *, resolution: int, z_dim: int, w_dim: int, mapping_layers: int, channels: Mapping[int, int],
                 motion_dim: int, feature_channels: int, feature_dim: int, deform_init: DeformInit = "zero",
                 mtm_resolutions: tuple[int, ...] = ()) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        self.resolution = resolution
        self.resolutions = [2 ** i for i in range(2, resolution.bit_length())]  # 4, 8, ..., R
        self.mapping = MappingNetwork(z_dim, w_dim, num_layers=mapping_layers)
        self.uses_feature = feature_channels > 0
        cond = feature_dim if self.uses_feature else 0
        # A 1x1 projection of f_c, applied once per video at f_c's own resolution.
        self.project = nn.Conv2d(feature_channels, feature_dim, 1) if self.uses_feature else None
        self.multiplier = deform_init != "none"
        c4 = channels[4]
        self.const = nn.Parameter(torch.randn(c4, 4, 4))
        self.conv0 = nn.ModuleDict()
        self.conv1 = nn.ModuleDict()
        self.to_out = nn.ModuleDict()
        for r in self.resolutions:
            key = str(r)
            if r > 4:
                self.conv0[key] = SynthesisLayer(channels[r // 2], channels[r], w_dim, up=True, cond_channels=cond)
            in_ch = c4 + motion_dim if r == 4 else channels[r]
            self.conv1[key] = SynthesisLayer(in_ch, channels[r], w_dim, cond_channels=cond, mtm=r in mtm_resolutions)
            last = r == resolution
            if last and deform_init != "none":  # = self.multiplier
                self.to_out[key] = ToRGB(channels[r], 4, w_dim, init=deform_init)
            else:
                self.to_out[key] = ToRGB(channels[r], 2, w_dim)

    def forward(self, z: Tensor, motion: Tensor, feature: Tensor | None, *, truncation_psi: float = 1.0,
                update_w_avg: bool = False) -> Tensor:
        """z ``[B, z_dim]``, u_t ``[B, T, motion_dim]``, f_c ``[B, C, H, W]`` or None -> ``[B, T, 2, R, R]``."""
        b, t = motion.shape[:2]
        w = self.mapping(z, truncation_psi=truncation_psi, update_w_avg=update_w_avg)  # [B, w_dim]
        w = w.repeat_interleave(t, dim=0)                                                 # [B*T, w_dim]
        cond: dict[int, Tensor] = {}
        if self.uses_feature:
            if feature is None:
                raise ValueError("this deformation generator needs the canonical feature f_c")
            assert self.project is not None
            f = self.project(feature)                                      # [B, feature_dim, H, W], once per video
            cond = {r: _resize(f, r) for r in self.resolutions}               # per video: layers share it over T
        x = torch.cat([self.const.expand(b * t, -1, -1, -1),
                       motion.reshape(b * t, -1, 1, 1).expand(-1, -1, 4, 4)], dim=1)
        field: Tensor | None = None
        for r in self.resolutions:
            key = str(r)
            if r > 4:
                x = self.conv0[key](x, w, cond.get(r // 2), cond_repeat=t)
            x = self.conv1[key](x, w, cond.get(r), cond_repeat=t)
            y = self.to_out[key](x, w)
            if field is None:
                field = y
            else:
                up = F.interpolate(field, scale_factor=2, mode="bilinear", align_corners=False)
                field = up * y[:, :2] + y[:, 2:] if (r == self.resolution and self.multiplier) else up + y
        assert field is not None
        return field.reshape(b, t, 2, self.resolution, self.resolution)
