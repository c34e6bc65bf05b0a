"""Frame sampling and the torch datasets."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from gendef_core.artifacts.common import atomic_dir
from gendef_core.artifacts.dataset import VideoEntry, write_dataset_manifest, write_video_frames
from gendef_core.data.datasets import ClipDataset, FrameDataset, load_video_frames, sample_frame_times
from gendef_core.errors import DataError


def _dataset(root: Path, lengths: list[int], r: int = 8) -> Path:
    with atomic_dir(root) as tmp:
        videos = []
        for v, n in enumerate(lengths):
            # Pixel value encodes (video, frame), so tests can check what was loaded.
            frames = np.zeros((n, r, r, 3), np.uint8)
            frames[..., 0] = v
            frames[..., 1] = np.arange(n, dtype=np.uint8)[:, None, None]
            videos.append(VideoEntry(f"v{v}", write_video_frames(tmp, f"v{v}", frames)))
        write_dataset_manifest(tmp, resolution=r, fps=Fraction(25), videos=videos, source={"kind": "test"},
                               min_frames=1)
    return root


def test_sample_frame_times_follows_stylegan_v() -> None:
    g = torch.Generator().manual_seed(0)
    spans = set()
    for _ in range(500):
        t = sample_frame_times(100, 3, 32, g)
        assert t.shape == (3,) and t.dtype == torch.int64
        assert 0 <= t[0] < t[1] < t[2] <= 99
        spans.add(int(t[2] - t[0]))
    assert spans == {2, 4, 8, 16, 32}


def test_sample_frame_times_short_video_and_single_frame() -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        t = sample_frame_times(5, 3, 32, g)  # longest power-of-two span that fits: 4
        assert int(t[2] - t[0]) in (2, 4) and t[2] <= 4
        t = sample_frame_times(3, 3, 32, g)
        assert t.tolist() == [0, 1, 2]
    singles = {int(sample_frame_times(7, 1, 32, g)) for _ in range(200)}
    assert singles == set(range(7))
    with pytest.raises(ValueError):
        sample_frame_times(2, 3, 32, g)


def test_frames_are_decoded_once_and_indexed_per_video(tmp_path: Path) -> None:
    vf = load_video_frames(_dataset(tmp_path / "d", [4, 6]))
    assert vf.frames.shape == (10, 3, 8, 8) and vf.frames.dtype == torch.uint8
    assert vf.starts.tolist() == [0, 4] and vf.lengths.tolist() == [4, 6]
    assert vf.frames[5, 0, 0, 0] == 1 and vf.frames[5, 1, 0, 0] == 1  # video 1, frame 1
    ds = FrameDataset(vf)
    assert len(ds) == 10
    img = ds[5]
    assert img.dtype == torch.float32 and img.shape == (3, 8, 8)
    torch.testing.assert_close(img[0, 0, 0], torch.tensor(1 / 127.5 - 1))


def test_clip_dataset_returns_the_sampled_frames_reproducibly(tmp_path: Path) -> None:
    vf = load_video_frames(_dataset(tmp_path / "d", [40, 9, 20]))
    ds = ClipDataset(vf, num_frames=3, max_span=8, seed=3)
    item = ds[1]
    assert item["frames"].shape == (3, 3, 8, 8) and int(item["video"]) == 1
    # The green channel stores the frame index: the frames returned are those at `times`.
    frame_idx = torch.round((item["frames"][:, 1, 0, 0] + 1) * 127.5).long()
    assert torch.equal(frame_idx, item["times"])
    assert torch.round((item["frames"][:, 0, 0, 0] + 1) * 127.5).tolist() == [1, 1, 1]  # from video 1
    assert torch.equal(ds[1]["times"], item["times"])  # same epoch -> same sample
    draws = set()
    for epoch in range(20):
        ds.set_epoch(epoch)
        draws.add(tuple(ds[0]["times"].tolist()))
    assert len(draws) > 5


def test_clip_dataset_refuses_short_videos(tmp_path: Path) -> None:
    vf = load_video_frames(_dataset(tmp_path / "d", [5, 2]))
    with pytest.raises(DataError, match="fewer than 3 frames"):
        ClipDataset(vf, num_frames=3)


def test_batches_through_a_dataloader(tmp_path: Path) -> None:
    vf = load_video_frames(_dataset(tmp_path / "d", [10, 10, 10, 10]))
    loader = torch.utils.data.DataLoader(ClipDataset(vf), batch_size=2, shuffle=False)
    batch = next(iter(loader))
    assert batch["frames"].shape == (2, 3, 3, 8, 8) and batch["times"].shape == (2, 3)
