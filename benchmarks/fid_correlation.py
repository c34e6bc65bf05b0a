"""How much of a model's FID comes from its frames being drawn from few videos? (issue 14, docs/MOTION.md)

    python benchmarks/fid_correlation.py CKPT DATA [--num-frames 512] [--num-real 1024] [--seed 0]

`gendef eval` computes FID, as StyleGAN-V does, on frames taken from 16-frame generated videos: 512 frames are
frames 0..15 of only 32 videos, so it sees only 32 draws of the content, and the FID of a small, correlated set
is biased upwards (measured: by 11-24 for every model, the flickering direct baseline too; docs/MOTION.md
finding 12).
This prints, as JSON on stdout, the FID of one checkpoint (EMA weights) against the same real statistics as
`gendef eval --num-real-fid NUM_REAL --seed SEED` (and from the same cache), for three sets of NUM_FRAMES images:

- `protocol`: frames 0..15 of NUM_FRAMES/16 videos, exactly `gendef eval`'s first run with this seed;
- `independent`: one frame of each of NUM_FRAMES videos, frame i mod 16 of video i (the same times, each from
  its own video);
- `canonical`: the canonical images of those NUM_FRAMES videos (GenDeF models only; for an anchored model the
  canonical is frame 0 itself).

Videos are the evaluation's (`video_seed(seed, i)`), so `protocol` and `independent` share their first 32
videos' latents.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gendef_core.apps.evaluate import FID_VIDEO_FRAMES, fid_real_statistics
from gendef_core.data.images import to_uint8
from gendef_core.metrics.frechet import feature_stats, frechet_distance
from gendef_core.metrics.inception import inception_features, load_inception
from gendef_core.metrics.videos import frames_of, generated_batches, video_seed, videos_for_images
from gendef_core.models.generator import VideoGenerator
from gendef_core.models.loading import load_generator
from gendef_core.sampling import VideoRollout, stack_latents


def independent_frames(generator: VideoGenerator, z_dim: int, *, num_images: int, seed: int,
                       frames_per_video: int = FID_VIDEO_FRAMES) -> tuple[Tensor, Tensor | None]:
    """Frame ``i % frames_per_video`` of video i for i < num_images (``uint8 [N, H, W, 3]``, in the order of i),
    and the videos' canonicals (``uint8 [N, H, W, 3]``, None for a model without one)."""
    order: list[int] = []
    frames: list[Tensor] = []
    canons: list[Tensor] = []
    with torch.inference_mode():
        for t in range(min(frames_per_video, num_images)):
            index = list(range(t, num_images, frames_per_video))
            roll = VideoRollout(generator, *stack_latents(generator, z_dim, [video_seed(seed, i) for i in index],
                                                          frames_per_video))
            order += index
            frames.append(to_uint8(roll.frames(t, t + 1).frames[:, 0].float().cpu()))
            if roll.canonical is not None:
                canons.append(to_uint8(roll.canonical.float().cpu()))
    back = torch.argsort(torch.tensor(order))  # from the order of t back to the order of i
    return torch.cat(frames)[back], (torch.cat(canons)[back] if canons else None)


def fid_draws(ckpt: Path, data: Path, *, num_frames: int = 512, num_real: int = 1024, seed: int = 0,
              cache: Path | bool | None = None) -> dict[str, float | int | str]:
    """The three FIDs of the module docstring for checkpoint `ckpt` against dataset `data`, on the CPU (the
    real statistics from `gendef eval`'s cache, or `cache`)."""
    mu_r, s_r = fid_real_statistics(data, num_real_fid=num_real, seed=seed, device="cpu", cache=cache)
    net = load_inception(None, device=torch.device("cpu"))

    def extract(images: Tensor) -> np.ndarray:
        return inception_features(net, images.contiguous(), batch_size=32)  # `gendef eval`'s batch

    model = load_generator(ckpt, device="cpu")
    g, z_dim = model.generator, model.config.model.z_dim

    def fid(images: Tensor) -> float:
        return frechet_distance(*feature_stats(extract(images)), mu_r, s_r)

    videos = generated_batches(g, z_dim, num_videos=videos_for_images(num_frames, FID_VIDEO_FRAMES),
                               num_frames=FID_VIDEO_FRAMES, seed=seed)
    out: dict[str, float | int | str] = {"ckpt": str(ckpt), "num_frames": num_frames, "num_real": num_real,
                                         "seed": seed, "protocol": fid(torch.cat(list(frames_of(videos, num_frames))))}
    indep, canon = independent_frames(g, z_dim, num_images=num_frames, seed=seed)
    out["independent"] = fid(indep)
    if canon is not None:
        out["canonical"] = fid(canon)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--num-frames", type=int, default=512)
    ap.add_argument("--num-real", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(json.dumps(fid_draws(a.ckpt, a.data, num_frames=a.num_frames, num_real=a.num_real, seed=a.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
