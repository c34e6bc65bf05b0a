"""`gendef data …`: build datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gendef_cli.options import FpsOpt, JsonOpt, OutDirOpt, OverwriteOpt, QuietOpt
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr

app = typer.Typer(help="Build datasets: from your videos, or procedural ones with ground truth.",
                  no_args_is_help=True)


@app.command()
def synth(
    out: OutDirOpt,
    kind: Annotated[str, typer.Option("--kind", help="sprites (moving objects, still background), clouds "
                                      "(the whole sky deforms) or pan (a camera pans over a large scene with a "
                                      "deforming patch and a moving object).")] = "sprites",
    num_videos: Annotated[int, typer.Option("--num-videos", min=1, help="Number of videos.")] = 16,
    frames: Annotated[int, typer.Option("--frames", min=2, help="Frames per video.")] = 32,
    resolution: Annotated[int, typer.Option("--resolution", help="Frame size R (R x R), a power of two.")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the dataset is a function of it.")] = 0,
    fps: FpsOpt = "25",
    grid: Annotated[int, typer.Option("--grid", min=1, help="Ground-truth tracks for a grid x grid of points.")] = 8,
    motion: Annotated[float, typer.Option("--motion", help="Motion strength: the speed of the scenes' clock (0 = "
                                          "still, 2 = twice as fast along the same paths).")] = 1.0,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Generate a procedural video dataset whose motion is known exactly."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        s = api.synth_dataset(kind, out, num_videos=num_videos, num_frames=frames, resolution=resolution,
                              seed=seed, fps=fps or "25", grid=grid, motion=motion, overwrite=overwrite,
                              on_event=on_event)
    emit(out, s.to_dict(), as_json)


@app.command()
def prepare(
    src: Annotated[Path, typer.Argument(metavar="SRC",
                                        help="Folder or .zip of video files and/or folders of frames.",
                                        show_default=False)],
    out: OutDirOpt,
    resolution: Annotated[int, typer.Option("--resolution", help="Frame size R (R x R), a power of two.",
                                            show_default=False)],
    fps: FpsOpt = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", min=1, help="Keep at most N frames per video.")]
    = None,
    min_frames: Annotated[int, typer.Option("--min-frames", min=1, help="Skip videos shorter than this.")] = 16,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip unreadable videos instead of failing.")] = False,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Centre-crop and resize videos or frame folders into a gendef dataset."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        s = api.prepare_dataset(src, out, resolution=resolution, fps=fps, max_frames=max_frames,
                                min_frames=min_frames, skip_bad=skip_bad, overwrite=overwrite, on_event=on_event)
    emit(out, s.to_dict(), as_json)


@app.command()
def clip(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="A `gendef data synth --kind clouds` dataset.",
                                         show_default=False)],
    out: OutDirOpt,
    video: Annotated[str, typer.Option("--video", help="Video name or index.")] = "0",
    flow: Annotated[bool, typer.Option("--flow", help="Also write flow.mp4.")] = False,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a clouds video's exact canonical image and deformation as a clip."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        path = api.dataset_clip(data, out, video=video, flow=flow, overwrite=overwrite, on_event=on_event)
    emit(path, api.describe(path) if as_json else {}, as_json)
