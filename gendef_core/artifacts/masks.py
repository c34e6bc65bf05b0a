"""The masks artifact (`gendef.masks`): what `gendef segment` writes (FORMATS.md, "Masks").

The per-frame label PNGs are written by `gendef_core.artifacts.edit_images.write_label_png` (the label
PNG format, with its reader); this module names them and writes the manifest that describes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from gendef_core.artifacts.common import Header, artifact_path, header, read_manifest, write_json_atomic
from gendef_core.artifacts.schema import (
    HEADER,
    HEADER_OPTIONAL,
    array,
    integer,
    list_of,
    mapping,
    nullable,
    number,
    obj,
    one_of,
    string,
    validate,
)
from gendef_core.errors import ArtifactError

MASKS_FORMAT = "gendef.masks"
MASKS_VERSION = 1
MASKS_CONVENTION = "DAVIS: <frame:05d>.png, 8-bit palette PNG, value = object id, 0 = background"


def mask_name(t: int) -> str:
    """The file of frame `t`'s labels in a masks directory."""
    return f"{t:05d}.png"


class MasksManifest(Header):
    """The ``manifest.json`` of a masks artifact (FORMATS.md, "Masks")."""

    clip: str
    mask: str
    frame: int | None               # None: the mask was drawn on the canonical
    mode: str                       # "bilinear" or "nearest"
    num_frames: int
    height: int                     # the frame size
    width: int
    labels: list[int]               # the ids present in the input mask
    convention: str
    area: dict[str, list[float]]    # id -> fraction of frame pixels, per frame


def write_masks_manifest(directory: Path, *, clip: str, mask: str, frame: int | None, mode: str,
                         labels: Tensor, ids: Sequence[int]) -> MasksManifest:
    """Write ``manifest.json`` into `directory`, a masks artifact being built whose `mask_name` PNGs hold
    ``labels`` int ``[T, H, W]``; `ids` are the labels of the input mask. Returns the manifest."""
    t, h, w = labels.shape
    area = {str(i): [round(float(v), 6) for v in (labels == i).float().mean(dim=(1, 2))] for i in ids}
    manifest: MasksManifest = {**header(MASKS_FORMAT, MASKS_VERSION), "clip": clip, "mask": mask, "frame": frame,
                "mode": mode, "num_frames": int(t), "height": int(h), "width": int(w), "labels": list(ids),
                "convention": MASKS_CONVENTION, "area": area}
    write_json_atomic(Path(directory) / "manifest.json", manifest)
    return manifest


_FIX = "re-create it with `gendef segment`"
_SIDE = integer(1, 1 << 16)


def read_masks_manifest(directory: Path) -> MasksManifest:
    """The validated manifest of a masks directory (every field, and one label PNG per frame present)."""
    directory = Path(directory)
    m = read_manifest(directory, fmt=MASKS_FORMAT, version=MASKS_VERSION, what="masks directory",
                      fix="point at a directory written by `gendef segment`")
    where = directory / "manifest.json"
    t = validate(m, obj({"num_frames": integer(1, 10_000_000)}), where, fix=_FIX)["num_frames"]
    validate(m, obj({**HEADER, "clip": string(), "mask": string(), "frame": nullable(integer(0, t - 1)),
                     "mode": one_of("bilinear", "nearest"), "num_frames": integer(1), "height": _SIDE, "width": _SIDE,
                     "labels": list_of(integer(0, 254)), "convention": string(),
                     "area": mapping(string(r"\d{1,3}", what="an object id"), array((t,), number(0, 1)))},
                    HEADER_OPTIONAL), where, fix=_FIX)
    for i in range(t):
        if not artifact_path(directory, mask_name(i), fix=_FIX).is_file():
            raise ArtifactError(f"{directory / mask_name(i)} is missing; {_FIX}")
    return m  # type: ignore[return-value]  # validated against MasksManifest's fields just above
