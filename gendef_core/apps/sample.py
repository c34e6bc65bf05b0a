"""`gendef sample` and `gendef resample`: clips from a trained GenDeF model (see gendef_core.sampling)."""

from __future__ import annotations

import math
from pathlib import Path

from gendef_core.artifacts.clip import Clip, load_clip
from gendef_core.artifacts.common import atomic_dir, prepare_output_dir
from gendef_core.artifacts.paths import check_apart
from gendef_core.artifacts.schema import MAX_SEED, MIN_SEED
from gendef_core.clips import save_clip
from gendef_core.data.video_io import to_fraction
from gendef_core.errors import ConfigError
from gendef_core.events import Info, OnEvent, Progress, Warning, ignore
from gendef_core.models.bundled import resolve_ckpt
from gendef_core.models.loading import LoadedGenerator
from gendef_core.sampling import clip_tensors, draw_latents, load_model, weights_id

MAX_FRAMES = 100_000


def _model(ckpt: Path | str | None, device: str) -> tuple[LoadedGenerator, str, str]:
    """The model (None: the bundled one), the string clips record for it (resolved: a record outlives the
    working directory) and the name messages show (``bundled:NAME``, or the path as given)."""
    path, record = resolve_ckpt(ckpt)
    model = load_model(path, device=device)
    return model, record or str(model.checkpoint.path.resolve()), record or str(path)


def _check(frames: int, batch_size: int, truncation: float, flow_max: float | None = None) -> None:
    if not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"`frames` must be in 1..{MAX_FRAMES}, got {frames}")
    if batch_size < 1:
        raise ConfigError(f"`batch_size` must be >= 1, got {batch_size}")
    if not 0 <= truncation <= 1:
        raise ConfigError(f"`truncation` must be in [0, 1], got {truncation}")
    if flow_max is not None and not (math.isfinite(flow_max) and flow_max > 0):
        raise ConfigError(f"`flow_max` must be a positive number of pixels, got {flow_max}")


def sample(out: Path, *, ckpt: Path | str | None = None, num: int = 1, frames: int = 16, fps: float | str = 25,
           seed: int = 0, truncation: float = 1.0, batch_size: int = 32, device: str = "auto",
           flow: bool = False, flow_max: float | None = None, overwrite: bool = False,
           on_event: OnEvent = ignore) -> list[Path]:
    """Sample `num` clips (`gendef sample`). With num == 1 `out` is the clip, else `out/000000`, ... .

    `ckpt` None (or "bundled") is the bundled model. Clip i uses seed ``seed + i``, so ``--seed S+i --num 1``
    redraws clip i alone. `batch_size` is the number of frames per deformation-generator call: it bounds
    memory; results agree to float round-off. `flow` also writes flow.mp4, full colour at `flow_max` px per
    frame (default: each clip's largest flow).
    """
    _check(frames, batch_size, truncation, flow_max)
    if num < 1:
        raise ConfigError(f"`num` must be >= 1, got {num}")
    if not MIN_SEED <= seed <= MAX_SEED - (num - 1):
        raise ConfigError(f"`seed` must be in {MIN_SEED}..{MAX_SEED - (num - 1)} (seeds of torch's generator), "
                          f"got {seed}")
    try:
        rate = to_fraction(fps)
    except ValueError as e:
        raise ConfigError(f"`fps`: {e}") from None
    out = Path(out)
    check_apart(out, {"ckpt": ckpt}, sealed=("ckpt",))
    prepare_output_dir(out, overwrite=overwrite, what="clip" if num == 1 else "clips")
    model, checkpoint, shown = _model(ckpt, device)
    weights = weights_id(model.generator)

    def one(i: int) -> Clip:
        s = seed + i
        lat = draw_latents(model, s, frames)
        canonical, offsets = clip_tensors(
            model, lat, frames, truncation_psi=truncation, chunk=batch_size,
            on_frames=lambda n: on_event(Progress("sample", i * frames + n, num * frames)))
        return Clip(canonical=canonical, offsets=offsets, fps=rate, seed=s, checkpoint=checkpoint, source="sample",
                    latents=lat, sampling={"truncation_psi": truncation, "motion_seed": s,
                                           "weights": weights})

    if num == 1:
        paths = [save_clip(one(0), out, overwrite=overwrite, flow=flow, flow_max=flow_max)]
    else:
        with atomic_dir(out, overwrite=overwrite, what="clips") as tmp:
            for i in range(num):
                save_clip(one(i), tmp / f"{i:06d}", flow=flow, flow_max=flow_max)
        paths = [out / f"{i:06d}" for i in range(num)]
    on_event(Info(f"{num} clip{'s' if num > 1 else ''} of {frames} frames at {model.config.model.resolution}x"
                  f"{model.config.model.resolution} from {shown}"))
    return paths


