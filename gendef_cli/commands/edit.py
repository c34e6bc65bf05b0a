"""`gendef edit` and `gendef segment`: edits and masks drawn once, carried to every frame."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gendef_cli.options import ClipArg, FlowVideoOpt, JsonOpt, OverwriteOpt, QuietOpt
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr

ResizeOpt = Annotated[bool, typer.Option("--resize", help="Resize the image to the size it must have (the "
                                         "canonical's, or with --frame the frame's) instead of refusing another "
                                         "size.")]


def edit(
    clip: ClipArg,
    scribble: Annotated[Path | None, typer.Option("--scribble", help="RGBA overlay PNG at the canonical's size "
                                                  "(as CLIP/canonical.png), alpha-composited onto it; with --frame, "
                                                  "at the frame size.", show_default=False)] = None,
    canonical: Annotated[Path | None, typer.Option("--canonical", help="An image at the canonical's size that "
                                                   "replaces it (e.g. canonical.png restyled in another tool).",
                                                   show_default=False)] = None,
    frame: Annotated[int | None, typer.Option("--frame", help="The --scribble is drawn on this frame (0-based), at "
                                              "the frame size; it is mapped into the canonical first.",
                                              show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Clip to create (default: CLIP-edited).",
                                             show_default=False)] = None,
    resize: ResizeOpt = False,
    flow: FlowVideoOpt = False,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Edit the canonical image once; the edit follows the content in every frame (a new clip)."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        summary = api.edit(clip, out, scribble=scribble, canonical=canonical, frame=frame, resize=resize, flow=flow,
                           overwrite=overwrite, on_event=on_event)
    emit(summary["clip"], summary, as_json)


def segment(
    clip: ClipArg,
    mask: Annotated[Path, typer.Option("--mask", help="Label PNG at the canonical's size (as CLIP/canonical.png), "
                                       "or with --frame at the frame size: binary, greyscale ids or DAVIS palette.",
                                       show_default=False)],
    frame: Annotated[int | None, typer.Option("--frame", help="The --mask is drawn on this frame (0-based), at the "
                                              "frame size; what the frame does not show stays background.",
                                              show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory of per-frame masks to create "
                                             "(default: CLIP-masks).", show_default=False)] = None,
    overlay: Annotated[Path | None, typer.Option("--overlay", help="Also write an MP4 with the masks blended in.",
                                                 show_default=False)] = None,
    mode: Annotated[str, typer.Option("--mode", help="bilinear (one-hot warp + argmax) or nearest.")] = "bilinear",
    resize: ResizeOpt = False,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Carry a mask drawn on the canonical (or on one frame) to every frame (DAVIS-style PNGs)."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        result = api.segment(clip, mask, frame=frame, out=out, overlay=overlay, mode=mode, resize=resize,
                             overwrite=overwrite, on_event=on_event)
    emit(result["path"], {k: v for k, v in result.items() if k != "area"}, as_json)
