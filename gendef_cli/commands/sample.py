"""`gendef sample` and `gendef resample`: clips from a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gendef_cli.options import (
    BatchOpt,
    CkptOpt,
    ClipArg,
    DeviceOpt,
    FlowMaxOpt,
    FlowVideoOpt,
    JsonOpt,
    OverwriteOpt,
    QuietOpt,
)
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr

OutClipOpt = Annotated[Path, typer.Option("--out", "-o", help="Clip directory to create (with --num > 1: a "
                                          "directory of clips 000000, 000001, ...).", show_default=False)]


def sample(
    out: OutClipOpt,
    ckpt: CkptOpt = None,
    num: Annotated[int, typer.Option("--num", "-n", help="Number of clips (clip i uses seed SEED+i).")] = 1,
    frames: Annotated[int, typer.Option("--frames", "-t", help="Frames per clip (any length).")] = 16,
    fps: Annotated[str, typer.Option("--fps", help="Frame rate of video.mp4, e.g. 25 or 30000/1001.")] = "25",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the first clip.")] = 0,
    truncation: Annotated[float, typer.Option("--truncation", help="Truncation psi in [0, 1] (1 = none).")] = 1.0,
    batch_size: BatchOpt = 32,
    device: DeviceOpt = "auto",
    flow: FlowVideoOpt = False,
    flow_max: FlowMaxOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Generate clips: canonical image, deformation fields, latents and video.mp4."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        paths = api.sample(out, ckpt=ckpt, num=num, frames=frames, fps=fps, seed=seed, truncation=truncation,
                           batch_size=batch_size, device=device, flow=flow, flow_max=flow_max, overwrite=overwrite,
                           on_event=on_event)
    emit(out, {"out": str(out), "clips": [str(p) for p in paths], "num_frames": frames, "seed": seed}, as_json)


def resample(
    clip: ClipArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Clip directory to create.", show_default=False)],
    motion_seed: Annotated[int | None, typer.Option("--motion-seed", help="Seed of the new motion (the motion "
                                                    "`sample --seed S` draws); default: the clip's seed + 1.")]
    = None,
    ckpt: Annotated[Path | None, typer.Option("--ckpt", help="Model (default: the checkpoint the clip records).",
                                              show_default=False)] = None,
    frames: Annotated[int | None, typer.Option("--frames", "-t", help="Frames (default: as the clip).")] = None,
    batch_size: BatchOpt = 32,
    device: DeviceOpt = "auto",
    flow: FlowVideoOpt = False,
    flow_max: FlowMaxOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Same canonical image and content, new motion: a new clip."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        path = api.resample(clip, out, motion_seed=motion_seed, ckpt=ckpt, frames=frames, batch_size=batch_size,
                            device=device, flow=flow, flow_max=flow_max, overwrite=overwrite, on_event=on_event)
    emit(path, {"clip": str(path), "from": str(clip)}, as_json)


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to create (OUT/index.html is the page).",
                                      show_default=False)] = Path("demo"),
    video: Annotated[Path | None, typer.Option("--video", help="Your own video (a file or a folder of frames): fit "
                                               "it, then edit, track, segment and compute the flow on it.",
                                               show_default=False)] = None,
    frames: Annotated[int | None, typer.Option("--frames", "-t", help="With --video: fit its first N frames "
                                               "(default 64; about a minute at 128 px on 2 CPU cores). Without: "
                                               "frames per sampled clip (default 48).", show_default=False)] = None,
    size: Annotated[int | None, typer.Option("--size", help="With --video: short side of the fit in px (default: "
                                             "gendef fit's, 128 or the video's own if smaller).",
                                             show_default=False)] = None,
    quality: Annotated[str, typer.Option("--quality", help="Quality of the fit: fast, default or best.")] = "default",
    fit_frames: Annotated[int, typer.Option("--fit-frames", help="Without --video: frames of the generated pan "
                                            "that the demo fits (0: leave that section out).")] = 48,
    ckpt: CkptOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the first clip and of the fit.")] = 0,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The whole story -> index.html: on the bundled model (sample, resample, edit, track, segment, flow, and a
    fitted pan), or with --video on your own video (fit, then edit, track, segment, flow on its frame 0)."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        summary = api.demo(out, ckpt=ckpt, frames=frames, seed=seed, video=video, size=size, quality=quality,
                           fit_frames=fit_frames, overwrite=overwrite, on_event=on_event)
    emit(summary["index"], summary, as_json)
