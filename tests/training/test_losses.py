"""Losses and EMA, against hand-built values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gendef_core.training.ema import ema_beta, update_ema
from gendef_core.training.losses import (
    d_adv_loss,
    edge_aware_smoothness,
    fold_loss,
    g_adv_loss,
    r1_penalty,
    temporal_smoothness_loss,
)
from gendef_core.warp import pixels_to_offsets, warp_jacobian_determinant


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


def _grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return x, y


def test_jacobian_det_of_hand_built_affine_maps() -> None:
    h, w = 9, 13
    x, y = _grid(h, w)
    cases = {  # map (x, y) -> A (x, y) + b, as offsets = A p + b - p: det J = det A everywhere
        "identity": ((1.0, 0.0, 0.0, 1.0), 1.0), "scale": ((2.0, 0.0, 0.0, 0.5), 1.0),
        "stretch": ((1.5, 0.0, 0.0, 1.0), 1.5), "shear": ((1.0, 0.7, 0.0, 1.0), 1.0),
        "rotation": ((math.cos(0.4), -math.sin(0.4), math.sin(0.4), math.cos(0.4)), 1.0),
        "mirror": ((-1.0, 0.0, 0.0, 1.0), -1.0), "squash": ((0.2, 0.0, 0.3, 0.5), 0.1),
    }
    for name, ((a, b, c, d), det) in cases.items():
        disp = torch.stack([a * x + b * y + 3.2 - x, c * x + d * y - 1.7 - y])  # [2, H, W] pixels
        got = warp_jacobian_determinant(_offsets_from_pixels(disp)[None])
        assert got.shape == (1, h - 1, w - 1), name
        torch.testing.assert_close(got, torch.full_like(got, det), rtol=0, atol=1e-9, msg=name)


def test_jacobian_det_of_a_non_affine_map_matches_its_cell_derivatives() -> None:
    # offsets_px = (0.1 x^2, 0): dx/dx at the centre of the cell between x and x+1 is 1 + 0.1 (2x + 1)
    h, w = 4, 6
    x, y = _grid(h, w)
    disp = torch.stack([0.1 * x ** 2, torch.zeros_like(y)])
    got = warp_jacobian_determinant(_offsets_from_pixels(disp))
    want = (1 + 0.1 * (2 * torch.arange(w - 1, dtype=torch.float64) + 1)).expand(h - 1, w - 1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-9)


def test_fold_loss_is_zero_without_folds_and_grows_with_the_fold() -> None:
    h = w = 16
    x, y = _grid(h, w)
    smooth = torch.stack([2 * torch.sin(x / 5) + 4.0, 1.5 * torch.cos(y / 4)])  # det >= 1 - 0.4 - ... > 1/4
    assert float(warp_jacobian_determinant(_offsets_from_pixels(smooth)).min()) > 0.25
    assert float(fold_loss(_offsets_from_pixels(smooth))) == 0.0
    # x >= 8 pulled back by depth px per px: det 1 - depth in those 7 of 15 cell columns, 1 elsewhere, so the
    # loss is relu(1/4 - (1 - depth)) x 7/15 (0 while the area shrinks less than to a quarter)
    for depth in (0.5, 1.0, 2.0, 3.0):
        disp = torch.stack([torch.where(x >= 8, -depth * (x - 8), 0.0), torch.zeros_like(y)])
        det = warp_jacobian_determinant(_offsets_from_pixels(disp))
        torch.testing.assert_close(det[:, 8:], torch.full_like(det[:, 8:], 1 - depth))
        torch.testing.assert_close(det[:, :8], torch.ones_like(det[:, :8]))
        want = max(0.25 - (1 - depth), 0.0) * 7 / 15
        assert abs(float(fold_loss(_offsets_from_pixels(disp))) - want) < 1e-12, depth


def test_fold_loss_gradient_pushes_a_fold_open() -> None:
    h = w = 8
    x, y = _grid(h, w)
    disp = torch.stack([torch.where(x >= 4, -2.0 * (x - 4), 0.0), torch.zeros_like(y)])
    off = _offsets_from_pixels(disp).float().requires_grad_(True)
    fold_loss(off).backward()
    assert off.grad is not None
    step = off.detach() - 0.01 * off.grad / off.grad.abs().max()
    assert float(fold_loss(step)) < float(fold_loss(off.detach()))
    gx = off.grad[0]
    assert float(gx[:, :4].abs().max()) == 0.0                         # nothing asked of the unfolded part
    # descent moves the fold's ends apart (x = 4 left, x = 7 right), which opens it
    assert float(gx[:-1, 4].min()) > 0 > float(gx[:-1, 7].max())        # (the last row starts no cell)


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


def test_temporal_fold_loss_ignores_a_shared_fold_and_sees_one_that_moves() -> None:
    # Frames share a fold of depth 2 (det -1 in 7 of 15 cell columns); the motion part (offsets minus their
    # mean over the frames) is then zero, and so is the temporal penalty, while the whole-map penalty is not.
    h = w = 16
    x, y = _grid(h, w)
    fold = torch.stack([torch.where(x >= 8, -2.0 * (x - 8), 0.0), torch.zeros_like(y)])
    shared = _offsets_from_pixels(fold).expand(2, 4, 2, h, w)
    assert abs(float(fold_loss(shared)) - 1.25 * 7 / 15) < 1e-12
    assert float(fold_loss(shared, temporal=True)) == 0.0
    # The fold only in frame 0 of 4: frame 0's motion part is 3/4 of it (det 1 - 1.5 = -0.5), the other frames'
    # -1/4 of it (det 1 + 0.5): the loss is relu(1/4 + 1/2) x 7/15 for one frame in four.
    once = torch.zeros(1, 4, 2, h, w, dtype=torch.float64)
    once[0, 0] = _offsets_from_pixels(fold)
    assert abs(float(fold_loss(once, temporal=True)) - 0.75 * 7 / 15 / 4) < 1e-12


def test_temporal_fold_loss_refuses_offsets_without_a_frame_axis() -> None:
    with pytest.raises(ValueError, match="N, K, 2, H, W"):
        fold_loss(torch.zeros(2, 8, 8), temporal=True)
