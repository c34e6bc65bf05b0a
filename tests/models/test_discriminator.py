"""The video discriminator: mean fusion, temporal shift, time conditioning, K = 1 -> K = 3 reuse."""

from __future__ import annotations

import math

import pytest
import torch

from gendef_core.models.discriminator import Discriminator, temporal_shift

CHANNELS = {32: 8, 16: 16, 8: 16, 4: 16}


def _d(seed: int = 0, **kw: object) -> Discriminator:
    torch.manual_seed(seed)
    args: dict[str, object] = {"resolution": 32, "channels": CHANNELS, "fuse_resolution": 16, "cmap_dim": 16}
    return Discriminator(**{**args, **kw})  # type: ignore[arg-type]


def _frames(b: int, k: int, seed: int = 1, res: int = 32) -> torch.Tensor:
    return torch.rand(b, k, 3, res, res, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("shift", [False, True])
def test_outputs_finite(k: int, shift: bool) -> None:
    d = _d(temporal_shift=shift)
    times = torch.tensor([[0.0, 3.0, 8.0]] * 4)[:, :k]
    out = d(_frames(4, k), times)
    assert out.shape == (4,) and torch.isfinite(out).all()
    assert out.std() > 0                               # different clips, different logits


@pytest.mark.parametrize("fuse", [32, 16, 8, 4])
def test_mean_fusion_k3_identical_frames_equals_k1(fuse: int) -> None:
    d = _d(fuse_resolution=fuse, time_conditioning=False)
    one = _frames(4, 1)
    with torch.no_grad():
        torch.testing.assert_close(d(one.repeat(1, 3, 1, 1, 1)), d(one), rtol=1e-5, atol=1e-5)
    d_tc = _d(fuse_resolution=fuse)                   # time-conditioned D without times: same logit
    with torch.no_grad():
        torch.testing.assert_close(d_tc(one.repeat(1, 3, 1, 1, 1)), d_tc(one), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shift", [False, True])
def test_k1_state_dict_loads_into_time_conditioned_d(shift: bool) -> None:
    image_d = _d(seed=0, time_conditioning=False)
    video_d = _d(seed=1, time_conditioning=True, temporal_shift=shift)
    result = video_d.load_state_dict(image_d.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(k.startswith("time_cond.") for k in result.missing_keys)
    assert set(result.missing_keys) == {k for k in video_d.state_dict() if k.startswith("time_cond.")}
    one = _frames(2, 1)
    if not shift:                                      # the shared part is now identical
        with torch.no_grad():
            torch.testing.assert_close(video_d(one), image_d(one))
            torch.testing.assert_close(video_d(one.repeat(1, 3, 1, 1, 1)), image_d(one), rtol=1e-5, atol=1e-5)


def test_time_differences_change_output() -> None:
    d = _d()
    frames = _frames(3, 3)
    with torch.no_grad():
        a = d(frames, torch.tensor([[0.0, 1.0, 2.0]] * 3))
        b = d(frames, torch.tensor([[0.0, 8.0, 16.0]] * 3))
        c = d(frames, torch.tensor([[10.0, 18.0, 26.0]] * 3))  # same differences, other offset
        uncond = d(frames)
    assert (a - b).abs().min() > 1e-4
    torch.testing.assert_close(b, c)                   # only differences matter
    assert (a - uncond).abs().min() > 1e-6


def test_time_conditioning_off_ignores_times() -> None:
    d = _d(time_conditioning=False)
    frames = _frames(2, 3)
    with torch.no_grad():
        assert torch.equal(d(frames, torch.tensor([[0.0, 1.0, 2.0]] * 2)),
                           d(frames, torch.tensor([[0.0, 9.0, 30.0]] * 2)))


def test_time_conditioning_errors() -> None:
    d = _d()
    with pytest.raises(ValueError, match="sorted"):
        d(_frames(2, 3), torch.tensor([[0.0, 5.0, 2.0]] * 2))
    with pytest.raises(ValueError, match="conditions on 3"):
        d(_frames(2, 2), torch.tensor([[0.0, 5.0]] * 2))
    with pytest.raises(ValueError, match="times must be"):
        d(_frames(2, 3), torch.tensor([[0.0, 5.0]] * 2))
    with pytest.raises(ValueError, match="frames must be"):
        d(_frames(2, 3, res=16))
    d(_frames(2, 3), torch.tensor([[0.0, 2000.0, 2001.5]] * 2))   # beyond the embedding: clamped


def test_temporal_shift_changes_k3_output() -> None:
    plain, shifted = _d(temporal_shift=False), _d(temporal_shift=True)
    shifted.load_state_dict(plain.state_dict())
    frames, times = _frames(2, 3), torch.tensor([[0.0, 2.0, 4.0]] * 2)
    with torch.no_grad():
        assert (plain(frames, times) - shifted(frames, times)).abs().min() > 1e-6


def test_temporal_shift_function() -> None:
    b, k, c = 2, 3, 16                                 # fold = 2
    x = torch.arange(b * k * c, dtype=torch.float32).reshape(b, k, c, 1, 1) + 1
    out = temporal_shift(x.reshape(b * k, c, 1, 1), k).reshape(b, k, c, 1, 1)
    # channels 0..1 come from the next frame, zeros after the last
    torch.testing.assert_close(out[:, :-1, :2], x[:, 1:, :2])
    assert torch.equal(out[:, -1, :2], torch.zeros(b, 2, 1, 1))
    # channels 2..3 come from the previous frame, zeros before the first
    torch.testing.assert_close(out[:, 1:, 2:4], x[:, :-1, 2:4])
    assert torch.equal(out[:, 0, 2:4], torch.zeros(b, 2, 1, 1))
    # the remaining 12 channels are untouched, and videos never mix
    assert torch.equal(out[:, :, 4:], x[:, :, 4:])
    assert out[0].max() <= x[0].max()
    with pytest.raises(ValueError, match="multiple"):
        temporal_shift(torch.zeros(5, 16, 1, 1), 3)


def test_gradients_reach_frames_and_weights() -> None:
    d = _d(temporal_shift=True)
    frames = _frames(2, 3).requires_grad_(True)
    d(frames, torch.tensor([[0.0, 1.0, 3.0]] * 2)).sum().backward()
    assert frames.grad is not None and torch.isfinite(frames.grad).all()
    assert frames.grad.abs().sum(dim=(2, 3, 4)).min() > 0       # every frame of every video
    for name, p in d.named_parameters():
        assert p.grad is not None, name


def test_r1_style_double_backward() -> None:
    d = _d()
    frames = _frames(2, 3).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(frames, torch.tensor([[0.0, 1.0, 3.0]] * 2)).sum(), frames, create_graph=True)
    grad.square().sum().backward()
    assert d.from_rgb.weight.grad is not None and d.from_rgb.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("batch,group_of_0", [(1, [0]), (2, [0, 1]), (3, [0, 1, 2]), (6, [0, 2, 4])])
def test_mbstd_with_small_or_odd_batches(batch: int, group_of_0: list[int]) -> None:
    # Groups of min(4, N) lowered to a divisor of N (6 -> 3), sample i with i + N/G: changing sample 0
    # moves exactly the logits of its group (only its own with N = 1).
    d = _d(mbstd_group=4)
    frames, times = _frames(batch, 3), torch.tensor([[0.0, 1.0, 2.0]] * batch)
    with torch.no_grad():
        out = d(frames, times)
        changed = frames.clone()
        changed[0] = -changed[0]
        after = d(changed, times)
    assert out.shape == (batch,) and torch.isfinite(out).all()
    moved = [i for i in range(batch) if (after[i] - out[i]).abs() > 1e-6]
    assert moved == group_of_0
    others = [i for i in range(batch) if i not in group_of_0]
    torch.testing.assert_close(after[others], out[others])


def test_mbstd_feature_is_the_group_standard_deviation() -> None:
    from gendef_core.models.discriminator import _minibatch_std

    # 4 samples of 2 constant channels, groups of 2: (0, 2) and (1, 3).
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 4.0], [1.0, 1.0]]).view(4, 2, 1, 1).expand(4, 2, 3, 3)
    out = _minibatch_std(x, 2)
    assert out.shape == (4, 3, 3, 3) and torch.equal(out[:, :2], x)
    # (0, 2): per-channel std |a - b| / 2 = 1 and 2, averaged: 1.5; (1, 3): sqrt(0 + 1e-8) = 1e-4.
    expected = torch.tensor([math.sqrt(1 + 1e-8) / 2 + math.sqrt(4 + 1e-8) / 2, 1e-4,
                             math.sqrt(1 + 1e-8) / 2 + math.sqrt(4 + 1e-8) / 2, 1e-4])
    torch.testing.assert_close(out[:, 2], expected.view(4, 1, 1).expand(4, 3, 3))


