"""The image files of the edit commands: label masks (DAVIS palette PNGs, read and written), RGBA edit
layers (overlays) and edited canonicals (read), and the DAVIS palette.

Label masks are written as DAVIS does: 8-bit palette ("P" mode) PNGs whose pixel values are the
object ids (0 = background) and whose palette is the PASCAL VOC colour map (`davis_palette`);
`gendef segment` writes its masks (FORMATS.md, "Masks"; `gendef_core.artifacts.masks`) this way.
Readers also accept greyscale and RGB renderings of such masks (see `read_label_mask`).

Every reader checks the image size against the one it must have (the canonical's, or a frame's for
drawings on a frame: the caller says which in `target`) and, unless told to resize, refuses a
mismatch with a one-line `DataError` that names the file, both sizes and the fix.

Images come out in gendef's ranges: colours float in [-1, 1] (``x / 127.5 - 1`` of the 8-bit value, as
`gendef_core.data.images.from_uint8`), alpha in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from gendef_core.artifacts.common import atomic_file
from gendef_core.artifacts.images import open_image
from gendef_core.errors import DataError

if TYPE_CHECKING:
    from PIL import Image as PILImage

VOID = 255  # DAVIS ground truth marks "void" (unlabelled border) pixels with index 255


def davis_palette() -> np.ndarray:
    """The PASCAL VOC / DAVIS colour map, ``uint8 [256, 3]``: index -> (r, g, b).

    Bits 0, 1, 2 of the index go to the top bit of r, g, b; bits 3, 4, 5 to the next bit down;
    and so on. So 0 is black, 1 = (128, 0, 0), 2 = (0, 128, 0), 3 = (128, 128, 0) and
    255 (DAVIS "void") = (224, 224, 192). All 256 colours are distinct.
    """
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        c, rgb = index, [0, 0, 0]
        for shift in range(7, -1, -1):
            for ch in range(3):
                rgb[ch] |= ((c >> ch) & 1) << shift
            c >>= 3
        palette[index] = rgb
    return palette


def overlay_from_uint8(rgba: Tensor | np.ndarray) -> Tensor:
    """``uint8 [H, W, 4]`` (or ``[H, W, 3]``, then opaque) -> float32 ``[4, H, W]``: rgb in [-1, 1], alpha in [0, 1]."""
    x = torch.from_numpy(np.array(rgba)) if isinstance(rgba, np.ndarray) else rgba  # copy: PIL arrays are read-only
    if x.dtype != torch.uint8 or x.ndim != 3 or x.shape[-1] not in (3, 4):
        raise ValueError(f"expected uint8 [H, W, 3|4], got {x.dtype} {tuple(x.shape)}")
    x = x.permute(2, 0, 1).float()  # [C, H, W]
    rgb = x[:3] / 127.5 - 1.0
    alpha = x[3:4] / 255.0 if x.shape[0] == 4 else torch.ones_like(x[:1])
    return torch.cat([rgb, alpha]).contiguous()


def _open(path: Path, mode: str | None = None) -> PILImage.Image:
    """Open and decode an image (converted to `mode` if given), turning a missing or unreadable file into a
    `DataError`."""
    with open_image(path, fix="re-save it as a PNG") as im:
        im.load()
        return im.convert(mode) if mode is not None else im.copy()


def _resize_to(path: Path, actual: tuple[int, ...], expected: tuple[int, int] | None, resize: bool,
               target: str = "the canonical", hint: str | None = None) -> tuple[int, int] | None:
    """The PIL size ``(W, H)`` to resize to, or None if the size is right; a mismatch without `resize` fails.

    The error says the image must be ``expected`` "to match `target`" and ends with `hint` in
    parentheses (default: "; resize it or pass `resize`").
    """
    if expected is None or tuple(actual) == tuple(expected):
        return None
    if not resize:
        tail = f" ({hint})" if hint else "; resize it or pass `resize`"
        raise DataError(f"{path} is {actual[1]}x{actual[0]} pixels (WxH) but must be {expected[1]}x{expected[0]} "
                        f"to match {target}{tail}")
    return expected[1], expected[0]


def _palette_labels(path: Path, rgb: np.ndarray) -> np.ndarray:
    """``uint8 [H, W, 3]`` colours -> labels: DAVIS palette indices, or binary for black + one other colour."""
    pal = davis_palette().astype(np.int64)
    keys = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    colours, inverse = np.unique(keys.ravel(), return_inverse=True)
    pal_keys = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    lookup = {int(k): i for i, k in enumerate(pal_keys)}
    if all(int(c) in lookup for c in colours):
        ids = np.array([lookup[int(c)] for c in colours], dtype=np.int64)
        ids[ids == VOID] = 0
    elif len(colours) == 2 and colours[0] == 0:  # black and one non-palette colour: a binary mask
        ids = np.array([0, 1], dtype=np.int64)
    else:
        raise DataError(f"{path} has {len(colours)} colours, not all from the DAVIS palette; give an indexed "
                        f"(P-mode) or greyscale label PNG whose pixel values are the object ids")
    return ids[inverse].reshape(keys.shape)


def read_label_mask(path: Path, expected_size: tuple[int, int] | None = None, *, resize: bool = False,
                    target: str = "the canonical", hint: str | None = None) -> Tensor:
    """Read a label mask as ``int64 [H, W]``: 0 = background, other values = object ids.

    Accepted images:

    * palette ("P") PNGs, DAVIS style: the palette index is the label. Index 255 is DAVIS "void"
      (unlabelled) and is read as 0, background.
    * greyscale ("L", "1", 16-bit "I"): a mask whose only values are {0, 255} (or {0, 1}, or
      {0, 65535}) is binary, 0/1; otherwise the values are the labels.
    * RGB / RGBA (fully transparent pixels count as black): every colour must be a DAVIS palette
      colour (black = 0, (128, 0, 0) = 1, ...; void is 0 again), except that black plus exactly one
      other colour is read as a binary mask.

    `expected_size` is ``(H, W)``; a mask of another size is refused (the message names `target`, what
    the size must match, and `hint`) unless `resize`, which resizes it with nearest-neighbour sampling
    so that labels stay labels.
    """
    from PIL import Image

    path = Path(path)
    im = _open(path)
    if im.mode in ("P", "PA"):
        arr = np.asarray(im.getchannel(0) if im.mode == "PA" else im).astype(np.int64)
        arr[arr == VOID] = 0
    elif im.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L"):
        arr = np.asarray(im.getchannel(0) if im.mode == "LA" else im).astype(np.int64)
        values = set(np.unique(arr).tolist())
        for full in (1, 255, 65535):
            if values <= {0, full}:
                arr = (arr > 0).astype(np.int64)
                break
    else:
        try:
            rgba = np.asarray(im.convert("RGBA"))
        except ValueError:
            raise DataError(f"{path} has image mode {im.mode!r}; give an indexed (P-mode) or greyscale label "
                            f"PNG whose pixel values are the object ids") from None
        rgb = np.where(rgba[..., 3:] == 0, 0, rgba[..., :3]).astype(np.uint8)
        arr = _palette_labels(path, rgb)
    if arr.min() < 0 or arr.max() > 254:
        raise DataError(f"{path} has label values outside 0..254 (found {int(arr.min())}..{int(arr.max())}); DAVIS "
                        f"masks are 8-bit with 255 = void: renumber the objects 1..254")
    size = _resize_to(path, arr.shape, expected_size, resize, target, hint)
    if size is not None:
        small = Image.fromarray(arr.astype(np.int32))  # mode "I": nearest keeps any label value
        arr = np.asarray(small.resize(size, Image.Resampling.NEAREST))
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64))


def write_label_png(path: Path, labels: Tensor | np.ndarray) -> Path:
    """Write an integer label map ``[H, W]`` in [0, 255] as an 8-bit DAVIS palette PNG, atomically."""
    from PIL import Image

    arr = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"labels must be an integer [H, W] map, got {arr.dtype} {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"labels must be in [0, 255] for an 8-bit label PNG, got [{arr.min()}, {arr.max()}]")
    h, w = arr.shape
    im = Image.frombytes("P", (w, h), np.ascontiguousarray(arr, dtype=np.uint8).tobytes())
    im.putpalette(davis_palette().tobytes())
    with atomic_file(Path(path)) as tmp:
        im.save(tmp, format="PNG")
    return Path(path)


def read_overlay(path: Path, expected_size: tuple[int, int] | None = None, *, resize: bool = False,
                 target: str = "the canonical", hint: str | None = None) -> Tensor:
    """Read an RGBA edit layer as float32 ``[4, H, W]``: rgb in [-1, 1], alpha in [0, 1] (opaque if no alpha).

    `expected_size` is ``(H, W)``; another size is refused (naming `target` and `hint`) unless `resize`
    (bilinear; Pillow resizes RGBA with premultiplied alpha, so transparent pixels do not bleed their colour).
    """
    from PIL import Image

    path = Path(path)
    arr = np.array(_open(path, "RGBA"))  # uint8 [H, W, 4]
    size = _resize_to(path, arr.shape[:2], expected_size, resize, target, hint)
    if size is not None:
        arr = np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BILINEAR))
    return overlay_from_uint8(arr)


def read_canonical_image(path: Path, expected_size: tuple[int, int] | None = None, *, resize: bool = False,
                         target: str = "the canonical", hint: str | None = None) -> Tensor:
    """Read an edited canonical as float32 ``[3, H, W]`` in [-1, 1].

    `expected_size` is ``(H, W)``; another size is refused (naming `target` and `hint`) unless `resize`
    (Lanczos).
    """
    from PIL import Image

    path = Path(path)
    arr = np.array(_open(path, "RGB"))  # uint8 [H, W, 3]
    size = _resize_to(path, arr.shape[:2], expected_size, resize, target, hint)
    if size is not None:
        arr = np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.LANCZOS))
    x = torch.from_numpy(np.array(arr)).float()  # copy: PIL arrays are read-only
    return (x / 127.5 - 1.0).permute(2, 0, 1).contiguous()
