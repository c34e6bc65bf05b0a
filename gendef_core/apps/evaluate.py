"""`gendef eval` and `gendef eval-tracks`: standard FVD/FID offline, motion-aware checks, TAP-Vid scores.

Protocol (StyleGAN-V, written down in docs/EVALUATION.md):
- FVD_T (T = 16 or 128): I3D (TF-Hub Kinetics-400 weights) time-averaged logits of every frame resized
  bilinearly to 224² and scaled 2x/255 - 1; real = one random T-frame window per dataset video of at
  least T frames (shorter ones dropped and counted), at most `num_videos` videos; fake = `num_videos`
  samples, frames t = 0..T-1, no truncation (or the first T frames of the given files).
- FID: Inception-v3 pool features (2048-d) of frames resized bilinearly to 299²; real = every frame of
  the dataset; fake = `num_frames_fid` frames taken from 16-frame samples.
- Fréchet distance in float64 (gendef_core.metrics.frechet). With `runs` > 1, run r uses seed + r for
  the fakes and the real windows; the report gives mean and std (ddof 1) over runs.
- Real statistics are cached under `cache` (default $GENDEF_CACHE or ~/.cache/gendef, then stats/) by a
  key of the dataset manifest's sha256, the network's sha256 and every protocol parameter.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import torch
from torch import Tensor

from gendef_core.apps.motion_eval import MotionReport, motion_report
from gendef_core.errors import ConfigError, DataError
from gendef_core.events import Info, OnEvent, Progress, Warning, ignore

METRICS = ("fvd16", "fvd128", "fid", "motion")
STATS_VERSION = 1
FID_VIDEO_FRAMES = 16


@dataclass(frozen=True)
class Sizes:
    """How many videos and frames an evaluation uses (None real FID frames: all of them)."""

    num_videos: int
    num_frames_fid: int
    num_real_fid: int | None
    motion_videos: int


STANDARD = Sizes(num_videos=2048, num_frames_fid=50_000, num_real_fid=None, motion_videos=64)
# `quick`: a protocol a CPU finishes in minutes (about 5 on the 2-core machine below, for fvd16,fid on 64 px
# data). Its numbers compare only with numbers computed the same way.
QUICK = Sizes(num_videos=64, num_frames_fid=256, num_real_fid=256, motion_videos=16)
# Seconds per unit on a CPU, measured on this project's 2-core machine (torch 2.13, 2 threads, docs/EVALUATION.md
# "Cost"): the basis of the time estimate printed before an evaluation starts. Another CPU, another load or a
# GPU differ; the estimate says so.
CPU_SECONDS = {"i3d_frame": 1.0 / 16,              # I3D at 224x224, per frame of a 16-frame clip
               "inception_frame": 0.25,            # Inception at 299x299, per frame
               "generate_frame_64": 0.27 / 16,     # the bundled 64 px model, per generated frame
               "load_i3d": 1.3, "load_inception": 0.8}  # loading (and checking) each network once


class FrechetResult(TypedDict):
    """A Fréchet distance: mean and std over the runs, and each run's value (rounded to 1e-4)."""

    mean: float
    std: float          # ddof 1; 0 for one run
    runs: list[float]


class FvdCounts(TypedDict):
    num_real: int
    dropped_short_real: int
    num_fake: int
    skipped_short_fake: int
    num_frames: int


class FvdResult(FrechetResult, FvdCounts):
    """An FVD_T result: the distance and the videos it was computed from (those of the last run)."""


class FidResult(FrechetResult):
    """An FID result: the distance and the frames it was computed from."""

    num_real: int
    num_fake: int


class ModelSource(TypedDict):
    ckpt: str           # the checkpoint, or how clips record the bundled model
    variant: str
    weights: str        # "ema" (the standard) or "raw" (`raw_weights`)


class FilesSource(TypedDict):
    fake: str
    num_files: int


class EvaluationProtocol(TypedDict):
    num_videos: int
    num_frames_fid: int
    num_real_fid: int | None
    runs: int
    seed: int
    truncation_psi: float
    quick: bool


class EvaluationReport(TypedDict):
    """What `evaluate` returns (docs/EVALUATION.md): per metric its result and the seconds it took."""

    data: str
    source: ModelSource | FilesSource
    metrics: dict[str, FvdResult | FidResult | MotionReport]  # "fvd16", "fvd128", "fid", "motion"
    seconds: dict[str, float]
    protocol: EvaluationProtocol
    estimated_seconds: dict[str, float]


