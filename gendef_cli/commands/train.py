"""`gendef pretrain` and `gendef finetune`: the two training stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from gendef_cli.options import JsonOpt, OverwriteOpt, QuietOpt
from gendef_cli.output import emit
from gendef_cli.progress import progress_to_stderr
from gendef_core.config import Variant

if TYPE_CHECKING:
    from gendef_core.config import TrainConfig

DataOpt = Annotated[Path, typer.Option("--data", help="Dataset directory (gendef data prepare/synth).",
                                       show_default=False)]
RunOpt = Annotated[Path, typer.Option("--out", "-o", help="Run directory to create (or continue with --resume).",
                                      show_default=False)]
PresetOpt = Annotated[str, typer.Option("--preset", help="tiny (seconds, tests), small (64 px, CPU-hours), "
                                        "paper (256 px, GPUs).")]
StepsOpt = Annotated[int | None, typer.Option("--steps", min=0, help="Optimisation steps (total).")]
KimgOpt = Annotated[float | None, typer.Option("--kimg", min=0, help="Thousands of images (frames) to train on, "
                                               "over all processes; instead of --steps.")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", min=1, help="Images/videos per step, per process.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config value: key=value, e.g. "
                                                  "--set model.w_dim=256 --set lr_g=0.002. Repeatable.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Start from a saved config.json instead of a "
                                                "preset.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its latest checkpoint.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the resolved config (JSON) and exit.")]
PrecisionOpt = Annotated[str | None, typer.Option("--mixed-precision", help="no, fp16 or bf16 (GPUs).")]


def _run(stage: str, data: Path, out: Path, cfg: TrainConfig, resume: bool, as_json: bool, quiet: bool) -> None:
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        fn = api.pretrain if stage == "pretrain" else api.finetune
        result = fn(data, out, cfg, resume=resume, on_event=on_event)
    if not result.main_process:  # one result per run, however many processes
        return
    emit(result.checkpoint, {"run": str(result.run_dir), "checkpoint": str(result.checkpoint), "step": result.step,
                             "images_per_second": round(result.images_per_second, 2)}, as_json)


def pretrain(data: DataOpt, out: RunOpt, preset: PresetOpt = "small", steps: StepsOpt = None, kimg: KimgOpt = None,
             batch_size: BatchOpt = None, set_: SetOpt = None, config: ConfigOpt = None,
             mixed_precision: PrecisionOpt = None, resume: ResumeOpt = False, dry_run: DryRunOpt = False,
             as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Stage 1: train the canonical generator G_c and D as an image GAN on single frames."""
    from gendef_core import api

    cfg = api.resolve_train_config("pretrain", preset=preset, steps=steps, kimg=kimg, batch_size=batch_size,
                                   flags=api.TrainFlags(mixed_precision=mixed_precision), overrides=set_,
                                   config_file=config, resume_run=out if resume else None)
    if dry_run:
        typer.echo(json.dumps(cfg.to_dict(), indent=2))
        return
    _run("pretrain", data, out, cfg, resume, as_json, quiet)


def finetune(
    data: DataOpt, out: RunOpt,
    init: Annotated[Path | None, typer.Option("--init", help="Pre-training run (or checkpoint): G_c and D start "
                                              "from it.")] = None,
    from_scratch: Annotated[bool, typer.Option("--from-scratch", help="No pre-training (Table 4 `w/o pt.`; "
                                               "required for variants without a pre-trained part).")] = False,
    variant: Annotated[str | None, typer.Option("--variant", help=f"Model: {', '.join(get_args(Variant))} "
                                                "(model.variant; docs/MODEL.md).")] = None,
    preset: PresetOpt = "small", steps: StepsOpt = None, kimg: KimgOpt = None, batch_size: BatchOpt = None,
    reg_weight: Annotated[float | None, typer.Option("--reg-weight", help="lambda_reg of the temporal smoothness "
                                                     "loss (paper: 1; 0 = Table 2 `w/o L_reg`).")] = None,
    no_canonical_feature: Annotated[bool, typer.Option("--no-canonical-feature", help="Do not feed f_c to G_d "
                                                       "(Table 2 `w/o f_c`).")] = False,
    feature_layer: Annotated[int | None, typer.Option("--feature-layer", help="G_c layer giving f_c (Table 3); "
                                                      "default: the last conv layer.")] = None,
    freeze_canonical: Annotated[bool, typer.Option("--freeze-canonical", help="Keep G_c fixed (Table 4 "
                                                   "`pt. + freeze`).")] = False,
    deform_init: Annotated[str | None, typer.Option("--deform-init", help="zero (paper), xavier, or none = no "
                                                    "multiplier (Table A1).")] = None,
    set_: SetOpt = None, config: ConfigOpt = None, mixed_precision: PrecisionOpt = None, resume: ResumeOpt = False,
    dry_run: DryRunOpt = False, as_json: JsonOpt = False, quiet: QuietOpt = False,
) -> None:
    """Stage 2: train the full model on videos (sparse 3-frame sampling), G_d zero-initialised."""
    from gendef_core import api

    flags = api.TrainFlags(variant=variant, reg_weight=reg_weight, feature_layer=feature_layer,
                           deform_init=deform_init, mixed_precision=mixed_precision,
                           canonical_feature=False if no_canonical_feature else None,
                           freeze_canonical=True if freeze_canonical else None)
    cfg = api.resolve_train_config("finetune", preset=preset, init=init, steps=steps, kimg=kimg,
                                   batch_size=batch_size, flags=flags, overrides=set_, config_file=config,
                                   from_scratch=from_scratch, resume_run=out if resume else None)
    if dry_run:
        typer.echo(json.dumps(cfg.to_dict(), indent=2))
        return
    _run("finetune", data, out, cfg, resume, as_json, quiet)


def export(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A `gendef finetune` run or checkpoint.",
                                        show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint directory to create.", show_default=False)],
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a run's EMA generator and config as a small checkpoint for sampling (no training state)."""
    from gendef_core import api

    with progress_to_stderr(quiet) as on_event:
        path = api.export_model(run, out, overwrite=overwrite, on_event=on_event)
    typer.echo(path)
