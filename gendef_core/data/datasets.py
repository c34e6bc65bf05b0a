"""A dataset's frames in memory, and the StyleGAN-V frame sampling training draws from them
(`training.batches.real_batch` makes the batches).

Every frame of the dataset is decoded once, into one ``uint8`` tensor held in memory
(``N_total x 3 x R x R`` bytes: 1.2 GB for 100k frames at 64 px); training steps never decode.
Randomness comes from generators seeded by explicit keys (`seeded_generator`), never from hidden
global RNG state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.dataset import DatasetInfo, load_dataset_info, read_video_frames
from gendef_core.events import OnEvent, Progress, ignore

SPANS = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # StyleGAN-V's first-to-last distances (powers of 2)


@dataclass(frozen=True)
class VideoFrames:
    """All frames of a dataset: ``frames uint8 [N_total, 3, R, R]``; video v is
    ``frames[starts[v] : starts[v] + lengths[v]]``."""

    frames: Tensor
    starts: Tensor   # int64 [V]
    lengths: Tensor  # int64 [V]
    info: DatasetInfo

    @property
    def num_videos(self) -> int:
        return int(self.lengths.shape[0])


def load_video_frames(data: Path | DatasetInfo, *, on_event: OnEvent = ignore) -> VideoFrames:
    """Decode a whole dataset once into memory."""
    info = data if isinstance(data, DatasetInfo) else load_dataset_info(Path(data))
    r = info.resolution
    frames = torch.empty((info.num_frames, 3, r, r), dtype=torch.uint8)
    starts, lengths, pos = [], [], 0
    for k, v in enumerate(info.videos):
        arr = read_video_frames(info, v.name)
        frames[pos:pos + v.num_frames] = torch.from_numpy(arr).permute(0, 3, 1, 2)
        starts.append(pos)
        lengths.append(v.num_frames)
        pos += v.num_frames
        on_event(Progress("load dataset", k + 1, len(info.videos)))
    return VideoFrames(frames, torch.tensor(starts), torch.tensor(lengths), info)


def seeded_generator(*keys: int) -> torch.Generator:
    """A torch generator whose stream is a function of `keys` only (no hidden global RNG state)."""
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1))
    return g


def sample_frame_times(length: int, num_frames: int, max_span: int, generator: torch.Generator) -> Tensor:
    """StyleGAN-V sparse sampling: ``int64 [num_frames]`` sorted, distinct frame indices.

    The first-to-last distance is drawn uniformly from the powers of two in
    ``[num_frames - 1, min(max_span, length - 1)]`` (the span itself if none is a power of two),
    the start uniformly where the span fits, and the frames in between uniformly without
    replacement. One frame: uniform over the video.
    """
    if num_frames < 1 or length < num_frames:
        raise ValueError(f"cannot sample {num_frames} distinct frames from a {length}-frame video")
    if num_frames == 1:
        return torch.randint(length, (1,), generator=generator)
    hi = min(max_span, length - 1)
    spans = [s for s in SPANS if num_frames - 1 <= s <= hi] or [max(num_frames - 1, hi)]
    span = spans[int(torch.randint(len(spans), (1,), generator=generator))]
    start = int(torch.randint(length - span, (1,), generator=generator))
    inner = torch.randperm(span - 1, generator=generator)[: num_frames - 2] + 1 + start
    return torch.cat([torch.tensor([start]), inner.sort().values, torch.tensor([start + span])])
