"""The StyleGAN2-style synthesis network (skip architecture): GenDeF's canonical generator G_c and the baseline.

Upstream GenDeF's G_c is StyleGAN3-T; we use StyleGAN2 (as StyleGAN-V does for its frames) because
it is several times cheaper on a CPU and its penultimate layer is an ordinary full-resolution feature
map, which is what G_d's canonical conditioning needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gendef_core.models.layers import SynthesisLayer, ToRGB

MIN_RESOLUTION, MAX_RESOLUTION = 8, 1024


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def block_resolutions(resolution: int) -> list[int]:
    """``[4, 8, ..., resolution]``; raises ValueError unless `resolution` is a power of two in [8, 1024]."""
    if not (_is_power_of_two(resolution) and MIN_RESOLUTION <= resolution <= MAX_RESOLUTION):
        raise ValueError(f"resolution must be a power of two in [{MIN_RESOLUTION}, {MAX_RESOLUTION}], got {resolution}")
    return [2**i for i in range(2, resolution.bit_length())]


def channels_for(resolution: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """``{4: .., 8: .., ..., resolution: ..}``: ``min(channel_base // res, channel_max)`` for each power-of-two res."""
    chans = {res: min(channel_base // res, channel_max) for res in block_resolutions(resolution)}
    if min(chans.values()) < 1:
        raise ValueError(f"channel_base {channel_base} gives no channels at {resolution} px")
    return chans


def upsample2x(x: Tensor) -> Tensor:
    """Bilinear 2x upsampling (``align_corners=False``): ``[N, C, H, W]`` -> ``[N, C, 2H, 2W]``."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class SynthesisBlock(nn.Module):
    """One resolution step: conv0 (2x up), conv1 (MTM if asked), ToRGB of the new features."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, img_channels: int, mtm: bool) -> None:
        super().__init__()
        self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, up=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, mtm=mtm)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)


class SynthesisNetwork(nn.Module):
    """StyleGAN2 synthesis, skip architecture, one w for every layer, no noise.

    A learned constant ``[C4, 4, 4]`` (with `input_extra` broadcast to 4x4 and concatenated, StyleGAN-V's
    ``concat_const``) -> conv at 4x4 -> for each resolution 8..R a block of conv0 (bilinear 2x up),
    conv1. Every resolution adds a ToRGB of its features to the bilinearly upsampled image so far.

    Conv layers are numbered 0..num_layers-1 in order: 0 is the 4x4 conv, then conv0 and conv1 of
    each block. `layer_shapes` lists their output (channels, resolution); index ``num_layers`` stands
    for the output image.
    """

    num_layers: int

    def __init__(self, *, w_dim: int, resolution: int, channels: Mapping[int, int], out_channels: int = 3,
                 input_extra_channels: int = 0, mtm_resolutions: tuple[int, ...] = ()) -> None:
        super().__init__()
        resolutions = block_resolutions(resolution)
        missing = [res for res in resolutions if res not in channels]
        if missing:
            raise ValueError(f"channels has no entry for resolution(s) {missing}; "
                             f"it needs one for each of {resolutions}")
        bad_mtm = sorted(set(mtm_resolutions) - set(resolutions))
        if bad_mtm:
            raise ValueError(f"mtm_resolutions {bad_mtm} are not resolutions of this network ({resolutions})")
        if input_extra_channels < 0:
            raise ValueError(f"input_extra_channels must be >= 0, got {input_extra_channels}")
        self.w_dim, self.resolution, self.out_channels = w_dim, resolution, out_channels
        self.input_extra_channels = input_extra_channels
        self.resolutions = tuple(resolutions)
        self.channels = {res: int(channels[res]) for res in resolutions}
        self.mtm_resolutions = tuple(sorted(set(mtm_resolutions)))

        c4 = self.channels[4]
        self.const = nn.Parameter(torch.randn(c4, 4, 4))  # [C4, 4, 4]
        self.conv4 = SynthesisLayer(c4 + input_extra_channels, c4, w_dim, mtm=4 in self.mtm_resolutions)
        self.torgb4 = ToRGB(c4, out_channels, w_dim)
        self.blocks = nn.ModuleList(
            SynthesisBlock(self.channels[res // 2], self.channels[res], w_dim, img_channels=out_channels,
                           mtm=res in self.mtm_resolutions)
            for res in resolutions[1:]
        )
        self.num_layers = 1 + 2 * len(self.blocks)

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(channels, resolution) of each conv layer's output in order, then ``(out_channels, R)`` for the image."""
        shapes = [(self.channels[4], 4)]
        for res in self.resolutions[1:]:
            shapes += [(self.channels[res], res)] * 2
        return [*shapes, (self.out_channels, self.resolution)]

    def forward(self, w: Tensor, *, input_extra: Tensor | None = None, return_feature: int | None = None
                ) -> tuple[Tensor, Tensor | None]:
        """w ``[N, w_dim]`` (the same w for every layer) -> (image ``[N, out_channels, R, R]``, feature).

        input_extra ``[N, E]`` (e.g. a motion code) is required iff ``input_extra_channels = E > 0``.
        feature is the output of conv layer `return_feature` (0-based; ``num_layers`` returns the image
        itself), shaped as `layer_shapes` says, or None. GenDeF's canonical feature is layer
        ``num_layers - 1``, the last conv at full resolution (the paper's "penultimate layer").
        """
        n = w.shape[0]
        if w.ndim != 2 or w.shape[1] != self.w_dim:
            raise ValueError(f"SynthesisNetwork expects w [N, {self.w_dim}], got {tuple(w.shape)}")
        if return_feature is not None and not 0 <= return_feature <= self.num_layers:
            raise ValueError(f"return_feature must be in [0, {self.num_layers}], got {return_feature}")
        x = self.const.unsqueeze(0).expand(n, -1, -1, -1)  # [N, C4, 4, 4]
        if self.input_extra_channels:
            if input_extra is None or input_extra.shape != (n, self.input_extra_channels):
                got = None if input_extra is None else tuple(input_extra.shape)
                raise ValueError(f"input_extra must be [{n}, {self.input_extra_channels}], got {got}")
            x = torch.cat([x, input_extra[:, :, None, None].expand(-1, -1, 4, 4)], dim=1)  # [N, C4+E, 4, 4]
        elif input_extra is not None:
            raise ValueError("this SynthesisNetwork was built with input_extra_channels=0 but got input_extra")

        feature: Tensor | None = None
        x = self.conv4(x, w)
        if return_feature == 0:
            feature = x
        img = self.torgb4(x, w)  # [N, out, 4, 4]
        # nn.ModuleList iterates as plain Modules; every entry is a SynthesisBlock (built in __init__)
        for b, block in enumerate(cast("Iterable[SynthesisBlock]", self.blocks)):
            x = block.conv0(x, w)
            if return_feature == 1 + 2 * b:
                feature = x
            x = block.conv1(x, w)
            if return_feature == 2 + 2 * b:
                feature = x
            img = upsample2x(img) + block.torgb(x, w)
        if return_feature == self.num_layers:
            feature = img
        return img, feature

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, resolution={self.resolution}, channels={self.channels}, "
                f"out_channels={self.out_channels}, input_extra_channels={self.input_extra_channels}, "
                f"mtm_resolutions={self.mtm_resolutions}")
