"""Networks from checkpoints: the one place that decides whether stored weights fit a model.

Sampling, evaluation, `--resume` and `--init` all load through `load_into` (which checks each network
file it loads once against the manifest's size and sha256, then reads it) and its single weights-fit
check `fit_weights`; `load_generator` is the whole path from a checkpoint to a ready video generator
(sampling and evaluation); resume and `--init` load into the networks training built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gendef_core.artifacts.checkpoint import CheckpointInfo, load_checkpoint
from gendef_core.artifacts.tensors import all_finite
from gendef_core.config import TrainConfig, config_from_file
from gendef_core.devices import pick_device
from gendef_core.errors import ArtifactError, ConfigError, GendefError
from gendef_core.models.generator import VideoGenerator, build_generator

REBUILD = "re-create the checkpoint"
"""The fix when a checkpoint's weights do not fit its own config.json: the checkpoint is damaged."""


@dataclass(frozen=True)
class LoadedGenerator:
    generator: VideoGenerator      # eval mode, no gradients, on the device it was loaded to
    config: TrainConfig
    checkpoint: CheckpointInfo


def checkpoint_config(info: CheckpointInfo) -> TrainConfig:
    """The checked `TrainConfig` of a checkpoint (`config_from_file`: keys, types, ranges, size bounds and the
    memory estimate, before anything is built); errors name its config.json."""
    return config_from_file(dict(info.config), info.path / "config.json", error=ArtifactError,
                            fix=f"the checkpoint is damaged or not made by gendef; {REBUILD}")


def check_weights(module: nn.Module, state: Mapping[str, torch.Tensor], where: str, *,
                  error: type[GendefError] = ArtifactError) -> None:
    """Refuse stored tensors of another dtype than the module's (torch would cast them without a word) and
    non-finite weights (training from them fails later with a misleading message)."""
    own = module.state_dict()
    for key, t in state.items():
        mine = own.get(key)
        if mine is not None and t.dtype != mine.dtype:
            raise error(f"{where}: tensor {key!r} is {t.dtype}, the model's is {mine.dtype}; gendef stores "
                        f"{mine.dtype} weights, so this file was altered or not made by gendef: {REBUILD}")
        if t.is_floating_point() and not all_finite(t):
            raise error(f"{where}: tensor {key!r} contains NaN or inf: the checkpoint has non-finite weights "
                        f"(its training diverged); use an earlier checkpoint of that run")


def fit_weights(module: nn.Module, state: Mapping[str, torch.Tensor], where: str, *, fix: str,
                error: type[GendefError] = ArtifactError, may_lack: Callable[[str], bool] = lambda key: False) -> None:
    """Load `state` into `module`, refusing (one line naming `where` and `fix`) weights that do not fit:
    a missing or unexpected name, or a shape that differs; and (`check_weights`) another dtype or non-finite
    values. Names for which `may_lack` is true may be missing (they keep their initial values)."""
    check_weights(module, state, where, error=error)
    try:
        missing, unexpected = module.load_state_dict(dict(state), strict=False)
    except RuntimeError as e:  # shape mismatch: torch lists them, the last line names one
        detail = str(e).strip().splitlines()[-1].strip()
        raise error(f"{where} does not fit the model's config ({detail}); {fix}") from None
    missing = [k for k in missing if not may_lack(k)]
    if missing or unexpected:
        key = (missing or unexpected)[0]
        raise error(f"{where} does not fit the model's config ({'missing' if missing else 'unexpected'} weight "
                    f"{key}); {fix}")


def load_into(info: CheckpointInfo, modules: Mapping[str, nn.Module], *, fix: str = REBUILD,
              error: type[GendefError] = ArtifactError, may_lack: Callable[[str], bool] = lambda key: False) -> None:
    """Load network `name` of checkpoint `info` into each ``modules[name]`` (see `fit_weights`)."""
    for name, module in modules.items():
        fit_weights(module, info.load_network(name), f"{info.path / (name + '.safetensors')}", fix=fix, error=error,
                    may_lack=may_lack)


def load_generator(checkpoint: Path, *, ema: bool = True, device: str | torch.device = "auto") -> LoadedGenerator:
    """The video generator of a fine-tuning checkpoint (or a run's latest), eval mode, on `device`.

    `ema`: the EMA weights (what sampling and evaluation use), else the raw training weights.
    """
    info = load_checkpoint(Path(checkpoint), verify=False)  # each loaded file is verified once, as it is read
    cfg = checkpoint_config(info)
    if cfg.stage != "finetune":
        raise ConfigError(f"{info.path} is a pre-training checkpoint (an image model); use a `gendef finetune` run")
    gen = build_generator(cfg.model, "finetune")
    suffix = "_ema" if ema else ""
    load_into(info, {f"{name}{suffix}": module for name, module in gen.networks().items()})
    dev = device if isinstance(device, torch.device) else pick_device(device)
    gen = gen.eval().requires_grad_(False).to(dev)
    return LoadedGenerator(gen, cfg, info)
