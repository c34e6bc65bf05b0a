"""How fast, how far and how straight does each pixel of a deformation move? (issue 14, docs/MOTION.md)

    python benchmarks/pixel_motion.py DATA [CKPT ...] [--videos 32] [--frames 32] [--seed 0]

`gendef eval`'s `still` counts the pixels whose colour never changes by 2/255 from one frame to the next; a
model can match the data's net displacement and still fail it by moving each pixel more slowly along a
straighter path. This looks at the deformations themselves, per pixel of the frame, in pixels of the
canonical: for the ground-truth backward maps of the first VIDEOS videos of DATA (clouds datasets only), and
for VIDEOS generated videos of each checkpoint (EMA weights, the evaluation's latents `video_seed(seed, i)`),
frames 0..FRAMES-1 in both. Per pixel:

- `speed`: the mean over time of |d(t+1) - d(t)| (px per frame);
- `net`: |d(T-1) - d(0)| (px over the clip);
- `straightness`: net / the path's length (sum of the speeds); 1 = a straight, steady drift, near 0 = it
  comes back to where it started (pixels whose path is shorter than 0.01 px are left out).

Prints one JSON line per source (`data`, then each checkpoint) with the quantiles 0.1, 0.25, 0.5, 0.75, 0.9
of each, `still_speed` (the fraction of pixels slower than 0.05 px per frame) and `net_below_half` (the
fraction that end less than 0.5 px from where they started).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import Tensor

from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth
from gendef_core.errors import ArtifactError
from gendef_core.metrics.videos import generate_videos
from gendef_core.models.loading import load_generator
from gendef_core.warp import offsets_to_pixels

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def pixel_motion(displacement: Tensor) -> dict[str, float | list[float]]:
    """The statistics of the module docstring for displacements ``[N, T, 2, H, W]`` in pixels (T >= 2)."""
    d = displacement.double()
    steps = (d[:, 1:] - d[:, :-1]).norm(dim=2)          # [N, T-1, H, W]
    path = steps.sum(1)
    speed = steps.mean(1).flatten()
    net = (d[:, -1] - d[:, 0]).norm(dim=1).flatten()
    moving = path.flatten() > 0.01
    straight = net[moving] / path.flatten()[moving]
    q = torch.tensor(QUANTILES, dtype=torch.float64)

    def quantiles(x: Tensor) -> list[float]:
        return [round(float(v), 4) for v in torch.quantile(x, q)] if x.numel() else []

    return {"speed": quantiles(speed), "net": quantiles(net), "straightness": quantiles(straight),
            "still_speed": round(float((speed < 0.05).double().mean()), 4),
            "net_below_half": round(float((net < 0.5).double().mean()), 4)}


def data_displacement(data: Path, *, videos: int, frames: int) -> Tensor:
    """The ground-truth backward maps of DATA's first `videos` videos, frames 0..frames-1, in pixels."""
    info = load_dataset_info(data)
    out = []
    for v in info.videos[:videos]:
        off = load_ground_truth(info, v.name).offsets
        if off is None:
            raise ArtifactError(f"{data} has no backward maps (only clouds datasets do); use a clouds dataset")
        out.append(offsets_to_pixels(off[:frames], (info.resolution, info.resolution)))
    return torch.stack(out)


def model_displacement(ckpt: Path, *, videos: int, frames: int, seed: int) -> Tensor:
    """The deformations of `videos` generated videos of `ckpt` (EMA), frames 0..frames-1, in pixels."""
    model = load_generator(ckpt, device="cpu")
    parts = [off for _, off in generate_videos(model.generator, model.config.model.z_dim, num_videos=videos,
                                               num_frames=frames, seed=seed)]
    if any(off is None for off in parts):
        raise ArtifactError(f"{ckpt} makes frames directly (variant direct): it has no deformation to measure")
    off = torch.cat([p for p in parts if p is not None])
    return offsets_to_pixels(off, tuple(off.shape[-2:]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("ckpt", type=Path, nargs="*")
    ap.add_argument("--videos", type=int, default=32)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(json.dumps({"source": "data", "data": str(a.data),
                      **pixel_motion(data_displacement(a.data, videos=a.videos, frames=a.frames))}), flush=True)
    for ck in a.ckpt:
        print(json.dumps({"source": str(ck), **pixel_motion(
            model_displacement(ck, videos=a.videos, frames=a.frames, seed=a.seed))}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
