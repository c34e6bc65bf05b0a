"""Motion codes u_t (StyleGAN-V motion mapping + aligned acyclic positional encoding)."""

from __future__ import annotations

import pytest
import torch

from gendef_core.models.motion import MotionMapping


def _model(seed: int = 0, **kw: float) -> MotionMapping:
    torch.manual_seed(seed)
    args = {"noise_dim": 16, "hidden_dim": 24, "num_freqs": 8, "distance": 16, "kernel_size": 5, "num_layers": 2}
    return MotionMapping(**{**args, **kw})  # type: ignore[arg-type]


def _noise(m: MotionMapping, max_time: float, seed: int = 1, batch: int = 2) -> torch.Tensor:
    return m.sample_noise(batch, max_time, generator=torch.Generator().manual_seed(seed))


def test_shapes_and_lengths() -> None:
    m = _model()
    assert m.code_dim == 16
    assert m.noise_length(0) == 2 + 8            # two knots + (5-1)*2 for the convs
    assert m.noise_length(15.9) == 2 + 8
    assert m.noise_length(16) == 3 + 8           # t = 16 needs knots 1 and 2
    noise = _noise(m, 127)
    assert noise.shape == (2, m.noise_length(127), 16)
    u = m(torch.tensor([[0.0, 3.5, 127.0], [1.0, 2.0, 3.0]]), noise)
    assert u.shape == (2, 3, 16) and u.dtype == torch.float32


def test_freqs_follow_stylegan_v() -> None:
    m = _model(num_freqs=4, min_period=16.0, max_period=1024.0)
    periods = 2 * torch.pi / m.freqs
    torch.testing.assert_close(periods, torch.tensor([1024.0, 256.0, 64.0, 16.0]))
    torch.testing.assert_close(m.phase_scales, torch.tensor([1.0, 4.0, 16.0, 64.0]))


@pytest.mark.parametrize("t0", [16.0, 32.0, 48.0, 7.3, 25.0])   # knots and points between them
def test_continuity(t0: float) -> None:
    m = _model()
    noise = _noise(m, 64)
    for eps in (1e-2, 1e-3):
        ts = torch.tensor([[t0 - eps, t0, t0 + eps]]).repeat(2, 1)
        u = m(ts, noise)
        left, mid, right = u.unbind(1)
        # codes move by < 1 per frame here (measured ~0.7); a jump at a knot would be O(0.5) for any eps
        assert (mid - left).abs().max() < 5 * eps
        assert (right - mid).abs().max() < 5 * eps


def test_knots_equal_aligners() -> None:
    m = _model()
    noise = _noise(m, 64)
    with torch.no_grad():
        traj = m.trajectory(noise)                # [B, knots, H]
        ts = torch.tensor([[0.0, 16.0, 32.0, 48.0, 64.0]]).repeat(2, 1)
        u = m(ts, noise)
        expected = m.aligner(traj[:, :5])         # knot j at t = 16 j
    torch.testing.assert_close(u, expected, atol=2e-5, rtol=1e-5)


def test_between_knots_is_not_just_linear() -> None:
    # the positional encoding adds motion inside a segment beyond the aligners' linear interpolation
    m = _model()
    noise = _noise(m, 32)
    with torch.no_grad():
        traj = m.trajectory(noise)
        u_mid = m(torch.full((2, 1), 8.0), noise)[:, 0]
        lerp = 0.5 * (m.aligner(traj[:, 0]) + m.aligner(traj[:, 1]))
    assert (u_mid - lerp).abs().max() > 1e-2


def test_any_video_length_and_shared_prefix() -> None:
    m = _model()
    g = torch.Generator().manual_seed(5)
    long_noise = m.sample_noise(1, 299, generator=g)
    short_noise = long_noise[:, : m.noise_length(127)].clone()
    t_long = torch.arange(300.0)[None]
    t_short = torch.arange(128.0)[None]
    with torch.no_grad():
        u_long = m(t_long, long_noise)
        u_short = m(t_short, short_noise)
    assert u_long.shape == (1, 300, 16) and u_short.shape == (1, 128, 16)
    assert torch.isfinite(u_long).all() and torch.isfinite(u_short).all()
    assert u_long.std(dim=1).mean() > 0.1        # codes move over time
    assert (u_long[0, 1:] - u_long[0, :-1]).abs().sum(-1).min() > 0
    torch.testing.assert_close(u_long[:, :128], u_short)
    # more noise than needed is ignored
    with torch.no_grad():
        torch.testing.assert_close(m(t_short, long_noise), u_short)


