"""Image conversions and PNG I/O.

Images inside gendef are float tensors in [-1, 1], ``[3, H, W]``; on disk and in videos they
are uint8 RGB, ``[H, W, 3]``. `to_uint8` and `from_uint8` are the conversions between the ranges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.common import atomic_file
from gendef_core.artifacts.images import open_image


def to_uint8(images: Tensor) -> Tensor:
    """``[..., 3, H, W]`` float in [-1, 1] -> ``uint8 [..., H, W, 3]`` (rounded, clamped)."""
    x = torch.round((images.detach().float() + 1) * 127.5).clamp(0, 255).to(torch.uint8)
    return x.movedim(-3, -1)


def from_uint8(images: Tensor | np.ndarray) -> Tensor:
    """uint8 -> float32 in [-1, 1], layout unchanged (training keeps frames as ``uint8 [..., 3, H, W]``)."""
    return torch.as_tensor(images).float() / 127.5 - 1.0


def read_image(path: Path, *, mode: str = "RGB") -> np.ndarray:
    """Read an image file as ``uint8 [H, W, C]`` (RGB, RGBA) or ``[H, W]`` (L, P), or fail clearly: a
    one-line DataError (`gendef_core.artifacts.images.open_image`) that says to re-save or remove it."""
    with open_image(path, fix="re-save or remove it") as im:
        im.load()
        if mode != "P" or im.mode != "P":
            im = im.convert(mode)
        return np.asarray(im).copy()


def write_png(path: Path, image: np.ndarray | Tensor) -> Path:
    """Write ``uint8 [H, W, 3|4]`` or ``[H, W]`` as PNG, atomically."""
    from PIL import Image

    arr = np.ascontiguousarray(np.asarray(image))
    if arr.dtype != np.uint8:
        raise ValueError(f"write_png expects uint8, got {arr.dtype}")
    with atomic_file(Path(path)) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")
    return Path(path)


def center_crop_resize(frame: np.ndarray, resolution: int) -> np.ndarray:
    """Centre-crop ``uint8 [H, W, 3]`` to a square, then resize to R x R with Lanczos (antialiased)."""
    from PIL import Image

    h, w = frame.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = frame[top:top + s, left:left + s]
    if s == resolution:
        return np.ascontiguousarray(crop)
    return np.asarray(Image.fromarray(crop).resize((resolution, resolution), Image.Resampling.LANCZOS))
