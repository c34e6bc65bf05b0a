"""The video discriminator: a StyleGAN2 ResNet D over sampled frames, StyleGAN-V style, with GenDeF's
mean fusion (`tmean`) and optional temporal shift (`tsm`).

    frames [B, K, 3, R, R] -> per frame (batch B*K): FromRGB, ResNet blocks down to `fuse_resolution`
      (temporal shift inside the blocks when enabled) -> mean over the K frames -> blocks down to 4x4
      -> epilogue: minibatch-std, conv 3x3, FC, then
         logit = out(h) + <proj(h), cmap(time differences)> / sqrt(cmap_dim)   (second term only for K > 1)

Why mean fusion (upstream GenDeF's `tmean`, instead of StyleGAN-V's channel concatenation): the same
weights then take any number of frames, so the image D trained with K = 1 in pre-training is the
initialisation of the video D fine-tuned with K = 3.

`fuse="concat"` (issue 14) adds StyleGAN-V's concatenation back without losing that: the fused features
are ``mean_k x_k + conv1x1(concat_k (x_k - mean))``, the 1x1 conv (`fuse_mix.*`, K*C -> C channels) zero-
initialised, so the fine-tuned D starts as exactly the pre-trained mean-fused D, yet can learn features of
how the frames differ (a mean over frames is blind to their order, and nearly blind to motion).

`deviation_input=True` (issue 14) gives the first layer a second input, each frame minus its clip's mean
frame, through a zero-initialised 1x1 conv (`from_deviation.*`) added before the activation: again exactly
the pre-trained D at the start, and a still clip (all differences zero) always gets the logits the D without it
would give, so whatever it learns there is about motion.

Why "unconditional logit plus projection" (our choice; StyleGAN-V has only the projection
`<out(h), cmap>`): with a separate FC -> 1 the pre-trained image D keeps a meaningful logit, and every
time-conditioning parameter lives in the `time_cond` submodule, so a K = 1 state dict loads into a
time-conditioned D with `load_state_dict(strict=False)` and only `time_cond.*` keys missing.

Simplifications against StyleGAN2 (say so when comparing): downsampling is a 2x2 average pool before
the (unstrided) conv; StyleGAN2 blurs with a [1,3,3,1] FIR filter and strides. No fp16, no conv clamp.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gendef_core.config import MOTION_BRANCH_CHANNELS, TrainConfig
from gendef_core.models.layers import LRELU_GAIN, EqualLinear
from gendef_core.models.mapping import normalize_2nd_moment
from gendef_core.models.synthesis import channels_for


class _EqConv2d(nn.Module):
    """Equalized-lr Conv2d ('same' padding), optional 2x2 average-pool downsampling first, optional
    lrelu(0.2) * sqrt(2); the output is multiplied by `gain` (StyleGAN2's residual sqrt(0.5))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 lrelu: bool = True, down: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.lrelu = lrelu
        self.down = down

    def forward(self, x: Tensor, gain: float = 1.0, add: Tensor | None = None) -> Tensor:
        """x [N, C_in, H, W] -> [N, C_out, H', W'] (H' = H/2 when down); `add` is added before the activation."""
        if self.down:
            x = F.avg_pool2d(x, 2)  # pooling first: the conv then runs at the lower resolution
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        if add is not None:
            x = x + add
        if self.lrelu:
            return F.leaky_relu(x, 0.2) * (LRELU_GAIN * gain)
        return x * gain if gain != 1.0 else x


def temporal_shift(x: Tensor, num_frames: int, fold_div: int = 8) -> Tensor:
    """Parameter-free temporal shift (TSM, as in upstream GenDeF's D).

    x [B*K, C, H, W] with the K frames of each video consecutive -> same shape, where, with
    f = C // fold_div, channels [0, f) of frame k come from frame k+1, channels [f, 2f) from frame
    k-1 (zeros where that frame does not exist) and the rest are unchanged.
    """
    n, c = x.shape[:2]
    if n % num_frames:
        raise ValueError(f"batch {n} is not a multiple of num_frames={num_frames}")
    fold = c // fold_div
    v = x.reshape(n // num_frames, num_frames, *x.shape[1:])              # [B, K, C, H, W]
    zero = v.new_zeros(v.shape[0], 1, fold, *v.shape[3:])
    from_next = torch.cat([v[:, 1:, :fold], zero], dim=1)                 # frame k <- k+1
    from_prev = torch.cat([zero, v[:, :-1, fold:2 * fold]], dim=1)        # frame k <- k-1
    return torch.cat([from_next, from_prev, v[:, :, 2 * fold:]], dim=2).reshape(x.shape)


class _DBlock(nn.Module):
    """StyleGAN2 ResNet D block: conv 3x3, conv 3x3 + down, skip 1x1 + down, (x + skip) / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = _EqConv2d(in_channels, in_channels, 3)
        self.conv1 = _EqConv2d(in_channels, out_channels, 3, down=True)
        self.skip = _EqConv2d(in_channels, out_channels, 1, bias=False, lrelu=False, down=True)

    def forward(self, x: Tensor, shift_frames: int = 0) -> Tensor:
        """x [N, C_in, H, W] -> [N, C_out, H/2, W/2]; shift_frames > 0 applies the temporal shift
        (frames grouped by that many) to the residual branch only, as upstream does."""
        y = self.skip(x, gain=math.sqrt(0.5))
        if shift_frames:
            x = temporal_shift(x, shift_frames)
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return x + y


def _minibatch_std(x: Tensor, group_size: int) -> Tensor:
    """StyleGAN2 minibatch-stddev (1 feature): x [N, C, H, W] -> [N, C+1, H, W].

    The group is min(group_size, N) as in StyleGAN2, lowered further to the largest divisor of N so
    that any batch size works (StyleGAN2 would fail on e.g. N = 6 with groups of 4).
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.reshape(g, n // g, c, h, w)                                     # sample i is in group i % (n/g)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()        # [n/g, C, H, W]
    y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)     # [N, 1, H, W]
    return torch.cat([x, y], dim=1)


def _fixed_time_freqs(max_time_diff: int) -> Tensor:
    """StyleGAN-V FixedTimeEncoder: pi * 2**i / T_res for i < log2(T_res), T_res = 2**ceil(log2(max))."""
    resolution = 2 ** math.ceil(math.log2(max(max_time_diff, 2)))
    n = int(math.log2(resolution))
    return math.pi * 2.0 ** torch.arange(n, dtype=torch.float64) / resolution   # [n]


class TimeConditioning(nn.Module):
    """The time-difference projection term of the logit (StyleGAN-V's TemporalDifferenceEncoder +
    mapping + projection), for clips of `num_frames` frames.

    Each of the K-1 differences d = t[:, k+1] - t[:, k] is encoded as [Embedding(round(d)) (256),
    sin/cos(d * freqs) (2 log2(max_time_diff))]; the K-1 encodings are concatenated, mapped by an
    embed FC, 2nd-moment normalisation and `num_layers` lrelu FCs (lr_mult 0.01) to cmap [B, cmap_dim].
    The term is <proj(h), cmap> / sqrt(cmap_dim) for the epilogue features h [B, C4].
    """

    embed_dim = 256
    freqs: Tensor          # [n] fixed sin/cos frequencies (buffer, not saved)

    def __init__(self, in_features: int, *, num_frames: int, cmap_dim: int, max_time_diff: int,
                 num_layers: int = 2) -> None:
        super().__init__()
        if num_frames < 2:
            raise ValueError(f"time conditioning needs num_frames >= 2, got {num_frames}")
        self.num_frames = num_frames
        self.max_time_diff = max_time_diff
        self.cmap_dim = cmap_dim
        self.diff_embed = nn.Embedding(max_time_diff, self.embed_dim)
        self.register_buffer("freqs", _fixed_time_freqs(max_time_diff).float(), persistent=False)
        c_dim = (num_frames - 1) * (self.embed_dim + 2 * self.freqs.numel())
        self.embed = EqualLinear(c_dim, cmap_dim)
        self.mapping = nn.Sequential(*[EqualLinear(cmap_dim, cmap_dim, lr_mult=0.01, activation="lrelu")
                                       for _ in range(num_layers)])
        self.proj = EqualLinear(in_features, cmap_dim)

    def cmap(self, times: Tensor) -> Tensor:
        """times [B, num_frames] (sorted, in frames) -> cmap [B, cmap_dim]."""
        diffs = (times[:, 1:] - times[:, :-1]).float()                    # [B, K-1]
        if bool((diffs < 0).any()):
            raise ValueError("times must be sorted within each clip (non-negative differences)")
        idx = diffs.round().long().clamp(max=self.max_time_diff - 1)      # StyleGAN-V: round, clamped here
        raw = diffs.unsqueeze(-1) * self.freqs                            # [B, K-1, n]
        enc = torch.cat([self.diff_embed(idx), raw.sin(), raw.cos()], dim=-1)  # [B, K-1, 256 + 2n]
        c = self.embed(enc.flatten(1))                                    # [B, cmap_dim]
        c = normalize_2nd_moment(c)
        return self.mapping(c)

    def forward(self, h: Tensor, times: Tensor) -> Tensor:
        """h [B, C4] epilogue features, times [B, num_frames] -> logit term [B]."""
        return (self.proj(h) * self.cmap(times)).sum(dim=1) / math.sqrt(self.cmap_dim)


class MotionBranch(nn.Module):
    """A content-free second discriminator (issue 14): it sees only the differences between consecutive sampled
    frames and their time differences, so a still clip is all zeros to it, and it has its own logistic loss,
    so it keeps learning about motion after the main D has separated real from fake by content.

        frames [B, K, 3, R, R], times [B, K] -> differences x_{k+1} - x_k [B, K-1, 3, R, R] and maps of
        (t_{k+1} - t_k) / 32 [B, K-1, 1, R, R], stacked to 4 (K-1) channels -> 1x1 conv, 3x3 conv + 2x2 pool
        per halving down to 4x4, FC, FC -> logit [B]
    """

    def __init__(self, *, resolution: int, num_frames: int, channels: Mapping[int, int]) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.resolutions = [2 ** i for i in range(int(math.log2(resolution)), 1, -1)]   # R, ..., 4
        c = {r: int(channels[r]) for r in self.resolutions}
        self.from_diff = _EqConv2d(4 * (num_frames - 1), c[resolution], 1)
        self.convs = nn.ModuleList([_EqConv2d(c[r], c[r // 2], 3, down=True) for r in self.resolutions[:-1]])
        self.fc = EqualLinear(c[4] * 16, c[4], activation="lrelu")
        self.out = EqualLinear(c[4], 1)

    def forward(self, frames: Tensor, times: Tensor) -> Tensor:
        k = frames.shape[1]
        if k != self.num_frames:
            raise ValueError(f"the motion branch sees {self.num_frames} frames per clip, got K={k}")
        diffs = frames[:, 1:] - frames[:, :-1]                                   # [B, K-1, 3, R, R]
        dt = ((times[:, 1:] - times[:, :-1]).float() / 32).to(frames.dtype)       # [B, K-1]
        maps = dt[:, :, None, None, None].expand(-1, -1, 1, *frames.shape[3:])
        x = self.from_diff(torch.cat([diffs, maps], dim=2).flatten(1, 2))
        for conv in self.convs:
            x = conv(x)
        return self.out(self.fc(x.flatten(1))).squeeze(1)


class Discriminator(nn.Module):
    """StyleGAN-V-style video discriminator over K sampled frames per video (an image D when K = 1).

    `channels` maps every resolution 4, 8, ..., `resolution` to its channel count (e.g.
    min(base // res, max)). Parameter names: `from_rgb`, `blocks.b{res}` (res = resolution ... 8),
    `epilogue.*`, and, only when `time_conditioning`, `time_cond.*`.

    `temporal_shift` is applied for every K, literally: with K = 1 the shifted channels have no
    neighbour and become zeros (a one-frame clip), so a shifted D is not the image D on single frames.
    Upstream uses it only in fine-tuning (K = 3), and so should callers.
    `num_frames` and `max_time_diff` (extra keywords) size the time conditioning: StyleGAN-V
    concatenates the encodings of the K-1 differences, so the conditioned K is fixed; differences are
    rounded and clamped to max_time_diff - 1 for the embedding (StyleGAN-V: max_num_frames = 1024).
    """

    def __init__(self, *, resolution: int, channels: Mapping[int, int], fuse_resolution: int = 16,
                 time_conditioning: bool = True, temporal_shift: bool = False, mbstd_group: int = 4,
                 cmap_dim: int = 128, num_frames: int = 3, max_time_diff: int = 1024,
                 fuse: str = "mean", deviation_input: bool = False, motion_branch: bool = False) -> None:
        super().__init__()
        log2 = int(math.log2(resolution)) if resolution >= 4 else 0
        if resolution < 4 or 2 ** log2 != resolution:
            raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
        self.resolutions = [2 ** i for i in range(log2, 1, -1)]           # R, R/2, ..., 4
        missing = [r for r in self.resolutions if r not in channels]
        if missing:
            raise ValueError(f"channels needs an entry for every resolution {self.resolutions}; missing {missing}")
        if fuse_resolution not in self.resolutions:
            raise ValueError(f"fuse_resolution must be one of {self.resolutions}, got {fuse_resolution}")
        if mbstd_group < 1:
            raise ValueError(f"mbstd_group must be >= 1, got {mbstd_group}")
        if fuse not in ("mean", "concat"):
            raise ValueError(f"fuse must be 'mean' or 'concat', got {fuse!r}")
        self.resolution = resolution
        self.channels = {r: int(channels[r]) for r in self.resolutions}
        self.fuse_resolution = fuse_resolution
        self.temporal_shift = temporal_shift
        self.mbstd_group = mbstd_group

        self.from_rgb = _EqConv2d(3, self.channels[resolution], 1)
        self.from_deviation: _EqConv2d | None = None
        if deviation_input:
            self.from_deviation = _EqConv2d(3, self.channels[resolution], 1, bias=False, lrelu=False)
            nn.init.zeros_(self.from_deviation.weight)  # starts as the image D's first layer
        self.blocks = nn.ModuleDict({
            f"b{r}": _DBlock(self.channels[r], self.channels[r // 2]) for r in self.resolutions[:-1]
        })
        c4 = self.channels[4]
        self.epilogue = nn.ModuleDict({
            "conv": _EqConv2d(c4 + 1, c4, 3),
            "fc": EqualLinear(c4 * 16, c4, activation="lrelu"),
            "out": EqualLinear(c4, 1),
        })
        self.time_cond = (TimeConditioning(c4, num_frames=num_frames, cmap_dim=cmap_dim,
                                           max_time_diff=max_time_diff) if time_conditioning else None)
        self.fuse_mix: _EqConv2d | None = None
        if fuse == "concat":
            c = self.channels[fuse_resolution]
            self.fuse_mix = _EqConv2d(num_frames * c, c, 1, bias=False, lrelu=False)
            nn.init.zeros_(self.fuse_mix.weight)  # starts as the mean fusion
        self.num_frames = num_frames
        self.motion_branch: MotionBranch | None = None
        if motion_branch:
            self.motion_branch = MotionBranch(resolution=resolution, num_frames=num_frames,
                                              channels=channels_for(resolution, *MOTION_BRANCH_CHANNELS))

    def motion_logits(self, frames: Tensor, times: Tensor) -> Tensor:
        """The motion branch's logits ``[B]`` of clips ``[B, K, 3, R, R]`` at ``times [B, K]``."""
        if self.motion_branch is None:
            raise ValueError("this discriminator has no motion branch (discriminator.motion_branch)")
        return self.motion_branch(frames, times)

    @property
    def time_conditioning(self) -> bool:
        return self.time_cond is not None

    def extra_repr(self) -> str:
        return (f"resolution={self.resolution}, fuse_resolution={self.fuse_resolution}, "
                f"temporal_shift={self.temporal_shift}, mbstd_group={self.mbstd_group}")

    def forward(self, frames: Tensor, times: Tensor | None = None) -> Tensor:
        """frames [B, K, 3, R, R] in [-1, 1] (K sampled frames of each video, in time order; K = 1 for
        image pre-training); times [B, K] (frame indices/times; None or K == 1 -> no time
        conditioning) -> logits [B].

        With time conditioning and K > 1, K must equal the constructor's `num_frames`.
        """
        if frames.ndim != 5 or frames.shape[2] != 3 or frames.shape[3:] != (self.resolution, self.resolution):
            raise ValueError(f"frames must be [B, K, 3, {self.resolution}, {self.resolution}], "
                             f"got {list(frames.shape)}")
        b, k = frames.shape[:2]
        if times is not None and times.shape != (b, k):
            raise ValueError(f"times must be [B={b}, K={k}], got {list(times.shape)}")

        flat = frames.reshape(b * k, *frames.shape[2:])
        add = None
        if self.from_deviation is not None and k > 1:  # each frame's difference from the clip's mean frame
            add = self.from_deviation((frames - frames.mean(dim=1, keepdim=True)).reshape(flat.shape))
        x = self.from_rgb(flat, add=add)                                   # [B*K, C_R, R, R]
        for res in self.resolutions[:-1]:
            if res == self.fuse_resolution:
                x = self._fuse(x, b, k)                                    # [B, C, res, res]
            shift = k if self.temporal_shift and res > self.fuse_resolution else 0
            x = self.blocks[f"b{res}"](x, shift_frames=shift)
        if self.fuse_resolution == 4:
            x = self._fuse(x, b, k)                                        # [B, C4, 4, 4]

        ep = self.epilogue
        x = ep["conv"](_minibatch_std(x, self.mbstd_group))               # [B, C4, 4, 4]
        h = ep["fc"](x.flatten(1))                                         # [B, C4]
        logits = ep["out"](h).squeeze(1)                                   # [B]
        if self.time_cond is not None and times is not None and k > 1:
            if k != self.time_cond.num_frames:
                raise ValueError(f"this discriminator conditions on {self.time_cond.num_frames} frames "
                                 f"per clip, got K={k}")
            logits = logits + self.time_cond(h, times)
        return logits


    def _fuse(self, x: Tensor, b: int, k: int) -> Tensor:
        """[B*K, C, r, r] per-frame features -> [B, C, r, r]: the mean over frames (+ the learnt mix of the
        frames' deviations from it with `fuse="concat"`, for clips of `num_frames` frames)."""
        v = x.reshape(b, k, *x.shape[1:])
        mean = v.mean(dim=1)
        if self.fuse_mix is None or k == 1:
            return mean
        if k != self.num_frames:
            raise ValueError(f"this discriminator fuses {self.num_frames} frames per clip, got K={k}")
        return mean + self.fuse_mix((v - mean[:, None]).flatten(1, 2))


def build_discriminator(cfg: TrainConfig) -> Discriminator:
    """The discriminator of a run: an image D in pre-training, a time-conditioned video D of K frames in
    fine-tuning (same weights otherwise, so the pre-trained D initialises the video D)."""
    d = cfg.discriminator
    video = cfg.stage == "finetune"
    return Discriminator(resolution=cfg.model.resolution,
                         channels=channels_for(cfg.model.resolution, d.channel_base, d.channel_max),
                         fuse_resolution=d.fuse_resolution, time_conditioning=video,
                         temporal_shift=video and d.temporal_shift, mbstd_group=d.mbstd_group, cmap_dim=d.cmap_dim,
                         num_frames=cfg.num_frames, fuse=d.fuse if video else "mean",
                         deviation_input=video and d.deviation_input,
                         motion_branch=video and d.motion_branch)
