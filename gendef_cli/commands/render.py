"""`gendef render`: rebuild a clip's videos from its tensors."""

from __future__ import annotations

from typing import Annotated

import typer

from gendef_cli.options import ClipArg, JsonOpt, QuietOpt
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr


def render(
    clip: ClipArg,
    flow: Annotated[bool, typer.Option("--flow", help="Also write flow.mp4 (deformation flow, Middlebury "
                                       "colours).")] = False,
    flow_max: Annotated[float | None, typer.Option("--flow-max", help="Flow magnitude (px) of full colour; "
                                                   "default: this clip's largest.")] = None,
    crf: Annotated[int, typer.Option("--crf", help="H.264 quality, 0 (lossless) to 51; 18 is visually lossless.")]
    = 18,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Re-render CLIP/video.mp4 by warping the canonical with the deformation."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        videos = api.render(clip, flow=flow, flow_max=flow_max, crf=crf, on_event=on_event)
    emit(clip / ("flow.mp4" if flow else "video.mp4"), {"clip": str(clip), "videos": videos}, as_json)
