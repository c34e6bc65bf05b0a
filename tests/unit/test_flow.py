"""Deformation flow and its colour coding."""

from __future__ import annotations

import torch

from gendef_core.flow import color_wheel, deformation_flow, flow_to_color
from gendef_core.warp import pixels_to_offsets


def test_constant_translation_gives_constant_flow() -> None:
    t, h, w = 6, 10, 14
    velocity = torch.tensor([1.25, -0.5]).view(1, 2, 1, 1)  # pixels per frame, as the backward map moves
    disp = torch.arange(t, dtype=torch.float32).view(t, 1, 1, 1) * velocity * torch.ones(t, 2, h, w)
    flow = deformation_flow(pixels_to_offsets(disp, (h, w)))
    assert flow.shape == (t - 1, 2, h, w)
    torch.testing.assert_close(flow, velocity.expand(t - 1, 2, h, w).contiguous())


def test_flow_is_difference_of_consecutive_maps() -> None:
    off = torch.randn(2, 5, 2, 8, 8)  # batch dimension in front
    flow = deformation_flow(off)
    torch.testing.assert_close(flow[1, 2, 0], (off[1, 3, 0] - off[1, 2, 0]) * 3.5)
    torch.testing.assert_close(flow[0, 0, 1], (off[0, 1, 1] - off[0, 0, 1]) * 3.5)


def test_color_wheel_primaries() -> None:
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    torch.testing.assert_close(wheel[0], torch.tensor([1.0, 0.0, 0.0]))   # red
    torch.testing.assert_close(wheel[15], torch.tensor([1.0, 1.0, 0.0]))  # yellow
    torch.testing.assert_close(wheel[21], torch.tensor([0.0, 1.0, 0.0]))  # green
    torch.testing.assert_close(wheel[25], torch.tensor([0.0, 1.0, 1.0]))  # cyan
    torch.testing.assert_close(wheel[36], torch.tensor([0.0, 0.0, 1.0]))  # blue
    torch.testing.assert_close(wheel[49], torch.tensor([1.0, 0.0, 1.0]))  # magenta


def test_flow_colours() -> None:
    flow = torch.zeros(2, 1, 5)
    flow[0, 0, 1] = 1.0    # +x, full magnitude
    flow[0, 0, 2] = -1.0   # -x
    flow[1, 0, 3] = 1.0    # +y (down)
    flow[0, 0, 4] = 2.0    # beyond max_magnitude: darkened
    rgb = flow_to_color(flow, max_magnitude=1.0)
    assert rgb.dtype == torch.uint8 and rgb.shape == (3, 1, 5)
    assert rgb[:, 0, 0].tolist() == [255, 255, 255]          # no motion is white
    assert rgb[:, 0, 1].tolist() == [255, 0, 0]              # +x is red (wheel colour 0)
    assert rgb[:, 0, 2].tolist() == [0, 209, 255]            # -x: wheel position 27 of 54, cyan-blue
    assert rgb[:, 0, 3].tolist() == [255, 230, 0]            # +y (down): position 13.5, orange-yellow
    assert rgb[:, 0, 4].tolist() == [191, 0, 0]              # twice the max: red darkened x0.75


def test_per_video_normalisation_uses_the_largest_flow() -> None:
    flow = torch.zeros(3, 2, 2, 2)
    flow[0, 0, 0, 0] = 4.0
    flow[2, 0, 0, 0] = 2.0
    auto = flow_to_color(flow)
    fixed = flow_to_color(flow, max_magnitude=4.0)
    assert torch.equal(auto, fixed)
    assert not torch.equal(auto[2], flow_to_color(flow[2]))  # normalising one frame alone differs
