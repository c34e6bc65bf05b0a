"""Per-step randomness: real batches and latents drawn from generators seeded by (seed, step, rank).

Nothing depends on hidden RNG state, so a resumed run draws exactly what an uninterrupted one
would, and every process of a multi-process run draws different data.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gendef_core.data.datasets import VideoFrames, sample_frame_times, seeded_generator
from gendef_core.data.images import from_uint8


def step_generator(seed: int, step: int, rank: int, stream: int) -> torch.Generator:
    """A generator for one purpose (`stream`) at one step on one process."""
    return seeded_generator(seed, step, rank, stream)


def real_batch(data: VideoFrames, batch: int, num_frames: int, max_span: int,
               g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Real frames ``[B, K, 3, R, R]`` in [-1, 1] and their times ``[B, K]`` (float).

    K = 1: frames uniformly over all frames of all videos (image pre-training). K > 1: a video
    uniformly, then StyleGAN-V sparse sampling inside it.
    """
    if num_frames == 1:
        idx = torch.randint(data.frames.shape[0], (batch,), generator=g)
        return from_uint8(data.frames[idx])[:, None], torch.zeros(batch, 1)
    videos = torch.randint(data.num_videos, (batch,), generator=g)
    times = torch.stack([sample_frame_times(int(data.lengths[v]), num_frames, max_span, g) for v in videos.tolist()])
    frames = data.frames[data.starts[videos][:, None] + times]
    return from_uint8(frames), times.float()


def fake_times(batch: int, length: int, num_frames: int, max_span: int, g: torch.Generator) -> Tensor:
    """Times ``[B, K]`` for generated videos, drawn like the real ones from a `length`-frame window."""
    return torch.stack([sample_frame_times(length, num_frames, max_span, g) for _ in range(batch)]).float()
