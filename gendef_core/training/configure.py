"""The `TrainConfig` a `pretrain`/`finetune` command runs: preset or saved config, `--init`, flags, `--set`, length."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from gendef_core.artifacts.checkpoint import list_checkpoints, load_checkpoint
from gendef_core.artifacts.runconfig import read_run_config
from gendef_core.config import (
    TRAIN_RANGES,
    Stage,
    TrainConfig,
    apply_overrides,
    check_resume,
    config_from_file,
    inherit_pretraining,
)
from gendef_core.config import preset as preset_config
from gendef_core.errors import ArtifactError, ConfigError
from gendef_core.models.loading import checkpoint_config


@dataclass(frozen=True)
class TrainFlags:
    """The training settings that a command sets with options of their own (``gendef finetune --variant``,
    ``--reg-weight``, ...), as opposed to dotted ``overrides``; None: not given.

    Each is the config key in the comment and is checked as that key is (`config.apply_overrides`: an
    `OptionError` naming the key), after the preset or saved config and before the `overrides`.
    """

    variant: str | None = None              # model.variant (`config.Variant`)
    reg_weight: float | None = None         # loss.reg_weight
    feature_layer: int | None = None        # model.feature_layer
    deform_init: str | None = None          # model.deform_init (`config.DeformInit`)
    mixed_precision: str | None = None      # mixed_precision (`config.MixedPrecision`)
    canonical_feature: bool | None = None   # model.canonical_feature
    freeze_canonical: bool | None = None    # freeze_canonical

    def overrides(self) -> list[str]:
        """The flags given, as overrides ``key=<json value>``, in the order of the fields."""
        return [f"{_FLAG_KEYS[f.name]}={json.dumps(getattr(self, f.name))}" for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None]


_FLAG_KEYS = {"variant": "model.variant", "reg_weight": "loss.reg_weight", "feature_layer": "model.feature_layer",
              "deform_init": "model.deform_init", "mixed_precision": "mixed_precision",
              "canonical_feature": "model.canonical_feature", "freeze_canonical": "freeze_canonical"}


def resolve_train_config(stage: Stage, *, preset: str = "small", init: Path | None = None, steps: int | None = None,
                         kimg: float | None = None, batch_size: int | None = None,
                         flags: TrainFlags | None = None, overrides: list[str] | None = None,
                         config_file: Path | None = None, from_scratch: bool = False,
                         resume_run: Path | None = None) -> TrainConfig:
    """The `TrainConfig` a `pretrain`/`finetune` command runs (what `--dry-run` prints).

    New run: the preset (or `config_file`, a saved config.json); for fine-tuning from `init`, the
    pre-training's G_c and D shape settings (so their weights fit) and no EMA ramp-up (the EMA
    starts from the pre-trained EMA); then the `flags` given (`TrainFlags`), then
    `overrides` (`--set`), then `kimg` (thousands of images over all processes) -> steps.
    Resumed run (`resume_run`): the run's own config; only `steps`/`kimg` and overrides of the
    bookkeeping keys (log_every, save_every, snapshot_every, keep_last) may change it.
    """
    if steps is not None and kimg is not None:
        raise ConfigError("give `steps` or `kimg`, not both")
    sets = flags.overrides() if flags is not None else []
    if batch_size is not None:
        sets.append(f"batch_size={batch_size}")
    if resume_run is not None:  # init/from_scratch/preset/config_file describe how the run began: ignored
        found = list_checkpoints(Path(resume_run))
        if not found:
            raise ArtifactError(f"{resume_run} has no checkpoint to resume from; drop `resume_run` to start a new run")
        saved = checkpoint_config(load_checkpoint(found[-1], verify=False))
        if saved.stage != stage:
            raise ConfigError(f"{resume_run} is a {saved.stage} run; resume it with `gendef {saved.stage} --resume`")
        cfg = _set_length(apply_overrides(saved, sets + list(overrides or [])), steps, kimg)
        check_resume(saved, cfg, resume_run)
        return cfg
    if config_file is not None:
        cfg = config_from_file(read_run_config(Path(config_file), allow_headerless=True), config_file, stage=stage)
    else:
        cfg = preset_config(preset, stage)
    if stage == "finetune" and (init is None) == (not from_scratch):
        raise ConfigError("finetune needs exactly one of `init` (a pre-training run) and `from_scratch` (the "
                          "Table 4 `w/o pt.` row, and the direct-frame baseline)")
    if from_scratch:
        cfg = dataclasses.replace(cfg, init_from=None)
    if init is not None:
        ck = load_checkpoint(Path(init), verify=False)
        cfg = inherit_pretraining(cfg, checkpoint_config(ck), str(ck.path.resolve()))
    return _set_length(apply_overrides(cfg, sets + list(overrides or [])), steps, kimg)


def _set_length(cfg: TrainConfig, steps: int | None, kimg: float | None) -> TrainConfig:
    lo, hi = TRAIN_RANGES["steps"]
    if steps is not None:
        if not lo <= steps <= hi:
            raise ConfigError(f"`steps` must be in {lo}..{hi}, got {steps}")
        return dataclasses.replace(cfg, steps=steps)
    if kimg is not None:
        # kimg counts images (frames) over all processes; accelerate launch sets WORLD_SIZE.
        frames = cfg.num_frames if cfg.stage == "finetune" else 1
        per_step = cfg.batch_size * int(os.environ.get("WORLD_SIZE", "1")) * frames
        if not (math.isfinite(kimg) and 0 <= kimg * 1000 / per_step <= hi):
            raise ConfigError(f"`kimg` must be in 0..{hi * per_step / 1000:g} (at most {hi} steps of {per_step} "
                              f"images), got {kimg}")
        return dataclasses.replace(cfg, steps=max(1, round(kimg * 1000 / per_step)))
    return cfg
