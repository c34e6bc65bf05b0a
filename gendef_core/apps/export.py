"""`gendef export`: a run's EMA generator and config as a small inference checkpoint."""

from __future__ import annotations

from pathlib import Path

from gendef_core.artifacts.checkpoint import export_generator
from gendef_core.models.bundled import resolve_ckpt


def export_model(run: Path | str, out: Path, *, overwrite: bool = False) -> Path:
    """Write a run's (or checkpoint's) EMA generator and config as a small inference checkpoint (`gendef export`).

    What `gendef sample --ckpt` needs and nothing else (no discriminator, raw weights or optimizer state);
    the bundled model is made this way (examples/bundled_model.sh).
    """
    return export_generator(resolve_ckpt(run)[0], Path(out), overwrite=overwrite)
