"""Scene-cut detection and shot splitting on procedural videos with known cuts."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from gendef_core.data.synth import SYNTH_KINDS, synth_video
from gendef_core.fit.shots import DEFAULT_THRESHOLD, cut_scores, detect_cuts, split_shots


@lru_cache(maxsize=64)
def video(kind: str, seed: int, num_frames: int = 16, resolution: int = 64) -> np.ndarray:
    """``uint8 [T, R, R, 3]`` frames of a procedural video (cached, read-only)."""
    if kind not in SYNTH_KINDS:
        pytest.skip(f"synth kind {kind!r} does not exist yet")
    frames = synth_video(kind, num_frames=num_frames, resolution=resolution, seed=seed).frames.numpy()  # type: ignore[arg-type]
    frames.setflags(write=False)
    return frames


def texture(seed: int, size: int = 192) -> np.ndarray:
    """A large still image (frame 0 of a clouds video) to pan over: ``uint8 [size, size, 3]``."""
    return video("clouds", seed, num_frames=2, resolution=size)[0]


# --- cuts that must be found ------------------------------------------------------------------------

@pytest.mark.parametrize(("kinds", "seeds"), [
    (("sprites", "sprites"), (0, 1)),
    (("clouds", "clouds"), (0, 1)),
    (("clouds", "clouds", "clouds"), (2, 3, 4)),  # same palette, different skies
    (("sprites", "clouds", "sprites"), (5, 6, 7)),
    (("pan", "sprites", "pan"), (0, 1, 2)),  # skipped while the synth kind "pan" does not exist
])
def test_concatenated_videos_give_exactly_the_cut_indices(kinds: tuple[str, ...], seeds: tuple[int, ...]) -> None:
    lengths = [16, 12, 20][: len(kinds)]
    parts = [video(k, s, n) for k, s, n in zip(kinds, seeds, lengths, strict=True)]
    expected = list(np.cumsum(lengths)[:-1])
    assert detect_cuts(np.concatenate(parts)) == expected


def test_cuts_at_the_very_start_and_end_and_a_one_frame_shot() -> None:
    a, b, c = video("sprites", 10, 12), video("sprites", 11, 12), video("clouds", 12, 12)
    assert detect_cuts(np.concatenate([b[:1], a[1:]])) == [1]
    assert detect_cuts(np.concatenate([a[:-1], b[-1:]])) == [11]
    assert detect_cuts(np.concatenate([a, b[:1], c])) == [12, 13]
    assert detect_cuts(np.stack([a[0], c[0]])) == [1]


def test_a_cut_in_heavy_noise_is_found() -> None:
    rng = np.random.default_rng(0)
    clean = np.concatenate([video("sprites", 1, 16), video("sprites", 2, 16)])
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
    assert detect_cuts(noisy) == [16]


def test_a_cut_inside_a_pan_is_found() -> None:
    a, b = texture(1), texture(2)
    frames = np.stack([np.roll(a if t < 14 else b, 2 * t, axis=1)[:96, :96] for t in range(28)])
    assert detect_cuts(frames) == [14]


# --- changes that are not cuts ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["sprites", "clouds", "pan"])
def test_one_video_has_no_cut(kind: str) -> None:
    for seed in (0, 1):
        frames = video(kind, seed, 32)
        assert detect_cuts(frames) == [], f"{kind} seed {seed}: {cut_scores(frames).round(3)}"


@pytest.mark.parametrize("kind", ["sprites", "clouds"])
def test_a_global_brightness_fade_is_not_a_cut(kind: str) -> None:
    frames = video(kind, 3, 30)
    ramp = np.linspace(1.0, 0.5, 30)[:, None, None, None]
    faded = np.round(frames * ramp).astype(np.uint8)
    assert faded[-1].mean() < 0.55 * frames[-1].mean()  # the fade is real
    assert detect_cuts(faded) == []


def test_a_fade_to_black_is_not_a_cut() -> None:
    frames = video("clouds", 4, 30)
    faded = np.round(frames * np.linspace(1.0, 0.0, 30)[:, None, None, None]).astype(np.uint8)
    assert detect_cuts(faded) == []


@pytest.mark.parametrize("step", [2, 6])
def test_a_pan_over_a_texture_is_not_a_cut(step: int) -> None:
    big = texture(5)
    rolled = np.stack([np.roll(big, step * t, axis=1)[:96, :96] for t in range(30)])  # 2 or 6 px per frame
    assert detect_cuts(rolled) == []
    diagonal = np.stack([big[t * step // 2:96 + t * step // 2, t * step:96 + t * step] for t in range(16)])
    assert detect_cuts(diagonal) == []


def test_zoom_noise_flicker_and_a_flash_are_not_cuts() -> None:
    import cv2

    rng = np.random.default_rng(1)
    big = texture(6)
    zoom = np.stack([cv2.warpAffine(big, cv2.getRotationMatrix2D((96, 96), 0, 1.02 ** t), (192, 192))[48:144, 48:144]
                     for t in range(24)])
    assert detect_cuts(zoom) == []
    frames = video("sprites", 7, 30)
    noisy = np.clip(frames + rng.normal(0, 25, frames.shape), 0, 255).astype(np.uint8)
    assert detect_cuts(noisy) == []
    flicker = np.clip(frames * rng.uniform(0.8, 1.2, (30, 1, 1, 1)), 0, 255).astype(np.uint8)
    assert detect_cuts(flicker) == []
    flash = frames.copy()
    flash[15] = np.clip(flash[15].astype(int) + 120, 0, 255)
    assert detect_cuts(flash) == []
    stray = frames.copy()
    stray[15] = video("clouds", 8, 1 + 15)[15]  # one frame of another video
    assert cut_scores(stray)[14] > DEFAULT_THRESHOLD  # a big change, but one that reverts at once
    assert detect_cuts(stray) == []


def test_non_square_frames_and_the_threshold() -> None:
    a, b = texture(7, 160), texture(8, 160)
    wide = np.stack([np.roll(a if t < 10 else b, 3 * t, axis=1)[:72, :128] for t in range(20)])
    assert detect_cuts(wide) == [10]
    assert detect_cuts(wide, threshold=1.0) == []  # nothing scores above 1
    with pytest.raises(ValueError, match="threshold"):
        detect_cuts(wide, threshold=0)
    with pytest.raises(ValueError, match="uint8"):
        detect_cuts(wide.astype(np.float32))
    assert detect_cuts(wide[:1]) == []


# --- split_shots ----------------------------------------------------------------------------------------

def test_split_shots_ranges() -> None:
    assert split_shots(10, []) == [(0, 10)]
    assert split_shots(10, [4]) == [(0, 4), (4, 10)]
    assert split_shots(10, [7, 4, 4, 0, 10, 12]) == [(0, 4), (4, 7), (7, 10)]  # sorted, repeats/outside ignored


def test_split_shots_merges_short_shots_into_a_neighbour() -> None:
    assert split_shots(20, [8, 9]) == [(0, 9), (9, 20)]  # a 1-frame shot joins the previous one
    assert split_shots(20, [1, 8]) == [(0, 8), (8, 20)]  # a first shot of 1 frame joins the next
    assert split_shots(20, [19]) == [(0, 20)]  # a last shot of 1 frame joins the previous
    assert split_shots(20, [8, 9, 10]) == [(0, 10), (10, 20)]  # consecutive short shots
    assert split_shots(20, [8, 11], min_length=4) == [(0, 11), (11, 20)]
    assert split_shots(20, [8, 9], min_length=1) == [(0, 8), (8, 9), (9, 20)]
    assert split_shots(1, []) == [(0, 1)]
    with pytest.raises(ValueError):
        split_shots(0, [])


def test_scores_are_deterministic_and_independent_of_the_other_frames() -> None:
    # Guards against OpenCV 5.0's phaseCorrelate, which windows its inputs in place when given a window.
    frames = np.concatenate([video("clouds", 9, 10), video("sprites", 9, 10)])
    scores = cut_scores(frames)
    assert scores.shape == (19,) and np.all((scores >= 0) & (scores <= 1))
    np.testing.assert_array_equal(scores, cut_scores(frames))
    for t in (3, 9, 15):
        assert cut_scores(frames[t:t + 2])[0] == pytest.approx(scores[t], abs=1e-6)
    assert scores[9] > 0.5 > 0.15 > np.delete(scores, 9).max()  # the cut, then every pair of one shot
