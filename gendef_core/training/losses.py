"""GAN losses (Eq. 5), lazy R1, GenDeF's structural temporal smoothness (Eq. 4) and a fold penalty.

Pure functions of tensors: the training loop decides when each is applied.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gendef_core.flow import deformation_flow
from gendef_core.warp import warp_jacobian_determinant


def d_adv_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Non-saturating logistic loss of the discriminator: softplus(D(fake)) + softplus(-D(real)), batch mean."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_adv_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss: softplus(-D(fake)), batch mean."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: Tensor, real_frames: Tensor) -> Tensor:
    """R1 = ||dD(x)/dx||^2 on real data; ``real_frames [B, K, 3, H, W]`` (requires_grad) -> scalar.

    As in StyleGAN-V, the squared gradient norm is taken per frame and averaged over the K frames of a
    video, then over the batch. Multiply by gamma/2 (and the lazy interval) in the caller.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_frames, create_graph=True)
    return grad.square().sum(dim=(2, 3, 4)).mean()


def edge_aware_smoothness(field: Tensor, image: Tensor) -> Tensor:
    """Godard et al.'s edge-aware smoothness: mean |spatial gradient of field| * exp(-|image gradient|).

    ``field [N, C, H, W]``, ``image [N, 3, H, W]`` (used as weights only) -> scalar. The image gradient is
    averaged over channels; x and y terms are averaged over pixels and summed.
    """
    dfx = (field[..., :, 1:] - field[..., :, :-1]).abs()
    dfy = (field[..., 1:, :] - field[..., :-1, :]).abs()
    wx = torch.exp(-(image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=1, keepdim=True))
    wy = torch.exp(-(image[..., 1:, :] - image[..., :-1, :]).abs().mean(dim=1, keepdim=True))
    return (dfx * wx).mean() + (dfy * wy).mean()


def temporal_smoothness_loss(offsets: Tensor, image: Tensor) -> Tensor:
    """Structural temporal smoothness (Eq. 4): ``offsets [N, 3, 2, H, W]`` at t, t+1, t+2 -> scalar.

    F_{t->t+1} - F_{t+1->t+2} (deformation flows, in pixels) is penalised with the edge-aware smoothness
    of `image` ``[N, 3, H, W]`` (the frame at t+1; detached: it only weights). Zero for motion whose
    velocity does not change between the two steps, and for accelerations that are uniform across
    the frame; positive when the change of velocity varies over the image (jerky, non-rigid motion).
    Upstream GenDeF penalises 2*S1 - S0 instead (missing the -S2 term) and ships the weight at 0.
    """
    if offsets.ndim != 5 or offsets.shape[1] != 3 or offsets.shape[2] != 2:
        raise ValueError(f"offsets must be [N, 3, 2, H, W], got {tuple(offsets.shape)}")
    flow = deformation_flow(offsets)  # [N, 2, 2, H, W]
    return edge_aware_smoothness(flow[:, 0] - flow[:, 1], image.detach())


FOLD_MIN_DET = 0.25
"""The fold penalty's margin: a warp may shrink a canonical area to a quarter before it is penalised."""


def fold_loss(offsets: Tensor, min_det: float = FOLD_MIN_DET, *, temporal: bool = False) -> Tensor:
    """Mean hinge ``relu(min_det - det J)`` over the pixel cells of every frame, J the Jacobian of the backward
    map (`warp.warp_jacobian_determinant`, canonical the frame's size): 0 for any warp
    that neither folds (det <= 0: neighbouring frame pixels cross on the canonical) nor magnifies a canonical
    area more than 1/min_det times; grows linearly past that. ``offsets [..., 2, H, W]`` (normalised) -> scalar.

    With `temporal`, ``offsets`` is ``[N, K, 2, H, W]`` (K frames of N videos) and only the motion part is
    penalised: the map x + o_k(x) - mean_k o_k(x), so a fold that every frame shares (a static one, shaping the
    content) is free and a fold that appears, moves or vanishes over time is not."""
    if temporal:
        if offsets.ndim != 5 or offsets.shape[2] != 2:
            raise ValueError(f"temporal fold_loss needs offsets [N, K, 2, H, W], got {tuple(offsets.shape)}")
        offsets = offsets - offsets.mean(dim=1, keepdim=True)
    return torch.relu(min_det - warp_jacobian_determinant(offsets)).mean()
