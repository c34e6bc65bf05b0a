"""Typed, frozen training configuration, presets and `--set key=value` overrides.

One dataclass per component. The resolved `TrainConfig` is saved as JSON beside every run and
checkpoint (`config.json`) and read back with `TrainConfig.from_dict`, which refuses unknown keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args, get_origin, get_type_hints

from gendef_core.errors import ConfigError, GendefError, OptionError

Variant = Literal["gendef", "direct"]
DeformInit = Literal["zero", "xavier", "none"]
Stage = Literal["pretrain", "finetune"]
MixedPrecision = Literal["no", "fp16", "bf16"]
Fuse = Literal["mean", "concat"]


@dataclass(frozen=True)
class ModelConfig:
    """The generator(s)."""

    variant: Variant = "gendef"
    """`gendef`: canonical image + deformation; `direct`: the baseline that synthesises frames from (z, u_t)."""
    resolution: int = 64
    """Frame and canonical size R (R x R pixels), a power of two in 16..1024."""
    z_dim: int = 128
    """Size of the content latent z_c (and of z_d for the deformation generator)."""
    w_dim: int = 128
    """Size of the intermediate latents w (mapping output)."""
    mapping_layers: int = 2
    """Layers of each mapping network (StyleGAN-V/GenDeF use 2)."""
    channel_base: int = 2048
    """Canonical/direct synthesis channels at resolution r: min(channel_base // r, channel_max)
    (2048/128: 128 channels up to 16 px, 64 at 32, 32 at 64)."""
    channel_max: int = 128
    deform_channel_base: int = 1024
    """Deformation generator channels at r: min(deform_channel_base // r, deform_channel_max)."""
    deform_channel_max: int = 64
    motion_noise_dim: int = 128
    """Size of each equidistant motion noise vector (StyleGAN-V: 512)."""
    motion_hidden_dim: int = 128
    """Width of the 1-D conv motion mapping."""
    motion_freqs: int = 64
    """Frequencies of the acyclic positional encoding; u_t has 2 x motion_freqs dims (StyleGAN-V: 256)."""
    motion_distance: int = 16
    """Frames between motion noise vectors (StyleGAN-V's motion_z_distance = min_period_len)."""
    motion_kernel: int = 11
    """Kernel of the 1-D motion mapping convs (StyleGAN-V: 11)."""
    motion_min_period: float = 16.0
    """Shortest period (frames) of the motion codes' positional encoding (StyleGAN-V's min_period_len, 16; its
    README uses 256 for SkyTimelapse); the longest is 1024. Shorter periods let the motion change faster."""
    canonical_feature: bool = True
    """Feed the canonical feature f_c to every deformation-generator layer (the Table 2 `w/o f_c` ablation is False)."""
    feature_layer: int | None = None
    """Which canonical-generator layer gives f_c (0-based conv layer; `num_layers` = the image). None = the last conv
    layer, the paper's penultimate (Table 3 ablation)."""
    feature_dim: int = 32
    """f_c is projected (1x1 conv) to this many channels before being concatenated (upstream: 64)."""
    deform_init: DeformInit = "zero"
    """Last ToOut of G_d: `zero` (paper), `xavier`, or `none` = no multiplier, StyleGAN-V default init (Table A1)."""
    anchor_first_frame: bool = False
    """Offsets relative to time 0: G_d(z_d, u_t) - G_d(z_d, u_0), so frame 0 is the canonical exactly and G_d can
    only move it, not re-shape it with a static warp (issue 14, docs/MOTION.md). False = the paper's G_d(z_d, u_t)."""
    mtm_resolutions: tuple[int, ...] = ()
    """Resolutions whose (non-upsampling) convs use MTM deformable convs, in both generators. Empty = off."""

    def validate(self) -> None:
        r = self.resolution
        if r < 16 or r > 1024 or r & (r - 1):
            raise OptionError(f"model.resolution must be a power of two in 16..1024, got {r}")
        _check_sizes("model", self, MODEL_SIZES)
        if not (math.isfinite(self.motion_min_period) and 1 <= self.motion_min_period <= 1024):
            raise OptionError(f"model.motion_min_period must be in 1..1024 frames, got {self.motion_min_period}")
        if self.motion_kernel % 2 == 0:
            raise OptionError(f"model.motion_kernel must be odd, got {self.motion_kernel}")
        bad = [m for m in self.mtm_resolutions if m < 4 or m > r or m & (m - 1)]
        if bad:
            raise OptionError(f"model.mtm_resolutions must be powers of two in 4..{r}, got {bad}")
        if self.channel_base < r or self.deform_channel_base < r:
            raise OptionError(f"model.channel_base and model.deform_channel_base must be at least the resolution "
                              f"({r}) so that every layer has a channel")
        num_layers = 1 + 2 * (r.bit_length() - 3)  # 1 conv at 4x4, 2 per block up to R (synthesis.py)
        if self.feature_layer is not None and not 0 <= self.feature_layer <= num_layers:
            raise OptionError(f"model.feature_layer must be in 0..{num_layers} at {r} px ({num_layers} = the image), "
                              f"got {self.feature_layer}")


MAX_WIDTH = 8192
"""Largest latent size and channel count (the paper's are 512): a generous bound, so that a typo cannot ask
for terabytes."""
MODEL_SIZES = {"z_dim": MAX_WIDTH, "w_dim": MAX_WIDTH, "mapping_layers": 64, "channel_base": 1 << 20,
               "channel_max": MAX_WIDTH, "deform_channel_base": 1 << 20, "deform_channel_max": MAX_WIDTH,
               "motion_noise_dim": MAX_WIDTH, "motion_hidden_dim": MAX_WIDTH, "motion_freqs": 4096,
               "motion_distance": 1 << 16, "motion_kernel": 255, "feature_dim": 4096}
"""Upper bounds of the model's size settings (each must be in 1..bound)."""


def _check_sizes(section: str, cfg: object, bounds: dict[str, int]) -> None:
    for name, hi in bounds.items():
        value = getattr(cfg, name)
        if not 1 <= value <= hi:
            raise OptionError(f"{section}.{name} must be in 1..{hi}, got {value}")


@dataclass(frozen=True)
class DiscriminatorConfig:
    channel_base: int = 2048
    """Channels at resolution r: min(channel_base // r, channel_max)."""
    channel_max: int = 128
    fuse_resolution: int = 16
    """Per-frame features are averaged over the sampled frames at this resolution (GenDeF's `tmean`)."""
    temporal_shift: bool = True
    """Temporal shift of 1/4 of the channels before fusion, in fine-tuning only (GenDeF's `tsm`)."""
    mbstd_group: int = 4
    cmap_dim: int = 128
    """Size of the time-difference projection (fine-tuning)."""
    fuse: Fuse = "mean"
    """How the frames' features are fused at `fuse_resolution` in fine-tuning: `mean` (GenDeF's `tmean`), or
    `concat` = the mean plus a zero-initialised 1x1 conv over the concatenated deviations from it (StyleGAN-V's
    concatenation, started as the mean so the pre-trained D still fits)."""
    deviation_input: bool = False
    """Fine-tuning: the first layer also sees each frame's difference from its clip's mean frame, through a zero-
    initialised 1x1 conv (`from_deviation`, so the pre-trained D still fits). A still clip's differences are
    zero, so the D can tell motion from stillness from its first layer on (issue 14, docs/MOTION.md)."""
    motion_branch: bool = False
    """Fine-tuning: a second, content-free discriminator on the differences between consecutive sampled frames and
    their time differences (`motion_branch.*`), with its own logistic loss (and R1); G is trained against both.
    Beyond the paper (MoCoGAN/DIGAN-style separate motion discriminator; issue 14, docs/MOTION.md)."""


@dataclass(frozen=True)
class LossConfig:
    r1_gamma: float = 1.0
    """R1 weight gamma on real data (pre-training upstream: 0.5; fine-tuning upstream: 8 at 256 px)."""
    r1_every: int = 16
    """Lazy R1: applied every N steps, scaled by N (StyleGAN2); optimiser lr/betas corrected accordingly."""
    reg_weight: float = 1.0
    """lambda_reg of the structural temporal smoothness loss (Eq. 4); the paper uses 1, upstream ships 0."""
    fold_weight: float = 0.0
    """Weight of the fold penalty on every generated deformation (`losses.fold_loss`: the mean of
    relu(1/4 - det J) of the backward map). Beyond the paper; 0 = off (issue 14, docs/MOTION.md)."""
    fold_temporal: bool = False
    """Penalise only the folds of the motion: each frame's offsets minus their mean over the video's generated
    frames (`losses.fold_loss(temporal=True)`), so static folds that shape the content stay free."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs, besides the data path and output directory."""

    stage: Stage = "pretrain"
    model: ModelConfig = field(default_factory=ModelConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    batch_size: int = 16
    """Videos (fine-tuning) or images (pre-training) per step, per process."""
    steps: int = 1000
    """Optimisation steps to train (a resumed run continues up to this total)."""
    lr_g: float = 0.0025
    lr_d: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    ema_kimg: float = 2.5
    """EMA half-life of the generator weights, in thousands of images/videos (StyleGAN-V at batch 64: 20)."""
    ema_rampup: float | None = 0.05
    """EMA half-life ramp-up as a fraction of images seen; None = off (used when fine-tuning from a checkpoint)."""
    num_frames: int = 3
    """Frames sampled per video in fine-tuning (StyleGAN-V sparse sampling)."""
    max_span: int = 32
    """Largest distance between the first and last sampled frame."""
    freeze_canonical: bool = False
    """Fine-tuning: keep G_c fixed (the Table 4 `pt. + freeze` row)."""
    init_from: str | None = None
    """Fine-tuning: the pre-training run or checkpoint G_c and D start from (None = from scratch, Table 4 `w/o pt.`)."""
    seed: int = 0
    mixed_precision: MixedPrecision = "no"
    log_every: int = 10
    """Steps between log lines (stderr) and events.jsonl records."""
    snapshot_every: int = 200
    """Steps between sample snapshots (PNG grid + MP4) in RUN/snapshots; 0 = off."""
    save_every: int = 200
    """Steps between checkpoints (the final step is always saved)."""
    keep_last: int = 3
    """Checkpoints kept (older ones are deleted; the latest is always kept)."""

    def validate(self) -> None:
        self.model.validate()
        if self.batch_size < 1 or self.steps < 0 or self.num_frames < 2 or self.max_span < self.num_frames - 1:
            raise OptionError("batch_size >= 1, steps >= 0, num_frames >= 2 and max_span >= num_frames - 1 required")
        for name, (lo, hi) in TRAIN_RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise OptionError(f"{name} must be in {lo}..{hi}, got {value}")
        floats = {"lr_g": self.lr_g, "lr_d": self.lr_d, "ema_kimg": self.ema_kimg, "ema_rampup": self.ema_rampup or 0,
                  "loss.r1_gamma": self.loss.r1_gamma, "loss.reg_weight": self.loss.reg_weight,
                  "loss.fold_weight": self.loss.fold_weight}
        bad = next((k for k, v in floats.items() if not math.isfinite(v)), None)
        if bad is not None:
            raise OptionError(f"{bad} must be a finite number, got {floats[bad]}")
        if self.freeze_canonical and self.model.variant == "direct":
            raise OptionError("`freeze_canonical`: the direct-frame baseline has no pre-trained canonical generator to "
                              "freeze")
        if self.stage == "pretrain" and self.model.variant == "direct":
            raise OptionError("the direct-frame baseline has no pre-training stage; train it with `gendef finetune "
                              "--from-scratch --set model.variant=direct`")
        if self.loss.r1_every < 1 or self.save_every < 1 or self.log_every < 1 or self.keep_last < 1:
            raise OptionError("loss.r1_every, save_every, log_every and keep_last must be at least 1")
        d = self.discriminator.fuse_resolution
        if d < 4 or d > self.model.resolution or d & (d - 1):
            raise OptionError(f"discriminator.fuse_resolution must be a power of two in 4..{self.model.resolution}")
        disc = self.discriminator
        if disc.channel_base < self.model.resolution or disc.channel_max < 1 or disc.mbstd_group < 1 \
                or disc.cmap_dim < 1:
            raise OptionError("discriminator.channel_base must be at least the resolution, and channel_max, "
                              "mbstd_group and cmap_dim at least 1")
        _check_sizes("discriminator", disc, DISCRIMINATOR_SIZES)
        if not (self.lr_g > 0 and self.lr_d > 0):
            raise OptionError(f"lr_g and lr_d must be positive, got {self.lr_g} and {self.lr_d}")
        if not all(0 <= b < 1 for b in self.betas):
            raise OptionError(f"betas must be in [0, 1), got {list(self.betas)}")
        if not self.ema_kimg > 0 or (self.ema_rampup is not None and not self.ema_rampup > 0):
            raise OptionError("ema_kimg (and ema_rampup, unless null) must be positive")
        if self.loss.r1_gamma < 0 or self.loss.reg_weight < 0 or self.loss.fold_weight < 0:
            raise OptionError("loss.r1_gamma, loss.reg_weight and loss.fold_weight must be non-negative")
        check_memory(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> TrainConfig:
        return _from_dict(cls, data, "")


DISCRIMINATOR_SIZES = {"channel_base": 1 << 20, "channel_max": MAX_WIDTH, "mbstd_group": 1024, "cmap_dim": MAX_WIDTH}
"""Upper bounds of the discriminator's size settings (each must be in 1..bound; channel_base also >= R)."""
TRAIN_RANGES = {"batch_size": (1, 1 << 16), "steps": (0, 10**12), "num_frames": (2, 1024), "max_span": (1, 1 << 20),
                "seed": (0, 2**63 - 1), "log_every": (1, 10**12), "snapshot_every": (0, 10**12),
                "save_every": (1, 10**12), "keep_last": (1, 10**6)}
"""Ranges of the training loop's integer settings."""
MAX_MEMORY = 64 << 30
"""Largest estimated memory (bytes) of the parameters, or of one batch's activations, a config may ask for."""


def _synthesis_parameters(m: ModelConfig, channel_base: int, channel_max: int, extra: int = 0) -> int:
    """Parameters of a StyleGAN2 synthesis network: per resolution 4..R its 3x3 modulated convs (1 at 4x4, 2
    above; `extra` more input channels each, e.g. the canonical feature), their style affines and a ToRGB."""
    total, prev = 0, 0
    for k in range(2, m.resolution.bit_length()):
        c = max(1, min(channel_base >> k, channel_max))
        ins = [c] if k == 2 else [prev, c]
        total += sum((i + extra) * (9 * c + m.w_dim) for i in ins) + c * (m.w_dim + 3) + 16 * c
        prev = c
    return total


MOTION_BRANCH_CHANNELS = (2048, 64)
"""(channel_base, channel_max) of the discriminator's motion branch (`discriminator.motion_branch`)."""


def parameter_estimate(cfg: TrainConfig) -> int:
    """About how many parameters the networks of `cfg` have (generator and discriminator; within about 10 % of
    the built models for the presets), from the config alone: cheap, before anything is built."""
    m, d = cfg.model, cfg.discriminator
    mapping = m.z_dim * m.w_dim + (m.mapping_layers - 1) * m.w_dim ** 2
    total = mapping + _synthesis_parameters(m, m.channel_base, m.channel_max)
    for k in range(2, m.resolution.bit_length()):  # D: two 3x3 convs per resolution
        c = max(1, min(d.channel_base >> k, d.channel_max))
        total += 2 * 9 * c * c
    c4 = max(1, min(d.channel_base >> 2, d.channel_max))
    total += 16 * c4 * c4  # D's epilogue FC
    if cfg.stage == "finetune":  # G_d, motion mapping (2 convs), D's time conditioning (and concat fusion)
        motion = m.motion_kernel * m.motion_hidden_dim * (m.motion_noise_dim + m.motion_hidden_dim) \
            + 2 * m.motion_freqs * m.motion_hidden_dim
        time_cond = 1024 * 256 + (cfg.num_frames - 1) * 300 * d.cmap_dim + 2 * d.cmap_dim ** 2 + c4 * d.cmap_dim
        fr = max(1, min(d.channel_base // d.fuse_resolution, d.channel_max))
        fuse = cfg.num_frames * fr * fr if d.fuse == "concat" else 0
        total += motion + mapping + _synthesis_parameters(m, m.deform_channel_base, m.deform_channel_max,
                                                          m.feature_dim) + time_cond + fuse
        c_top = max(1, min(d.channel_base // m.resolution, d.channel_max))
        if d.deviation_input:  # a 1x1 conv from the 3-channel frame deviation
            total += 3 * c_top
        if d.motion_branch:  # 1x1 conv from the differences, a 3x3 conv per halving, two FCs (64 channels at most)
            base, top = MOTION_BRANCH_CHANNELS
            mc = {r: max(1, min(base // r, top)) for r in (2 ** k for k in range(2, m.resolution.bit_length()))}
            total += 4 * (cfg.num_frames - 1) * mc[m.resolution] + 16 * mc[4] ** 2 + mc[4]
            total += sum(9 * mc[r] * mc[r // 2] for r in mc if r > 4)
    return total


def activation_estimate(cfg: TrainConfig) -> int:
    """A lower bound of the bytes one batch's generator activations take (float32 feature maps, forward only)."""
    m = cfg.model
    per_image = sum(2 * max(1, min(m.channel_base >> k, m.channel_max)) * 4**k  # 2 convs of C x r x r at r = 2^k
                    for k in range(2, m.resolution.bit_length()))
    frames = cfg.num_frames if cfg.stage == "finetune" else 1
    return 4 * per_image * cfg.batch_size * frames


def check_memory(cfg: TrainConfig) -> None:
    """Refuse a config whose parameters (training keeps weights, gradients, two Adam moments and the EMA copy:
    about 5 float32 copies) or whose activations for one batch would take more than `MAX_MEMORY`."""
    params = parameter_estimate(cfg)
    if 5 * 4 * params > MAX_MEMORY:
        raise OptionError(f"this config asks for about {params / 1e9:.3g} billion parameters, "
                          f"{5 * 4 * params / 2**30:,.0f} GiB to train (more than {MAX_MEMORY >> 30} GiB); lower the "
                          f"model.*/discriminator.* widths (z_dim, w_dim, channel_max, ...)")
    act = activation_estimate(cfg)
    if act > MAX_MEMORY:
        raise OptionError(f"batch_size {cfg.batch_size} needs at least {act / 2**30:,.0f} GiB of activations per "
                          f"step at {cfg.model.resolution} px (more than {MAX_MEMORY >> 30} GiB); lower batch_size")


def config_from_file(data: object, where: object, *, error: type[GendefError] = OptionError, fix: str = "",
                     stage: Stage | None = None) -> TrainConfig:
    """The `TrainConfig` of the config object `data` read from the file `where` (a ``--config`` file, a
    checkpoint's config.json), checked (`TrainConfig.from_dict`, then `validate`, after setting `stage` if
    given); errors are `error`s that name `where` and end with `fix`."""
    tail = f"; {fix}" if fix else ""
    try:
        cfg = TrainConfig.from_dict(data)
        if stage is not None:
            cfg = replace(cfg, stage=stage)
        cfg.validate()
    except ConfigError as e:
        raise error(f"{where}: {e}{tail}") from None
    return cfg


def _from_dict(cls: type, data: object, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise OptionError(f"config{' ' + prefix if prefix else ''} must be an object")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise OptionError(f"unknown config key {prefix}{sorted(unknown)[0]}; valid keys: {', '.join(sorted(names))}")
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a nested section (ModelConfig, ...)
            kwargs[name] = _from_dict(tp, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, tp, f"{prefix}{name}")
    return cls(**kwargs)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert a JSON value (or a --set string parsed as JSON) to the field type `tp`."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        if value not in args:
            raise OptionError(f"{key} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise OptionError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise OptionError(f"{key} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise OptionError(f"{key} must have {len(args)} items, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if tp is bool:
        if not isinstance(value, bool):
            raise OptionError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OptionError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise OptionError(f"{key} must be a string, got {value!r}")
        return value
    raise OptionError(f"{key}: unsupported type {tp}")  # pragma: no cover - all field types are handled above


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Apply `--set a.b=value` overrides. Values are JSON (`true`, `3`, `[8, 16]`, `"x"`) or bare strings."""
    data = cfg.to_dict()
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise OptionError(f"`overrides` expects key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        except (ValueError, RecursionError):  # an integer of > 4300 digits, or nested too deeply
            raise OptionError(f"`overrides` {key}: the value is too large or nested too deeply") from None
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                sections = ", ".join(k for k, v in data.items() if isinstance(v, dict))
                raise OptionError(f"unknown config key {key!r}; sections: {sections}")
            node = node[p]
        if parts[-1] not in node or isinstance(node[parts[-1]], dict):
            raise OptionError(f"unknown config key {key!r}; valid keys here: {', '.join(sorted(node))}")
        node[parts[-1]] = value
    new = TrainConfig.from_dict(data)
    new.validate()
    return new


TINY = TrainConfig(
    model=ModelConfig(resolution=16, z_dim=32, w_dim=32, channel_base=512, channel_max=32, deform_channel_base=256,
                      deform_channel_max=16, motion_noise_dim=16, motion_hidden_dim=16, motion_freqs=8,
                      motion_distance=4, motion_kernel=3, feature_dim=8),
    discriminator=DiscriminatorConfig(channel_base=512, channel_max=32, fuse_resolution=8, cmap_dim=16),
    batch_size=4, steps=20, ema_kimg=0.01, log_every=5, snapshot_every=0, save_every=10, max_span=8,
)
"""Seconds on a CPU; for tests and smoke runs (16 px)."""

SMALL = TrainConfig(
    model=ModelConfig(resolution=64),
    discriminator=DiscriminatorConfig(),
    loss=LossConfig(r1_gamma=0.2),  # StyleGAN-V's rule 0.0002 R^2 / batch gives 0.05; upstream GenDeF used ~2.5x
    batch_size=16, steps=4000, ema_kimg=2.5, snapshot_every=500, save_every=500,
)
"""64 px, half the usual widths (128 channels up to 16 px, 64 at 32, 32 at 64): ~an hour or two on 2 CPU cores."""

PAPER = TrainConfig(
    model=ModelConfig(resolution=256, z_dim=512, w_dim=512, channel_base=16384, channel_max=512,
                      deform_channel_base=16384, deform_channel_max=512, motion_noise_dim=512, motion_hidden_dim=512,
                      motion_freqs=256, feature_dim=64, mtm_resolutions=(4, 8, 16, 32, 64)),
    discriminator=DiscriminatorConfig(channel_base=16384, channel_max=512, cmap_dim=512),
    loss=LossConfig(r1_gamma=0.5), batch_size=8, steps=400_000, ema_kimg=20.0,
    snapshot_every=2000, save_every=2000,
)
"""256 px with the paper's widths (StyleGAN-V fmaps 0.5); for GPUs. batch_size is per process: 8 x 8 GPUs = 64."""

PRESETS: dict[str, TrainConfig] = {"tiny": TINY, "small": SMALL, "paper": PAPER}


def preset(name: str, stage: Stage) -> TrainConfig:
    """A preset for a stage: fine-tuning uses the pre-training preset with the video-stage settings."""
    if name not in PRESETS:
        raise OptionError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    cfg = replace(PRESETS[name], stage=stage)
    if stage == "finetune" and name == "paper":
        cfg = replace(cfg, loss=replace(cfg.loss, r1_gamma=8.0))  # upstream stage-2 value at 256 px
    return cfg


RESUMABLE = ("steps", "log_every", "snapshot_every", "save_every", "keep_last")
"""Config keys a resumed run may change; anything else would make it a different run."""


def check_resume(saved: TrainConfig, cfg: TrainConfig, run: object) -> None:
    """Refuse to resume run `run` (saved with `saved`) with a config that changes more than `RESUMABLE`."""
    mine, theirs = cfg.to_dict(), saved.to_dict()
    changed = sorted(k for k in mine if k not in RESUMABLE and mine[k] != theirs[k])
    if changed:
        raise OptionError(f"`resume` continues {run} with its own config; it cannot change {', '.join(changed)} "
                          f"(only `steps`, `kimg` and `overrides` of {'/'.join(RESUMABLE[1:])})")


CANONICAL_SHAPE_KEYS = ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max")
"""The model.* keys the canonical generator's weight shapes depend on."""
DISCRIMINATOR_SHAPE_KEYS = ("channel_base", "channel_max", "fuse_resolution", "mbstd_group")
"""The discriminator.* keys the (image part of the) discriminator's weight shapes depend on."""


def inherit_pretraining(cfg: TrainConfig, pretraining: TrainConfig, init_from: str) -> TrainConfig:
    """`cfg` set to fine-tune from the pre-training `pretraining` saved at `init_from`: its G_c and D shape
    settings (so their weights fit) and no EMA ramp-up (the EMA starts from the pre-trained EMA)."""
    model = replace(cfg.model, **{k: getattr(pretraining.model, k) for k in CANONICAL_SHAPE_KEYS})
    disc = replace(cfg.discriminator, **{k: getattr(pretraining.discriminator, k) for k in DISCRIMINATOR_SHAPE_KEYS})
    return replace(cfg, model=model, discriminator=disc, init_from=init_from, ema_rampup=None)
