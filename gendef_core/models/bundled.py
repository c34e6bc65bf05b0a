"""The model that ships inside the package, so that `gendef sample --out clip/` works with no arguments.

It is an exported checkpoint (EMA generator + config, FORMATS.md) in ``gendef_core/bundled/<name>/`` with
a MODEL_CARD.md. Commands record it in clips as ``bundled:<name>``, which stays valid when the package
moves, and accept that string (or just ``bundled``) wherever they take a checkpoint.
"""

from __future__ import annotations

import re
from pathlib import Path

from gendef_core.errors import ArtifactError

BUNDLED = "clouds64"
PREFIX = "bundled:"


def bundled_path(name: str = BUNDLED, *, param: str = "ckpt") -> Path:
    """The directory of a bundled model (refuses an unknown name or an installation without it; the message
    names `param`, the caller's parameter that takes another model)."""
    root = Path(__file__).resolve().parent.parent / "bundled"
    path = root / name
    if not re.fullmatch(r"[a-z0-9_]+", name) or not (path / "manifest.json").is_file():
        raise ArtifactError(f"the bundled model {name!r} is not installed ({path} is missing); reinstall gendef "
                            f"or pass a run or checkpoint as `{param}`")
    return path


def is_installed(name: str) -> bool:
    """Whether the bundled model `name` is installed (`bundled_path` would find it)."""
    try:
        bundled_path(name)
    except ArtifactError:
        return False
    return True


def resolve_ckpt(ckpt: Path | str | None, *, param: str = "ckpt") -> tuple[Path, str]:
    """(directory, how clips should record it): None / "bundled" / "bundled:NAME" -> the bundled model.

    `param` is the caller's name of `ckpt` (for the message if the bundled model is not installed)."""
    text = None if ckpt is None else str(ckpt)
    if text is None or text == "bundled" or text.startswith(PREFIX):
        name = BUNDLED if text in (None, "bundled") else text.removeprefix(PREFIX)
        return bundled_path(name, param=param), PREFIX + name
    return Path(text), ""
