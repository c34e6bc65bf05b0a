"""TAP-Vid metrics on hand-made videos whose scores are counted by hand (in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gendef_core.metrics.tapvid import (
    METRIC_NAMES,
    THRESHOLDS,
    evaluation_mask,
    tapvid_metrics,
    tapvid_metrics_batch,
    tracks_to_tapvid,
)

WITHIN = [f"pts_within_{d}" for d in THRESHOLDS]
JACCARD = [f"jaccard_{d}" for d in THRESHOLDS]


def _video(n: int, t: int, query_frames: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth: N points moving right 3 px per frame, all visible; query_points (t, y, x)."""
    tracks = np.zeros((n, t, 2))
    tracks[..., 0] = 20.0 + 3.0 * np.arange(t)[None, :] + 10.0 * np.arange(n)[:, None]   # x
    tracks[..., 1] = 40.0 + 5.0 * np.arange(n)[:, None]                                   # y
    occluded = np.zeros((n, t), dtype=bool)
    q = np.array(query_frames)
    query_points = np.stack([q, tracks[np.arange(n), q, 1], tracks[np.arange(n), q, 0]], axis=-1).astype(float)
    return query_points, occluded, tracks


def _score(qp, gt_occ, gt, pred_occ, pred, mode="first", size=(256, 256)) -> dict[str, float]:
    return tapvid_metrics(qp, gt_occ, gt, pred_occ, pred, query_mode=mode, size=size)


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_a_perfect_prediction_scores_one_everywhere(mode: str) -> None:
    qp, occ, gt = _video(3, 6, [0, 2, 4])
    occ[1, 3] = occ[2, 5] = True
    m = _score(qp, occ, gt, occ.copy(), gt.copy(), mode)
    assert list(m) == list(METRIC_NAMES)
    assert all(isinstance(v, float) for v in m.values())
    assert m == dict.fromkeys(METRIC_NAMES, 1.0)


def test_a_constant_one_and_a_half_pixel_error() -> None:
    # |err|^2 = 0.9^2 + 1.2^2 = 2.25: not < 1, but < 4, 16, 64, 256.
    qp, occ, gt = _video(2, 5, [0, 1])
    m = _score(qp, occ, gt, occ.copy(), gt + np.array([0.9, 1.2]))
    assert [m[k] for k in WITHIN] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert m["average_pts_within_thresh"] == pytest.approx(0.8)
    # At d = 1 every visible prediction is too far: TP = 0, so jaccard_1 = 0; elsewhere TP = all.
    assert [m[k] for k in JACCARD] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert m["average_jaccard"] == pytest.approx(0.8)
    assert m["occlusion_accuracy"] == 1.0


def test_predicting_everything_occluded() -> None:
    # One point, T = 5, query at 0, "first": frames 1..4 scored; gt hidden at frame 3 only.
    qp, occ, gt = _video(1, 5, [0])
    occ[0, 3] = True
    m = _score(qp, occ, gt, np.ones_like(occ), gt.copy())
    assert m["occlusion_accuracy"] == pytest.approx(1 / 4)      # = fraction of gt-occluded scored frames
    assert [m[k] for k in JACCARD] == [0.0] * 5                  # no predicted-visible point: TP = 0
    assert m["average_jaccard"] == 0.0
    assert [m[k] for k in WITHIN] == [1.0] * 5                   # positions are exact: visibility is ignored


def test_one_false_positive_costs_exactly_one_in_the_jaccard_denominator() -> None:
    # Frames 1..4 scored; gt visible at 1, 2, 3 and hidden at 4.
    qp, occ, gt = _video(1, 5, [0])
    occ[0, 4] = True
    honest = _score(qp, occ, gt, occ.copy(), gt.copy())
    assert honest["average_jaccard"] == 1.0
    pred_occ = occ.copy()
    pred_occ[0, 4] = False                                       # claims the hidden point is visible
    m = _score(qp, occ, gt, pred_occ, gt.copy())
    assert [m[k] for k in JACCARD] == [pytest.approx(3 / 4)] * 5   # TP 3 / (3 gt visible + 1 FP)
    assert m["occlusion_accuracy"] == pytest.approx(3 / 4)
    assert [m[k] for k in WITHIN] == [1.0] * 5


