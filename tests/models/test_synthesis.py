"""MappingNetwork and SynthesisNetwork on tiny configs."""

from __future__ import annotations

import pytest
import torch

from gendef_core.models.layers import EqualLinear
from gendef_core.models.mapping import MappingNetwork, normalize_2nd_moment
from gendef_core.models.synthesis import SynthesisNetwork, channels_for

CHANNELS = {4: 8, 8: 8, 16: 6, 32: 4}


def _net(seed: int = 0, **kwargs: object) -> SynthesisNetwork:
    torch.manual_seed(seed)
    return SynthesisNetwork(w_dim=8, resolution=32, channels=CHANNELS, **kwargs)  # type: ignore[arg-type]


# --- mapping -------------------------------------------------------------------------------------------


def test_mapping_normalises_z_and_uses_slow_lrelu_layers() -> None:
    torch.manual_seed(0)
    mapping = MappingNetwork(6, 8, num_layers=3)
    assert len(mapping.layers) == 3
    assert all(isinstance(m, EqualLinear) and m.lr_mult == 0.01 and m.activation == "lrelu" for m in mapping.layers)
    z = torch.randn(4, 6)
    torch.testing.assert_close(normalize_2nd_moment(z).square().mean(1), torch.ones(4))
    torch.testing.assert_close(mapping(z * 5.0), mapping(z))  # only z's direction matters
    x = normalize_2nd_moment(z)
    for layer in mapping.layers:
        x = layer(x)
    torch.testing.assert_close(mapping(z), x)


def test_w_avg_updates_only_when_asked() -> None:
    torch.manual_seed(0)
    mapping = MappingNetwork(6, 8, w_avg_beta=0.9)
    assert "w_avg" in mapping.state_dict()
    z = torch.randn(16, 6)
    mapping(z)
    mapping.eval()
    mapping(z, truncation_psi=0.5)
    assert torch.equal(mapping.w_avg, torch.zeros(8))
    mapping.train()
    w = mapping(z, update_w_avg=True)
    torch.testing.assert_close(mapping.w_avg, 0.1 * w.mean(0))  # lerp from 0 with beta 0.9
    w2 = mapping(z, update_w_avg=True)
    torch.testing.assert_close(mapping.w_avg, 0.9 * 0.1 * w.mean(0) + 0.1 * w2.mean(0))
    assert not mapping.w_avg.requires_grad


def test_truncation_lerps_toward_w_avg() -> None:
    torch.manual_seed(0)
    mapping = MappingNetwork(6, 8)
    with torch.no_grad():
        mapping.w_avg.normal_()
    z = torch.randn(5, 6)
    w = mapping(z)
    assert torch.equal(mapping(z, truncation_psi=0.0), mapping.w_avg.expand(5, -1))
    torch.testing.assert_close(mapping(z, truncation_psi=0.7), mapping.w_avg + 0.7 * (w - mapping.w_avg))
    with pytest.raises(ValueError, match="z"):
        mapping(torch.randn(5, 7))


# --- synthesis -----------------------------------------------------------------------------------------


def test_channels_for() -> None:
    assert channels_for(32, 512, 64) == {4: 64, 8: 64, 16: 32, 32: 16}
    assert channels_for(8, 16384, 512) == {4: 512, 8: 512}


@pytest.mark.parametrize("resolution", [4, 12, 2048, 0])
def test_rejects_bad_resolution(resolution: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        SynthesisNetwork(w_dim=8, resolution=resolution, channels=dict.fromkeys([4, 8, 16], 4))


def test_rejects_missing_channels_and_bad_mtm() -> None:
    with pytest.raises(ValueError, match=r"\[16\]"):
        SynthesisNetwork(w_dim=8, resolution=16, channels={4: 4, 8: 4})
    with pytest.raises(ValueError, match="mtm_resolutions"):
        SynthesisNetwork(w_dim=8, resolution=16, channels=dict.fromkeys([4, 8, 16], 4), mtm_resolutions=(32,))


def test_layer_shapes_match_features_for_every_index() -> None:
    net = _net()
    assert net.num_layers == 7
    shapes = net.layer_shapes()
    assert shapes == [(8, 4), (8, 8), (8, 8), (6, 16), (6, 16), (4, 32), (4, 32), (3, 32)]
    w = torch.randn(2, 8)
    img, none = net(w)
    assert none is None and img.shape == (2, 3, 32, 32)
    for idx, (c, r) in enumerate(shapes):
        out, feat = net(w, return_feature=idx)
        assert feat is not None and feat.shape == (2, c, r, r)
        torch.testing.assert_close(out, img, rtol=0, atol=0)
    assert torch.equal(net(w, return_feature=net.num_layers)[1], img)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="return_feature"):
        net(w, return_feature=8)


def test_penultimate_feature_is_last_conv_and_feeds_last_torgb() -> None:
    net = _net()
    w = torch.randn(2, 8)
    img, feat = net(w, return_feature=net.num_layers - 1)
    assert feat is not None and feat.shape == (2, 4, 32, 32)
    block = net.blocks[-1]
    # The image is the upsampled 16 px image plus ToRGB of the last conv's output.
    small = SynthesisNetwork(w_dim=8, resolution=16, channels=CHANNELS)
    small.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("blocks.2.")})
    img_small, _ = small(w)
    up = torch.nn.functional.interpolate(img_small, scale_factor=2.0, mode="bilinear", align_corners=False)
    torch.testing.assert_close(img, up + block.torgb(feat, w), rtol=1e-5, atol=1e-5)


def test_seeded_determinism() -> None:
    a, b, c = _net(seed=1), _net(seed=1), _net(seed=2)
    w = torch.randn(2, 8)
    assert torch.equal(a(w)[0], b(w)[0])
    assert not torch.allclose(a(w)[0], c(w)[0])


def test_input_extra_is_concatenated_to_the_constant() -> None:
    net = _net(input_extra_channels=5)
    assert net.conv4.weight.shape[1] == 8 + 5
    w, extra = torch.randn(2, 8), torch.randn(2, 5)
    img, feat0 = net(w, input_extra=extra, return_feature=0)
    img2, feat0b = net(w, input_extra=extra + 1.0, return_feature=0)
    assert feat0 is not None and feat0b is not None
    assert (img - img2).abs().max() > 1e-3 and (feat0 - feat0b).abs().max() > 1e-3
    with pytest.raises(ValueError, match="input_extra"):
        net(w)
    with pytest.raises(ValueError, match="input_extra"):
        _net()(w, input_extra=extra)


def test_gradients_reach_const_first_layer_and_w() -> None:
    net = _net(input_extra_channels=3)
    w = torch.randn(2, 8, requires_grad=True)
    extra = torch.randn(2, 3, requires_grad=True)
    img, _ = net(w, input_extra=extra)
    (img * torch.randn_like(img)).sum().backward()
    for grad in (net.const.grad, net.conv4.weight.grad, net.conv4.affine.weight.grad, w.grad, extra.grad):
        assert grad is not None and grad.abs().sum() > 0


def test_mtm_resolutions_select_non_upsampling_layers_and_start_as_identity() -> None:
    net = _net(mtm_resolutions=(4, 16))
    assert net.conv4.mtm
    assert [(b.conv0.mtm, b.conv1.mtm) for b in net.blocks] == [(False, False), (False, True), (False, False)]
    plain = _net()
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if ".dcn_" not in k})
    w = torch.randn(2, 8)
    torch.testing.assert_close(net(w)[0], plain(w)[0], rtol=0, atol=1e-5)
