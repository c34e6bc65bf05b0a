"""The public entry points: one function per `gendef` subcommand.

Everything the CLI does is a call to one of these; they never print or exit. Long work reports
through `on_event` (see `gendef_core.events`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gendef_core.events import Info, OnEvent, Progress, ignore


def synth_dataset(kind: str, out: Path, *, num_videos: int, num_frames: int, resolution: int, seed: int = 0,
                  fps: float | str = 25, grid: int = 8, overwrite: bool = False,
                  on_event: OnEvent = ignore) -> Any:
    """Write a procedural dataset with exact ground truth (`gendef data synth`).

    `kind` is "sprites" (textured objects over a still background, tracks with occlusion),
    "clouds" (a deforming sky; also the true backward map) or "pan" (a camera panning over a scene
    larger than the frame, with a non-rigid patch and an occluding object; tracks only).
    Deterministic in all arguments.
    Returns a `DatasetSummary`.
    """
    import numpy as np

    from gendef_core.artifacts.common import atomic_dir
    from gendef_core.artifacts.dataset import VideoEntry, write_dataset_manifest, write_ground_truth, write_video_frames
    from gendef_core.data.prepare import DatasetSummary, check_resolution
    from gendef_core.data.synth import SYNTH_KINDS, synth_video
    from gendef_core.data.video_io import to_fraction
    from gendef_core.errors import ConfigError

    if kind not in SYNTH_KINDS:
        raise ConfigError(f"--kind must be one of {', '.join(SYNTH_KINDS)}, got {kind!r}")
    check_resolution(resolution, minimum=16)
    if num_videos < 1 or num_frames < 2 or grid < 1:
        raise ConfigError("--num-videos must be >= 1, --frames >= 2 and --grid >= 1")
    try:
        rate = to_fraction(fps)
    except ValueError as e:
        raise ConfigError(f"--fps: {e}") from None
    seeds = np.random.SeedSequence(seed).generate_state(num_videos, np.uint32)
    videos = []
    with atomic_dir(Path(out), overwrite=overwrite, what="dataset") as tmp:
        for i in range(num_videos):
            v = synth_video(kind, num_frames=num_frames, resolution=resolution, seed=int(seeds[i]), grid=grid)  # type: ignore[arg-type]
            name = f"{i:06d}"
            write_video_frames(tmp, name, v.frames.numpy())
            gt = {"query_points": v.query_points, "tracks": v.tracks, "visible": v.visible}
            if v.canonical is not None and v.offsets is not None:
                gt |= {"canonical": v.canonical, "offsets": v.offsets}
            write_ground_truth(tmp, name, gt)
            videos.append(VideoEntry(name, num_frames))
            on_event(Progress(f"synth {kind}", i + 1, num_videos))
        write_dataset_manifest(
            tmp, resolution=resolution, fps=rate, videos=videos, min_frames=num_frames,
            source={"kind": "synth", "path": None, "synth_kind": kind, "seed": seed, "grid": grid},
            ground_truth={"kind": kind, "backward_map": kind == "clouds"})
    on_event(Info(f"{num_videos} {kind} videos of {num_frames} frames at {resolution}x{resolution}"))
    return DatasetSummary(str(out), num_videos, num_videos * num_frames, resolution, str(rate), [])


def prepare_dataset(src: Path, out: Path, *, resolution: int, fps: float | str | None = None,
                    max_frames: int | None = None, min_frames: int = 16, skip_bad: bool = False,
                    overwrite: bool = False, on_event: OnEvent = ignore) -> Any:
    """Convert a folder or zip of videos / frame folders into a dataset (`gendef data prepare`).

    Returns a `DatasetSummary`; see `gendef_core.data.prepare.prepare_dataset` for the rules.
    """
    from gendef_core.data.prepare import prepare_dataset as _prepare

    return _prepare(src, out, resolution=resolution, fps=fps, max_frames=max_frames, min_frames=min_frames,
                    skip_bad=skip_bad, overwrite=overwrite, on_event=on_event)


def dataset_clip(data: Path, out: Path, *, video: str = "0", flow: bool = False, overwrite: bool = False,
                 on_event: OnEvent = ignore) -> Path:
    """Write the exact (canonical, deformation) of one `clouds` video as a clip (`gendef data clip`).

    `video` is a video name, or else an index into the dataset's sorted list of videos.
    """
    from gendef_core.artifacts.clip import Clip, save_clip
    from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth
    from gendef_core.errors import ArtifactError, ConfigError

    info = load_dataset_info(Path(data), check_files=False)
    if not info.ground_truth or not info.ground_truth.get("backward_map"):
        raise ArtifactError(f"{data} has no true backward map; only `gendef data synth --kind clouds` datasets do")
    names = [v.name for v in info.videos]
    if video in names:
        name = video
    elif video.isdigit() and int(video) < len(names):
        name = names[int(video)]
    else:
        raise ConfigError(f"{data} has no video {video!r}: give a name ({', '.join(names[:3])}, …) "
                          f"or an index 0..{len(names) - 1}")
    gt = load_ground_truth(info, name)
    assert gt.canonical is not None and gt.offsets is not None
    clip = Clip(canonical=gt.canonical, offsets=gt.offsets, fps=info.fps,
                source=f"dataset:{info.path.resolve()}#{name}")
    return save_clip(clip, Path(out), overwrite=overwrite, flow=flow, on_event=on_event)


def render(clip: Path, *, flow: bool = False, flow_max: float | None = None, crf: int = 18,
           on_event: OnEvent = ignore) -> dict[str, Any]:
    """Re-render a clip's `video.mp4` (and with `flow`, `flow.mp4`) from its tensors (`gendef render`).

    Returns ``{"video.mp4": {...}, "flow.mp4": {...}}`` as recorded in the clip's manifest.
    """
    from gendef_core.artifacts.clip import load_clip, update_videos
    from gendef_core.errors import ConfigError
    from gendef_core.render import render_flow_video, render_video

    if flow_max is not None and not flow_max > 0:
        raise ConfigError(f"--flow-max must be a positive number of pixels, got {flow_max}")
    if not 0 <= crf <= 51:
        raise ConfigError(f"--crf must be in 0..51, got {crf}")
    path = Path(clip)
    # A missing video is exactly what `render` repairs, so only the tensors must be intact. Nothing in
    # the clip changes unless they are; each video is written atomically, then the manifest records it.
    c = load_clip(path, require_videos=False)
    videos = {"video.mp4": render_video(c, path / "video.mp4", crf=crf, on_event=on_event)}
    if flow:
        videos["flow.mp4"] = render_flow_video(c, path / "flow.mp4", flow_max=flow_max, crf=crf, on_event=on_event)
    update_videos(path, videos)
    return videos


def export_model(run: Path | str, out: Path, *, overwrite: bool = False) -> Path:
    """Write a run's (or checkpoint's) EMA generator and config as a small inference checkpoint (`gendef export`).

    What `gendef sample --ckpt` needs and nothing else (no discriminator, raw weights or optimizer state);
    the bundled model is made this way (examples/bundled_model.sh).
    """
    from gendef_core.artifacts.checkpoint import export_generator
    from gendef_core.models.bundled import resolve_ckpt

    return export_generator(resolve_ckpt(run)[0], Path(out), overwrite=overwrite)


def describe(path: Path | str | None = None) -> dict[str, Any]:
    """Validate any gendef artifact and summarise it (`gendef info`); None or "bundled": the bundled model.

    A clip's summary gives the frame size (height, width), the canonical's (canonical_height,
    canonical_width; larger for fitted videos), the frames' origin on it, whether it has a visibility
    map and, for fitted clips, the scalar fields of the fit report.
    """
    from gendef_core.artifacts.common import MANIFEST, read_json
    from gendef_core.errors import ArtifactError
    from gendef_core.models.bundled import resolve_ckpt

    path, bundled = resolve_ckpt(path)
    if bundled:
        from gendef_core.artifacts.checkpoint import load_checkpoint

        ck = load_checkpoint(path)
        card = path / "MODEL_CARD.md"
        return {"format": "gendef.checkpoint", "bundled": bundled, "path": str(ck.path), "step": ck.step,
                "networks": list(ck.networks), "resolution": ck.config["model"]["resolution"],
                "metadata": dict(ck.metadata), "model_card": str(card) if card.is_file() else None}
    if not path.exists():
        raise ArtifactError(f"{path} does not exist; give a clip, dataset, checkpoint or run directory")
    if not (path / MANIFEST).is_file():
        from gendef_core.artifacts.checkpoint import load_checkpoint

        if path.is_dir() and (path / "checkpoints").is_dir():
            ck = load_checkpoint(path)
            return {"format": "gendef.checkpoint", "path": str(ck.path), "step": ck.step,
                    "networks": list(ck.networks), "metadata": dict(ck.metadata)}
        raise ArtifactError(f"{path} is not a gendef artifact (no manifest.json); expected a clip, dataset, "
                            f"checkpoint or run directory")
    manifest = read_json(path / MANIFEST, fix="re-create the artifact")
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path / MANIFEST} is not a gendef manifest (a JSON object with a 'format' field); "
                            f"re-create the artifact")
    fmt = manifest.get("format")
    if not isinstance(fmt, str):
        raise ArtifactError(f"{path / MANIFEST} has no 'format' field, so it is not a gendef manifest; "
                            f"re-create the artifact")
    if fmt == "gendef.clip":
        from gendef_core.artifacts.clip import load_clip, read_clip_manifest

        c = load_clip(path)
        m = read_clip_manifest(path)
        summary = {"format": fmt, "path": str(path), "num_frames": c.num_frames, "height": c.height,
                   "width": c.width, "canonical_height": c.canonical_size[0], "canonical_width": c.canonical_size[1],
                   "origin": list(c.origin), "has_visibility": c.visibility is not None, "fps": str(c.fps),
                   "seed": c.seed, "checkpoint": c.checkpoint, "source": c.source, "latents": sorted(c.latents),
                   "videos": sorted(m["videos"])}
        if c.fit:  # the report of `gendef fit`: its scalar fields (per-frame lists and nested objects left out)
            summary["fit"] = {k: v for k, v in c.fit.items() if v is None or isinstance(v, str | int | float | bool)}
        return summary
    if fmt == "gendef.shots":
        from gendef_core.artifacts.shots import read_shots_index

        shots = read_shots_index(path)
        return {"format": fmt, "path": str(path), "num_shots": len(shots),
                "shots": [{"clip": str(path / s.name), "start": s.start, "end": s.end, "psnr_mean_db": s.psnr_mean_db}
                          for s in shots]}
    if fmt == "gendef.dataset":
        from gendef_core.artifacts.dataset import load_dataset_info

        d = load_dataset_info(path)
        lengths = [v.num_frames for v in d.videos]
        return {"format": fmt, "path": str(path), "resolution": d.resolution, "fps": str(d.fps),
                "num_videos": len(d.videos), "num_frames": d.num_frames,
                "frames_per_video": {"min": min(lengths), "max": max(lengths)},
                "source": dict(d.source), "skipped": len(d.skipped), "ground_truth": d.ground_truth}
    if fmt == "gendef.checkpoint":
        from gendef_core.artifacts.checkpoint import load_checkpoint

        ck = load_checkpoint(path)
        return {"format": fmt, "path": str(ck.path), "step": ck.step, "networks": list(ck.networks),
                "metadata": dict(ck.metadata)}
    raise ArtifactError(f"{path / MANIFEST}: unknown format {fmt!r}; upgrade gendef if it is newer")



_GC_SHAPE = ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max")
_D_SHAPE = ("channel_base", "channel_max", "fuse_resolution", "mbstd_group")


def resolve_train_config(stage: str, *, preset: str = "small", init: Path | None = None, steps: int | None = None,
                         kimg: float | None = None, batch_size: int | None = None, flags: dict[str, Any] | None = None,
                         overrides: list[str] | None = None, config_file: Path | None = None,
                         from_scratch: bool = False, resume_run: Path | None = None) -> Any:
    """The `TrainConfig` a `pretrain`/`finetune` command runs (what `--dry-run` prints).

    New run: the preset (or `config_file`, a saved config.json); for fine-tuning from `init`, the
    pre-training's G_c and D shape settings (so their weights fit) and no EMA ramp-up (the EMA
    starts from the pre-trained EMA); then explicit `flags` (dotted keys, None = not given), then
    `--set` overrides, then `kimg` (thousands of images over all processes) -> steps.
    Resumed run (`resume_run`): the run's own config; only `steps`/`kimg` and `--set` of the
    bookkeeping keys (log_every, save_every, snapshot_every, keep_last) may change it.
    """
    import dataclasses

    from gendef_core.artifacts.checkpoint import list_checkpoints, load_checkpoint
    from gendef_core.artifacts.common import read_json
    from gendef_core.config import TrainConfig, apply_overrides
    from gendef_core.config import preset as preset_config
    from gendef_core.errors import ArtifactError, ConfigError
    from gendef_core.training.loop import RESUMABLE

    if steps is not None and kimg is not None:
        raise ConfigError("give --steps or --kimg, not both")
    sets = [f"{key}={json.dumps(value)}" for key, value in (flags or {}).items() if value is not None]
    if batch_size is not None:
        sets.append(f"batch_size={batch_size}")
    if resume_run is not None:  # --init/--from-scratch/--preset/--config describe how the run began: ignored
        found = list_checkpoints(Path(resume_run))
        if not found:
            raise ArtifactError(f"{resume_run} has no checkpoint to resume from; drop --resume to start a new run")
        saved = TrainConfig.from_dict(load_checkpoint(found[-1], verify=False).config)
        if saved.stage != stage:
            raise ConfigError(f"{resume_run} is a {saved.stage} run; resume it with `gendef {saved.stage} --resume`")
        cfg = _set_length(apply_overrides(saved, sets + list(overrides or [])), steps, kimg)
        mine, theirs = cfg.to_dict(), saved.to_dict()
        changed = sorted(k for k in mine if k not in RESUMABLE and mine[k] != theirs[k])
        if changed:
            raise ConfigError(f"--resume continues {resume_run} with its own config; it cannot change "
                              f"{', '.join(changed)} (only --steps, --kimg and --set {'/'.join(RESUMABLE)})")
        return cfg
    if config_file is not None:
        raw = read_json(Path(config_file), fix="give a config.json written by gendef (RUN/config.json)")
        cfg = TrainConfig.from_dict(raw.get("config", raw) if isinstance(raw, dict) else raw)
        cfg = dataclasses.replace(cfg, stage=stage)  # type: ignore[arg-type]
    else:
        cfg = preset_config(preset, stage)  # type: ignore[arg-type]
    if stage == "finetune" and (init is None) == (not from_scratch):
        raise ConfigError("finetune needs exactly one of --init PRETRAIN_RUN and --from-scratch (the Table 4 "
                          "`w/o pt.` row, and the direct-frame baseline)")
    if from_scratch:
        cfg = dataclasses.replace(cfg, init_from=None)
    if init is not None:
        ck = load_checkpoint(Path(init), verify=False)
        saved = TrainConfig.from_dict(ck.config)
        model = dataclasses.replace(cfg.model, **{k: getattr(saved.model, k) for k in _GC_SHAPE})
        disc = dataclasses.replace(cfg.discriminator, **{k: getattr(saved.discriminator, k) for k in _D_SHAPE})
        cfg = dataclasses.replace(cfg, model=model, discriminator=disc, init_from=str(ck.path.resolve()),
                                  ema_rampup=None)
    return _set_length(apply_overrides(cfg, sets + list(overrides or [])), steps, kimg)


def _set_length(cfg: Any, steps: int | None, kimg: float | None) -> Any:
    import dataclasses
    import os

    if steps is not None:
        return dataclasses.replace(cfg, steps=steps)
    if kimg is not None:
        # kimg counts images (frames) over all processes; accelerate launch sets WORLD_SIZE.
        frames = cfg.num_frames if cfg.stage == "finetune" else 1
        per_step = cfg.batch_size * int(os.environ.get("WORLD_SIZE", "1")) * frames
        return dataclasses.replace(cfg, steps=max(1, round(kimg * 1000 / per_step)))
    return cfg


def pretrain(data: Path, out: Path, cfg: Any, *, resume: bool = False, on_event: OnEvent = ignore) -> Any:
    """Stage 1 (`gendef pretrain`): G_c and D as an image GAN on single frames. Returns a `TrainResult`."""
    from gendef_core.training.loop import train

    if cfg.stage != "pretrain":
        raise ValueError("pretrain needs a config with stage='pretrain' (see resolve_train_config)")
    return train(cfg, Path(data), Path(out), resume=resume, on_event=on_event)


def finetune(data: Path, out: Path, cfg: Any, *, resume: bool = False, on_event: OnEvent = ignore) -> Any:
    """Stage 2 (`gendef finetune`): the full model on sparse frame triplets. Returns a `TrainResult`."""
    from gendef_core.training.loop import train

    if cfg.stage != "finetune":
        raise ValueError("finetune needs a config with stage='finetune' (see resolve_train_config)")
    return train(cfg, Path(data), Path(out), resume=resume, on_event=on_event)


# The application commands live in gendef_core.apps (one module per command family); they are part of
# this public API under these names.
from gendef_core.apps.demo import demo  # noqa: E402
from gendef_core.apps.edit import edit, segment  # noqa: E402
from gendef_core.apps.evaluate import evaluate, evaluate_tracks  # noqa: E402
from gendef_core.apps.fit import fit  # noqa: E402
from gendef_core.apps.sample import resample, sample  # noqa: E402
from gendef_core.apps.track import flow, track  # noqa: E402

__all__ = ["dataset_clip", "demo", "describe", "edit", "evaluate", "evaluate_tracks", "export_model", "finetune",
           "fit", "flow", "prepare_dataset", "pretrain", "render", "resample", "resolve_train_config", "sample",
           "segment", "synth_dataset", "track"]