def resample(clip: Path, out: Path, *, motion_seed: int | None = None, ckpt: Path | str | None = None,
             frames: int | None = None, batch_size: int = 32, device: str = "auto", flow: bool = False,
             flow_max: float | None = None, overwrite: bool = False, on_event: OnEvent = ignore) -> Path:
    """Same canonical image and content latent, new motion (`gendef resample`, paper Fig. 6).

    The new clip keeps `clip`'s canonical tensor as it is (so an edited canonical stays edited) and its
    z_c (G_d is conditioned on the canonical feature of z_c), and takes z_d and motion noise of
    `motion_seed` (default: the clip's seed + 1). The model is the clip's own checkpoint unless `ckpt`.
    """
    c = load_clip(Path(clip), require_videos=False)
    # What marks a clip of `gendef fit`: its report, its source, a visibility map or a canonical larger than the frame.
    fitted = (bool(c.fit) or c.source.split(":")[0] == "fit" or c.visibility is not None
              or c.canonical_size != (c.height, c.width))
    if "z_c" not in c.latents and fitted:
        raise ConfigError(f"{clip} was fitted to a video (`gendef fit`) and has no latents; resample needs a clip "
                          f"generated by `gendef sample`")
    if "z_c" not in c.latents:
        raise ConfigError(f"{clip} has no latents (it was not sampled from a model); only sampled clips can be "
                          f"resampled")
    if motion_seed is not None and not MIN_SEED <= motion_seed <= MAX_SEED:
        raise ConfigError(f"`motion_seed` must be in {MIN_SEED}..{MAX_SEED} (seeds of torch's generator), got "
                          f"{motion_seed}")
    n = frames if frames is not None else c.num_frames
    truncation = float(c.sampling.get("truncation_psi", 1.0))
    _check(n, batch_size, truncation, flow_max)
    if ckpt is None and c.checkpoint is None:
        raise ConfigError(f"{clip} does not record its checkpoint; pass `ckpt`")
    check_apart(Path(out), {"clip": clip, "ckpt": ckpt if ckpt is not None else c.checkpoint},
                sealed=("clip", "ckpt"))
    prepare_output_dir(Path(out), overwrite=overwrite, what="clip")
    model, checkpoint, shown = _model(ckpt if ckpt is not None else c.checkpoint, device)
    if model.config.model.resolution != c.height:
        raise ConfigError(f"{clip} is {c.height}x{c.width} but the model makes {model.config.model.resolution}px "
                          f"clips; pass the `ckpt` the clip was sampled with")
    if c.latents["z_c"].shape != (model.config.model.z_dim,):
        raise ConfigError(f"{clip}'s content latent has shape {tuple(c.latents['z_c'].shape)}, the model's is "
                          f"({model.config.model.z_dim},); pass the `ckpt` the clip was sampled with")
    weights = weights_id(model.generator)
    if c.sampling.get("weights", weights) != weights:
        on_event(Warning(f"{clip} was sampled from weights {c.sampling['weights']}, {shown} has {weights}: "
                         f"the canonical image is kept, the new motion comes from different weights"))
    m = c.seed + 1 if motion_seed is None and c.seed is not None else (motion_seed or 0)
    if m > MAX_SEED:
        raise ConfigError(f"{clip} has the largest seed, {MAX_SEED}; there is no next one: pass `motion_seed`")
    lat = draw_latents(model, m, n)
    latents = {"z_c": c.latents["z_c"], "z_d": lat["z_d"], "motion_noise": lat["motion_noise"]}
    _, offsets = clip_tensors(model, latents, n, truncation_psi=truncation, chunk=batch_size,  # canonical kept
                              on_frames=lambda k: on_event(Progress("resample", k, n)))
    new = Clip(canonical=c.canonical, offsets=offsets, fps=c.fps, seed=c.seed, checkpoint=checkpoint, source="resample",
               latents=latents, sampling={**c.sampling, "motion_seed": m, "weights": weights})
    path = save_clip(new, Path(out), overwrite=overwrite, flow=flow, flow_max=flow_max, on_event=on_event)
    on_event(Info(f"new motion (seed {m}) for the canonical of {clip}: {n} frames from {shown}"))
    return path
