"""Frame sampling and a dataset's frames in memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gendef_core.data.datasets import load_video_frames, sample_frame_times, seeded_generator
from tests.conftest import coded_dataset


def _dataset(root: Path, lengths: list[int], r: int = 8) -> Path:
    return coded_dataset(root, lengths, r)  # pixel value encodes (video, frame)


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


def test_sample_frame_times_in_time_order_for_many_frames() -> None:
    # With K = 3 there is one inner frame, so only K > 3 shows whether the inner frames are in time order.
    g = torch.Generator().manual_seed(2)
    inner_orders = set()
    for _ in range(300):
        t = sample_frame_times(60, 6, 16, g)
        assert t.shape == (6,) and bool((t[1:] > t[:-1]).all()), t.tolist()
        assert int(t[-1] - t[0]) in (8, 16) and 0 <= t[0] and t[-1] <= 59
        inner_orders.add(tuple(t[1:-1].tolist()))
    assert len(inner_orders) > 100  # the inner frames are drawn, not fixed


def test_every_frame_is_loaded_where_its_video_and_index_say(tmp_path: Path) -> None:
    lengths = [4, 6, 3]
    vf = load_video_frames(_dataset(tmp_path / "d", lengths))
    expected = torch.tensor([[v, t] for v, n in enumerate(lengths) for t in range(n)])  # (video, frame), in order
    assert torch.equal(vf.frames[:, :2, 0, 0].long(), expected)
    assert bool((vf.frames == vf.frames[:, :, :1, :1]).all()) and bool((vf.frames[:, 2] == 0).all())
    for v, n in enumerate(lengths):
        clip = vf.frames[vf.starts[v]:vf.starts[v] + vf.lengths[v], :2, 0, 0].long()
        assert clip.tolist() == [[v, t] for t in range(n)]


def test_frames_are_decoded_once_and_indexed_per_video(tmp_path: Path) -> None:
    vf = load_video_frames(_dataset(tmp_path / "d", [4, 6]))
    assert vf.frames.shape == (10, 3, 8, 8) and vf.frames.dtype == torch.uint8
    assert vf.starts.tolist() == [0, 4] and vf.lengths.tolist() == [4, 6]
    assert vf.frames[5, 0, 0, 0] == 1 and vf.frames[5, 1, 0, 0] == 1  # video 1, frame 1


def test_sample_frame_times_depends_only_on_the_generator_keys() -> None:
    def draw(*keys: int) -> list[int]:
        return sample_frame_times(40, 3, 8, seeded_generator(*keys)).tolist()

    assert draw(3, 0, 1) == draw(3, 0, 1)  # same keys -> same sample
    assert len({tuple(draw(3, epoch, 0)) for epoch in range(20)}) > 5