def default_cache() -> Path:
    return Path(os.environ.get("GENDEF_CACHE") or Path.home() / ".cache" / "gendef") / "stats"


def _cache_dir(cache: Path | bool | None) -> Path | None:
    """The real-statistics cache of a `cache` argument: False none, None or True `default_cache()`, else it."""
    return None if cache is False else (default_cache() if cache is None or cache is True else Path(cache))


def _stats_key(**fields: Any) -> str:
    return hashlib.sha256(json.dumps({"version": STATS_VERSION, **fields}, sort_keys=True).encode()).hexdigest()[:32]


def _cached_stats(cache: Path | None, key: str, compute: Callable[[], np.ndarray],
                  on_event: OnEvent) -> tuple[np.ndarray, np.ndarray]:
    from gendef_core.artifacts.tensors import load_tensors, save_tensors
    from gendef_core.metrics.frechet import feature_stats

    path = cache / f"{key}.safetensors" if cache is not None else None
    if path is not None and path.is_file():
        t = load_tensors(path, fix=f"delete {path} (a cache file) and run again")
        on_event(Info(f"real statistics from the cache ({path.name})"))
        return t["mu"].numpy(), t["sigma"].numpy()
    mu, sigma = feature_stats(compute())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_tensors(path, {"mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma)}, {"key": key})
    return mu, sigma


def _features(batches: Iterator[Tensor], extract: Callable[[Tensor], np.ndarray], task: str, total: int,
              on_event: OnEvent) -> np.ndarray:
    out, done = [], 0
    for b in batches:
        out.append(extract(b))
        done += b.shape[0]
        on_event(Progress(task, min(done, total), total))
    if not out:
        raise DataError(f"{task}: no videos to evaluate")
    return np.concatenate(out)


def _mean_std(values: list[float]) -> FrechetResult:
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "runs": [round(v, 4) for v in values]}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def estimate_seconds(metrics: tuple[str, ...], *, num_videos: int, num_frames_fid: int, num_real_fid: int,
                     real_lengths: list[int], runs: int, motion_videos: int, motion_frames: int,
                     resolution: int | None) -> dict[str, float]:
    """Seconds each metric should take on a CPU like the one of `CPU_SECONDS` (an estimate, not a promise).

    `resolution` is the model's (None: fake files, read rather than generated); the real side counts as
    computed (a cached one costs nothing).
    """
    gen = 0.0 if resolution is None else CPU_SECONDS["generate_frame_64"] * (resolution / 64) ** 2
    out = {}
    for m in metrics:
        if m.startswith("fvd"):
            t = int(m[3:])
            fake = num_videos * t * (gen + CPU_SECONDS["i3d_frame"])
            real = min(num_videos, sum(n >= t for n in real_lengths)) * t * CPU_SECONDS["i3d_frame"]
            out[m] = CPU_SECONDS["load_i3d"] + runs * (fake + real)
        elif m == "fid":
            out[m] = (CPU_SECONDS["load_inception"] + runs * num_frames_fid * (gen + CPU_SECONDS["inception_frame"])
                      + num_real_fid * CPU_SECONDS["inception_frame"])
        else:
            out[m] = motion_videos * motion_frames * gen * 2
    return out


def evaluate(data: Path, *, ckpt: Path | str | None = None, fake: Path | None = None,
             metrics: tuple[str, ...] = ("fvd16", "fid"), num_videos: int | None = None,
             num_frames_fid: int | None = None, num_real_fid: int | None = None, runs: int = 1, seed: int = 0,
             i3d: Path | None = None, inception: Path | None = None,
             batch_size: int = 16, device: str = "auto", cache: Path | bool | None = None,
             motion_videos: int | None = None, motion_frames: int = 32, quick: bool = False,
             raw_weights: bool = False, on_event: OnEvent = ignore) -> EvaluationReport:
    """Score a model (`ckpt`; None or "bundled": the bundled model) or files (`fake`: clips or MP4s)
    against dataset `data` (`gendef eval`).

    The sizes left None are the standard protocol's (`STANDARD`: 2,048 FVD videos, 50,000 FID frames,
    every real frame, 64 motion videos), or with `quick` the CPU-sized `QUICK` (64 videos, 256 fake and
    256 real FID frames, 16 motion videos; numbers comparable only with numbers made the same way).
    `num_real_fid` limits FID's real frames to a random subset (the standard uses them all).
    `raw_weights`: a training checkpoint's raw weights instead of their EMA (which sampling and the standard
    protocol use; for studying what the EMA averages away).
    `cache=False` disables the real-statistics cache; None uses `default_cache()`. Before the work starts an
    `Info` event gives the estimated time on a CPU (from `CPU_SECONDS`, measured on a 2-core machine).
    Returns a JSON-able report (see docs/EVALUATION.md).
    """
    from gendef_core.data.datasets import load_video_frames
    from gendef_core.devices import pick_device
    from gendef_core.metrics import videos as src
    from gendef_core.models.loading import load_generator

    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ConfigError(f"`metrics` must be a comma-separated subset of {','.join(METRICS)}, got {','.join(metrics)}")
    if raw_weights and fake is not None:
        raise ConfigError("`raw_weights` goes with `ckpt` (a training checkpoint), not with `fake` files")
    if ckpt is not None and fake is not None:
        raise ConfigError("give one of `ckpt` RUN (a model; default: the bundled model) and `fake` DIR (clips or "
                          "MP4 files), not both")
    sizes = QUICK if quick else STANDARD
    num_videos = sizes.num_videos if num_videos is None else num_videos
    num_frames_fid = sizes.num_frames_fid if num_frames_fid is None else num_frames_fid
    num_real_fid = sizes.num_real_fid if num_real_fid is None else num_real_fid
    motion_videos = sizes.motion_videos if motion_videos is None else motion_videos
    if (min(num_videos, num_frames_fid, runs, batch_size, motion_videos) < 1 or motion_frames < 4 or seed < 0
            or (num_real_fid is not None and num_real_fid < 2)):
        raise ConfigError("`num_videos`, `num_frames_fid`, `runs`, `batch_size` and `motion_videos` must be >= 1, "
                          "`num_real_fid` >= 2, `motion_frames` >= 4 and `seed` >= 0")
    dev = pick_device(device)
    cache_dir = _cache_dir(cache)
    frames = load_video_frames(Path(data), on_event=on_event)
    data_key = _data_key(Path(data), frames)
    gen = files = None
    z_dim = 0
    resolution = None
    if fake is None:
        from gendef_core.models.bundled import resolve_ckpt

        path, bundled = resolve_ckpt(ckpt)
        if raw_weights and bundled:
            raise ConfigError(f"{bundled} ships its EMA weights only; `raw_weights` needs a training checkpoint")
        model = load_generator(path, ema=not raw_weights, device=dev)
        gen, cfg = model.generator, model.config
        z_dim, resolution = cfg.model.z_dim, cfg.model.resolution
        shown = bundled or str(model.checkpoint.path)
        if cfg.model.resolution != frames.info.resolution:
            raise ConfigError(f"{shown} makes {cfg.model.resolution}px videos but {data} is "
                              f"{frames.info.resolution}px; evaluate against the dataset it was trained on")
        source: ModelSource | FilesSource = {"ckpt": shown, "variant": cfg.model.variant,
                                             "weights": "raw" if raw_weights else "ema"}
    else:
        files = src.list_video_files(Path(fake))
        source = {"fake": str(fake), "num_files": len(files)}
    num_real, lengths = int(frames.frames.shape[0]), [int(n) for n in frames.lengths]
    estimate = estimate_seconds(metrics, num_videos=num_videos, num_frames_fid=num_frames_fid,
                                num_real_fid=num_real if num_real_fid is None else min(num_real_fid, num_real),
                                real_lengths=lengths, runs=runs, motion_videos=motion_videos,
                                motion_frames=motion_frames, resolution=resolution)
    parts = ", ".join(f"{m} {_duration(v)}" for m, v in estimate.items())
    where = "on a GPU it is much less" if dev.type != "cpu" else "another CPU or load differs"
    hint = ""
    if not quick and sum(estimate.values()) > 1800:
        small = estimate_seconds(metrics, num_videos=QUICK.num_videos, num_frames_fid=QUICK.num_frames_fid,
                                 num_real_fid=min(QUICK.num_real_fid or num_real, num_real),
                                 real_lengths=lengths, runs=runs, motion_videos=QUICK.motion_videos,
                                 motion_frames=motion_frames, resolution=resolution)
        hint = f"; `quick` sizes it for a CPU: about {_duration(sum(small.values()))}"
    on_event(Info(f"estimated time: about {_duration(sum(estimate.values()))} ({parts}), from costs measured on a "
                  f"2-core CPU, less with cached real statistics; an estimate only, {where}{hint}"))

    def fake_videos(n: int, t: int, run_seed: int, skipped: list[Path]) -> Iterator[Tensor]:
        if gen is not None:
            return src.generated_batches(gen, z_dim, num_videos=n, num_frames=t, seed=run_seed)
        assert files is not None  # no model: the files of `fake`
        return src.file_batches(files, num_frames=t, max_videos=n, batch=batch_size, skipped=skipped)

    report: EvaluationReport = {"data": str(data), "source": source, "metrics": {}, "seconds": {},
                                "protocol": {"num_videos": num_videos, "num_frames_fid": num_frames_fid,
                                             "num_real_fid": num_real_fid, "runs": runs, "seed": seed,
                                             "truncation_psi": 1.0, "quick": quick},
                                "estimated_seconds": {m: round(v, 1) for m, v in estimate.items()}}
    for metric in metrics:
        t0 = time.time()
        if metric.startswith("fvd"):
            report["metrics"][metric] = _fvd(int(metric[3:]), frames, data_key, fake_videos, num_videos, runs, seed,
                                             i3d, dev, batch_size, cache_dir, on_event)
        elif metric == "fid":
            report["metrics"][metric] = _fid(frames, data_key, fake_videos, num_frames_fid, num_real_fid, runs, seed,
                                             inception, dev, batch_size, cache_dir, on_event)
        else:
            report["metrics"][metric] = motion_report(frames, gen=gen, z_dim=z_dim, files=files,
                                                      num_videos=motion_videos, num_frames=motion_frames, seed=seed,
                                                      device=dev, batch=batch_size)
        report["seconds"][metric] = round(time.time() - t0, 1)
        on_event(Info(f"{metric_summary(metric, report['metrics'][metric])} in "
                      f"{_duration(report['seconds'][metric])}"))
    return report


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def metric_summary(name: str, m: FvdResult | FidResult | MotionReport) -> str:
    """One line of a metric's result, e.g. ``fvd16: 412.305 ± 0.000 (1 run; 64 fake, 64 real)``."""
    if name == "motion":
        motion = cast(MotionReport, m)
        pairs = [f"{key} {real:.4g}/{motion['fake'][key]:.4g}" if motion["fake"].get(key) is not None
                 else f"{key} {real:.4g}/n/a" for key, real in motion["real"].items()]
        return f"motion (real/fake, {motion['num_videos']} videos): {', '.join(pairs)}"
    d = cast("FvdResult | FidResult", m)
    return (f"{name}: {d['mean']:.3f} ± {d['std']:.3f} ({_runs(len(d['runs']))}; {d['num_fake']} fake, "
            f"{d['num_real']} real)")


def _fvd(t: int, frames: Any, data_key: str, fake_videos: Callable[..., Iterator[Tensor]], num_videos: int,
         runs: int, seed: int, i3d_path: Path | None, dev: torch.device, batch: int, cache: Path | None,
         on_event: OnEvent) -> FvdResult:
    from gendef_core.metrics import videos as src
    from gendef_core.metrics.frechet import feature_stats, frechet_distance
    from gendef_core.metrics.i3d import I3D_SHA256, i3d_features, load_i3d

    net = load_i3d(i3d_path, device=dev)
    per_call = max(1, batch * 16 // t)  # I3D sees at most batch x 16 frames at once (at 224 x 224)

    def extract(v: Tensor) -> np.ndarray:
        return i3d_features(net, v, batch_size=per_call)

    values: list[float] = []
    counts: FvdCounts | None = None
    for r in range(runs):
        clips = src.choose_real_clips(frames, t, num_videos, seed + r)
        if len(clips.videos) < 2:
            raise DataError(f"FVD{t}: only {len(clips.videos)} real videos have {t} frames or more "
                            f"({clips.dropped} are shorter); use a shorter FVD or longer videos")
        key = _stats_key(data=data_key, metric=f"fvd{t}", net=I3D_SHA256, num_videos=num_videos, seed=seed + r,
                         resize="bilinear224")
        task = f"FVD{t} real (run {r + 1})"
        def real_features(clips: src.RealClips = clips, task: str = task) -> np.ndarray:
            return _features(src.real_clip_batches(frames, clips, batch), extract, task, len(clips.videos), on_event)

        mu_r, s_r = _cached_stats(cache, key, real_features, on_event)
        skipped: list[Path] = []
        feats = _features(fake_videos(num_videos, t, seed + r, skipped), extract, f"FVD{t} fake (run {r + 1})",
                          num_videos, on_event)
        if feats.shape[0] < 2:
            raise DataError(f"FVD{t}: fewer than 2 fake videos have {t} frames ({len(skipped)} too short)")
        mu_f, s_f = feature_stats(feats)
        values.append(frechet_distance(mu_f, s_f, mu_r, s_r))
        counts = {"num_real": len(clips.videos), "dropped_short_real": clips.dropped, "num_fake": int(feats.shape[0]),
                  "skipped_short_fake": len(skipped), "num_frames": t}
    assert counts is not None  # runs >= 1; the counts are the last run's
    if counts["num_fake"] < 400 or counts["num_real"] < 400:
        on_event(Warning(f"FVD{t} from {counts['num_fake']} fake and {counts['num_real']} real videos (fewer than the "
                         f"400 feature dimensions): compare only with FVDs computed at the same N"))
    return {**_mean_std(values), **counts}


def _fid(frames: Any, data_key: str, fake_videos: Callable[..., Iterator[Tensor]], num_frames_fid: int,
         num_real_fid: int | None, runs: int, seed: int, inception_path: Path | None, dev: torch.device, batch: int,
         cache: Path | None, on_event: OnEvent) -> FidResult:
    from gendef_core.metrics import videos as src
    from gendef_core.metrics.frechet import feature_stats, frechet_distance
    from gendef_core.metrics.inception import inception_features, load_inception

    net = load_inception(inception_path, device=dev)

    def extract(images: Tensor) -> np.ndarray:
        return inception_features(net, images, batch_size=max(batch, 32))

    mu_r, s_r = _fid_real_stats(frames, data_key, num_real_fid, seed, extract, cache, on_event)
    values, num_fake = [], 0
    n_videos = src.videos_for_images(num_frames_fid, FID_VIDEO_FRAMES)
    for r in range(runs):
        skipped: list[Path] = []
        images = src.frames_of(fake_videos(n_videos, FID_VIDEO_FRAMES, seed + r, skipped), num_frames_fid)
        feats = _features(images, extract, f"FID fake (run {r + 1})", num_frames_fid, on_event)
        num_fake = int(feats.shape[0])
        mu_f, s_f = feature_stats(feats)
        values.append(frechet_distance(mu_f, s_f, mu_r, s_r))
    if num_fake < 2048:
        on_event(Warning(f"FID from {num_fake} fake frames (fewer than the 2048 feature dimensions): compare only "
                         f"with FIDs computed at the same N"))
    return {**_mean_std(values), "num_real": _num_real(frames, num_real_fid), "num_fake": num_fake}


def _data_key(data: Path, frames: Any) -> str:
    """The real statistics' cache key of a dataset: its manifest's sha256 and its decoded frames themselves (a
    manifest does not change when a dataset is re-made from other sources with the same names and lengths)."""
    from gendef_core.artifacts.common import sha256_file

    return hashlib.sha256(sha256_file(data / "manifest.json").encode() + frames.frames.numpy().tobytes()).hexdigest()


def _num_real(frames: Any, num_real_fid: int | None) -> int:
    return int(frames.frames.shape[0]) if num_real_fid is None else min(num_real_fid, int(frames.frames.shape[0]))


def _fid_real_stats(frames: Any, data_key: str, num_real_fid: int | None, seed: int,
                    extract: Callable[[Tensor], np.ndarray], cache: Path | None,
                    on_event: OnEvent) -> tuple[np.ndarray, np.ndarray]:
    from gendef_core.metrics import videos as src
    from gendef_core.metrics.inception import INCEPTION_SHA256

    num_real = _num_real(frames, num_real_fid)
    key = _stats_key(data=data_key, metric="fid", net=INCEPTION_SHA256, resize="bilinear299", num_real=num_real,
                     seed=seed if num_real_fid is not None else None)
    return _cached_stats(cache, key, lambda: _features(src.real_image_batches(frames, 64, num_real_fid, seed),
                                                       extract, "FID real", num_real, on_event), on_event)


def fid_real_statistics(data: Path, *, num_real_fid: int | None = None, seed: int = 0,
                        inception: Path | None = None, device: str = "auto", batch_size: int = 32,
                        cache: Path | bool | None = None, on_event: OnEvent = ignore) -> tuple[np.ndarray, np.ndarray]:
    """FID's real statistics (Inception mean ``[2048]`` and covariance ``[2048, 2048]``, float64) of dataset
    `data`, exactly those `evaluate` uses with the same `num_real_fid` and `seed`, from and into the same cache:
    for measuring other sets of generated images against them (benchmarks/fid_correlation.py)."""
    from gendef_core.data.datasets import load_video_frames
    from gendef_core.devices import pick_device
    from gendef_core.metrics.inception import inception_features, load_inception

    frames = load_video_frames(Path(data), on_event=on_event)
    net = load_inception(inception, device=pick_device(device))
    cache_dir = _cache_dir(cache)
    return _fid_real_stats(frames, _data_key(Path(data), frames), num_real_fid, seed,
                           lambda images: inception_features(net, images, batch_size=max(batch_size, 32)),
                           cache_dir, on_event)


class TapVidScores(TypedDict):
    """The TAP-Vid metrics of `gendef_core.metrics.tapvid` (its `METRIC_NAMES`), in [0, 1]."""

    occlusion_accuracy: float
    pts_within_1: float
    pts_within_2: float
    pts_within_4: float
    pts_within_8: float
    pts_within_16: float
    jaccard_1: float
    jaccard_2: float
    jaccard_4: float
    jaccard_8: float
    jaccard_16: float
    average_jaccard: float
    average_pts_within_thresh: float


class TracksEvaluation(TapVidScores):
    """What `evaluate_tracks` returns: what was compared, then the scores."""

    tracks: str
    data: str
    video: str
    query_mode: str
    num_points: int
    num_frames: int


def evaluate_tracks(tracks: Path, data: Path, *, video: str, query_mode: str = "first") -> TracksEvaluation:
    """TAP-Vid scores of a `gendef track` result against a synthetic dataset's ground truth (`gendef eval-tracks`).

    The tracks must be of the ground truth's query points (`DATA/groundtruth/<video>.safetensors`,
    points on frame 0): canonical points of a ``gendef data clip DATA --video V`` clip (for `clouds`
    frame 0 is the canonical), or frame points ``{"space": "frame", "frame": 0, ...}`` tracked through
    any clip of that video, e.g. ``gendef fit DATA/videos/V``.
    """
    from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth
    from gendef_core.artifacts.tracks import read_tracks
    from gendef_core.metrics.tapvid import QueryMode, tapvid_metrics

    if query_mode not in ("first", "strided"):
        raise ConfigError(f"`query_mode` must be first or strided, got {query_mode!r}")
    mode: QueryMode = "first" if query_mode == "first" else "strided"
    doc = read_tracks(Path(tracks))
    info = load_dataset_info(Path(data), check_files=False)
    names = [v.name for v in info.videos]
    if video not in names:
        raise ConfigError(f"{data} has no video {video!r} (it has {', '.join(names[:3])}, ...)")
    gt = load_ground_truth(info, video)
    try:
        pred = np.asarray(doc["tracks"], dtype=np.float64)             # [T, N, 2]
        vis = np.asarray(doc["visible"], dtype=bool)                   # [T, N]
        # frame-0 queries (fitted clips, whose canonical is not frame 0) are compared as given; canonical
        # queries through their canonical points (for clouds clips the canonical is frame 0)
        on_frame0 = doc.get("space") == "frame" and doc.get("query_frame") == 0
        queries = np.asarray(doc.get("queries" if on_frame0 else "canonical_points"), dtype=np.float64)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{tracks} is not a valid gendef tracks file ({type(e).__name__}: {e}); re-make it with "
                        f"`gendef track --out`") from None
    t, n = gt.visible.shape
    if pred.shape != (t, n, 2) or vis.shape != (t, n):
        raise DataError(f"{tracks} has {pred.shape[1] if pred.ndim == 3 else '?'} points over {pred.shape[0]} frames "
                        f"but the ground truth of {video} has {n} over {t}; track its query points on its clip")
    if queries.shape != (n, 2) or np.abs(queries - gt.query_points.numpy()).max() > 1e-3:
        raise DataError(f"{tracks} tracks other points than the ground truth's query points of {video}")
    q = gt.query_points.double().numpy()
    query_points = np.stack([np.zeros(n), q[:, 1], q[:, 0]], axis=-1)  # queried on frame 0, (t, y, x)
    scores = tapvid_metrics(query_points, ~gt.visible.numpy().T, gt.tracks.double().numpy().transpose(1, 0, 2),
                            ~vis.T, pred.transpose(1, 0, 2), query_mode=mode,
                            size=(info.resolution, info.resolution))
    # (cast: tapvid_metrics returns its METRIC_NAMES untyped; tests/unit/test_api_types.py checks the names)
    return cast(TracksEvaluation, {"tracks": str(tracks), "data": str(data), "video": video, "query_mode": query_mode,
                                   "num_points": n, "num_frames": t, **scores})
