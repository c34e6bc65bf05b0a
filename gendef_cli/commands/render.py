"""`gendef render`: rebuild a clip's videos from its tensors."""

from __future__ import annotations

from typing import Annotated

import typer

from gendef_cli.options import ClipArg, JsonOpt, QuietOpt
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr


def render(
    clip: ClipArg,
    video: Annotated[bool, typer.Option("--video", help="Write video.mp4 (the default unless --flow is given).")]
    = False,
    flow: Annotated[bool, typer.Option("--flow", help="Write flow.mp4 (deformation flow, Middlebury colours); "
                                       "with --video as well, both.")] = False,
    flow_max: Annotated[float | None, typer.Option("--flow-max", help="Flow magnitude (px) of full colour; "
                                                   "default: this clip's largest.")] = None,
    crf: Annotated[int, typer.Option("--crf", help="H.264 quality, 0 (lossless) to 51; 18 is visually lossless.")]
    = 18,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace videos that exist (a missing one is "
                                            "always written).")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Re-render CLIP/video.mp4 (or with --flow, CLIP/flow.mp4) by warping the canonical with the deformation."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        videos = api.render(clip, video=video or not flow, flow=flow, flow_max=flow_max, crf=crf,
                            overwrite=overwrite, on_event=on_event)
    paths = [clip / name for name in videos]
    summary = {"clip": str(clip), "paths": [str(p) for p in paths], "videos": videos}
    emit("\n".join(map(str, paths)), summary, as_json)  # every video written, one per line
