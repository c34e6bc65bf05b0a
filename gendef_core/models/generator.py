"""Generators, composed from the parts: the image generator G_c, and the video generators built on it.

Every video generator is a `VideoGenerator` (the interface below): what it is made of (`networks()`,
the separately trained parts by the name their weights are stored under in a checkpoint,
FORMATS.md), whether it has a deformation, which parts a pre-training initialises, and how latents
and times become frames (`forward` for training; `content` once per video + `frames_at` per chunk
of times for sampling, see gendef_core.sampling). Adding a variant: docs/MODEL.md.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar, Literal, overload

import torch
from torch import Tensor, nn

from gendef_core.config import ModelConfig, Stage
from gendef_core.models.deform import DeformationGenerator
from gendef_core.models.mapping import MappingNetwork
from gendef_core.models.motion import MotionMapping
from gendef_core.models.synthesis import SynthesisNetwork, channels_for
from gendef_core.warp import warp


@dataclass
class GeneratorOutput:
    frames: Tensor                 # [B, K, 3, R, R] in [-1, 1] (approximately: no tanh, as in StyleGAN)
    canonical: Tensor | None = None  # [B, 3, R, R]
    offsets: Tensor | None = None    # [B, K, 2, R, R], normalised (gendef_core.warp)


@dataclass
class Content:
    """The per-video part of sampling, computed once per video and reused for every chunk of frames."""

    z_c: Tensor                      # [B, z_dim]
    canonical: Tensor | None = None  # [B, 3, R, R], clamped to [-1, 1] (models with a deformation)
    feature: Tensor | None = None    # f_c [B, C, r, r] (GenDeF with model.canonical_feature)


def motion_mapping(cfg: ModelConfig) -> MotionMapping:
    """The StyleGAN-V motion mapping of a model config (shared by GenDeF and the baseline)."""
    return MotionMapping(noise_dim=cfg.motion_noise_dim, hidden_dim=cfg.motion_hidden_dim, num_freqs=cfg.motion_freqs,
                         distance=cfg.motion_distance, kernel_size=cfg.motion_kernel,
                         min_period=cfg.motion_min_period)


class CanonicalGenerator(nn.Module):
    """G_c: z_c -> canonical image (and the feature f_c of a chosen layer). StyleGAN2 synthesis; the paper's
    is StyleGAN3. Pre-training trains it alone, as an image GAN."""

    def __init__(self, cfg: ModelConfig, *, input_extra_channels: int = 0) -> None:
        super().__init__()
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, num_layers=cfg.mapping_layers)
        self.synthesis = SynthesisNetwork(w_dim=cfg.w_dim, resolution=cfg.resolution,
                                          channels=channels_for(cfg.resolution, cfg.channel_base, cfg.channel_max),
                                          input_extra_channels=input_extra_channels,
                                          mtm_resolutions=cfg.mtm_resolutions)
        n = self.synthesis.num_layers
        self.feature_layer = n - 1 if cfg.feature_layer is None else cfg.feature_layer
        if not 0 <= self.feature_layer <= n:
            raise ValueError(f"model.feature_layer must be in 0..{n} (the image), got {cfg.feature_layer}")
        self.feature_channels = self.synthesis.layer_shapes()[self.feature_layer][0]

    def networks(self) -> dict[str, nn.Module]:
        return {"canonical": self}

    def forward(self, z: Tensor, *, truncation_psi: float = 1.0, update_w_avg: bool = False,
                return_feature: bool = False, input_extra: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """z ``[N, z_dim]`` -> (image ``[N, 3, R, R]``, feature ``[N, C, r, r]`` or None)."""
        w = self.mapping(z, truncation_psi=truncation_psi, update_w_avg=update_w_avg)
        return self.synthesis(w, input_extra=input_extra,
                              return_feature=self.feature_layer if return_feature else None)


class VideoGenerator(nn.Module, abc.ABC):
    """The interface of every video generator: (z_c, z_d, times, motion noise) -> frames.

    Latents: z_c, z_d ``[B, z_dim]``; times ``[B, K]`` (real, >= 0, frames); motion noise
    ``[B, L, noise_dim]`` for the StyleGAN-V motion mapping `motion`, which every video generator has
    (it draws the noise: `motion.sample_noise`, `motion.noise_length`).
    """

    has_deformation: ClassVar[bool]
    """True if frames are a canonical image warped by offsets (then `frames_at` can return offsets alone)."""
    description: ClassVar[str]
    """What the model is, for messages ("the direct-frame baseline")."""

    motion: MotionMapping

    def __init__(self, cfg: ModelConfig) -> None:
        # Subclasses create their parts (and `motion`) in a fixed order: it fixes the random initial weights
        # and the parameter order that optimizer states in checkpoints refer to.
        super().__init__()
        self.cfg = cfg

    @abc.abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """The separately trained parts, by checkpoint name (every parameter in exactly one)."""

    def pretrained_parts(self) -> dict[str, nn.Module]:
        """The parts a pre-training checkpoint initialises, by the pre-training's network name; {} = none (the
        model trains from scratch)."""
        return {}

    def freeze_pretrained(self) -> None:
        """Keep the pre-trained parts fixed in training (`freeze_canonical`): no gradients, no w_avg updates."""
        raise ValueError(f"{self.description} has no pre-trained part to freeze")

    @abc.abstractmethod
    def forward(self, z_c: Tensor, z_d: Tensor, times: Tensor, motion_noise: Tensor, *, truncation_psi: float = 1.0,
                update_w_avg: bool = False) -> GeneratorOutput:
        """Frames (and for a deformation model the canonical and offsets) at `times`, all in one pass (training)."""

    @abc.abstractmethod
    def content(self, z_c: Tensor, *, truncation_psi: float = 1.0) -> Content:
        """The per-video part of sampling (computed once per video)."""

    @abc.abstractmethod
    def frames_at(self, content: Content, z_d: Tensor, times: Tensor, motion_noise: Tensor, *,
                  truncation_psi: float = 1.0) -> GeneratorOutput:
        """Frames ``[B, K, 3, R, R]`` at `times` of the videos of `content` (and their offsets, for a
        deformation model)."""

    def offsets_at(self, content: Content, z_d: Tensor, times: Tensor, motion_noise: Tensor, *,
                   truncation_psi: float = 1.0) -> Tensor:
        """Offsets ``[B, K, 2, R, R]`` alone (deformation models; no warp)."""
        raise ValueError(f"{self.description} has no deformation")


class GenDeFGenerator(VideoGenerator):
    """frames_t = warp(G_c(z_c), G_d(z_d, u_t; f_c)) (paper Eqs. 1-3)."""

    has_deformation = True
    description = "a GenDeF model"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.canonical_frozen = False
        """Set by `freeze_pretrained`: G_c then stays bit-identical, w_avg included."""
        self.canonical = CanonicalGenerator(cfg)
        self.motion = motion_mapping(cfg)
        self.deformation = DeformationGenerator(
            resolution=cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers,
            channels=channels_for(cfg.resolution, cfg.deform_channel_base, cfg.deform_channel_max),
            motion_dim=self.motion.code_dim,
            feature_channels=self.canonical.feature_channels if cfg.canonical_feature else 0,
            feature_dim=cfg.feature_dim, deform_init=cfg.deform_init, mtm_resolutions=cfg.mtm_resolutions)

    def networks(self) -> dict[str, nn.Module]:
        # The motion mapping is trained with G_d, so it is stored with it.
        return {"canonical": self.canonical, "deformation": _Deformation(self.motion, self.deformation)}

    def pretrained_parts(self) -> dict[str, nn.Module]:
        return {"canonical": self.canonical}

    def freeze_pretrained(self) -> None:
        self.canonical.requires_grad_(False)
        self.canonical_frozen = True

    def forward(self, z_c: Tensor, z_d: Tensor, times: Tensor, motion_noise: Tensor, *, truncation_psi: float = 1.0,
                update_w_avg: bool = False) -> GeneratorOutput:
        canonical, feature = self.canonical(z_c, truncation_psi=truncation_psi,
                                            update_w_avg=update_w_avg and not self.canonical_frozen,
                                            return_feature=self.cfg.canonical_feature)
        offsets = self.deform(z_d, times, motion_noise, feature, truncation_psi=truncation_psi,
                              update_w_avg=update_w_avg)
        return GeneratorOutput(warp(canonical, offsets), canonical, offsets)

    def deform(self, z_d: Tensor, times: Tensor, motion_noise: Tensor, feature: Tensor | None, *,
               truncation_psi: float = 1.0, update_w_avg: bool = False) -> Tensor:
        """Offsets ``[B, K, 2, R, R]`` for given times, reusing a canonical feature.

        With `model.anchor_first_frame` the offsets at time 0 are subtracted (computed in the same pass), so
        frame 0 is the canonical exactly at any weights."""
        anchor = self.cfg.anchor_first_frame
        if anchor:
            times = torch.cat([times, times.new_zeros(times.shape[0], 1)], dim=1)
        codes = self.motion(times, motion_noise)
        offsets = self.deformation(z_d, codes, feature if self.cfg.canonical_feature else None,
                                   truncation_psi=truncation_psi, update_w_avg=update_w_avg)
        return offsets[:, :-1] - offsets[:, -1:] if anchor else offsets

    def content(self, z_c: Tensor, *, truncation_psi: float = 1.0) -> Content:
        canonical, feature = self.canonical(z_c, truncation_psi=truncation_psi,
                                            return_feature=self.cfg.canonical_feature)
        return Content(z_c, canonical.clamp(-1, 1), feature)

    def frames_at(self, content: Content, z_d: Tensor, times: Tensor, motion_noise: Tensor, *,
                  truncation_psi: float = 1.0) -> GeneratorOutput:
        assert content.canonical is not None
        offsets = self.offsets_at(content, z_d, times, motion_noise, truncation_psi=truncation_psi)
        return GeneratorOutput(warp(content.canonical, offsets), content.canonical, offsets)

    def offsets_at(self, content: Content, z_d: Tensor, times: Tensor, motion_noise: Tensor, *,
                   truncation_psi: float = 1.0) -> Tensor:
        return self.deform(z_d, times, motion_noise, content.feature, truncation_psi=truncation_psi)


class DirectGenerator(VideoGenerator):
    """The direct-frame baseline (StyleGAN-V style): frames_t = G(z, u_t), no canonical image or deformation."""

    has_deformation = False
    description = "the direct-frame baseline"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.motion = motion_mapping(cfg)
        self.frames = CanonicalGenerator(cfg, input_extra_channels=self.motion.code_dim)

    def networks(self) -> dict[str, nn.Module]:
        return {"frames": self}

    def forward(self, z_c: Tensor, z_d: Tensor, times: Tensor, motion_noise: Tensor, *, truncation_psi: float = 1.0,
                update_w_avg: bool = False) -> GeneratorOutput:
        del z_d  # the baseline has one content latent
        b, k = times.shape
        codes = self.motion(times, motion_noise).reshape(b * k, -1)
        img, _ = self.frames(z_c.repeat_interleave(k, dim=0), truncation_psi=truncation_psi,
                             update_w_avg=update_w_avg, input_extra=codes)
        return GeneratorOutput(img.reshape(b, k, *img.shape[1:]))

    def content(self, z_c: Tensor, *, truncation_psi: float = 1.0) -> Content:
        return Content(z_c)  # nothing is shared between the frames of a video

    def frames_at(self, content: Content, z_d: Tensor, times: Tensor, motion_noise: Tensor, *,
                  truncation_psi: float = 1.0) -> GeneratorOutput:
        return self(content.z_c, z_d, times, motion_noise, truncation_psi=truncation_psi)


class _Deformation(nn.Module):
    """Groups the motion mapping and G_d under one checkpoint name without copying them."""

    def __init__(self, motion: MotionMapping, deformation: DeformationGenerator) -> None:
        super().__init__()
        self.motion = motion
        self.deformation = deformation


def build_video_generator(cfg: ModelConfig) -> VideoGenerator:
    """The video generator of `cfg.variant` (the one place a variant name becomes a class)."""
    match cfg.variant:
        case "gendef":
            return GenDeFGenerator(cfg)
        case "direct":
            return DirectGenerator(cfg)
    raise ValueError(f"unknown model variant {cfg.variant!r}")


@overload
def build_generator(cfg: ModelConfig, stage: Literal["pretrain"]) -> CanonicalGenerator: ...
@overload
def build_generator(cfg: ModelConfig, stage: Literal["finetune"]) -> VideoGenerator: ...
@overload
def build_generator(cfg: ModelConfig, stage: Stage) -> CanonicalGenerator | VideoGenerator: ...
def build_generator(cfg: ModelConfig, stage: Stage) -> CanonicalGenerator | VideoGenerator:
    """The generator trained in `stage`: G_c alone for pre-training, else the video generator."""
    return CanonicalGenerator(cfg) if stage == "pretrain" else build_video_generator(cfg)
