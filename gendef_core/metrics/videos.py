"""Where evaluated videos come from: real clips of a dataset, a model's samples, or files made by any tool.

Every source yields batches of ``uint8 [B, T, H, W, 3]`` videos (or ``[B, H, W, 3]`` images for FID), so
features can be extracted as they stream and memory does not grow with the number of videos.

The real-clip protocol is StyleGAN-V's: one T-frame window per video, its start uniform over the
video, from videos of at least T frames (shorter ones are dropped and counted); when there are more
such videos than asked for, a uniform random subset. Generated videos show frames t = 0..T-1 of
fresh samples (no truncation).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gendef_core.data.datasets import VideoFrames
from gendef_core.data.images import to_uint8
from gendef_core.errors import DataError
from gendef_core.models.generator import VideoGenerator


@dataclass(frozen=True)
class RealClips:
    videos: list[int]      # dataset video indices used
    starts: list[int]      # first frame of each window
    num_frames: int
    dropped: int           # videos shorter than num_frames


def choose_real_clips(frames: VideoFrames, num_frames: int, max_videos: int, seed: int) -> RealClips:
    """The real windows of one evaluation run (deterministic in `seed`)."""
    rng = np.random.default_rng(seed)
    lengths = frames.lengths.tolist()
    eligible = [v for v, n in enumerate(lengths) if n >= num_frames]
    if len(eligible) > max_videos:
        eligible = sorted(rng.choice(eligible, size=max_videos, replace=False).tolist())
    starts = [int(rng.integers(0, lengths[v] - num_frames + 1)) for v in eligible]
    return RealClips(eligible, starts, num_frames, sum(1 for n in lengths if n < num_frames))


def real_clip_batches(frames: VideoFrames, clips: RealClips, batch: int) -> Iterator[Tensor]:
    for i in range(0, len(clips.videos), batch):
        out = []
        for v, s in zip(clips.videos[i:i + batch], clips.starts[i:i + batch], strict=True):
            first = int(frames.starts[v]) + s
            out.append(frames.frames[first:first + clips.num_frames])
        yield torch.stack(out).permute(0, 1, 3, 4, 2)  # [B, T, H, W, 3]


def real_image_batches(frames: VideoFrames, batch: int, limit: int | None = None, seed: int = 0) -> Iterator[Tensor]:
    """All frames of the dataset as ``uint8 [B, H, W, 3]``; with `limit`, a uniform random subset of that
    many frames (in dataset order; deterministic in `seed`)."""
    total = frames.frames.shape[0]
    index = np.arange(total)
    if limit is not None and limit < total:
        index = np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))
    for i in range(0, len(index), batch):
        yield frames.frames[torch.from_numpy(index[i:i + batch])].permute(0, 2, 3, 1)


FRAMES_PER_CALL = 256  # generator frames per forward call: bounds memory whatever T and the batch size


def video_seed(seed: int, index: int) -> int:
    """The seed of generated video `index` in an evaluation run with seed `seed` (independent of batching)."""
    return seed * 1_000_003 + index


def generate_videos(generator: VideoGenerator, z_dim: int, *, num_videos: int, num_frames: int, seed: int
                    ) -> Iterator[tuple[Tensor, Tensor | None]]:
    """`num_videos` samples of `generator` (any video generator, on its device): ``(uint8 [B, T, H, W, 3],
    offsets [B, T, 2, H, W] or None)`` batches, frames 0..T-1, no truncation.

    Video i has the latents of seed ``video_seed(seed, i)``, whatever the batching, and is made by the
    sampling recipe of `gendef sample` (gendef_core.sampling). At most `FRAMES_PER_CALL` frames go
    through a generator at once; they run on the generator's device.
    """
    from gendef_core.sampling import VideoRollout, chunks, stack_latents

    per_call = max(1, FRAMES_PER_CALL // num_frames)
    for i in range(0, num_videos, per_call):
        seeds = [video_seed(seed, k) for k in range(i, min(i + per_call, num_videos))]
        roll = VideoRollout(generator, *stack_latents(generator, z_dim, seeds, num_frames))
        parts = [roll.frames(start, stop) for start, stop in chunks(num_frames, FRAMES_PER_CALL)]
        frames = torch.cat([p.frames for p in parts], dim=1)
        offsets = [p.offsets for p in parts if p.offsets is not None]
        yield to_uint8(frames.float().cpu()), torch.cat(offsets, dim=1).float().cpu() if offsets else None


def generated_batches(generator: VideoGenerator, z_dim: int, *, num_videos: int, num_frames: int, seed: int
                      ) -> Iterator[Tensor]:
    """The videos of `generate_videos` alone."""
    for videos, _ in generate_videos(generator, z_dim, num_videos=num_videos, num_frames=num_frames, seed=seed):
        yield videos


def list_video_files(path: Path) -> list[Path]:
    """Clips (directories with a gendef.clip manifest) and MP4 files under `path` (or `path` itself), sorted."""
    from gendef_core.artifacts.clip import read_clip_manifest

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; give a clip, a directory of clips or a directory of MP4 files")
    if path.is_file():
        return [path]
    if (path / "manifest.json").is_file():
        read_clip_manifest(path)
        return [path]
    def visible(p: Path) -> bool:  # hidden entries below `path` (e.g. .NAME.partial-* of a killed run) are skipped
        return not any(part.startswith(".") for part in p.relative_to(path).parts)

    # Clips, and MP4 files that are not inside a gendef artifact (a clip's video.mp4, a flow directory's
    # flow.mp4, ...): those are derived views, not samples.
    found = sorted(p.parent for p in path.rglob("manifest.json")
                   if p.parent != path and visible(p) and _is_clip(p.parent))
    found += sorted(p for p in path.rglob("*.mp4") if visible(p) and not (p.parent / "manifest.json").is_file())
    if not found:
        raise DataError(f"{path} holds no clips and no .mp4 files")
    return sorted(set(found))


def _is_clip(path: Path) -> bool:
    from gendef_core.artifacts.clip import CLIP_FORMAT
    from gendef_core.artifacts.common import read_format
    from gendef_core.errors import ArtifactError

    try:
        return read_format(path) == CLIP_FORMAT
    except ArtifactError:  # not a gendef manifest: not a clip
        return False


def read_video_file(path: Path, num_frames: int) -> Tensor | None:
    """The first `num_frames` frames of a clip or MP4 as ``uint8 [T, H, W, 3]``; None if it is shorter."""
    from gendef_core.warp import warp_chunks

    if path.is_dir():
        from gendef_core.artifacts.clip import load_clip

        clip = load_clip(path, require_videos=False)
        if clip.num_frames < num_frames:
            return None
        return torch.cat([to_uint8(c) for c in warp_chunks(clip.canonical, clip.offsets[:num_frames])])
    from gendef_core.data.video_io import read_video

    frames, _ = read_video(path, max_frames=num_frames)
    if frames.shape[0] < num_frames:
        return None
    return torch.as_tensor(np.ascontiguousarray(frames[:num_frames]))


def file_batches(files: list[Path], *, num_frames: int, max_videos: int, batch: int,
                 skipped: list[Path]) -> Iterator[Tensor]:
    """Videos from files, in order, skipping (and recording in `skipped`) those shorter than T frames."""
    out: list[Tensor] = []
    used = 0
    for f in files:
        if used >= max_videos:
            break
        v = read_video_file(f, num_frames)
        if v is None:
            skipped.append(f)
            continue
        if out and v.shape != out[0].shape:
            raise DataError(f"{f} is {v.shape[2]}x{v.shape[1]} but earlier videos are "
                            f"{out[0].shape[2]}x{out[0].shape[1]}; evaluate videos of one size")
        out.append(v)
        used += 1
        if len(out) == batch:
            yield torch.stack(out)
            out = []
    if out:
        yield torch.stack(out)


def frames_of(videos: Iterator[Tensor], limit: int) -> Iterator[Tensor]:
    """Flatten video batches ``[B, T, H, W, 3]`` into image batches, stopping after `limit` images."""
    left = limit
    for v in videos:
        images = v.reshape(-1, *v.shape[2:])[:left]
        left -= images.shape[0]
        yield images
        if left <= 0:
            return


def videos_for_images(num_images: int, frames_per_video: int = 16) -> int:
    return math.ceil(num_images / frames_per_video)
