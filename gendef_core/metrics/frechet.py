"""The Fréchet distance between Gaussians fitted to features (FVD, FID), in float64.

    FD = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

Statistics follow StyleGAN-V (`feature_stats`: mean and the population covariance, 1/N). The trace of
the matrix square root is computed from eigenvalues, ``Tr((S_1 S_2)^(1/2)) = sum_i sqrt(lambda_i(S_1 S_2))``
(S_1 S_2 is similar to a PSD matrix, so its eigenvalues are real and >= 0 up to round-off), which equals
the `scipy.linalg.sqrtm` form and is several times faster at d = 2048. When the eigenvalues are not
finite (singular covariances, e.g. fewer samples than dimensions), `eps` is added to both diagonals and
the computation is repeated, as pytorch-fid does.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[N, D]`` features -> (mean ``[D]``, population covariance ``[D, D]``), float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"features must be [N, D] with N >= 1, got {x.shape}")
    mu = x.mean(axis=0)
    centred = x - mu
    return mu, centred.T @ centred / x.shape[0]


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    ev = scipy.linalg.eigvals(s1 @ s2)
    if not np.all(np.isfinite(ev)):
        return float("nan")
    return float(np.sqrt(ev.astype(np.complex128)).real.sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, *,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (see the module docstring)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: {mu1.shape}, {s1.shape} vs {mu2.shape}, {s2.shape}")
    tr = _trace_sqrt_product(s1, s2)
    if not np.isfinite(tr):
        offset = np.eye(s1.shape[0]) * eps
        tr = _trace_sqrt_product(s1 + offset, s2 + offset)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr)