def test_mbstd_couples_samples_in_a_group() -> None:
    d = _d(time_conditioning=False, mbstd_group=2)
    frames = _frames(4, 1)
    with torch.no_grad():
        base = d(frames)
        changed = frames.clone()
        changed[0] = -changed[0]
        after = d(changed)
    # StyleGAN2 groups sample i with i + N/G: changing sample 0 moves samples 0 and 2 only
    assert (after[2] - base[2]).abs() > 0
    torch.testing.assert_close(after[[1, 3]], base[[1, 3]])


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="power of two"):
        _d(resolution=48)
    with pytest.raises(ValueError, match="missing"):
        _d(channels={32: 8, 16: 16, 8: 16})
    with pytest.raises(ValueError, match="fuse_resolution"):
        _d(fuse_resolution=64)


def test_state_dict_round_trip_and_seeded_init() -> None:
    a, b = _d(seed=7), _d(seed=7)
    torch.testing.assert_close(a.state_dict(), b.state_dict())
    c = _d(seed=8)
    c.load_state_dict(a.state_dict())
    frames, times = _frames(2, 3), torch.tensor([[0.0, 1.0, 2.0]] * 2)
    with torch.no_grad():
        assert torch.equal(a(frames, times), c(frames, times))


@pytest.mark.parametrize("fuse_res", [16, 4])
def test_concat_fusion_starts_as_the_mean_and_learns_frame_order(fuse_res: int) -> None:
    """`fuse="concat"` = mean + a zero-initialised mix of the frames' deviations (issue 14): at init it is the
    pre-trained mean-fused D exactly (the image D's state dict loads, only `fuse_mix.*` missing); once the mix
    is non-zero it sees what a mean cannot: the order of the frames."""
    image_d = _d(seed=0, fuse_resolution=fuse_res, time_conditioning=False)
    mean_d = _d(seed=1, fuse_resolution=fuse_res, time_conditioning=False)
    concat_d = _d(seed=2, fuse_resolution=fuse_res, time_conditioning=False, fuse="concat")
    mean_d.load_state_dict(image_d.state_dict())
    result = concat_d.load_state_dict(image_d.state_dict(), strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == ["fuse_mix.weight"]
    clips = _frames(4, 3)
    reversed_clips = clips.flip(1)
    with torch.no_grad():
        assert torch.equal(concat_d(clips), mean_d(clips))                    # zero mix: the mean, bit for bit
        torch.testing.assert_close(mean_d(reversed_clips), mean_d(clips))     # a mean is blind to order
        concat_d.fuse_mix.weight.normal_()  # type: ignore[union-attr]
        assert float((concat_d(reversed_clips) - concat_d(clips)).abs().min()) > 1e-4
        assert torch.equal(concat_d(clips[:, :1]), image_d(clips[:, :1]))      # K = 1 (pre-training): no mix
    with pytest.raises(ValueError, match="fuses 3 frames"):
        concat_d(_frames(2, 2))
    with pytest.raises(ValueError, match="fuse must be"):
        _d(fuse="max")


def test_deviation_input_starts_as_the_image_d_and_then_sees_stillness() -> None:
    """`deviation_input` (issue 14): the first layer also sees each frame minus its clip's mean frame, through a
    zero-initialised 1x1 conv. At init the image D's weights give the same logits bit for bit (only
    `from_deviation.*` missing); once the conv is non-zero, moving clips score differently while still clips
    (all differences zero) keep exactly the logits of the D without it."""
    image_d = _d(seed=0, time_conditioning=False)
    dev_d = _d(seed=3, time_conditioning=False, deviation_input=True)
    result = dev_d.load_state_dict(image_d.state_dict(), strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == ["from_deviation.weight"]
    moving = _frames(4, 3)
    still = moving[:, :1].repeat(1, 3, 1, 1, 1)
    with torch.no_grad():
        assert torch.equal(dev_d(moving), image_d(moving))
        dev_d.from_deviation.weight.normal_()  # type: ignore[union-attr]
        assert float((dev_d(moving) - image_d(moving)).abs().min()) > 1e-4
        torch.testing.assert_close(dev_d(still), image_d(still), rtol=0, atol=1e-6)
        assert torch.equal(dev_d(moving[:, :1]), image_d(moving[:, :1]))      # K = 1 (pre-training): no deviation


def test_motion_branch_is_content_free_and_loads_beside_a_pretrained_d() -> None:
    """`motion_branch` (issue 14): a second discriminator that sees only frame differences and time differences.
    Two still clips of different content at the same times get the same branch logit (it cannot judge content);
    moving clips do not; the image D's weights still load (only `motion_branch.*` missing) and the main logits
    are unchanged by the branch."""
    image_d = _d(seed=0, time_conditioning=False)
    d = _d(seed=4, time_conditioning=False, motion_branch=True)
    result = d.load_state_dict(image_d.state_dict(), strict=False)
    assert result.unexpected_keys == [] and result.missing_keys
    assert all(k.startswith("motion_branch.") for k in result.missing_keys)
    clips, times = _frames(4, 3), torch.tensor([[0.0, 4.0, 9.0]] * 4)
    still_a = clips[:, :1].repeat(1, 3, 1, 1, 1)
    still_b = _frames(4, 1, seed=7).repeat(1, 3, 1, 1, 1)
    with torch.no_grad():
        assert torch.equal(d(clips, times), image_d(clips, times))
        torch.testing.assert_close(d.motion_logits(still_a, times), d.motion_logits(still_b, times), rtol=0, atol=1e-6)
        assert float((d.motion_logits(clips, times) - d.motion_logits(still_a, times)).abs().min()) > 1e-5
        slower = torch.tensor([[0.0, 8.0, 18.0]] * 4)                        # same frames, other time differences
        assert float((d.motion_logits(clips, slower) - d.motion_logits(clips, times)).abs().min()) > 1e-6
    with pytest.raises(ValueError, match="no motion branch"):
        image_d.motion_logits(clips, times)
