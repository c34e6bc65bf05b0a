"""Losses and EMA, against hand-built values."""

from __future__ import annotations

import math

import torch
from torch import nn

from gendef_core.training.ema import ema_beta, update_ema
from gendef_core.training.losses import (
    d_adv_loss,
    edge_aware_smoothness,
    g_adv_loss,
    r1_penalty,
    temporal_smoothness_loss,
)
from gendef_core.warp import pixels_to_offsets


def test_adversarial_losses_values() -> None:
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    torch.testing.assert_close(d_adv_loss(real, fake), torch.tensor((sp(-1) + sp(1)) / 2 + (sp(-2) + sp(0)) / 2))
    torch.testing.assert_close(g_adv_loss(fake), torch.tensor((sp(1) + sp(-1)) / 2))


def test_r1_of_a_linear_discriminator() -> None:
    # D(x) = sum(w * x): gradient w everywhere, so R1 = |w|^2 per frame, whatever x is.
    w = torch.randn(3, 4, 4)
    x = torch.randn(2, 3, 3, 4, 4, requires_grad=True)
    logits = (x * w).sum(dim=(1, 2, 3, 4)) / 3
    torch.testing.assert_close(r1_penalty(logits, x), w.square().sum() / 9)


def _offsets_from_pixels(disp: torch.Tensor) -> torch.Tensor:
    h, w = disp.shape[-2:]
    return pixels_to_offsets(disp, (h, w))


def test_smoothness_zero_for_constant_velocity_even_if_nonrigid() -> None:
    h = w = 12
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    velocity = torch.stack([torch.sin(x / 3), torch.cos(y / 2)])  # varies over the frame, constant in time
    disp = torch.stack([velocity * t for t in range(3)])[None]     # [1, 3, 2, H, W]
    image = torch.randn(1, 3, h, w)
    loss = temporal_smoothness_loss(_offsets_from_pixels(disp), image)
    assert float(loss) < 1e-5


def test_smoothness_positive_for_jerky_motion_and_grows_with_jerk() -> None:
    h = w = 12
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    jerk = torch.stack([torch.sin(x / 2), torch.sin(y / 2)])
    image = torch.zeros(1, 3, h, w)  # flat image: weights exp(0) = 1
    losses = []
    for scale in (0.5, 1.0, 2.0):
        disp = torch.stack([torch.zeros(2, h, w), torch.zeros(2, h, w), scale * jerk])[None]
        losses.append(float(temporal_smoothness_loss(_offsets_from_pixels(disp), image)))
    assert losses[0] > 0.05
    assert math.isclose(losses[1], 2 * losses[0], rel_tol=1e-4) and math.isclose(losses[2], 4 * losses[0], rel_tol=1e-4)


def test_edge_aware_weights_hand_computed() -> None:
    field = torch.tensor([[0.0, 1.0, 3.0]]).expand(2, 3)[None, None]          # [1, 1, 2, 3]: x-gradients 1, 2
    image = torch.tensor([[0.0, 0.0, 2.0]]).expand(3, 2, 3)[None].contiguous()  # edge between pixels 1 and 2
    expected = (1 * math.exp(0) + 2 * math.exp(-2)) / 2                         # y-gradients are all zero
    torch.testing.assert_close(edge_aware_smoothness(field, image), torch.tensor(expected))


def test_smoothness_gradient_reaches_offsets_not_image() -> None:
    off = (torch.randn(2, 3, 2, 8, 8) * 0.1).requires_grad_()
    image = torch.randn(2, 3, 8, 8, requires_grad=True)
    temporal_smoothness_loss(off, image).backward()
    assert off.grad is not None and float(off.grad.abs().sum()) > 0
    assert image.grad is None


def test_ema() -> None:
    assert ema_beta(32, 10.0, None, 0) == 0.5 ** (32 / 10000)
    assert ema_beta(32, 10.0, 0.05, 320) == 0.5 ** (32 / 16)  # ramp-up: half-life of 5% of images seen
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    with torch.no_grad():
        a.weight.fill_(1.0)
        b.weight.fill_(3.0)
    update_ema(a, b, beta=0.75)
    torch.testing.assert_close(a.weight, torch.full((2, 2), 1.5))
