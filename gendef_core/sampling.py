"""Drawing clips from a trained GenDeF generator: latents from a seed, canonical once, deformation in chunks.

A clip's latents (stored in the clip, FORMATS.md) are

    z_c           [z_dim]              content latent -> canonical image (and the feature f_c)
    z_d           [z_dim]              deformation latent
    motion_noise  [L, noise_dim]       StyleGAN-V motion noise, one vector every `motion_distance` frames

all drawn from ONE ``torch.Generator`` seeded with the clip's seed, in that order, the motion noise
row by row. So the latents of seed s do not depend on the number of frames, and a longer clip of
the same seed continues the shorter one (same first frames). `resample --motion-seed m` keeps a
clip's z_c and canonical and takes z_d and motion noise of seed m: the motion `sample --seed m` has.

Memory: the canonical and its feature are computed once per clip; offsets are generated `chunk`
frames at a time straight into the clip's [T, 2, H, W] tensor, so peak memory beyond the
deformation itself does not grow with T.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gendef_core.artifacts.checkpoint import CheckpointInfo, load_checkpoint
from gendef_core.artifacts.tensors import all_finite
from gendef_core.config import TrainConfig
from gendef_core.errors import ArtifactError, ConfigError
from gendef_core.models.generator import GenDeFGenerator, build_generator
from gendef_core.models.motion import MotionMapping


@dataclass(frozen=True)
class LoadedModel:
    generator: GenDeFGenerator     # the EMA generator, eval mode, on `device`
    config: TrainConfig
    checkpoint: CheckpointInfo
    device: torch.device


def pick_device(device: str = "auto") -> torch.device:
    """`auto`: the first CUDA GPU if there is one, else the CPU; otherwise any torch device string."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"--device {device!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: this machine has no CUDA GPU; use --device cpu")
    return dev


def load_video_generator(ckpt: Path, *, device: str | torch.device = "auto"
                         ) -> tuple[nn.Module, TrainConfig, CheckpointInfo, torch.device]:
    """The EMA video generator (GenDeF or the direct baseline) of a fine-tuning checkpoint or run, eval mode."""
    info = load_checkpoint(Path(ckpt))
    cfg = TrainConfig.from_dict(dict(info.config))
    if cfg.stage != "finetune":
        raise ConfigError(f"{info.path} is a pre-training checkpoint (an image model); use a `gendef finetune` run")
    gen = build_generator(cfg.model, "finetune")
    for name, module in gen.networks().items():
        state = info.load_network(f"{name}_ema")
        missing, unexpected = module.load_state_dict(state, strict=False)
        if missing or unexpected:
            key = (missing or unexpected)[0]
            raise ArtifactError(f"{info.path}/{name}_ema.safetensors does not fit its config.json "
                                f"({'missing' if missing else 'unexpected'} weight {key}); re-create the checkpoint")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return gen.eval().requires_grad_(False).to(dev), cfg, info, dev


def weights_id(generator: nn.Module) -> str:
    """A short id of a generator's weights: sha256 over every tensor of its networks (names, shapes,
    float32 bytes). The same for a run checkpoint and its `gendef export`; recorded in sampled clips."""
    import hashlib

    h = hashlib.sha256()
    for name, module in sorted(generator.networks().items()):  # type: ignore[operator]
        for key, t in sorted(module.state_dict().items()):
            h.update(f"{name}.{key}:{list(t.shape)}\n".encode())
            h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def load_model(ckpt: Path, *, device: str | torch.device = "auto") -> LoadedModel:
    """The EMA GenDeF generator of a fine-tuning checkpoint (or a run's latest), ready to sample."""
    info = load_checkpoint(Path(ckpt), verify=False)
    cfg = TrainConfig.from_dict(dict(info.config))
    fix = "use a checkpoint of `gendef finetune` (a GenDeF model, not a pre-training or the baseline)"
    if cfg.stage != "finetune" or cfg.model.variant != "gendef":
        what = "a pre-training checkpoint" if cfg.stage != "finetune" else "the direct-frame baseline"
        raise ConfigError(f"{info.path} is {what}: it has no canonical image and deformation to sample; {fix}")
    gen, cfg, info, dev = load_video_generator(info.path, device=device)
    assert isinstance(gen, GenDeFGenerator)
    return LoadedModel(gen, cfg, info, dev)


def seed_latents(motion: MotionMapping, z_dim: int, seed: int, num_frames: int) -> dict[str, Tensor]:
    """The latents of seed `seed` for a `num_frames`-frame video of any generator with this motion mapping
    (GenDeF or the baseline): CPU float32, drawn as the module docstring says."""
    g = torch.Generator().manual_seed(seed)
    z_c = torch.randn(z_dim, generator=g)
    z_d = torch.randn(z_dim, generator=g)
    rows = motion.noise_length(num_frames - 1)
    noise = torch.stack([torch.randn(motion.noise_dim, generator=g) for _ in range(rows)])
    return {"z_c": z_c, "z_d": z_d, "motion_noise": noise}


def draw_latents(model: LoadedModel, seed: int, num_frames: int) -> dict[str, Tensor]:
    """The latents of seed `seed` for a `num_frames`-frame clip of `model`."""
    return seed_latents(model.generator.motion, model.config.model.z_dim, seed, num_frames)


@torch.inference_mode()
def canonical_and_feature(model: LoadedModel, z_c: Tensor, *, truncation_psi: float = 1.0
                          ) -> tuple[Tensor, Tensor | None]:
    """G_c(z_c): the canonical image ``[3, R, R]`` (CPU, clamped to [-1, 1]) and f_c (on the model's device)."""
    canonical, feature = model.generator.canonical(z_c[None].to(model.device), truncation_psi=truncation_psi,
                                                   return_feature=model.config.model.canonical_feature)
    return canonical[0].float().clamp(-1, 1).cpu(), feature


@torch.inference_mode()
def generate_offsets(model: LoadedModel, feature: Tensor | None, z_d: Tensor, motion_noise: Tensor,
                     num_frames: int, *, truncation_psi: float = 1.0, chunk: int = 32,
                     on_frames: object = None) -> Tensor:
    """Offsets ``[T, 2, R, R]`` (CPU float32) for frames t = 0..T-1, `chunk` frames per G_d call."""
    if num_frames < 1 or chunk < 1:
        raise ConfigError("--frames and --batch-size must be >= 1")
    r = model.config.model.resolution
    need = model.generator.motion.noise_length(num_frames - 1)
    if motion_noise.shape[0] < need:
        raise ConfigError(f"the clip's motion noise covers {motion_noise.shape[0]} knots, {need} are needed for "
                          f"{num_frames} frames; resample with --motion-seed to draw new motion")
    dev = model.device
    z = z_d[None].to(dev)
    noise = motion_noise[None].to(dev)
    offsets = torch.empty(num_frames, 2, r, r)
    for start in range(0, num_frames, chunk):
        stop = min(start + chunk, num_frames)
        times = torch.arange(start, stop, dtype=torch.float32, device=dev)[None]
        part = model.generator.deform(z, times, noise, feature, truncation_psi=truncation_psi)[0]
        if not all_finite(part):  # per chunk: a whole-clip check needed ~1.3x the offsets
            raise ArtifactError(f"{model.checkpoint.path} produced non-finite offsets; the checkpoint is broken")
        offsets[start:stop] = part
        if callable(on_frames):
            on_frames(stop)
    return offsets
