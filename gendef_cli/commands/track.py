"""`gendef track` and `gendef flow`: motion read off a clip's deformation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gendef_cli.options import ClipArg, JsonOpt, OverwriteOpt, QuietOpt
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr


def track(
    clip: ClipArg,
    points: Annotated[Path, typer.Option("--points", "-p", help="JSON: [[x, y], ...] canonical pixels (within the "
                                         "canonical, which may be larger than the frames), or {\"space\": "
                                         "\"frame\", \"frame\": t, \"points\": [...]} frame pixels.",
                                         show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the tracks JSON (frame pixels) here "
                                             "(default: stdout).",
                                             show_default=False)] = None,
    overlay: Annotated[Path | None, typer.Option("--overlay", help="Also write an MP4 with the tracks drawn.",
                                                 show_default=False)] = None,
    formats: Annotated[list[str] | None, typer.Option("--format", help="Also write tapvid or cotracker NPZ "
                                                      "(repeatable; beside --out unless --npz).")] = None,
    npz: Annotated[Path | None, typer.Option("--npz", help="Path of the --format NPZ file.", show_default=False)]
    = None,
    tolerance: Annotated[float, typer.Option("--tolerance", help="Residual (canonical px) above which a point "
                                             "is not visible.")] = 0.5,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Track points drawn on the canonical image (or on a frame) through every frame."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        doc = api.track(clip, points, out=out, overlay=overlay, formats=tuple(formats or ()), npz=npz,
                        tolerance=tolerance, overwrite=overwrite, on_event=on_event)
    if out is None:
        typer.echo(json.dumps(doc))
    else:
        emit(out, {"tracks": str(out), "num_points": doc["num_points"], "num_frames": doc["num_frames"]}, as_json)


def flow(
    clip: ClipArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory to create (default: CLIP-flow).",
                                             show_default=False)] = None,
    flow_max: Annotated[float | None, typer.Option("--flow-max", help="Flow magnitude (px) of full colour; "
                                                   "default: the largest.")] = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Frame-to-frame optical flow from the deformation: arrays and a colour MP4."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        result = api.flow(clip, out, flow_max=flow_max, overwrite=overwrite, on_event=on_event)
    emit(result["path"], {k: v for k, v in result.items() if k != "files"}, as_json)