def test_fractional_times_between_integer_frames() -> None:
    m = _model()
    noise = _noise(m, 40)
    with torch.no_grad():
        u = m(torch.tensor([[10.0, 10.25, 10.5, 11.0]]).repeat(2, 1), noise)
    assert torch.isfinite(u).all()
    assert not torch.allclose(u[:, 1], u[:, 0]) and not torch.allclose(u[:, 1], u[:, 3])


def test_determinism_with_seeded_generator() -> None:
    a, b = _model(seed=3), _model(seed=3)
    torch.testing.assert_close(a.state_dict(), b.state_dict())
    na, nb = _noise(a, 50, seed=9), _noise(b, 50, seed=9)
    assert torch.equal(na, nb)
    ts = torch.tensor([[0.0, 13.7, 50.0], [2.0, 4.0, 6.0]])
    with torch.no_grad():
        assert torch.equal(a(ts, na), b(ts, nb))
    assert not torch.equal(na, _noise(a, 50, seed=10))


def test_integer_times_accepted() -> None:
    m = _model()
    noise = _noise(m, 20)
    with torch.no_grad():
        torch.testing.assert_close(m(torch.tensor([[0, 5, 20]] * 2), noise),
                                   m(torch.tensor([[0.0, 5.0, 20.0]] * 2), noise))


def test_gradient_reaches_mapping() -> None:
    m = _model()
    noise = _noise(m, 40)
    m(torch.tensor([[0.0, 9.5, 40.0]] * 2), noise).square().sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_state_dict_round_trip() -> None:
    a, b = _model(seed=0), _model(seed=1)
    b.load_state_dict(a.state_dict())
    assert set(a.state_dict()) == {n for n, _ in a.named_parameters()}   # derived buffers are not saved
    noise = _noise(a, 30)
    ts = torch.tensor([[0.0, 30.0]] * 2)
    with torch.no_grad():
        assert torch.equal(a(ts, noise), b(ts, noise))


def test_errors() -> None:
    m = _model()
    noise = _noise(m, 31)                        # covers t < 32
    m(torch.tensor([[31.9]] * 2), noise)
    with pytest.raises(ValueError, match="noise has"):
        m(torch.tensor([[32.0]] * 2), noise)
    with pytest.raises(ValueError, match=">= 0"):
        m(torch.tensor([[-0.5]] * 2), noise)
    with pytest.raises(ValueError, match=">= 0"):
        m(torch.tensor([[float("nan")]] * 2), noise)
    with pytest.raises(ValueError, match=">= 0"):
        m.noise_length(-1)
    with pytest.raises(ValueError, match="noise must be"):
        m(torch.tensor([[1.0]] * 3), noise)      # batch mismatch
    with pytest.raises(ValueError, match="times must be"):
        m(torch.tensor([1.0, 2.0]), noise)
    with pytest.raises(ValueError, match="min_period"):
        MotionMapping(noise_dim=4, hidden_dim=4, num_freqs=2, min_period=64, max_period=16)


def test_model_config_sets_the_shortest_period_and_longer_periods_change_slower() -> None:
    """`model.motion_min_period` (issue 14) reaches the motion mapping: its shortest period is the setting, and
    with the StyleGAN-V SkyTimelapse setting (256 frames, knots 256 apart) the codes change far less from frame
    to frame than with the default 16 (same weights: the periods are buffers, not parameters)."""
    from gendef_core.config import ModelConfig
    from gendef_core.errors import OptionError
    from gendef_core.models.generator import motion_mapping

    fast_cfg = ModelConfig(motion_noise_dim=16, motion_hidden_dim=24, motion_freqs=8)
    slow_cfg = ModelConfig(motion_noise_dim=16, motion_hidden_dim=24, motion_freqs=8, motion_min_period=256.0,
                           motion_distance=256)
    torch.manual_seed(0)
    fast = motion_mapping(fast_cfg)
    torch.manual_seed(0)
    slow = motion_mapping(slow_cfg)
    assert float(2 * torch.pi / fast.freqs.max()) == pytest.approx(16.0)
    assert float(2 * torch.pi / slow.freqs.max()) == pytest.approx(256.0)
    times = torch.arange(64.0)[None].repeat(4, 1)
    step = {}
    for name, m in (("fast", fast), ("slow", slow)):
        m.requires_grad_(False)
        u = m(times, m.sample_noise(4, 63.0, generator=torch.Generator().manual_seed(1)))
        step[name] = float((u[:, 1:] - u[:, :-1]).norm(dim=-1).mean() / u.norm(dim=-1).mean())
    assert step["slow"] < step["fast"] / 4
    with pytest.raises(OptionError, match="motion_min_period"):
        ModelConfig(motion_min_period=0.5).validate()
