"""`gendef fit`: decompose a user's own video into canonical image(s) + deformation, as clip v2 artifacts.

The video is read at the fitted size (`gendef_core.fit.source`), split at scene cuts
(`gendef_core.fit.shots`), and every shot is fitted on its own (`gendef_core.fit.fitter`): one
canonical is never fitted across a cut. One shot gives OUT = a clip; several give OUT = a folder of
clips `shot-000/`, ... with a `gendef.shots` manifest.

Work in progress lives in a hidden sibling ``.OUT.fit-work/`` (finished shots as clips, the
refinement state of the current shot every few steps), so `resume=True` continues a killed fit
where it stopped, with the same result as an uninterrupted run; OUT itself appears only when
everything is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from gendef_core.artifacts.clip import Clip, SourceVideo, read_clip_manifest
from gendef_core.artifacts.common import prepare_output_dir, publish, read_json, write_json_atomic
from gendef_core.artifacts.shots import ShotEntry, shot_name, write_shots_index
from gendef_core.artifacts.tensors import load_tensors, save_tensors
from gendef_core.clips import save_clip
from gendef_core.errors import ArtifactError, ConfigError, DataError, GendefError
from gendef_core.events import Info, OnEvent, Progress, Warning, ignore

DEFAULT_SIZE = 128
"""Default short side (px) of the fit: 64 frames take well under a minute on 2 CPU cores."""
MIN_FRAMES = 2


class FitError(GendefError):
    """The optimisation could not produce a fit (e.g. it diverged)."""


class FittedShot(TypedDict):
    """One fitted shot in a `FitSummary`: its clip, frames ``[start, end)`` of the source and its fit's numbers
    (None where its fit report lacks them)."""

    clip: str
    shot: int
    start: int
    end: int
    canonical_size: list[int] | None    # [Hc, Wc]
    psnr_mean_db: float | None
    psnr_min_db: float | None
    outside_mean: float | None
    folded_max: float | None
    seconds: float | None               # the fit's runtime


@dataclass(frozen=True)
class FitSummary:
    """What `fit` wrote: OUT, and per shot its clip and headline numbers."""

    out: str
    shots: list[FittedShot] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"out": self.out, "cuts": self.cuts, "seconds": round(self.seconds, 2), "shots": self.shots}


def _work_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.fit-work")


def _fingerprint(path: Path) -> dict[str, Any]:
    """Identifies the input cheaply (a resumed fit must read the same video)."""
    p = path.resolve()
    if p.is_dir():
        from gendef_core.fit.source import FRAME_EXTENSIONS

        names = sorted(x.name for x in p.iterdir() if x.is_file() and x.suffix.lower() in FRAME_EXTENSIONS)
        stamp = [(n, (p / n).stat().st_size, (p / n).stat().st_mtime_ns) for n in names]
        return {"path": str(p), "listing": hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]}
    st = p.stat()
    return {"path": str(p), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _check_paths(video: Path, out: Path) -> None:
    src, dst = video.resolve(), out.resolve()
    if dst == src or src in dst.parents:
        raise ConfigError(f"`out` {out} is inside the input {video}; write the fit somewhere else")
    if dst in src.parents:
        raise ConfigError(f"`out` {out} contains the input {video}; write the fit somewhere else")


def fit(video: Path, out: Path, *, start: int = 0, frames: int | None = None, size: int | None = None,
        quality: str = "default", margin: int | None = None, shot: int | None = None, device: str = "auto",
        seed: int = 0, overwrite: bool = False, resume: bool = False, command: str | None = None,
        on_event: OnEvent = ignore) -> FitSummary:
    """Fit `video` (a file PyAV decodes, or a folder of frames) as clip(s) at `out` (`gendef fit`).

    Args:
        start, frames: the frame range ``[start, start + frames)`` (None: to the end).
        size: short side of the fit in px (aspect ratio kept, never cropped); None: 128, or the
            source's own short side when it is smaller.
        quality: "fast", "default" or "best" (`gendef_core.fit.config`).
        margin: canvas margin in px on every side; None sizes it from the estimated global motion.
        shot: fit only shot K (0-based) of a video with cuts; OUT is then that shot's clip.
        device: torch device of the refinement ("auto": a GPU if present).
        seed: seeds the refinement's frame sampling (the fit is deterministic given it).
        resume: continue the unfinished fit of the same command from its hidden work directory.
        command: the command line to record in the report (the CLI passes it).
    Returns a `FitSummary`. Raises ConfigError / DataError / ArtifactError / FitError with one-line messages.
    """
    from gendef_core.devices import pick_device
    from gendef_core.fit.config import fit_preset
    from gendef_core.fit.shots import detect_cuts, split_shots
    from gendef_core.fit.source import probe_source, read_source

    began = time.perf_counter()
    video, out = Path(video), Path(out)
    if out.name in ("", ".", ".."):
        out = out.resolve()  # the work directory is a sibling named after OUT
    cfg = fit_preset(quality)
    if margin is not None and not 0 <= margin <= 4096:
        raise ConfigError(f"`margin` must be 'auto' or 0..4096 px, got {margin}")
    if margin is not None:
        from dataclasses import replace

        cfg = replace(cfg, margin=margin)
    if shot is not None and shot < 0:
        raise ConfigError(f"`shot` must be >= 0, got {shot}")
    if seed < 0 or seed >= 2**31:
        raise ConfigError(f"`seed` must be in 0..2**31-1, got {seed}")
    dev = pick_device(device)
    if not video.exists():
        raise DataError(f"{video} does not exist; give a video file or a folder of frames")
    _check_paths(video, out)
    prepare_output_dir(out, overwrite=overwrite, what="fit")
    if size is None:
        info = probe_source(video)
        # never upscale by default; a source below the minimum size gets the reader's own advice
        size = DEFAULT_SIZE if min(info.width, info.height) > DEFAULT_SIZE else None
    footage = read_source(video, start=start, frames=frames, size=size, on_event=on_event)
    clip_frames = footage.frames
    if len(clip_frames) < MIN_FRAMES:
        raise DataError(f"{video}: a fit needs at least {MIN_FRAMES} frames, got {len(clip_frames)}")
    if all(int(f.max()) - int(f.min()) <= 2 for f in clip_frames):  # per frame: no float copy of the video
        raise DataError(f"{video} is a single flat colour in frames {start}..{start + len(clip_frames) - 1}: there is "
                        f"no texture whose motion could be fitted; give footage with visible content")
    cuts = detect_cuts(clip_frames)
    ranges = []
    for a, b in split_shots(len(clip_frames), cuts, min_length=1):  # never merged across a cut
        if b - a < MIN_FRAMES:
            on_event(Warning(f"{video}: frame {start + a} is a shot of one frame between cuts; it is left out "
                             f"(a fit needs {MIN_FRAMES} frames)"))
        else:
            ranges.append((a, b))
    if not ranges:
        raise DataError(f"{video}: every shot between the cuts is a single frame; there is nothing to fit")
    w, h = footage.size
    where = f" (cuts before frames {', '.join(str(start + c) for c in cuts)})" if cuts else ""
    on_event(Info(f"{video}: {len(clip_frames)} frames at {w}x{h}, {len(ranges)} shot"
                  f"{'s' if len(ranges) != 1 else ''}{where}"))
    if shot is not None:
        if shot >= len(ranges):
            raise ConfigError(f"`shot` {shot}: {video} has {len(ranges)} shot(s) in this range (0..{len(ranges) - 1})")
        todo = [shot]
    else:
        todo = list(range(len(ranges)))

    params = {"video": _fingerprint(video), "start": start, "frames": len(clip_frames), "size": [w, h],
              "quality": quality, "config": cfg.to_dict(), "seed": seed, "shots": [list(r) for r in ranges],
              "todo": todo, "device": str(dev), "threads": _threads()}
    work = _prepare_work(_work_dir(out), params, resume=resume, on_event=on_event)
    entries: list[ShotEntry] = []
    shots_out: list[FittedShot] = []
    for n, k in enumerate(todo):
        a, b = ranges[k]
        name = shot_name(k)
        label = f"shot {k}" if len(ranges) > 1 else "fit"
        clip_dir = work / name
        if (clip_dir / "manifest.json").is_file() and not _complete(clip_dir):
            on_event(Warning(f"{label}: the finished clip in {clip_dir} is incomplete; fitting it again"))
            shutil.rmtree(clip_dir)
        if not (clip_dir / "manifest.json").is_file():
            _fit_shot(clip_frames[a:b], footage.fps, cfg, clip_dir, work / f"{name}.state.safetensors",
                      seed=seed, device=dev, label=label, on_event=on_event,
                      report={"command": command, "video": str(video), "start": start + a, "end": start + b,
                              "shot": k, "num_shots": len(ranges), "size": [w, h],
                              "source_size": list(footage.source_size), "quality": quality, "seed": seed,
                              "device": str(dev)})
        else:
            on_event(Info(f"{label}: already fitted in {work}, kept"))
        m = read_clip_manifest(clip_dir)
        rep = m.get("fit", {})
        entries.append(ShotEntry(name, start + a, start + b, rep.get("psnr_mean_db")))
        final = out if (len(todo) == 1) else out / name
        shots_out.append({"clip": str(final), "shot": k, "start": start + a, "end": start + b,
                          "canonical_size": rep.get("canonical_size"), "psnr_mean_db": rep.get("psnr_mean_db"),
                          "psnr_min_db": rep.get("psnr_min_db"), "outside_mean": rep.get("outside_mean"),
                          "folded_max": rep.get("folded_max"), "seconds": rep.get("runtime_s")})
        on_event(Progress("shots", n + 1, len(todo)))
    _assemble(work, out, todo, entries, cuts=[start + c for c in cuts], source=str(video), start=start,
              overwrite=overwrite)
    return FitSummary(str(out), shots_out, [start + c for c in cuts], time.perf_counter() - began)


def _threads() -> int:
    import torch

    return torch.get_num_threads()  # CPU reductions, hence a resumed result, depend on it


def _prepare_work(work: Path, params: dict[str, Any], *, resume: bool, on_event: OnEvent) -> Path:
    record = work / "params.json"
    if work.exists():
        try:
            same = read_json(record, fix="") == json.loads(json.dumps(params))
        except ArtifactError:  # missing or damaged: not the same fit
            same = False
        if resume and not same:
            raise ConfigError(f"the unfinished fit in {work} was started with other inputs or options; drop "
                              f"`resume` to start over")
        if not resume:
            on_event(Warning(f"discarding the unfinished fit in {work} (pass `resume` to continue it)"))
            shutil.rmtree(work)
    elif resume:
        on_event(Warning(f"nothing to resume for this output ({work} does not exist); starting a new fit"))
    work.mkdir(parents=True, exist_ok=True)
    write_json_atomic(record, params)
    return work


def _fit_shot(frames: np.ndarray, fps: Fraction, cfg: Any, clip_dir: Path, state_file: Path, *, seed: int,
              device: Any, label: str, report: dict[str, Any], on_event: OnEvent) -> None:
    import torch

    from gendef_core.fit.fitter import fit_frames, summary
    from gendef_core.fit.refine import StateError

    began = time.perf_counter()
    state = None
    if state_file.is_file():
        state = load_tensors(state_file, fix="delete it and run `gendef fit` again without `resume`")
        on_event(Info(f"{label}: resuming the refinement at step {int(state['step'])}"))

    def checkpoint(snapshot: dict[str, torch.Tensor]) -> None:
        save_tensors(state_file, snapshot)

    def progress(stage: str, done: int, total: int) -> None:
        on_event(Progress(f"{label}: {stage}", done, total))

    try:
        result = fit_frames(frames, cfg, seed=seed, device=device, progress=progress, state=state,
                            checkpoint=checkpoint)
    except FloatingPointError as e:
        shutil.rmtree(state_file.parent, ignore_errors=True)  # a diverged fit cannot be resumed: leave nothing
        raise FitError(f"{report['video']}: {e}; try another `seed` or `quality` fast") from None
    except StateError as e:
        raise ArtifactError(f"{state_file}: {e}; delete it and run `gendef fit` without `resume`") from None
    if not (torch.isfinite(result.canonical).all() and torch.isfinite(result.offsets).all()):
        shutil.rmtree(state_file.parent, ignore_errors=True)
        raise FitError(f"{report['video']}: the fit produced non-finite values; try another `seed` or `quality` fast")
    rep = {**report, **summary(result), "runtime_s": round(time.perf_counter() - began, 2),
           "config": cfg.to_dict()}
    clip = Clip(canonical=result.canonical, offsets=result.offsets, fps=fps, source=f"fit:{report['video']}",
                origin=result.origin, visibility=result.visibility, fit=rep)
    save_clip(clip, clip_dir, overwrite=True, source_video=SourceVideo(frames, report["video"]), on_event=on_event)
    state_file.unlink(missing_ok=True)
    on_event(Info(f"{label}: frames {report['start']}..{report['end'] - 1}, canonical {rep['canonical_size'][1]}x"
                  f"{rep['canonical_size'][0]} for {frames.shape[2]}x{frames.shape[1]} frames, PSNR mean "
                  f"{rep['psnr_mean_db']:.2f} dB (min {rep['psnr_min_db']:.2f}), {rep['runtime_s']:.1f} s"))


def _complete(clip_dir: Path) -> bool:
    from gendef_core.artifacts.clip import load_clip

    try:
        load_clip(clip_dir, verify=True)
    except GendefError:
        return False
    return True


def _assemble(work: Path, out: Path, todo: list[int], entries: list[ShotEntry], *, cuts: list[int], source: str,
              start: int, overwrite: bool) -> None:
    """Move the finished clip(s) from the work directory into OUT (atomically) and drop the work directory."""
    if len(todo) == 1:
        publish(work / shot_name(todo[0]), out, overwrite=overwrite)  # one rename: never half a clip at OUT
    else:
        # the index is written into the work directory last, then the whole folder is renamed into place
        folder = work / "shots"
        folder.mkdir(exist_ok=True)
        for k in todo:
            if (work / shot_name(k)).exists():
                os.replace(work / shot_name(k), folder / shot_name(k))
        write_shots_index(folder, source=source, start=start, shots=entries, cuts=cuts)
        publish(folder, out, overwrite=overwrite)
    shutil.rmtree(work, ignore_errors=True)
