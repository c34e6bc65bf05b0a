"""Does a fine-tuned discriminator see motion, and does the generator get a motion gradient? (issue 14)

    python benchmarks/d_motion_probe.py RUN DATA [--clips 64] [--seed 0] [--raw-weights]

RUN is a `gendef finetune` run or checkpoint (its discriminator and generator are loaded), DATA its dataset.
For `--clips` real clips drawn as in training (sparse frames, the run's num_frames and max_span) it prints,
as JSON on stdout:

- `real`, `real_frozen`, `real_reversed`: the mean D logit of the real clips, of the same clips with every
  frame replaced by the first one (no motion, same times, same content), and with the frames in reverse
  order (motion backwards); `motion_sensitivity` = real - real_frozen and `frac_real_above_frozen` (per
  clip). A D that cannot tell moving from still data gives ~0 and ~0.5: it cannot reward motion.
- the same for generated clips (`fake`, `fake_frozen`) from the run's generator (EMA unless --raw-weights);
- `grad_static`, `grad_temporal`: RMS of the generator loss gradient with respect to the offsets, split
  into the part shared by a clip's frames (a static warp) and the frames' deviations from it (motion),
  per offset element; `temporal_fraction` = grad_temporal / (grad_static + grad_temporal).
- with `discriminator.motion_branch`, the branch's own logits (`branch_real`, `branch_real_frozen`,
  `branch_sensitivity`, `branch_fake`); the gradient is then that of both generator losses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from gendef_core.artifacts.checkpoint import load_checkpoint
from gendef_core.data.datasets import load_video_frames
from gendef_core.models.discriminator import build_discriminator
from gendef_core.models.loading import checkpoint_config, load_generator, load_into
from gendef_core.training import losses
from gendef_core.training.batches import fake_times, real_batch, step_generator
from gendef_core.warp import warp


def probe(run: Path, data: Path, *, clips: int = 64, seed: int = 0, ema: bool = True) -> dict[str, float]:
    loaded = load_generator(run, ema=ema, device="cpu")
    info = loaded.checkpoint
    cfg = checkpoint_config(info)
    d = build_discriminator(cfg)
    load_into(load_checkpoint(info.path, verify=False), {"discriminator": d})
    d.eval().requires_grad_(False)
    g = loaded.generator
    frames = load_video_frames(data)
    gen = step_generator(seed, 0, 0, 99)
    real, times = real_batch(frames, clips, cfg.num_frames, cfg.max_span, gen)
    out: dict[str, float] = {}
    with torch.no_grad():
        frozen = real[:, :1].expand_as(real).contiguous()
        lr, lf = d(real, times), d(frozen, times)
        out["real"] = lr.mean().item()
        out["real_frozen"] = lf.mean().item()
        out["real_reversed"] = d(real.flip(1), times).mean().item()
        out["motion_sensitivity"] = (lr - lf).mean().item()
        out["frac_real_above_frozen"] = (lr > lf).float().mean().item()
        if d.motion_branch is not None:
            mr, mf = d.motion_logits(real, times), d.motion_logits(frozen, times)
            out["branch_real"], out["branch_real_frozen"] = mr.mean().item(), mf.mean().item()
            out["branch_sensitivity"] = (mr - mf).mean().item()
    z_c = torch.randn(clips, cfg.model.z_dim, generator=gen)
    z_d = torch.randn(clips, cfg.model.z_dim, generator=gen)
    t = fake_times(clips, int(frames.lengths.max()), cfg.num_frames, cfg.max_span, gen)
    noise = g.motion.sample_noise(clips, float(t.max()), generator=gen)
    content = g.content(z_c)
    with torch.no_grad():
        offsets = g.offsets_at(content, z_d, t, noise)
    offsets = offsets.detach().requires_grad_(True)
    fake = warp(content.canonical, offsets)
    logits = d(fake, t)
    g_loss = losses.g_adv_loss(logits)
    if d.motion_branch is not None:
        branch = d.motion_logits(fake, t)
        g_loss = g_loss + losses.g_adv_loss(branch)
        out["branch_fake"] = branch.mean().item()
    g_loss.backward()
    grad = offsets.grad
    assert grad is not None
    static = grad.mean(dim=1, keepdim=True)
    temporal = grad - static
    out["fake"] = logits.mean().item()
    with torch.no_grad():
        fake_frozen = fake[:, :1].expand_as(fake).contiguous()
        out["fake_frozen"] = d(fake_frozen, t).mean().item()
        out["fake_offset_temporal_px"] = ((offsets - offsets.mean(1, keepdim=True)).square().sum(2).sqrt().mean()
                                          * cfg.model.resolution / 2).item()
    out["grad_static"] = static.square().mean().sqrt().item()
    out["grad_temporal"] = temporal.square().mean().sqrt().item()
    out["temporal_fraction"] = out["grad_temporal"] / (out["grad_static"] + out["grad_temporal"] + 1e-30)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("data", type=Path)
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--raw-weights", action="store_true")
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    print(json.dumps(probe(a.run, a.data, clips=a.clips, seed=a.seed, ema=not a.raw_weights), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
