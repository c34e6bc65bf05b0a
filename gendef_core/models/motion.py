"""Motion codes u_t for any real time t, the StyleGAN-V way.

GenDeF (Sec. 3, "Deformation field branch") takes its time-dependent motion code u_t from
StyleGAN-V: equidistant motion noise, a 1-D conv "motion mapping" over it, then an acyclic
positional encoding that is aligned to the mapped codes at the noise knots.

    noise z_i ~ N(0, I), one every `distance` frames               [B, L, noise_dim]
      -> num_layers x (Conv1d k, no padding, lrelu, lr_mult 0.01)   [B, L - (k-1)*num_layers, hidden_dim]
      =: trajectory v_j, the code at knot time j * distance
    for a time t with neighbouring knots t_l = floor(t/d)*d, t_r = t_l + d, alpha = (t - t_l)/d:
      periods = tanh(P v_l) + 1,  phases = (Q v_l) * phase_scale     (P, Q bias-free)
      emb(tau) = [sin, cos](freqs * periods * tau + phases)          [2 * num_freqs]
      u_t = emb(t) - lerp(emb(t_l), emb(t_r), alpha) + lerp(A v_l, A v_r, alpha)

At a knot (alpha = 0, or alpha -> 1 from the left, where the periods and phases are still those
of v_l and emb(t) cancels emb(t_r)) u_t equals the aligner A v of that knot, so u_t is continuous
in t everywhere. A conv without padding makes every code depend on a fixed window of noise only,
so any video length works and a longer noise sequence with the same prefix gives the same codes.

This follows universome/stylegan-v `src/training/motion.py` (MotionMappingNetwork with
gen_strategy=conv, AlignedTimeEncoder); the code is our own.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gendef_core.models.layers import EqualLinear


class _EqLRConv1d(nn.Module):
    """Equalized-learning-rate Conv1d without padding, optional leaky ReLU (slope 0.2, no gain,
    as StyleGAN-V's EqLRConv1d). Weights are stored as N(0, 1) / lr_mult and scaled at run time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, lrelu: bool = True,
                 lr_mult: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size) / lr_mult)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = lr_mult / math.sqrt(in_channels * kernel_size)
        self.bias_gain = lr_mult
        self.lrelu = lrelu

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C_in, L] -> [B, C_out, L - kernel_size + 1]."""
        y = F.conv1d(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(y, 0.2) if self.lrelu else y


class MotionMapping(nn.Module):
    """Motion noise -> motion codes u_t for ANY real t (StyleGAN-V).

    - equidistant motion noise: one z ~ N(0, I) of size `noise_dim` every `distance` frames
      (StyleGAN-V's motion_z_distance = min_period_len, 16 by default);
    - a 1-D conv motion mapping: `num_layers` equalized-lr Conv1d layers (noise_dim -> hidden_dim ->
      ... -> hidden_dim), kernel `kernel_size`, no padding, lrelu, lr_mult 0.01, so the noise
      sequence is longer than the knot trajectory by (kernel_size - 1) * num_layers;
    - acyclic positional encoding (StyleGAN-V's AlignedTimeEncoder), see the module docstring:
      frequencies 2*pi / 2**linspace(log2(min_period), log2(max_period), num_freqs) (ascending),
      periods = tanh(FC(u_l)) + 1, phases = FC(u_l) * max_period / period_len, aligners FC to
      2*num_freqs; all three FCs bias-free.

    Times are in frames (real, >= 0); the output u_t has `code_dim` = 2 * num_freqs entries.
    """

    freqs: Tensor          # [num_freqs] angular frequencies, rad/frame (buffer, not saved)
    phase_scales: Tensor   # [num_freqs] max_period / period_len (buffer, not saved)

    def __init__(self, *, noise_dim: int, hidden_dim: int, num_freqs: int, distance: int = 16,
                 kernel_size: int = 11, num_layers: int = 2, min_period: float = 16.0,
                 max_period: float = 1024.0) -> None:
        super().__init__()
        if min(noise_dim, hidden_dim, num_freqs, distance, kernel_size, num_layers) < 1:
            raise ValueError("noise_dim, hidden_dim, num_freqs, distance, kernel_size and num_layers must be >= 1")
        if not 0 < min_period <= max_period:
            raise ValueError(f"need 0 < min_period <= max_period, got {min_period} and {max_period}")
        self.noise_dim = noise_dim
        self.hidden_dim = hidden_dim
        self.num_freqs = num_freqs
        self.code_dim = 2 * num_freqs
        self.distance = distance
        self.kernel_size = kernel_size
        self.num_layers = num_layers
        self.min_period = float(min_period)
        self.max_period = float(max_period)
        # Every conv without padding eats kernel_size - 1 positions of the sequence.
        self.extra_noise = (kernel_size - 1) * num_layers

        self.convs = nn.Sequential(*[
            _EqLRConv1d(noise_dim if i == 0 else hidden_dim, hidden_dim, kernel_size, lr_mult=0.01)
            for i in range(num_layers)
        ])
        # Bias-free, as StyleGAN-V: a bias would give every video the same periods/phases offset
        # ("to prevent motion mode collapse" in their comment).
        self.period_fc = EqualLinear(hidden_dim, num_freqs, bias=False)
        self.phase_fc = EqualLinear(hidden_dim, num_freqs, bias=False)
        self.aligner = EqualLinear(hidden_dim, self.code_dim, bias=False)

        # Derived from the config, so not saved in state dicts.
        log2 = torch.linspace(math.log2(min_period), math.log2(max_period), num_freqs, dtype=torch.float64)
        freqs = (2 * math.pi / 2.0 ** log2).flip(0)                      # [F] ascending, rad/frame
        phase_scales = self.max_period * freqs / (2 * math.pi)           # [F] = max_period / period_len
        self.register_buffer("freqs", freqs.float(), persistent=False)
        self.register_buffer("phase_scales", phase_scales.float(), persistent=False)

    def extra_repr(self) -> str:
        return (f"noise_dim={self.noise_dim}, hidden_dim={self.hidden_dim}, code_dim={self.code_dim}, "
                f"distance={self.distance}, kernel_size={self.kernel_size}, num_layers={self.num_layers}, "
                f"periods=[{self.min_period:g}, {self.max_period:g}]")

    def num_knots(self, max_time: float) -> int:
        """Knot codes needed for times in [0, max_time]: floor(max_time / distance) + 2 (left and right)."""
        if not math.isfinite(max_time) or max_time < 0:
            raise ValueError(f"times must be finite and >= 0, got max time {max_time}")
        return math.floor(max_time / self.distance) + 2

    def noise_length(self, max_time: float) -> int:
        """How many noise vectors cover times [0, max_time] (knots plus the conv's receptive field)."""
        return self.num_knots(max_time) + self.extra_noise

    def sample_noise(self, batch: int, max_time: float, *, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> Tensor:
        """Motion noise for `batch` videos covering times [0, max_time]: [B, L, noise_dim], N(0, 1)."""
        length = self.noise_length(max_time)
        if device is None:
            device = generator.device if generator is not None else self.freqs.device
        return torch.randn(batch, length, self.noise_dim, generator=generator, device=device)

    def trajectory(self, noise: Tensor) -> Tensor:
        """The knot codes: noise [B, L, noise_dim] -> [B, L - (kernel_size-1)*num_layers, hidden_dim].

        Knot j sits at time j * distance and depends on noise[:, j : j + extra_noise + 1] only.
        """
        if noise.ndim != 3 or noise.shape[2] != self.noise_dim:
            raise ValueError(f"noise must be [B, L, {self.noise_dim}], got {list(noise.shape)}")
        if noise.shape[1] <= self.extra_noise:
            raise ValueError(f"noise has {noise.shape[1]} steps; the motion mapping needs more than "
                             f"{self.extra_noise} (use sample_noise or noise_length)")
        x = noise.to(self.freqs.dtype).transpose(1, 2)                   # [B, noise_dim, L]
        return self.convs(x).transpose(1, 2)                              # [B, L - extra, hidden_dim]

    def _embed(self, tau: Tensor, periods: Tensor, phases: Tensor) -> Tensor:
        """tau [B, K] frames, periods/phases [B, K, F] -> [sin, cos] encoding [B, K, 2F]."""
        raw = self.freqs * periods * tau.unsqueeze(-1) + phases          # [B, K, F]
        return torch.cat([raw.sin(), raw.cos()], dim=-1)

    def forward(self, times: Tensor, noise: Tensor) -> Tensor:
        """times [B, K] (any non-negative reals, in frames), noise [B, L, noise_dim] with
        L >= noise_length(times.max()) -> motion codes u [B, K, code_dim].

        Extra noise beyond what the times need is ignored (it cannot change the result).
        """
        if times.ndim != 2:
            raise ValueError(f"times must be [B, K], got {list(times.shape)}")
        if noise.ndim != 3 or noise.shape[0] != times.shape[0] or noise.shape[2] != self.noise_dim:
            raise ValueError(f"noise must be [B={times.shape[0]}, L, {self.noise_dim}], got {list(noise.shape)}")
        times = times.to(self.freqs.dtype)
        if times.numel() == 0:
            return times.new_zeros(*times.shape, self.code_dim)
        if not bool(torch.isfinite(times).all()) or bool((times < 0).any()):
            raise ValueError("times must be finite and >= 0 (frames since the start of the video)")
        max_time = float(times.max())
        need = self.noise_length(max_time)
        if noise.shape[1] < need:
            raise ValueError(f"noise has {noise.shape[1]} steps but times up to {max_time:g} need {need} "
                             f"(distance {self.distance}, +{self.extra_noise} for the conv); "
                             f"sample it with sample_noise(batch, max_time={max_time:g})")
        # The time encoding runs in float32 even under mixed precision: sines of large phases and the
        # interpolation weights lose too much in bf16/fp16.
        with torch.autocast(device_type=noise.device.type, enabled=False):
            return self._encode(times, noise[:, :need].float())

    def _encode(self, times: Tensor, noise: Tensor) -> Tensor:
        traj = self.trajectory(noise)                                     # [B, n_knots, H]

        left = torch.floor(times / self.distance)                         # [B, K]
        t_left = left * self.distance                                     # [B, K]
        t_right = t_left + self.distance                                  # [B, K]
        alpha = ((times - t_left) / self.distance).unsqueeze(-1)          # [B, K, 1] in [0, 1)
        idx = left.long().unsqueeze(-1).expand(-1, -1, self.hidden_dim)   # [B, K, H]
        u_left = torch.gather(traj, 1, idx)                               # [B, K, H]
        u_right = torch.gather(traj, 1, idx + 1)                          # [B, K, H]

        periods = torch.tanh(self.period_fc(u_left)) + 1                  # [B, K, F] in (0, 2)
        phases = self.phase_fc(u_left) * self.phase_scales                # [B, K, F]
        emb = self._embed(times, periods, phases)                         # [B, K, 2F]
        emb_left = self._embed(t_left, periods, phases)
        emb_right = self._embed(t_right, periods, phases)
        align_left = self.aligner(u_left)                                 # [B, K, 2F]
        align_right = self.aligner(u_right)
        return emb - torch.lerp(emb_left, emb_right, alpha) + torch.lerp(align_left, align_right, alpha)