def test_a_visible_prediction_too_far_away_is_both_a_false_negative_and_a_false_positive() -> None:
    # Frames 1..4 scored, all visible; frame 2 is off by 3 px (within 4, 8, 16 but not 1, 2).
    qp, occ, gt = _video(1, 5, [0])
    pred = gt.copy()
    pred[0, 2, 0] += 3.0
    m = _score(qp, occ, gt, occ.copy(), pred)
    assert [m[k] for k in WITHIN] == [pytest.approx(3 / 4)] * 2 + [1.0] * 3
    assert [m[k] for k in JACCARD] == [pytest.approx(3 / 5)] * 2 + [1.0] * 3   # TP 3 / (4 + 1 FP)
    assert m["average_jaccard"] == pytest.approx((3 / 5 * 2 + 3) / 5)


def test_the_evaluation_mask_of_both_modes() -> None:
    first = evaluation_mask([0, 2], 4, "first")
    strided = evaluation_mask([0, 2], 4, "strided")
    np.testing.assert_array_equal(first, [[False, True, True, True], [False, False, False, True]])
    np.testing.assert_array_equal(strided, [[False, True, True, True], [True, True, False, True]])


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_the_query_frame_itself_is_never_scored(mode: str) -> None:
    qp, occ, gt = _video(1, 4, [2])
    pred, pred_occ = gt.copy(), occ.copy()
    pred[0, 2] += 50.0                       # wrong position and wrong visibility at the query frame only
    pred_occ[0, 2] = True
    assert _score(qp, occ, gt, pred_occ, pred, mode) == dict.fromkeys(METRIC_NAMES, 1.0)


def test_frames_before_the_query_count_only_in_strided_mode() -> None:
    qp, occ, gt = _video(1, 4, [2])
    pred, pred_occ = gt.copy(), occ.copy()
    pred[0, 0] += 50.0                       # frame 0 (before the query): far off and predicted hidden
    pred_occ[0, 0] = True
    assert _score(qp, occ, gt, pred_occ, pred, "first") == dict.fromkeys(METRIC_NAMES, 1.0)
    m = _score(qp, occ, gt, pred_occ, pred, "strided")
    # Scored frames 0, 1, 3, all gt visible; frame 0 wrong. It is predicted hidden, so it is a FN, not a FP.
    assert m["occlusion_accuracy"] == pytest.approx(2 / 3)
    assert m["average_pts_within_thresh"] == pytest.approx(2 / 3)
    assert m["average_jaccard"] == pytest.approx(2 / 3)           # TP 2 / (3 + 0 FP)


def test_a_fractional_query_time_is_rounded_to_its_frame() -> None:
    qp, occ, gt = _video(1, 4, [2])
    qp[0, 0] = 1.9999
    pred = gt.copy()
    pred[0, 2] += 50.0                       # only frame 2 is wrong: it is the (rounded) query frame
    assert _score(qp, occ, gt, occ.copy(), pred, "strided")["average_jaccard"] == 1.0


def test_coordinates_are_scaled_to_256_before_thresholding() -> None:
    qp, occ, gt = _video(1, 3, [0])
    # 64 x 64 frame: 0.5 px in x is 2 px at 256, and 2^2 < 2^2 is False (strict).
    m = _score(qp, occ, gt, occ.copy(), gt + np.array([0.5, 0.0]), size=(64, 64))
    assert [m[k] for k in WITHIN] == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert m["average_pts_within_thresh"] == pytest.approx(0.6)
    # Unscaled (a 256 frame), the same error is within every threshold.
    assert _score(qp, occ, gt, occ.copy(), gt + np.array([0.5, 0.0]))["average_pts_within_thresh"] == 1.0
    # H = 128, W = 64: x is scaled by 4, y by 2. 0.5 px in y is 1 px (not within 1, within 2).
    m = _score(qp, occ, gt, occ.copy(), gt + np.array([0.0, 0.5]), size=(128, 64))
    assert [m[k] for k in WITHIN] == [0.0, 1.0, 1.0, 1.0, 1.0]
    m = _score(qp, occ, gt, occ.copy(), gt + np.array([0.5, 0.0]), size=(128, 64))
    assert [m[k] for k in WITHIN] == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_a_video_pools_its_points_and_frames() -> None:
    # Point A (query 0) has 4 scored frames, all exact; point B (query 3) has 1 scored frame, 3 px off.
    qp, occ, gt = _video(2, 5, [0, 3])
    pred = gt.copy()
    pred[1, 4, 0] += 3.0
    m = _score(qp, occ, gt, occ.copy(), pred)
    assert m["pts_within_1"] == pytest.approx(4 / 5)               # pooled 4 / 5, not the per-point mean 1/2
    assert m["jaccard_1"] == pytest.approx(4 / 6)                  # TP 4 / (5 + 1 FP)


