"""The public entry points: one function per `gendef` subcommand (the facade; nothing is implemented here).

Everything the CLI does is a call to one of these; they never print or exit. Long work reports
through `on_event` (see `gendef_core.events`). Errors are `gendef_core.errors.GendefError`s whose
messages name parameters in backticks (`` `frames` ``); the CLI shows them as its options.

    data        synth_dataset, prepare_dataset, dataset_clip
    training    resolve_train_config, pretrain, finetune, export_model
    clips       sample, resample, fit, render, describe
    apps        edit, segment, track, flow
    evaluation  evaluate, evaluate_tracks
    showcase    demo
"""

from __future__ import annotations

from gendef_core.apps.clip_tools import dataset_clip, render
from gendef_core.apps.demo import demo
from gendef_core.apps.edit import edit, segment
from gendef_core.apps.evaluate import evaluate, evaluate_tracks
from gendef_core.apps.export import export_model
from gendef_core.apps.fit import fit
from gendef_core.apps.info import describe
from gendef_core.apps.sample import resample, sample
from gendef_core.apps.track import flow, track
from gendef_core.data.prepare import prepare_dataset
from gendef_core.data.synth_dataset import synth_dataset
from gendef_core.training.configure import resolve_train_config
from gendef_core.training.loop import finetune, pretrain

__all__ = ["dataset_clip", "demo", "describe", "edit", "evaluate", "evaluate_tracks", "export_model", "finetune",
           "fit", "flow", "prepare_dataset", "pretrain", "render", "resample", "resolve_train_config", "sample",
           "segment", "synth_dataset", "track"]
