"""Opening image files: the one place gendef does (dataset frames, frame folders, the images of the edit
commands), so that every unreadable image, however it fails, is one line that says what to do."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gendef_core.errors import DataError, GendefError

if TYPE_CHECKING:
    from PIL import Image as PILImage

MAX_IMAGE_PIXELS = 89_478_485
"""Largest image decoded (Pillow's default limit, about 9459 x 9459 pixels). Larger headers are refused
before decoding: a small file can claim a huge image (a "decompression bomb")."""

READABLE = "re-save it as a PNG or JPEG, or remove it"
"""The default fix for an image that cannot be read."""


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


@contextlib.contextmanager
def open_image(path: Path, *, error: type[GendefError] = DataError, fix: str = READABLE
               ) -> Iterator[PILImage.Image]:
    """``with open_image(path) as im:`` a Pillow image, header read; decoding (``im.load()``, ``convert``)
    happens in the body. A missing file, an unreadable or truncated image (also when it fails while
    decoding in the body) and an image of more than `MAX_IMAGE_PIXELS` pixels raise `error`, one line
    naming `path` and ending with `fix`.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    unreadable = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
    try:
        with warnings.catch_warnings():  # Pillow only warns below 2x its limit: refused below (one rule)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except FileNotFoundError:
        raise error(f"{path} does not exist") from None
    except IsADirectoryError:
        raise error(f"{path} is a directory, not an image; {fix}") from None
    except Image.DecompressionBombError as e:
        raise error(f"{path} is too large to decode ({_one_line(e)}); give an image of at most "
                    f"{MAX_IMAGE_PIXELS} pixels") from None
    except unreadable as e:
        raise error(f"{path} is not a readable image ({_one_line(e)}); {fix}") from None
    with im:
        w, h = im.size
        if w * h > MAX_IMAGE_PIXELS:
            raise error(f"{path} is {w}x{h} pixels, more than gendef decodes ({MAX_IMAGE_PIXELS} pixels; it may be "
                        f"a decompression bomb); give a smaller image")
        try:
            yield im
        except unreadable as e:
            raise error(f"{path} is not a readable image ({_one_line(e)}); {fix}") from None
