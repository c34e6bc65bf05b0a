"""Label masks, overlays and edited canonicals on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core.artifacts.edit_images import (
    davis_palette,
    read_canonical_image,
    read_label_mask,
    read_overlay,
    write_label_png,
)
from gendef_core.data.images import from_uint8
from gendef_core.errors import DataError


def _labels(h: int = 12, w: int = 16) -> np.ndarray:
    arr = np.zeros((h, w), dtype=np.int64)
    arr[2:6, 3:9] = 3
    arr[7:, 10:] = 7
    arr[0, 0] = 200
    return arr


def test_write_read_palette_png_round_trip(tmp_path: Path) -> None:
    labels = _labels()
    path = write_label_png(tmp_path / "00000.png", torch.from_numpy(labels))
    assert path == tmp_path / "00000.png" and sorted(p.name for p in tmp_path.iterdir()) == ["00000.png"]
    with Image.open(path) as im:
        assert im.mode == "P"
        assert np.array_equal(np.asarray(im), labels.astype(np.uint8))
        assert np.array_equal(np.asarray(im.getpalette()[:768], dtype=np.uint8).reshape(256, 3), davis_palette())
    out = read_label_mask(path, (12, 16))
    assert out.dtype == torch.int64 and torch.equal(out, torch.from_numpy(labels))


def test_palette_void_reads_as_background(tmp_path: Path) -> None:
    labels = np.array([[0, 1], [255, 2]], dtype=np.uint8)
    write_label_png(tmp_path / "m.png", labels)
    assert read_label_mask(tmp_path / "m.png").tolist() == [[0, 1], [0, 2]]


def test_write_label_png_refuses_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        write_label_png(tmp_path / "m.png", np.array([[0, 256]]))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        write_label_png(tmp_path / "m.png", torch.tensor([[-1, 0]]))
    with pytest.raises(ValueError, match="integer"):
        write_label_png(tmp_path / "m.png", np.zeros((2, 2), dtype=np.float32))
    assert not any(tmp_path.iterdir())


def test_rgb_palette_mask(tmp_path: Path) -> None:
    labels = _labels()
    labels[11, 0] = 255  # the void colour
    Image.fromarray(davis_palette()[labels]).save(tmp_path / "rgb.png")
    expect = labels.copy()
    expect[11, 0] = 0
    assert torch.equal(read_label_mask(tmp_path / "rgb.png", (12, 16)), torch.from_numpy(expect))


def test_rgba_transparent_pixels_are_background(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = (0, 128, 0)  # label 2 everywhere ...
    rgba[1:3, 1:3, 3] = 255      # ... but only opaque in the middle
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    expect = np.zeros((4, 4), dtype=np.int64)
    expect[1:3, 1:3] = 2
    assert read_label_mask(tmp_path / "rgba.png").numpy().tolist() == expect.tolist()


def test_rgb_binary_and_unknown_colours(tmp_path: Path) -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[1:3, 1:3] = 255  # white is not a palette colour: black + white is a binary mask
    Image.fromarray(rgb).save(tmp_path / "bw.png")
    assert read_label_mask(tmp_path / "bw.png").sum().item() == 4
    rgb[0, 0] = (10, 20, 30)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    with pytest.raises(DataError, match=r"photo\.png has 3 colours.*indexed \(P-mode\) or greyscale"):
        read_label_mask(tmp_path / "photo.png")


@pytest.mark.parametrize("values,expect", [((0, 255), (0, 1)), ((0, 1), (0, 1)), ((0, 4), (0, 4)), ((2, 9), (2, 9))])
def test_greyscale_masks(tmp_path: Path, values: tuple[int, int], expect: tuple[int, int]) -> None:
    arr = np.full((4, 5), values[0], dtype=np.uint8)
    arr[1:, 2:] = values[1]
    Image.fromarray(arr).save(tmp_path / "g.png")
    out = read_label_mask(tmp_path / "g.png", (4, 5))
    assert out[0, 0].item() == expect[0] and out[3, 4].item() == expect[1] and (out == expect[1]).sum().item() == 9


def test_one_bit_and_16_bit_masks(tmp_path: Path) -> None:
    arr = np.zeros((4, 5), dtype=bool)
    arr[1:3, 1:4] = True
    Image.fromarray(arr).save(tmp_path / "b.png")
    assert torch.equal(read_label_mask(tmp_path / "b.png"), torch.from_numpy(arr.astype(np.int64)))
    Image.fromarray(arr.astype(np.uint16) * 65535).save(tmp_path / "w.png")
    assert torch.equal(read_label_mask(tmp_path / "w.png"), torch.from_numpy(arr.astype(np.int64)))


def test_wrong_size_names_file_sizes_and_fix(tmp_path: Path) -> None:
    write_label_png(tmp_path / "m.png", _labels(12, 16))
    with pytest.raises(DataError) as e:
        read_label_mask(tmp_path / "m.png", (32, 24))
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "m.png") in msg
    assert "16x12" in msg and "24x32" in msg and "or pass `resize`" in msg
    Image.new("RGBA", (16, 12)).save(tmp_path / "o.png")
    with pytest.raises(DataError, match="or pass `resize`"):
        read_overlay(tmp_path / "o.png", (12, 15))
    with pytest.raises(DataError, match="or pass `resize`"):
        read_canonical_image(tmp_path / "o.png", (13, 16))


def test_resize_keeps_labels(tmp_path: Path) -> None:
    labels = _labels(8, 8)
    labels[0, 0] = 5
    write_label_png(tmp_path / "m.png", labels)
    out = read_label_mask(tmp_path / "m.png", (16, 16), resize=True)
    assert torch.equal(out, torch.from_numpy(labels.repeat(2, 0).repeat(2, 1)))
    down = read_label_mask(tmp_path / "m.png", (5, 7), resize=True)
    assert down.shape == (5, 7) and set(down.unique().tolist()) <= {0, 3, 5, 7}


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_label_mask(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="not a readable image"):
        read_label_mask(tmp_path / "junk.png")
    with pytest.raises(DataError, match="does not exist"):
        read_overlay(tmp_path / "nope.png", (4, 4))


def test_read_overlay_values_and_resize(tmp_path: Path) -> None:
    rgba = np.zeros((6, 8, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[2:4, 2:6] = (0, 255, 0, 255)
    Image.fromarray(rgba).save(tmp_path / "o.png")
    ov = read_overlay(tmp_path / "o.png", (6, 8))
    assert ov.shape == (4, 6, 8) and ov.dtype == torch.float32
    assert ov[:, 2, 2].tolist() == [-1.0, 1.0, -1.0, 1.0] and ov[3, 0, 0].item() == 0.0
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    assert torch.all(read_overlay(tmp_path / "rgb.png", (6, 8))[3] == 1.0)
    big = read_overlay(tmp_path / "o.png", (12, 16), resize=True)
    assert big.shape == (4, 12, 16)
    # Premultiplied resizing: the transparent white never bleeds into the green where alpha > 0.
    visible = big[3] > 0
    assert torch.all(big[0][visible] == -1.0) and torch.all(big[2][visible] == -1.0)


def test_read_canonical_image(tmp_path: Path) -> None:
    rgb = np.zeros((6, 8, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    rgb[1, 2] = (0, 51, 255)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    c = read_canonical_image(tmp_path / "c.png", (6, 8))
    assert c.shape == (3, 6, 8) and c.dtype == torch.float32 and c.is_contiguous()
    assert c[:, 0, 0].tolist() == [1.0, -1.0, -1.0]
    assert c[:, 1, 2].tolist() == pytest.approx([-1.0, -0.6, 1.0])
    flat = np.full((6, 8, 3), 128, dtype=np.uint8)
    Image.fromarray(flat).save(tmp_path / "flat.png")
    big = read_canonical_image(tmp_path / "flat.png", (9, 11), resize=True)
    assert big.shape == (3, 9, 11) and torch.equal(big, from_uint8(torch.full((3, 9, 11), 128, dtype=torch.uint8)))
