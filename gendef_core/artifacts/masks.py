"""The masks artifact (`gendef.masks`): what `gendef segment` writes (FORMATS.md, "Masks").

The per-frame label PNGs are image files (`gendef_core.data.edit_images.write_label_png`); this
module names them and writes the manifest that describes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from gendef_core.artifacts.common import header, write_json_atomic

MASKS_FORMAT = "gendef.masks"
MASKS_VERSION = 1
MASKS_CONVENTION = "DAVIS: <frame:05d>.png, 8-bit palette PNG, value = object id, 0 = background"


def mask_name(t: int) -> str:
    """The file of frame `t`'s labels in a masks directory."""
    return f"{t:05d}.png"


def write_masks_manifest(directory: Path, *, clip: str, mask: str, frame: int | None, mode: str,
                         labels: Tensor, ids: Sequence[int]) -> dict[str, Any]:
    """Write ``manifest.json`` into `directory`, a masks artifact being built whose `mask_name` PNGs hold
    ``labels`` int ``[T, H, W]``; `ids` are the labels of the input mask. Returns the manifest."""
    t, h, w = labels.shape
    area = {str(i): [round(float(v), 6) for v in (labels == i).float().mean(dim=(1, 2))] for i in ids}
    manifest = {**header(MASKS_FORMAT, MASKS_VERSION), "clip": clip, "mask": mask, "frame": frame,
                "mode": mode, "num_frames": int(t), "height": int(h), "width": int(w), "labels": list(ids),
                "convention": MASKS_CONVENTION, "area": area}
    write_json_atomic(Path(directory) / "manifest.json", manifest)
    return manifest
