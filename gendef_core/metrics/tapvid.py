"""TAP-Vid point-tracking metrics (Doersch et al., "TAP-Vid", NeurIPS 2022 Datasets and Benchmarks).

Written from the paper's definitions; the behaviour matches google-deepmind/tapnet's
``compute_tapvid_metrics`` (``tapnet/tapvid/evaluation_datasets.py``), which is the benchmark's reference.

Layout (the TAP-Vid one): ``query_points [N, 3]`` as ``(t, y, x)``; ``occluded [N, T]`` bool, True =
hidden; ``tracks [N, T, 2]`` as ``(x, y)`` pixels. `tracks_to_tapvid` converts gendef's ``tracks.npz``
layout (``[T, N, 2]`` + ``visible [T, N]``) to it.

Definitions, for one video:

* **Scale.** Positions are given in pixels of a ``size = (H, W)`` frame and rescaled to ``scale_to``
  (256 x 256, the paper's resolution): ``x * 256 / W``, ``y * 256 / H``. The thresholds are in those
  256-scaled pixels.
* **Evaluation mask** ``E[n, t]``. The query frame ``q_n = round(query_points[n, 0])`` is never scored
  (the tracker was given the answer there). ``query_mode="first"`` (queries are each track's first
  visible frame, so the point is known to be occluded before it): only frames ``t > q_n``.
  ``query_mode="strided"``: every frame ``t != q_n``, before and after.
* **Occlusion accuracy** = #{E and pred_occluded == gt_occluded} / #E.
* **Within threshold** ``W_d[n, t]``: ``|pred - gt|^2 < d^2`` (strict), d in 1, 2, 4, 8, 16.
  ``pts_within_d`` = #{E and gt visible and W_d} / #{E and gt visible}: position accuracy on the
  ground-truth-visible points, whatever the predicted visibility.
* **Jaccard** ``jaccard_d = TP / (TP + FN + FP)`` over E, with
  TP = gt visible and pred visible and W_d;
  FN = gt visible and (pred occluded or not W_d);
  FP = pred visible and (gt occluded or not W_d).
  TP + FN is the number of gt-visible points, so ``jaccard_d = TP / (#gt visible + FP)``. A visible
  prediction that is too far away counts twice against the score: as a FN and as a FP.
* ``average_jaccard`` and ``average_pts_within_thresh`` are the plain means over the five thresholds.

**Averaging.** As in tapnet, each count is pooled over all (point, frame) pairs of a video, so a
video's score is a ratio of counts, not a mean of per-point ratios; points with more evaluated frames
weigh more. A benchmark score is the plain mean over videos of the per-video scores
(`tapvid_metrics_batch`), so every video weighs the same whatever its number of points or frames.
A ratio whose denominator is zero (e.g. no gt-visible point in E) is NaN, as in tapnet, and a NaN
video makes the batch mean NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

THRESHOLDS = (1, 2, 4, 8, 16)   # 256-scaled pixels
QueryMode = Literal["first", "strided"]

METRIC_NAMES = (
    "occlusion_accuracy",
    *(f"pts_within_{d}" for d in THRESHOLDS),
    *(f"jaccard_{d}" for d in THRESHOLDS),
    "average_jaccard",
    "average_pts_within_thresh",
)


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _query_frames(query_points: np.ndarray, num_frames: int) -> np.ndarray:
    t = np.rint(query_points[:, 0]).astype(np.int64)
    bad = (t < 0) | (t >= num_frames)
    if bad.any():
        raise ValueError(f"query frame {query_points[bad.argmax(), 0]} is outside [0, {num_frames - 1}]")
    return t


def evaluation_mask(query_frames: ArrayLike, num_frames: int, query_mode: QueryMode) -> np.ndarray:
    """bool ``[N, T]``: the (point, frame) pairs that are scored (see the module docstring).

    ``query_frames [N]`` integer frame indices in ``[0, num_frames)``.
    """
    q = np.asarray(query_frames, dtype=np.int64)[:, None]   # [N, 1]
    t = np.arange(num_frames)[None, :]                       # [1, T]
    match query_mode:
        case "first":
            return t > q
        case "strided":
            return t != q
        case _:
            raise ValueError(f"query_mode must be 'first' or 'strided', got {query_mode!r}")


def _check_size(name: str, hw: Sequence[float]) -> tuple[float, float]:
    if len(hw) != 2 or not all(v > 0 for v in hw):
        raise ValueError(f"{name} must be (H, W) with positive values, got {hw!r}")
    return float(hw[0]), float(hw[1])


def tapvid_metrics(query_points: ArrayLike, gt_occluded: ArrayLike, gt_tracks: ArrayLike, pred_occluded: ArrayLike,
                   pred_tracks: ArrayLike, *, query_mode: QueryMode = "first", size: tuple[int, int],
                   scale_to: tuple[int, int] = (256, 256)) -> dict[str, float]:
    """TAP-Vid metrics of one video (definitions in the module docstring).

    query_points ``[N, 3]`` (t, y, x); gt_occluded, pred_occluded bool ``[N, T]`` (True = hidden);
    gt_tracks, pred_tracks ``[N, T, 2]`` (x, y) pixels of a ``size = (H, W)`` frame, rescaled to
    ``scale_to = (H', W')`` before thresholding. Returns the keys of `METRIC_NAMES`, as floats in [0, 1]
    (the paper prints them x100). Raises ValueError on inconsistent shapes, an unknown query_mode or a
    query frame outside the video.
    """
    qp = np.asarray(query_points, dtype=np.float64)
    gt_occ = np.asarray(gt_occluded).astype(bool)
    pred_occ = np.asarray(pred_occluded).astype(bool)
    gt = np.asarray(gt_tracks, dtype=np.float64)
    pred = np.asarray(pred_tracks, dtype=np.float64)
    if gt_occ.ndim != 2:
        raise ValueError(f"gt_occluded must be [N, T], got shape {gt_occ.shape}")
    n, t = gt_occ.shape
    expected = {"query_points": (qp, (n, 3)), "pred_occluded": (pred_occ, (n, t)),
                "gt_tracks": (gt, (n, t, 2)), "pred_tracks": (pred, (n, t, 2))}
    for name, (arr, shape) in expected.items():
        if arr.shape != shape:
            raise ValueError(f"{name} has shape {arr.shape}; expected {shape} from gt_occluded [N={n}, T={t}]")
    h, w = _check_size("size", size)
    h2, w2 = _check_size("scale_to", scale_to)

    scale = np.array([w2 / w, h2 / h])                       # (x, y)
    evaluated = evaluation_mask(_query_frames(qp, t), t, query_mode)
    # Scale the positions, then subtract (tapnet scales the tracks when reading the dataset): [N, T] scaled px^2
    sq_dist = np.sum(np.square(pred * scale - gt * scale), axis=-1)
    gt_vis, pred_vis = ~gt_occ, ~pred_occ

    metrics = {"occlusion_accuracy": _ratio(int(np.sum((gt_occ == pred_occ) & evaluated)), int(evaluated.sum()))}
    n_gt_vis = int(np.sum(gt_vis & evaluated))
    within_frac, jaccards = [], []
    for d in THRESHOLDS:
        within = sq_dist < d * d
        correct = int(np.sum(within & gt_vis & evaluated))
        tp = int(np.sum(within & gt_vis & pred_vis & evaluated))
        fp = int(np.sum(pred_vis & (gt_occ | ~within) & evaluated))
        metrics[f"pts_within_{d}"] = _ratio(correct, n_gt_vis)
        metrics[f"jaccard_{d}"] = _ratio(tp, n_gt_vis + fp)   # TP + FN = n_gt_vis
        within_frac.append(metrics[f"pts_within_{d}"])
        jaccards.append(metrics[f"jaccard_{d}"])
    metrics["average_jaccard"] = float(np.mean(jaccards))
    metrics["average_pts_within_thresh"] = float(np.mean(within_frac))
    return {k: metrics[k] for k in METRIC_NAMES}


def tapvid_metrics_batch(query_points: Iterable[ArrayLike], gt_occluded: Iterable[ArrayLike],
                         gt_tracks: Iterable[ArrayLike], pred_occluded: Iterable[ArrayLike],
                         pred_tracks: Iterable[ArrayLike], *, query_mode: QueryMode = "first",
                         size: tuple[int, int], scale_to: tuple[int, int] = (256, 256)) -> dict[str, float]:
    """Benchmark score of B videos: the plain mean over videos of `tapvid_metrics` (tapnet's convention).

    Each argument is either an array with a leading video axis (``[B, N, 3]``, ``[B, N, T]``, ...) or a
    sequence of B per-video arrays, which may differ in N and T. All videos share ``size``.
    """
    videos = list(zip(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks, strict=True))
    if not videos:
        raise ValueError("tapvid_metrics_batch needs at least one video")
    per_video = [tapvid_metrics(*v, query_mode=query_mode, size=size, scale_to=scale_to) for v in videos]
    return {k: float(np.mean([m[k] for m in per_video])) for k in METRIC_NAMES}


def tracks_to_tapvid(tracks: ArrayLike, visible: ArrayLike,
                     query_frames: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gendef's track layout -> TAP-Vid's.

    tracks ``[T, N, 2]`` (x, y) pixels, visible bool ``[T, N]``, query_frames ``[N]`` integer frame of each
    point's query. Returns ``query_points [N, 3]`` float64 (t, y, x) with (y, x) read from the track at
    its query frame, ``occluded [N, T]`` bool (= not visible) and ``tracks [N, T, 2]`` float64 (x, y),
    in the same pixel units as the input (`tapvid_metrics` does the 256 scaling).
    """
    tr = np.asarray(tracks, dtype=np.float64)
    vis = np.asarray(visible).astype(bool)
    q = np.asarray(query_frames)
    if tr.ndim != 3 or tr.shape[2] != 2:
        raise ValueError(f"tracks must be [T, N, 2], got shape {tr.shape}")
    t, n, _ = tr.shape
    if vis.shape != (t, n):
        raise ValueError(f"visible has shape {vis.shape}; expected {(t, n)} from tracks [T={t}, N={n}, 2]")
    if q.shape != (n,):
        raise ValueError(f"query_frames has shape {q.shape}; expected ({n},)")
    if not np.issubdtype(q.dtype, np.integer):
        if not np.all(q == np.round(q)):
            raise ValueError("query_frames must be integer frame indices")
        q = q.astype(np.int64)
    if np.any((q < 0) | (q >= t)):
        raise ValueError(f"query_frames must lie in [0, {t - 1}], got min {q.min()}, max {q.max()}")
    tracks_nt = tr.transpose(1, 0, 2)                        # [N, T, 2]
    at_query = tracks_nt[np.arange(n), q]                    # [N, 2] (x, y)
    query_points = np.stack([q.astype(np.float64), at_query[:, 1], at_query[:, 0]], axis=-1)
    return query_points, ~vis.T, np.ascontiguousarray(tracks_nt)