def test_the_batch_score_is_the_mean_over_videos() -> None:
    qp, occ, gt = _video(2, 5, [0, 3])
    pred = gt.copy()
    pred[1, 4, 0] += 3.0
    qp2, occ2, gt2 = _video(1, 7, [1])                              # another size: passed as a list
    m = tapvid_metrics_batch([qp, qp2], [occ, occ2], [gt, gt2], [occ, occ2], [pred, gt2], size=(256, 256))
    assert m["pts_within_1"] == pytest.approx((4 / 5 + 1) / 2)
    assert m["jaccard_1"] == pytest.approx((4 / 6 + 1) / 2)
    assert m["pts_within_16"] == 1.0
    stacked = tapvid_metrics_batch(qp[None], occ[None], gt[None], occ[None], pred[None], size=(256, 256))
    assert stacked == _score(qp, occ, gt, occ.copy(), pred)
    with pytest.raises(ValueError, match="at least one video"):
        tapvid_metrics_batch([], [], [], [], [], size=(256, 256))


def test_no_visible_ground_truth_gives_nan_ratios() -> None:
    qp, occ, gt = _video(1, 3, [0])
    occ[:, 1:] = True
    m = _score(qp, occ, gt, occ.copy(), gt.copy())
    assert m["occlusion_accuracy"] == 1.0
    assert math.isnan(m["pts_within_4"]) and math.isnan(m["average_jaccard"])


@pytest.mark.parametrize("bad", ["query_points", "pred_occluded", "gt_tracks", "pred_tracks", "gt_occluded"])
def test_inconsistent_shapes_are_refused(bad: str) -> None:
    qp, occ, gt = _video(2, 4, [0, 1])
    args = {"query_points": qp, "gt_occluded": occ, "gt_tracks": gt, "pred_occluded": occ, "pred_tracks": gt}
    args[bad] = args[bad][..., :-1] if bad != "gt_occluded" else occ[None]
    with pytest.raises(ValueError, match="shape"):
        tapvid_metrics(**args, size=(256, 256))


def test_bad_mode_query_frame_and_size_are_refused() -> None:
    qp, occ, gt = _video(1, 4, [0])
    with pytest.raises(ValueError, match="query_mode"):
        _score(qp, occ, gt, occ, gt, mode="middle")
    late = qp.copy()
    late[0, 0] = 4
    with pytest.raises(ValueError, match="outside"):
        _score(late, occ, gt, occ, gt)
    with pytest.raises(ValueError, match="size"):
        _score(qp, occ, gt, occ, gt, size=(0, 64))


def test_tracks_to_tapvid_transposes_and_reads_the_query_position() -> None:
    # T = 3 frames, N = 2 points; point 0 queried at frame 1, point 1 at frame 2.
    tracks = np.array([[[1.0, 2.0], [10.0, 20.0]],
                       [[3.0, 4.0], [30.0, 40.0]],
                       [[5.0, 6.0], [50.0, 60.0]]], dtype=np.float32)
    visible = np.array([[True, False], [True, True], [False, True]])
    qp, occluded, tr = tracks_to_tapvid(tracks, visible, np.array([1, 2]))
    np.testing.assert_array_equal(qp, [[1, 4, 3], [2, 60, 50]])       # (t, y, x)
    np.testing.assert_array_equal(occluded, [[False, False, True], [True, False, False]])
    np.testing.assert_array_equal(tr[1], [[10, 20], [30, 40], [50, 60]])
    assert qp.dtype == tr.dtype == np.float64 and occluded.dtype == bool
    assert _score(qp, occluded, tr, occluded, tr, "strided", size=(64, 64))["average_jaccard"] == 1.0


def test_tracks_to_tapvid_refuses_bad_input() -> None:
    tracks, visible = np.zeros((3, 2, 2)), np.ones((3, 2), dtype=bool)
    with pytest.raises(ValueError, match="visible"):
        tracks_to_tapvid(tracks, visible.T, [0, 0])
    with pytest.raises(ValueError, match="query_frames"):
        tracks_to_tapvid(tracks, visible, [0, 3])
    with pytest.raises(ValueError, match="integer"):
        tracks_to_tapvid(tracks, visible, [0.5, 1.0])
    with pytest.raises(ValueError, match="tracks"):
        tracks_to_tapvid(np.zeros((3, 2)), visible, [0, 0])
