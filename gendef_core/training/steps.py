"""The phases of one GAN training step: D, lazy R1, G (with the structural temporal smoothness and fold penalty).

Every random draw of step s comes from a generator seeded by (seed, s, process, purpose), so a
resumed run repeats exactly what an uninterrupted one would have drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gendef_core.config import TrainConfig
from gendef_core.data.datasets import VideoFrames
from gendef_core.models.discriminator import Discriminator
from gendef_core.models.generator import CanonicalGenerator, GeneratorOutput, VideoGenerator
from gendef_core.training import losses
from gendef_core.training.batches import fake_times, real_batch, step_generator

MAX_FAKE_LENGTH = 1024  # fake times are drawn from a window this long at most (StyleGAN-V's max_num_frames)
REAL, FAKE_D, FAKE_G = 0, 1, 2  # random streams of a step


@dataclass
class StepLosses:
    loss_d: Tensor
    loss_g: Tensor
    r1: Tensor | None = None
    reg: Tensor | None = None
    fold: Tensor | None = None

    def values(self) -> dict[str, float]:
        named = {"loss_d": self.loss_d, "loss_g": self.loss_g, "r1": self.r1, "reg": self.reg, "fold": self.fold}
        return {k: v.item() for k, v in named.items() if v is not None}


class Phases:
    """Binds the networks, optimisers and data of a run; `run(step)` does one optimisation step."""

    def __init__(self, cfg: TrainConfig, acc: Any, g: CanonicalGenerator | VideoGenerator, d: nn.Module, opt_g: Any,
                 opt_d: Any, sync: Any, data: VideoFrames) -> None:
        self.cfg, self.acc, self.g, self.d, self.opt_g, self.opt_d, self.sync, self.data = (
            cfg, acc, g, d, opt_g, opt_d, sync, data)
        self.video = cfg.stage == "finetune"
        self.k = cfg.num_frames if self.video else 1
        self.fake_len = min(int(data.lengths.max()), MAX_FAKE_LENGTH)
        deforms = isinstance(g, VideoGenerator) and g.has_deformation
        self.use_reg = deforms and cfg.loss.reg_weight > 0
        self.use_fold = deforms and cfg.loss.fold_weight > 0
        self.motion_d = self.video and cfg.discriminator.motion_branch
        self.g_params = [p for p in g.parameters() if p.requires_grad]
        self.d_params = list(d.parameters())

    def _gen(self, step: int, stream: int) -> torch.Generator:
        return step_generator(self.cfg.seed, step, self.acc.process_index, stream)

    def real(self, step: int) -> tuple[Tensor, Tensor | None]:
        """Real frames ``[B, K, 3, R, R]`` and their times ``[B, K]`` (None in pre-training)."""
        real, times = real_batch(self.data, self.cfg.batch_size, self.k, self.cfg.max_span, self._gen(step, REAL))
        return real.to(self.acc.device), times.to(self.acc.device) if self.video else None

    def fake(self, step: int, stream: int, *, with_reg: bool, update_w_avg: bool
             ) -> tuple[Tensor, Tensor | None, GeneratorOutput | None]:
        """Generated frames ``[B, K, 3, R, R]``, their times, and the generator output.

        With `with_reg`, three consecutive times t, t+1, t+2 are appended to the same forward pass (the
        smoothness term needs them); the returned frames/times are the first K.
        """
        cfg, b, gen, dev = self.cfg, self.cfg.batch_size, self._gen(step, stream), self.acc.device
        z_c = torch.randn(b, cfg.model.z_dim, generator=gen).to(dev)
        z_d = torch.randn(b, cfg.model.z_dim, generator=gen).to(dev)
        g = self.g
        if not isinstance(g, VideoGenerator):  # pre-training: images of G_c
            img, _ = g(z_c, update_w_avg=update_w_avg)
            return img[:, None], None, None
        times = fake_times(b, self.fake_len, self.k, cfg.max_span, gen)
        if with_reg:
            t0 = torch.randint(0, max(self.fake_len - 2, 1), (b, 1), generator=gen).float()
            times = torch.cat([times, t0 + torch.arange(3.0)], dim=1)
        noise = g.motion.sample_noise(b, float(times.max()), generator=gen).to(dev)
        times = times.to(dev)
        out = g(z_c, z_d, times, noise, update_w_avg=update_w_avg)
        return out.frames[:, :self.k], times[:, :self.k], out

    def d_step(self, step: int, real: Tensor, real_t: Tensor | None) -> Tensor:
        """Logistic loss on reals and fakes (G not differentiated)."""
        self.opt_d.zero_grad(set_to_none=True)
        with torch.no_grad(), self.acc.autocast():
            fake, fake_t, _ = self.fake(step, FAKE_D, with_reg=False, update_w_avg=False)
        with self.acc.autocast():
            loss = losses.d_adv_loss(self.d(real, real_t), self.d(fake, fake_t))
            if self.motion_d:  # the motion branch has its own loss (it must not saturate with the main D's)
                loss = loss + losses.d_adv_loss(self._motion(real, real_t), self._motion(fake, fake_t))
        self._apply(loss, self.d_params, self.opt_d)
        return loss

    def r1_step(self, real: Tensor, real_t: Tensor | None) -> Tensor:
        """Lazy R1 on reals, scaled by gamma/2 and the interval (StyleGAN2)."""
        self.opt_d.zero_grad(set_to_none=True)
        real = real.detach().requires_grad_(True)
        with self.acc.autocast():
            r1 = losses.r1_penalty(self.d(real, real_t), real)
            if self.motion_d:
                r1 = r1 + losses.r1_penalty(self._motion(real, real_t), real)
        self._apply(r1 * (self.cfg.loss.r1_gamma / 2) * self.cfg.loss.r1_every, self.d_params, self.opt_d)
        return r1

    def g_step(self, step: int) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Adversarial loss + lambda_reg x structural temporal smoothness + fold_weight x fold penalty (over every
        generated frame's deformation); D only passes gradients. Returns (adversarial, smoothness, fold)."""
        k = self.k
        self.opt_g.zero_grad(set_to_none=True)
        self.d.requires_grad_(False)
        with self.acc.autocast():
            frames, times, out = self.fake(step, FAKE_G, with_reg=self.use_reg, update_w_avg=True)
            reg = fold = None
            if self.use_reg:
                assert out is not None and out.offsets is not None
                reg = losses.temporal_smoothness_loss(out.offsets[:, k:], out.frames[:, k + 1])
            if self.use_fold:
                assert out is not None and out.offsets is not None
                fold = losses.fold_loss(out.offsets, temporal=self.cfg.loss.fold_temporal)
            loss = losses.g_adv_loss(self.d(frames, times))
            if self.motion_d:
                loss = loss + losses.g_adv_loss(self._motion(frames, times))
            total = loss + self.cfg.loss.reg_weight * reg if reg is not None else loss
            if fold is not None:
                total = total + self.cfg.loss.fold_weight * fold
        self.acc.backward(total)
        self.d.requires_grad_(True)
        self.sync(self.g_params)
        self.opt_g.step()
        self.sync.buffers(self.g)
        return loss, reg, fold

    def run(self, step: int) -> StepLosses:
        real, real_t = self.real(step)
        loss_d = self.d_step(step, real, real_t)
        r1 = None
        if self.cfg.loss.r1_gamma > 0 and step % self.cfg.loss.r1_every == 0:
            r1 = self.r1_step(real, real_t)
        loss_g, reg, fold = self.g_step(step)
        return StepLosses(loss_d, loss_g, r1, reg, fold)

    def _motion(self, frames: Tensor, times: Tensor | None) -> Tensor:
        """The motion branch's logits (discriminator.motion_branch; fine-tuning, so times are given)."""
        assert isinstance(self.d, Discriminator) and times is not None
        return self.d.motion_logits(frames, times)

    def _apply(self, loss: Tensor, params: list[nn.Parameter], opt: Any) -> None:
        self.acc.backward(loss)
        self.sync(params)
        opt.step()
