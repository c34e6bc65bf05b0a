"""The Fréchet distance against closed forms and against the sqrtm formula."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from gendef_core.metrics.frechet import feature_stats, frechet_distance


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_diagonal_gaussians_match_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    d = 64
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    a, b = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-6)


def test_scaled_covariances_match_the_closed_form() -> None:
    """S2 = c^2 S1 commutes with S1: FD = |dmu|^2 + (1 - c)^2 Tr(S1)."""
    rng = np.random.default_rng(1)
    s1 = _spd(rng, 100)
    mu1, mu2 = rng.standard_normal(100), rng.standard_normal(100)
    c = 1.7
    expected = np.sum((mu1 - mu2) ** 2) + (1 - c) ** 2 * np.trace(s1)
    assert frechet_distance(mu1, s1, mu2, c * c * s1) == pytest.approx(expected, rel=1e-6)


def test_general_gaussians_match_the_sqrtm_form() -> None:
    rng = np.random.default_rng(2)
    d = 400
    s1, s2 = _spd(rng, d), _spd(rng, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_identical_statistics_are_at_distance_zero_and_the_distance_is_symmetric() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((500, 32)), rng.standard_normal((500, 32)) * 1.3 + 0.2
    mx, sx = feature_stats(x)
    my, sy = feature_stats(y)
    assert abs(frechet_distance(mx, sx, mx, sx)) < 1e-9
    assert frechet_distance(mx, sx, my, sy) == pytest.approx(frechet_distance(my, sy, mx, sx), rel=1e-9)


def test_feature_stats_use_the_population_covariance() -> None:
    x = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mu, sigma = feature_stats(x)
    np.testing.assert_allclose(mu, [2.0, 2.0])
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False, bias=True))


def test_singular_covariances_fall_back_to_eps_and_stay_finite() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((10, 50)), rng.standard_normal((10, 50))  # N < D: rank-deficient
    mx, sx = feature_stats(x)
    my, sy = feature_stats(y)
    fd = frechet_distance(mx, sx, my, sy)
    assert np.isfinite(fd) and fd > 0


def test_mismatched_statistics_are_refused() -> None:
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
