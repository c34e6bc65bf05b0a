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

The signatures are fully typed (no `Any`; tests/unit/test_api_types.py): the JSON-like results are the
TypedDicts exported below, each defined next to the function that builds it.
"""

from __future__ import annotations

from gendef_core.apps.clip_tools import RenderedVideos, dataset_clip, render
from gendef_core.apps.demo import DemoSummary, MovementNumbers, ObjectsNumbers, demo
from gendef_core.apps.edit import EditReport, FrameStats, SegmentReport, edit, segment
from gendef_core.apps.evaluate import (
    EvaluationProtocol,
    EvaluationReport,
    FidResult,
    FilesSource,
    FrechetResult,
    FvdResult,
    ModelSource,
    TapVidScores,
    TracksEvaluation,
    evaluate,
    evaluate_tracks,
)
from gendef_core.apps.export import export_model
from gendef_core.apps.fit import FitSummary, FittedShot, fit
from gendef_core.apps.info import (
    ArtifactSummary,
    BundledSummary,
    ClipSummary,
    DatasetInfoSummary,
    FlowInfoSummary,
    MasksInfoSummary,
    ShotsSummary,
    describe,
)
from gendef_core.apps.motion_eval import MotionReport
from gendef_core.apps.sample import resample, sample
from gendef_core.apps.track import FlowReport, flow, track
from gendef_core.artifacts.checkpoint import CheckpointSummary
from gendef_core.artifacts.clip import FlowVideoRecord, VideoRecord
from gendef_core.artifacts.flow import FlowManifest
from gendef_core.artifacts.masks import MasksManifest
from gendef_core.artifacts.tracks import TracksDocument
from gendef_core.data.prepare import DatasetSummary, SkippedVideo, prepare_dataset
from gendef_core.data.synth_dataset import synth_dataset
from gendef_core.training.configure import TrainFlags, resolve_train_config
from gendef_core.training.loop import TrainResult, finetune, pretrain

__all__ = [
    # the types of the parameters and results (TypedDicts and dataclasses)
    "ArtifactSummary", "BundledSummary", "CheckpointSummary", "ClipSummary", "DatasetInfoSummary", "DatasetSummary",
    "DemoSummary", "EditReport", "EvaluationProtocol", "EvaluationReport", "FidResult", "FilesSource", "FitSummary",
    "FittedShot", "FlowInfoSummary", "FlowManifest", "FlowReport", "FlowVideoRecord", "FrameStats", "FrechetResult",
    "FvdResult", "MasksInfoSummary", "MasksManifest", "ModelSource", "MotionReport", "MovementNumbers",
    "ObjectsNumbers", "RenderedVideos", "SegmentReport", "ShotsSummary", "SkippedVideo",
    "TapVidScores", "TracksDocument", "TracksEvaluation", "TrainFlags", "TrainResult", "VideoRecord",
    # one function per subcommand
    "dataset_clip", "demo", "describe", "edit", "evaluate", "evaluate_tracks", "export_model", "finetune", "fit",
    "flow", "prepare_dataset", "pretrain", "render", "resample", "resolve_train_config", "sample", "segment",
    "synth_dataset", "track",
]
