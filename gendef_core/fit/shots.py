"""Scene-cut detection for `gendef fit`: one canonical image per shot, so cuts split the footage.

Pure functions on ``uint8 [T, H, W, 3]`` RGB frames (numpy/OpenCV, no I/O, deterministic).

Each pair of frames gets a change score in [0, 1], two thirds structure and one third colour,
both computed on a 64 x 64 copy of each frame (`_WORK`):

* **structure:** ``1 - NCC`` of the band-passed grey images (difference of Gaussians: fine
  texture is noise, and the coarse layout, such as a sky's gradient, is shared by different
  scenes) after undoing the global translation found by phase correlation (or none, when that
  matches better), over their overlap. A pan costs nothing, nor does a brightness change (NCC
  ignores gain and offset); the cue fades out on near-flat frames (fades to black), whose
  correlation is only noise.
* **colour:** total-variation distance of hue-saturation histograms: each pixel is the point
  ``S (cos H, sin H)`` of the HSV colour disc, with bilinear votes into a 9 x 9 grid. Brightness
  does not enter, grey pixels' random hue does not count, and colours drifting across bin edges
  (white balance) move mass gradually.

A pair is a cut when its score is large in absolute terms (`threshold`) *and* an outlier against
the scores of the pairs around it (at least ``RATIO x`` their median plus `MARGIN`), so fast
motion, noise or shake, which raise every score of a stretch, are not cuts. A change that reverts
at once (a flash, one stray frame) is not a cut either: the frames on both sides of the odd one
are compared. Hard cuts between different scenes score 0.5-0.95; frames of one shot mostly below
0.15 (pans, zooms, noise, fades, flicker). Gradual transitions (fades, dissolves) are not cuts
by design; a large object rushing past the camera in one frame may be.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

DEFAULT_THRESHOLD = 0.3  # minimum score of a cut; consecutive frames of one shot mostly score below 0.15
RATIO = 3.0  # a cut scores at least RATIO x the median score of the neighbouring pairs ...
MARGIN = 0.1  # ... plus MARGIN
WINDOW = 8  # neighbouring pairs on each side for that median
_WORK = 64  # side of the working copy of each frame, in pixels
_CHROMA_BINS = 9  # per axis of the hue-saturation disc; odd, so greys fall in the centre bin
_BAND = (1.0, 4.0)  # Gaussian sigmas (working pixels) of the band-pass
_FLAT_STD = 2.0  # band-pass std (grey levels) below which the structure cue fades out: flat or dark frames


@dataclass(frozen=True)
class _Features:
    """Per-frame cues of T frames, at `_WORK` x `_WORK` pixels."""

    band: np.ndarray  # [T, W, W] float32 band-pass grey image (grey levels, ~zero mean)
    std: np.ndarray  # [T] float32 std of each band-pass image
    hist: np.ndarray  # [T, bins] float32 hue-saturation histogram, each summing to 1


def detect_cuts(frames: np.ndarray, *, threshold: float | None = None) -> list[int]:
    """Indices ``t >= 1`` at which a new shot begins (``frames[t]`` is its first frame); [] = one shot.

    Args:
        frames: ``uint8 [T, H, W, 3]`` RGB, any size (worked on at 64 x 64).
        threshold: minimum change score of a cut, in (0, 1]; default `DEFAULT_THRESHOLD`. Lower finds
            subtler cuts (and more false ones); the outlier test against neighbouring pairs always applies.

    About 0.5 ms per frame at 128 x 128 on one CPU core (the frames are first shrunk to 64 x 64).
    """
    frames = _checked(frames)
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if len(frames) < 2:
        return []
    feats = _features(frames)
    scores = _pair_scores(feats)
    cuts = []
    for t in _outliers(scores, threshold):
        # A change that reverts at once (a flash, one stray frame) starts no shot: the frames on
        # either side of the odd frame still match far better than the odd frame matches them.
        if t >= 2 and _score(feats, t - 2, t) < 0.5 * scores[t - 1]:
            continue  # frame t - 1 was the odd one
        if t + 1 < len(frames) and _score(feats, t - 1, t + 1) < 0.5 * scores[t - 1]:
            continue  # frame t is the odd one
        cuts.append(t)
    return cuts


def cut_scores(frames: np.ndarray) -> np.ndarray:
    """``[T - 1]`` float64 change scores in [0, 1] of consecutive frames: entry ``t - 1`` is the pair (t - 1, t).

    `frames` is ``uint8 [T, H, W, 3]`` RGB. The raw material of `detect_cuts`, for inspection and tuning.
    """
    return _pair_scores(_features(_checked(frames)))


def _pair_scores(feats: _Features) -> np.ndarray:
    return np.array([_score(feats, t - 1, t) for t in range(1, len(feats.band))], np.float64)


def _checked(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    return frames


def split_shots(num_frames: int, cuts: list[int], *, min_length: int = 2) -> list[tuple[int, int]]:
    """``[start, end)`` frame ranges of the shots that `cuts` delimit, covering ``range(num_frames)``.

    A shot shorter than `min_length` frames is merged into a neighbour: into the previous shot,
    or into the next one when it is the first shot. If the whole video is shorter than
    `min_length`, it stays one shot. Cuts outside ``1..num_frames - 1`` and repeats are ignored.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if min_length < 1:
        raise ValueError(f"min_length must be at least 1, got {min_length}")
    bounds = [0, *sorted({c for c in cuts if 0 < c < num_frames}), num_frames]
    merged: list[tuple[int, int]] = []
    for a, b in pairwise(bounds):
        if merged and (b - a < min_length or merged[-1][1] - merged[-1][0] < min_length):
            merged[-1] = (merged[-1][0], b)  # too short (or the previous one is): join them
        else:
            merged.append((a, b))
    return merged


