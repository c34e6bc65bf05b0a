"""The one sampling recipe: latents from a seed, the per-video content once, frames or offsets in chunks.

`gendef sample`/`resample`, evaluation's generated videos and training snapshots all draw videos
through `VideoRollout`, so a seed gives the same video everywhere.

A video's latents (stored in sampled clips, FORMATS.md) are

    z_c           [z_dim]              content latent -> canonical image (and the feature f_c)
    z_d           [z_dim]              deformation latent
    motion_noise  [L, noise_dim]       StyleGAN-V motion noise, one vector every `motion_distance` frames

all drawn from ONE ``torch.Generator`` seeded with the seed, in that order, the motion noise row by
row. So the latents of seed s do not depend on the number of frames, and a longer clip of the same
seed continues the shorter one (same first frames). `resample --motion-seed m` keeps a clip's z_c
and canonical and takes z_d and motion noise of seed m: the motion `sample --seed m` has.

The recipe: the generator's per-video `content` (for GenDeF the canonical image, clamped to
[-1, 1], and its feature f_c) is computed once; then frames (or, for a deformation model, offsets
alone) are generated for chunks of consecutive times 0..T-1, each chunk checked for non-finite
values. No truncation unless asked. Peak memory beyond the output does not grow with T.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from gendef_core.artifacts.tensors import all_finite
from gendef_core.errors import ArtifactError, ConfigError
from gendef_core.models.generator import GeneratorOutput, VideoGenerator
from gendef_core.models.loading import LoadedGenerator, load_generator
from gendef_core.models.motion import MotionMapping


def load_model(ckpt: Path, *, device: str | torch.device = "auto") -> LoadedGenerator:
    """The EMA generator of a fine-tuning checkpoint (or a run's latest) that has a canonical image and a
    deformation to sample (`gendef sample`); evaluation takes any video generator (`load_generator`)."""
    model = load_generator(Path(ckpt), device=device)
    if not model.generator.has_deformation:
        raise ConfigError(f"{model.checkpoint.path} is {model.generator.description}: it has no canonical image and "
                          f"deformation to sample; use a checkpoint of `gendef finetune` of a GenDeF model")
    return model


def weights_id(generator: VideoGenerator) -> str:
    """A short id of a generator's weights: sha256 over every tensor of its networks (names, shapes,
    float32 bytes). The same for a run checkpoint and its `gendef export`; recorded in sampled clips."""
    h = hashlib.sha256()
    for name, module in sorted(generator.networks().items()):
        for key, t in sorted(module.state_dict().items()):
            h.update(f"{name}.{key}:{list(t.shape)}\n".encode())
            h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def seed_latents(motion: MotionMapping, z_dim: int, seed: int, num_frames: int) -> dict[str, Tensor]:
    """The latents of seed `seed` for a `num_frames`-frame video of any generator with this motion mapping:
    CPU float32, drawn as the module docstring says."""
    g = torch.Generator().manual_seed(seed)
    z_c = torch.randn(z_dim, generator=g)
    z_d = torch.randn(z_dim, generator=g)
    rows = motion.noise_length(num_frames - 1)
    noise = torch.stack([torch.randn(motion.noise_dim, generator=g) for _ in range(rows)])
    return {"z_c": z_c, "z_d": z_d, "motion_noise": noise}


def draw_latents(model: LoadedGenerator, seed: int, num_frames: int) -> dict[str, Tensor]:
    """The latents of seed `seed` for a `num_frames`-frame video of `model`."""
    return seed_latents(model.generator.motion, model.config.model.z_dim, seed, num_frames)


def stack_latents(generator: VideoGenerator, z_dim: int, seeds: Sequence[int], num_frames: int
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """(z_c ``[B, z_dim]``, z_d ``[B, z_dim]``, motion noise ``[B, L, noise_dim]``) of the given seeds (CPU)."""
    lat = [seed_latents(generator.motion, z_dim, s, num_frames) for s in seeds]
    z_c, z_d, noise = (torch.stack([x[key] for x in lat]) for key in ("z_c", "z_d", "motion_noise"))
    return z_c, z_d, noise


class VideoRollout:
    """A batch of videos being generated: the content at construction, then any chunk of frames.

    z_c, z_d ``[B, z_dim]`` and motion noise ``[B, L, noise_dim]`` (any device; moved to the
    generator's). `what` names the model in the error raised for non-finite output.
    """

    @torch.inference_mode()
    def __init__(self, generator: VideoGenerator, z_c: Tensor, z_d: Tensor, motion_noise: Tensor, *,
                 truncation_psi: float = 1.0, what: str = "the model") -> None:
        self.generator, self.truncation_psi, self.what = generator, truncation_psi, what
        self.device = next(generator.parameters()).device
        self.z_d, self.motion_noise = z_d.to(self.device), motion_noise.to(self.device)
        self.content = generator.content(z_c.to(self.device), truncation_psi=truncation_psi)

    @property
    def canonical(self) -> Tensor | None:
        """``[B, 3, R, R]`` on the generator's device, clamped to [-1, 1] (None without a deformation)."""
        return self.content.canonical

    def _times(self, start: int, stop: int) -> Tensor:
        need = self.generator.motion.noise_length(stop - 1)
        if self.motion_noise.shape[1] < need:
            raise ConfigError(f"the motion noise covers {self.motion_noise.shape[1]} knots, {need} are needed for "
                              f"{stop} frames; draw new motion (resample with a motion seed)")
        return torch.arange(start, stop, dtype=torch.float32, device=self.device).expand(self.z_d.shape[0], -1)

    @torch.inference_mode()
    def frames(self, start: int, stop: int) -> GeneratorOutput:
        """Frames ``[B, stop - start, 3, R, R]`` of times start..stop-1 (with their offsets for GenDeF)."""
        out = self.generator.frames_at(self.content, self.z_d, self._times(start, stop), self.motion_noise,
                                       truncation_psi=self.truncation_psi)
        if out.offsets is not None:
            self._check(out.offsets, "offsets")
        else:
            self._check(out.frames, "frames")
        return out

    @torch.inference_mode()
    def offsets(self, start: int, stop: int) -> Tensor:
        """Offsets ``[B, stop - start, 2, R, R]`` of times start..stop-1 alone (deformation models; no warp)."""
        part = self.generator.offsets_at(self.content, self.z_d, self._times(start, stop), self.motion_noise,
                                         truncation_psi=self.truncation_psi)
        self._check(part, "offsets")
        return part

    def _check(self, part: Tensor, what: str) -> None:
        if not all_finite(part):  # per chunk: a whole-video check needed ~1.3x the output
            raise ArtifactError(f"{self.what} produced non-finite {what}; the checkpoint is broken")


def chunks(num_frames: int, chunk: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive chunks of at most `chunk` frames covering 0..num_frames-1."""
    if num_frames < 1 or chunk < 1:
        raise ValueError(f"num_frames and chunk must be >= 1, got {num_frames} and {chunk}")
    return [(s, min(s + chunk, num_frames)) for s in range(0, num_frames, chunk)]


def clip_tensors(model: LoadedGenerator, latents: dict[str, Tensor], num_frames: int, *,
                 truncation_psi: float = 1.0, chunk: int = 32,
                 on_frames: Callable[[int], None] | None = None) -> tuple[Tensor, Tensor]:
    """A clip's canonical ``[3, R, R]`` (clamped) and offsets ``[T, 2, R, R]`` (CPU float32) from one video's
    latents (``z_c [z_dim]``, ``z_d``, ``motion_noise [L, noise_dim]``); `chunk` frames per G_d call."""
    roll = VideoRollout(model.generator, latents["z_c"][None], latents["z_d"][None], latents["motion_noise"][None],
                        truncation_psi=truncation_psi, what=str(model.checkpoint.path))
    assert roll.canonical is not None  # load_model only returns deformation models
    r = model.config.model.resolution
    offsets = torch.empty(num_frames, 2, r, r)
    for start, stop in chunks(num_frames, chunk):
        offsets[start:stop] = roll.offsets(start, stop)[0]
        if on_frames is not None:
            on_frames(stop)
    return roll.canonical[0].float().cpu(), offsets
