"""The training loop (both stages), on HF Accelerate.

Accelerate launches the processes, picks the device and runs mixed precision. The networks are not
wrapped in DDP: a GAN step runs D twice before its optimiser step, takes a double backward for R1,
and sends D gradients through the G step, all of which DDP handles badly. Instead, gradients are
all-reduced explicitly before every optimiser step (as StyleGAN2-ADA does), so all processes keep
identical weights.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gendef_core.artifacts.checkpoint import (
    CHECKPOINTS_DIR,
    checkpoint_name,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from gendef_core.artifacts.common import naming_full_disk
from gendef_core.artifacts.runconfig import write_run_config
from gendef_core.artifacts.runlog import append_event, truncate_events
from gendef_core.artifacts.train_state import load_train_state, save_train_state
from gendef_core.config import TrainConfig, check_resume
from gendef_core.data.datasets import VideoFrames, load_video_frames
from gendef_core.devices import oversubscription
from gendef_core.errors import ArtifactError, ConfigError, TrainingError
from gendef_core.events import Info, OnEvent, Progress, Warning, ignore
from gendef_core.models.discriminator import build_discriminator
from gendef_core.models.generator import CanonicalGenerator, VideoGenerator, build_generator
from gendef_core.models.loading import checkpoint_config, load_into
from gendef_core.training.ema import ema_beta, update_ema
from gendef_core.training.snapshots import write_snapshot
from gendef_core.training.steps import Phases


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    checkpoint: Path
    step: int
    images_per_second: float
    main_process: bool = True
    """False on the other processes of a multi-process run (they should not report the result)."""


def _networks(g: CanonicalGenerator | VideoGenerator, g_ema: CanonicalGenerator | VideoGenerator,
              d: nn.Module) -> dict[str, dict[str, Tensor]]:
    nets = {name: m.state_dict() for name, m in g.networks().items()}
    nets |= {f"{name}_ema": m.state_dict() for name, m in g_ema.networks().items()}
    nets["discriminator"] = d.state_dict()
    return nets


def _has_accelerator() -> bool:
    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return (torch.cuda.is_available() or bool(mps and mps.is_available())
            or bool(xpu and xpu.is_available()))


def weights_checksum(module: nn.Module) -> Tensor:
    """A float64 fingerprint of all parameters and buffers (equal weights give equal values)."""
    total = torch.zeros((), dtype=torch.float64)
    for i, t in enumerate([*module.parameters(), *module.buffers()]):
        x = t.detach().double().cpu()
        total += (i + 1) * x.sum() + x.square().sum()
    return total


class _Syncer:
    """Average gradients over processes (no-op with one process)."""

    def __init__(self, accelerator: Any) -> None:
        self.n = accelerator.num_processes
        self.device = accelerator.device

    def __call__(self, params: list[nn.Parameter]) -> None:
        if self.n == 1:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.n
        for p, g in zip(params, flat.split([g.numel() for g in grads]), strict=True):
            p.grad = g.view_as(p).clone()

    def buffers(self, module: nn.Module) -> None:
        """Average saved floating-point buffers (e.g. the mapping's w_avg, updated from each process's
        latents); constant, unsaved buffers are left alone."""
        if self.n == 1:
            return
        saved = module.state_dict(keep_vars=True)
        for name, b in module.named_buffers():
            if name in saved and b.is_floating_point():
                torch.distributed.all_reduce(b)
                b /= self.n

    def any(self, flag: bool) -> bool:
        """True if `flag` is true on any process."""
        if self.n == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)


def train(cfg: TrainConfig, data: Path, out: Path, *, resume: bool = False, on_event: OnEvent = ignore) -> TrainResult:
    """Train `cfg.stage` on dataset `data` into run directory `out`; returns the final checkpoint."""
    from accelerate import Accelerator

    cfg.validate()
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        # Accelerate keeps process-wide state; a second run in one Python process (e.g. another mixed
        # precision) needs it cleared. Under a distributed launch there is one run per process.
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=True)
    # Without an accelerator, ask for the CPU explicitly: only then does Accelerate run several processes
    # (torchrun, i.e. `accelerate launch --multi_gpu --num_processes N`) as multi-CPU over gloo.
    acc = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not _has_accelerator())
    main = acc.is_main_process
    emit = on_event if main else ignore
    out = Path(out)
    candidates = _check_run_dir(cfg, out, resume=resume)  # on every process; nothing is written until
                                                           # data, models, --init and resume state all load

    busy = oversubscription()
    if busy:
        emit(Warning(busy))
    frames = load_video_frames(Path(data), on_event=emit)
    _check_data(cfg, frames, data)
    torch.manual_seed(cfg.seed)  # identical initial weights on every process
    g = build_generator(cfg.model, cfg.stage).to(acc.device)
    d = build_discriminator(cfg).to(acc.device)
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    if not candidates and cfg.init_from and isinstance(g, VideoGenerator) and isinstance(g_ema, VideoGenerator):
        _init_from_pretraining(cfg, g, g_ema, d)

    c = cfg.loss.r1_every / (cfg.loss.r1_every + 1)  # lazy-regularisation correction of lr and betas
    if cfg.freeze_canonical and isinstance(g, VideoGenerator):
        g.freeze_pretrained()
    g_params = [p for p in g.parameters() if p.requires_grad]  # same order as before freezing, minus G_c
    d_params = list(d.parameters())
    opt_g = torch.optim.Adam(g_params, lr=cfg.lr_g, betas=cfg.betas, eps=1e-8)
    opt_d = torch.optim.Adam(d_params, lr=cfg.lr_d * c, betas=(cfg.betas[0] ** c, cfg.betas[1] ** c), eps=1e-8)
    step, images_seen = 0, 0
    if candidates:
        start_ckpt, step, images_seen = _resume_latest_good(candidates, g, g_ema, d, opt_g, opt_d, emit)
        emit(Info(f"resuming {start_ckpt.name} (step {step})"))
    acc.wait_for_everyone()
    if main:
        _start_run_dir(cfg, out, step)
    acc.wait_for_everyone()
    opt_g, opt_d = acc.prepare(opt_g, opt_d)
    sync = _Syncer(acc)
    phases = Phases(cfg, acc, g, d, opt_g, opt_d, sync, frames)
    per_step = cfg.batch_size * acc.num_processes * phases.k
    t_start, images_start, last = time.perf_counter(), images_seen, None
    while step < cfg.steps:
        step_losses = phases.run(step)
        step += 1
        images_seen += per_step
        update_ema(g_ema, g, ema_beta(cfg.batch_size * acc.num_processes, cfg.ema_kimg, cfg.ema_rampup, images_seen))
        values = step_losses.values()
        _stop_on_nan(values, step, out, sync)
        if main and (step % cfg.log_every == 0 or step == cfg.steps):
            _log(out, emit, step, images_seen, values, time.perf_counter() - t_start, images_seen - images_start)
        emit(Progress(f"{cfg.stage}", step, cfg.steps))
        if main and cfg.snapshot_every and step % cfg.snapshot_every == 0:
            write_snapshot(g_ema, out, step, z_dim=cfg.model.z_dim)
        if step % cfg.save_every == 0 or step == cfg.steps:
            last = _save(acc, cfg, out, step, images_seen, g, g_ema, d, opt_g, opt_d)
    if last is None:  # nothing left to train: the run already reached cfg.steps
        last = list_checkpoints(out)[-1] if list_checkpoints(out) else _save(
            acc, cfg, out, step, images_seen, g, g_ema, d, opt_g, opt_d)
    if main and cfg.snapshot_every and step % cfg.snapshot_every != 0:
        write_snapshot(g_ema, out, step, z_dim=cfg.model.z_dim)
    acc.wait_for_everyone()
    elapsed = time.perf_counter() - t_start
    return TrainResult(out, last, step, (images_seen - images_start) / max(elapsed, 1e-9), main)


def _stop_on_nan(values: dict[str, float], step: int, out: Path, sync: _Syncer) -> None:
    """Stop every process together when a loss is not finite, naming the last good checkpoint."""
    bad = [name for name, v in values.items() if not math.isfinite(v)]
    if sync.any(bool(bad)) and not bad:
        raise TrainingError(f"a loss became non-finite at step {step} on another process")
    if bad:
        good = list_checkpoints(out)
        kept = f"the last good checkpoint is {good[-1]}" if good else "no checkpoint was saved"
        raise TrainingError(f"{bad[0]} became {values[bad[0]]} at step {step}; {kept}; lower the learning "
                            f"rates (`overrides` lr_g=... `overrides` lr_d=...) or raise loss.r1_gamma")


def _log(out: Path, emit: OnEvent, step: int, images_seen: int, values: dict[str, float], elapsed: float,
         images_here: int) -> None:
    record = {"step": step, "kimg": images_seen / 1000, "images_per_s": images_here / max(elapsed, 1e-9),
              **values, "time_s": elapsed}
    append_event(out, record)
    emit(Info("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())))


def _save(acc: Any, cfg: TrainConfig, out: Path, step: int, images_seen: int, g: CanonicalGenerator | VideoGenerator,
          g_ema: CanonicalGenerator | VideoGenerator,
          d: nn.Module, opt_g: Any, opt_d: Any) -> Path:
    path = out / CHECKPOINTS_DIR / checkpoint_name(step)
    # Every process must hold the same weights; check it (cheaply) before writing them.
    sums = acc.gather(torch.stack([weights_checksum(m) for m in (g, g_ema, d)]).to(acc.device)[None]).cpu()
    sums = sums.reshape(acc.num_processes, 3)
    if not bool(torch.isfinite(sums).all()):
        good = list_checkpoints(out)
        kept = f"the last good checkpoint is {good[-1]}" if good else "no checkpoint was saved"
        raise TrainingError(f"the weights became NaN or inf by step {step}; {kept}; lower the learning rates "
                            f"(`overrides` lr_g=... `overrides` lr_d=...) or raise loss.r1_gamma")
    if not bool((sums == sums[0]).all()):
        raise TrainingError(f"processes diverged at step {step} (weight checksums {sums.tolist()}); "
                            f"this is a bug, please report it")
    if acc.is_main_process:
        with naming_full_disk(path):  # name the checkpoint, not the temporary files it was being built in
            _write_checkpoint(cfg, out, path, step, images_seen, sums, acc.num_processes, g, g_ema, d, opt_g, opt_d)
    acc.wait_for_everyone()
    return path


def _write_checkpoint(cfg: TrainConfig, out: Path, path: Path, step: int, images_seen: int, sums: torch.Tensor,
                      num_processes: int, g: CanonicalGenerator | VideoGenerator,
                      g_ema: CanonicalGenerator | VideoGenerator, d: nn.Module, opt_g: Any, opt_d: Any) -> None:
    """Write checkpoint `path` (networks, config, optimizer state) and prune the old ones (main process)."""
    with tempfile.TemporaryDirectory(dir=out, prefix=".train-state-") as tmp:
        state = save_train_state(Path(tmp) / "train_state", {"optimizer_g": opt_g, "optimizer_d": opt_d},
                                 {"step": step, "images_seen": images_seen})
        save_checkpoint(path, step=step, config=cfg.to_dict(), networks=_networks(g, g_ema, d),
                        # No wall-clock numbers here (they would make two identical runs write different
                        # files): timings go to the run's log, events.jsonl (time_s, images_per_s).
                        metadata={"kimg": images_seen / 1000, "num_processes": num_processes,
                                  "weight_checksums": sums[:, 0].tolist()},
                        train_state=state, overwrite=True)
    prune_checkpoints(out, cfg.keep_last)


_RUN_FILES = {"config.json", "events.jsonl", "snapshots"}


def _check_run_dir(cfg: TrainConfig, out: Path, *, resume: bool) -> list[Path]:
    """Check the run directory without writing; returns the checkpoints to resume from, newest first (the
    newest that loads is used: `_resume_latest_good`), or [] for a new run."""
    existing = list_checkpoints(out)
    if resume:
        if not existing:
            raise ArtifactError(f"{out} has no checkpoint to resume from; drop `resume` to start a new run")
        saved, first_error = None, None
        for ck in reversed(existing):  # the config of the newest checkpoint whose config can be read
            try:
                saved = checkpoint_config(load_checkpoint(ck, verify=False))
                break
            except ArtifactError as e:
                first_error = first_error or e
        if saved is None:
            assert first_error is not None
            raise first_error
        check_resume(saved, cfg, out)
        return existing[::-1]
    if out.exists() and not out.is_dir():
        raise ArtifactError(f"{out} exists and is not a directory; choose another `out`")
    if existing:
        raise ArtifactError(f"{out} already has checkpoints; pass `resume` to continue it or choose another `out`")
    leftovers = [p.name for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []
    if set(leftovers) - _RUN_FILES:
        raise ArtifactError(f"{out} already exists and is not a gendef run; choose another `out`")
    return []  # absent, empty, or an attempt that never reached a checkpoint: (re)start it


def _resume_latest_good(candidates: list[Path], g: CanonicalGenerator | VideoGenerator,
                        g_ema: CanonicalGenerator | VideoGenerator, d: nn.Module, opt_g: torch.optim.Optimizer,
                        opt_d: torch.optim.Optimizer, emit: OnEvent) -> tuple[Path, int, int]:
    """Resume from the newest of `candidates` (newest first) that loads whole; a damaged one (a kill or a full
    disk while it was written, a corrupted file) is skipped with a warning naming it. Every attempt loads
    every network and optimizer state, so a failed one leaves nothing behind."""
    first_error: ArtifactError | None = None
    for ck in candidates:
        try:
            step, seen = _resume(ck, g, g_ema, d, opt_g, opt_d)
        except ArtifactError as e:
            first_error = first_error or e
            problem = str(e).split("; ", 1)[0]  # the damage, without the loader's advice
            emit(Warning(f"{ck} cannot be resumed ({problem}); falling back to the checkpoint before it"))
            continue
        return ck, step, seen
    assert first_error is not None
    raise first_error


_LEFTOVERS = (".train-state-", ".step-", ".config.json.", ".events.jsonl.")
"""Hidden names a killed run leaves behind: optimizer states being written (RUN/.train-state-*), checkpoint
builds, replaced or pruned checkpoints (RUN/checkpoints/.step-N.partial-*, .old-*, .deleting-*) and partial
rewrites of RUN/config.json and RUN/events.jsonl."""


def _start_run_dir(cfg: TrainConfig, out: Path, step: int) -> None:
    """Write RUN/config.json, drop log records past `step` (from an attempt after the last checkpoint) and
    delete the hidden partial files an interrupted attempt left (`_LEFTOVERS`)."""
    out.mkdir(parents=True, exist_ok=True)
    for folder in (out, out / CHECKPOINTS_DIR):
        for p in (folder.iterdir() if folder.is_dir() else []):
            if not p.name.startswith(_LEFTOVERS):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
    write_run_config(out / "config.json", cfg.to_dict())
    truncate_events(out, step)


def _check_data(cfg: TrainConfig, frames: VideoFrames, data: Path) -> None:
    if frames.info.resolution != cfg.model.resolution:
        raise ConfigError(f"{data} is {frames.info.resolution}x{frames.info.resolution} but the model is "
                          f"{cfg.model.resolution}x{cfg.model.resolution}; prepare the data at --resolution "
                          f"{cfg.model.resolution} or `overrides` model.resolution={frames.info.resolution}")
    if cfg.stage == "finetune" and int(frames.lengths.min()) < cfg.num_frames:
        raise ConfigError(f"{data} has videos shorter than {cfg.num_frames} frames; re-prepare with --min-frames")


VIDEO_ONLY_D_PARTS = ("time_cond", "fuse_mix", "from_deviation", "motion_branch")
"""Discriminator weights a pre-training does not have (they start from their initialisation in fine-tuning)."""


def _init_from_pretraining(cfg: TrainConfig, g: VideoGenerator, g_ema: VideoGenerator, d: nn.Module) -> None:
    """The generator's pre-trained parts (raw and EMA; G_c for GenDeF) and D from a pre-training checkpoint; the
    rest (G_d) keeps its initialisation."""
    assert cfg.init_from is not None
    ck = load_checkpoint(Path(cfg.init_from), verify=False)  # each file is verified as it is read
    if ck.config.get("stage") != "pretrain" or "canonical" not in ck.networks:
        raise ArtifactError(f"`init` {cfg.init_from} is not a pre-training run (gendef pretrain)")
    parts, ema_parts = g.pretrained_parts(), g_ema.pretrained_parts()
    if not parts:  # e.g. the baseline: its generator has extra motion inputs, nothing transfers
        raise ConfigError(f"{g.description} trains from scratch; drop `init`")
    fix = f"use the same preset and model.* settings as the pre-training in {ck.path}"
    new_mtm = lambda key: ".dcn_" in key  # noqa: E731 - MTM layers absent from the pre-training start as plain convs
    # A frozen part is the pre-training's EMA weights (its best ones), and stays exactly that.
    load_into(ck, {f"{name}_ema": m for name, m in ema_parts.items()}, fix=fix, error=ConfigError, may_lack=new_mtm)
    for name, m in parts.items():  # a frozen part copies the EMA weights just loaded (the file is read once)
        if cfg.freeze_canonical:
            m.load_state_dict(ema_parts[name].state_dict())
        else:
            load_into(ck, {name: m}, fix=fix, error=ConfigError, may_lack=new_mtm)
    fix = f"use the same preset and discriminator.* settings as the pre-training in {ck.path}"
    load_into(ck, {"discriminator": d}, fix=fix, error=ConfigError,
              may_lack=lambda key: key.startswith(VIDEO_ONLY_D_PARTS))  # the video-only parts


def _resume(ckpt: Path, g: CanonicalGenerator | VideoGenerator, g_ema: CanonicalGenerator | VideoGenerator,
            d: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer) -> tuple[int, int]:
    info = load_checkpoint(ckpt, verify=False)  # each file is verified as it is read
    load_into(info, g.networks())
    load_into(info, {f"{name}_ema": m for name, m in g_ema.networks().items()})
    load_into(info, {"discriminator": d})
    if info.train_state is None:
        raise ArtifactError(f"{ckpt} has no train_state/; it cannot be resumed (use it with `init` instead)")
    counters = load_train_state(info.train_state, {"optimizer_g": opt_g, "optimizer_d": opt_d})
    return int(counters["step"]), int(counters["images_seen"])


def pretrain(data: Path, out: Path, cfg: TrainConfig, *, resume: bool = False,
             on_event: OnEvent = ignore) -> TrainResult:
    """Stage 1 (`gendef pretrain`): G_c and D as an image GAN on single frames."""
    if cfg.stage != "pretrain":
        raise ValueError("pretrain needs a config with stage='pretrain' (see resolve_train_config)")
    return train(cfg, Path(data), Path(out), resume=resume, on_event=on_event)


def finetune(data: Path, out: Path, cfg: TrainConfig, *, resume: bool = False,
             on_event: OnEvent = ignore) -> TrainResult:
    """Stage 2 (`gendef finetune`): the full model on sparse frame triplets."""
    if cfg.stage != "finetune":
        raise ValueError("finetune needs a config with stage='finetune' (see resolve_train_config)")
    return train(cfg, Path(data), Path(out), resume=resume, on_event=on_event)
