"""`gendef fit`: your own video as canonical image(s) + deformation, so edit/track/segment/flow work on it."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from gendef_cli.options import DeviceOpt, JsonOpt, OverwriteOpt, QuietOpt
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr


def _margin(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(f"must be 'auto' or a number of pixels, got {value!r}",
                                 param_hint="'--margin'") from None


def fit(
    video: Annotated[Path, typer.Argument(help="A video file (mp4, webm, mov, avi, mkv, gif, ...) or a folder of "
                                          "frames.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Clip to create (a folder of shot-NNN clips when the "
                                      "video has scene cuts).", show_default=False)],
    start: Annotated[int, typer.Option("--start", help="First frame to fit (0-based).", min=0)] = 0,
    frames: Annotated[int | None, typer.Option("--frames", "-t", help="Number of frames (default: to the end).",
                                               show_default=False)] = None,
    size: Annotated[int | None, typer.Option("--size", help="Short side of the fit in px; the aspect ratio is kept "
                                             "(default: 128, or the video's own if smaller).",
                                             show_default=False)] = None,
    quality: Annotated[str, typer.Option("--quality", help="fast, default or best.")] = "default",
    margin: Annotated[str, typer.Option("--margin", help="Canvas margin around the frame: auto (from the camera "
                                        "motion) or px on every side.")] = "auto",
    shot: Annotated[int | None, typer.Option("--shot", help="Fit only shot K (0-based) of a video with cuts.",
                                             show_default=False)] = None,
    device: DeviceOpt = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the refinement (the fit is deterministic).")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue a killed fit of the same command.")] = False,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Decompose your own video into a canonical image + deformation (a clip every command accepts)."""
    from gendef_core import api

    px = _margin(margin)
    from gendef_cli.main import invoked_args

    command = "gendef " + " ".join(shlex.quote(a) for a in invoked_args())
    with progress_to_stderr(quiet) as on_event:
        summary = api.fit(video, out, start=start, frames=frames, size=size, quality=quality, margin=px, shot=shot,
                          device=device, seed=seed, overwrite=overwrite, resume=resume, command=command,
                          on_event=on_event)
    emit(out, summary.to_dict(), as_json)
