"""`gendef export`: a run's EMA generator and config as a small inference checkpoint."""

from __future__ import annotations

from pathlib import Path

from gendef_core.artifacts.checkpoint import export_generator, load_checkpoint
from gendef_core.artifacts.paths import check_apart
from gendef_core.events import Info, OnEvent, ignore
from gendef_core.models.bundled import resolve_ckpt


def export_model(run: Path | str, out: Path, *, overwrite: bool = False, on_event: OnEvent = ignore) -> Path:
    """Write a run's (or checkpoint's) EMA generator and config as a small inference checkpoint (`gendef export`).

    What `gendef sample --ckpt` needs and nothing else (no discriminator, raw weights or optimizer state);
    the bundled model is made this way (examples/bundled_model.sh).
    """
    source = resolve_ckpt(run, param="run")[0]
    # Never in a run's checkpoints/ folder (check_apart): the export would become the run's latest checkpoint.
    check_apart(Path(out), {"run": run, "checkpoint": source}, sealed=("checkpoint",))
    path = export_generator(source, Path(out), overwrite=overwrite)
    ck = load_checkpoint(path, verify=False)
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    on_event(Info(f"exported {', '.join(ck.networks)} of step {ck.step} from {run} ({size / 2**20:.1f} MiB)"))
    return path