def _features(frames: np.ndarray) -> _Features:
    import cv2

    t = len(frames)
    band = np.empty((t, _WORK, _WORK), np.float32)
    hist = np.empty((t, _CHROMA_BINS ** 2), np.float32)
    for i, frame in enumerate(frames):
        small = cv2.resize(frame, (_WORK, _WORK), interpolation=cv2.INTER_AREA)  # [W, W, 3] uint8
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        # Band-pass: fine texture is noise, the coarse layout (a sky's gradient) is shared by
        # different scenes; the band in between tells scenes apart.
        band[i] = cv2.GaussianBlur(grey, (0, 0), _BAND[0]) - cv2.GaussianBlur(grey, (0, 0), _BAND[1])
        hist[i] = _chroma_histogram(cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL))
    return _Features(band, band.reshape(t, -1).std(axis=1), hist)


def _chroma_histogram(hsv: np.ndarray) -> np.ndarray:
    """``[_CHROMA_BINS ** 2]`` float32 histogram (sum 1) of ``uint8 [h, w, 3]`` HSV (H over 0-255) pixels.

    Each pixel is the point ``S * (cos H, sin H)`` of the hue-saturation disc: hue counts in
    proportion to saturation, so the random hue of grey pixels does not, and brightness does not
    enter. Votes are bilinear over a grid on [-1, 1]^2, so a colour drifting across a bin edge
    moves mass gradually (hard bins made white-balance drifts look like cuts).
    """
    angle = hsv[..., 0].ravel().astype(np.float32) * np.float32(2 * np.pi / 256)
    radius = hsv[..., 1].ravel().astype(np.float32) / np.float32(255)
    g = _CHROMA_BINS
    # Grid coordinates in [0, g - 1]: bin centres at -1, ..., 1.
    x = (radius * np.cos(angle) + 1) * np.float32((g - 1) / 2)
    y = (radius * np.sin(angle) + 1) * np.float32((g - 1) / 2)
    x0 = np.minimum(x.astype(np.int64), g - 2)
    y0 = np.minimum(y.astype(np.int64), g - 2)
    fx, fy = x - x0, y - y0
    idx = y0 * g + x0
    hist = (np.bincount(idx, (1 - fx) * (1 - fy), g * g) + np.bincount(idx + 1, fx * (1 - fy), g * g)
            + np.bincount(idx + g, (1 - fx) * fy, g * g) + np.bincount(idx + g + 1, fx * fy, g * g))
    return (hist / len(angle)).astype(np.float32)


def _score(f: _Features, i: int, j: int) -> float:
    """Change score in [0, 1] between frames i and j: structure and colour cues, weighted 2:1."""
    colour = 0.5 * float(np.abs(f.hist[i] - f.hist[j]).sum())
    structure = _structure(f.band[i], f.band[j]) * min(1.0, float(min(f.std[i], f.std[j])) / _FLAT_STD)
    return (2 * structure + colour) / 3


_HANNING: dict[int, np.ndarray] = {}


def _structure(a: np.ndarray, b: np.ndarray) -> float:
    """``1 - NCC`` (clipped to [0, 1]) of images ``a``, ``b`` ``[W, W]`` after undoing their global translation.

    The translation is the phase-correlation peak, or none if that matches better: with a still
    background and a large moving object, the peak may follow the object.
    """
    import cv2

    n = a.shape[0]
    win = _HANNING.get(n)
    if win is None:
        win = _HANNING.setdefault(n, cv2.createHanningWindow((n, n), cv2.CV_32F))
    # Windowed copies: OpenCV 5.0's phaseCorrelate multiplies its inputs by the window in place.
    (dx, dy), _ = cv2.phaseCorrelate(a * win, b * win)  # b(x) ~ a(x - (dx, dy))
    sx, sy = round(dx), round(dy)
    ncc = _ncc(a, b, 0, 0)
    if (sx or sy) and abs(sx) <= n // 4 and abs(sy) <= n // 4:  # a pan moves less than a quarter frame
        ncc = max(ncc, _ncc(a, b, sx, sy))
    return float(np.clip(1.0 - ncc, 0.0, 1.0))


def _ncc(a: np.ndarray, b: np.ndarray, sx: int, sy: int) -> float:
    """Normalised cross-correlation of ``a`` and ``b`` shifted back by (sx, sy) pixels, over their overlap."""
    n = a.shape[0]
    pa = a[max(0, -sy):n - max(0, sy), max(0, -sx):n - max(0, sx)]
    pb = b[max(0, sy):n - max(0, -sy), max(0, sx):n - max(0, -sx)]
    pa = pa - pa.mean()
    pb = pb - pb.mean()
    den = float(np.sqrt((pa * pa).sum() * (pb * pb).sum()))
    return float((pa * pb).sum()) / den if den > 0 else 1.0


def _outliers(scores: np.ndarray, threshold: float) -> list[int]:
    """Pair indices t (cut before frame t) whose score passes the absolute and the local-outlier test."""
    out = []
    for k, s in enumerate(scores):
        if s < threshold:
            continue
        lo, hi = max(0, k - WINDOW), min(len(scores), k + WINDOW + 1)
        neighbours = np.concatenate([scores[lo:k], scores[k + 1:hi]])
        # Other cuts nearby must not raise the baseline: the median ignores a few of them.
        base = float(np.median(neighbours)) if len(neighbours) else 0.0
        if s >= RATIO * base + MARGIN:
            out.append(k + 1)
    return out
