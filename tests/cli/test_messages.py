"""Library messages name parameters in backticks; the CLI shows the option the user typed instead.

`gendef_cli.main.cli_message` replaces each backticked parameter of the invoked command with its option
(`` `min_frames` `` -> ``--min-frames``). The CLI half runs bad command lines of every command family
and checks the exact error line users saw before the library stopped naming options; the library half
calls the same functions directly and checks that their messages name parameters (in backticks, each
one a parameter of the function called) and no options.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core import api
from gendef_core.errors import GendefError


@dataclass(frozen=True)
class Inputs:
    root: Path
    video: Path      # 20 frames, 64x48
    tiny: Path       # 6 frames, 12x8: below the fit's minimum size
    clip: Path       # 4 frames, 16x16
    data: Path       # sprites, 1 video of 8 frames, 16 px
    fake4: Path      # one 4-frame MP4
    src_bad: Path    # a zero-byte "video"
    points: Path
    mask: Path       # 16x16 labels
    big: Path        # 20x12 RGBA: the wrong size for the clip
    existing: Path   # a non-empty directory
    tracks: Path     # an existing file

    def fmt(self, text: str, out: Path) -> str:
        return text.format(out=out, **{k: v for k, v in vars(self).items()})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    from gendef_core.artifacts.clip import Clip
    from gendef_core.clips import save_clip
    from gendef_core.data.video_io import write_video

    root = tmp_path_factory.mktemp("messages")
    frames = np.random.default_rng(0).integers(0, 255, (20, 48, 64, 3)).astype(np.uint8)
    write_video(root / "v.mp4", [frames], 25)
    write_video(root / "tiny.mp4", [frames[:6, :8, :12]], 25)
    (root / "fake4").mkdir()
    write_video(root / "fake4" / "a.mp4", [frames[:4, :16, :16]], 25)
    save_clip(Clip(canonical=torch.zeros(3, 16, 16), offsets=torch.zeros(4, 2, 16, 16), fps=Fraction(25), seed=0,
                   source="test"), root / "clip")
    api.synth_dataset("sprites", root / "data", num_videos=1, num_frames=8, resolution=16, seed=0)
    (root / "src_bad").mkdir()
    (root / "src_bad" / "empty.mp4").write_bytes(b"")
    (root / "pts.json").write_text(json.dumps([[4, 4]]))
    Image.new("L", (16, 16)).save(root / "m.png")
    Image.new("RGBA", (20, 12)).save(root / "big.png")
    (root / "existing").mkdir()
    (root / "existing" / "x").write_text("x")
    (root / "t.json").write_text("{}")
    return Inputs(root, root / "v.mp4", root / "tiny.mp4", root / "clip", root / "data", root / "fake4",
                  root / "src_bad", root / "pts.json", root / "m.png", root / "big.png", root / "existing",
                  root / "t.json")


# (command line, the error line it printed when the library named options itself); {out} is a fresh path
CLI_CASES: dict[str, tuple[str, str]] = {
    "synth-kind": ("data synth --out {out} --kind blobs", "--kind must be one of sprites, clouds, pan, got 'blobs'"),
    "synth-fps": ("data synth --out {out} --fps 0",
                  "--fps: frame rate must be in (0, 1000] frames per second, got 0"),
    "prepare-min-max": ("data prepare {src_bad} --out {out} --resolution 16 --min-frames 8 --max-frames 4",
                        "--max-frames 4 is below --min-frames 8; no video could qualify"),
    "prepare-skip-bad": ("data prepare {src_bad} --out {out} --resolution 16",
                         "{src_bad}/empty.mp4 is empty (0 bytes); re-encode or remove it (or pass --skip-bad to skip "
                         "unreadable videos)"),
    "prepare-too-short": ("data prepare {fake4} --out {out} --resolution 16 --min-frames 50",
                          "no usable video in {fake4}: all 1 are unreadable or shorter than --min-frames 50 (the "
                          "longest has 4); lower --min-frames"),
    "fit-frames": ("fit {video} --out {out} --frames 1",
                   "--frames must be at least 2 (a fit needs motion between frames), got 1"),
    "fit-start": ("fit {video} --out {out} --start 19", "--start 19 leaves only 1 frame of {video}, which has 20 "
                  "frames; a fit needs at least 2, so give --start 18 or less"),
    "fit-range": ("fit {video} --out {out} --start 5 --frames 30", "--frames 30 is more than the 15 frames of {video} "
                  "from --start 5 (it has 20); give --frames 15 or less"),
    "fit-size": ("fit {tiny} --out {out}", "{tiny} is 12x8, smaller than 16 px on its short side; pass --size 16 to "
                 "upscale it"),
    "fit-quality": ("fit {video} --out {out} --quality superb",
                    "--quality must be one of fast, default, best, got 'superb'"),
    "fit-out": ("fit {fake4}/a.mp4 --out {fake4}",
                "--out {fake4} contains the input {fake4}/a.mp4; write the fit somewhere else"),
    "edit-neither": ("edit {clip}", "give exactly one of --scribble overlay.png and --canonical edited.png"),
    "edit-frame": ("edit {clip} --canonical {big} --frame 0",
                   "--frame goes with --scribble (an overlay drawn on that frame)"),
    "edit-size": ("edit {clip} --scribble {big} --out {out}", "{big} is 20x12 pixels (WxH) but must be 16x16 to "
                  "match the canonical of {clip} (draw on its canonical.png, or use --frame T for a drawing on a "
                  "frame, or pass --resize)"),
    "segment-mode": ("segment {clip} --mask {mask} --mode cubic", "--mode must be bilinear or nearest, got 'cubic'"),
    "segment-frame-size": ("segment {clip} --mask {big} --frame 0 --out {out}", "{big} is 20x12 pixels (WxH) but "
                           "must be 16x16 to match frame 0 of {clip} (draw on a frame of its video.mp4 at the frame "
                           "size, or drop --frame for a drawing on the canonical, or pass --resize)"),
    "track-format": ("track {clip} --points {points} --format tapvid",
                     "--format writes NPZ files: give --out tracks.json (they go beside it) or --npz PATH"),
    "track-npz": ("track {clip} --points {points} --format tapvid --format cotracker --npz {out}.npz",
                  "--npz names one file: give one --format, or --out to write each beside it"),
    "track-overwrite": ("track {clip} --points {points} --out {tracks}",
                        "{tracks} already exists; choose another path or pass --overwrite to replace it"),
    "flow-max": ("flow {clip} --flow-max -1", "--flow-max must be a positive number of pixels, got -1.0"),
    "eval-both": ("eval --data {data} --ckpt {root}/run --fake {fake4}", "give one of --ckpt RUN (a model; default: "
                  "the bundled model) and --fake DIR (clips or MP4 files), not both"),
    "eval-ranges": ("eval --data {data} --fake {fake4} --runs 0", "--num-videos, --num-frames-fid, --runs, "
                    "--batch-size and --motion-videos must be >= 1, --num-real-fid >= 2, --motion-frames >= 4 and "
                    "--seed >= 0"),
    "eval-metrics": ("eval --data {data} --fake {fake4} --metrics fvd,fid",
                     "--metrics must be a comma-separated subset of fvd16,fvd128,fid,motion, got fvd,fid"),
    "eval-motion-frames": ("eval --data {data} --fake {fake4} --metrics motion --motion-frames 6 --no-cache "
                           "--device cpu", "motion: no fake video has 6 frames; lower --motion-frames"),
    "eval-tracks-mode": ("eval-tracks {tracks} --data {data} --video 0 --query-mode all",
                         "--query-mode must be first or strided, got 'all'"),
    "demo-fit-frames": ("demo --out {out} --fit-frames 1", "--fit-frames must be 0 (no fit section) or >= 2, got 1"),
    "demo-ckpt": ("demo --out {out} --video {video} --ckpt {root}/run",
                  "--ckpt has no use with --video: the demo of your own video fits it and uses no model"),
    "demo-size": ("demo --out {out} --size 32",
                  "--size goes with --video (the generated pan of the demo is fitted at its own size)"),
    "demo-out": ("demo --out {fake4} --video {fake4}/a.mp4",
                 "--out {fake4} contains the video {fake4}/a.mp4, and the demo replaces it; give another --out"),
    "render-crf": ("render {clip} --crf 60", "--crf must be in 0..51, got 60"),
    "sample-frames": ("sample --out {out} --frames 0", "--frames must be in 1..100000, got 0"),
    "sample-overwrite": ("sample --out {existing}", "{existing} already exists; choose another output path or pass "
                         "--overwrite to replace the clip"),
    "pretrain-set": ("pretrain --data {data} --out {out} --preset tiny --set lr_g",
                     "--set expects key=value, got 'lr_g'"),
    "pretrain-resolution": ("pretrain --data {data} --out {out} --preset tiny --set model.resolution=32 --steps 1",
                            "{data} is 16x16 but the model is 32x32; prepare the data at --resolution 32 or --set "
                            "model.resolution=16"),
    "finetune-resume": ("finetune --data {data} --out {out} --preset tiny --resume",
                        "{out} has no checkpoint to resume from; drop --resume to start a new run"),
}


# Errors about a file, an artifact or the data (exit 1); every other case names a wrong option (exit 2, a usage
# error: a ConfigError whose problem, before any "; advice", names an option of the command).
NOT_USAGE_ERRORS = {"prepare-skip-bad", "prepare-too-short", "fit-start", "fit-range", "fit-size", "edit-size",
                    "segment-frame-size", "track-overwrite", "eval-motion-frames", "sample-overwrite",
                    "pretrain-resolution", "finetune-resume"}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_errors_name_the_options_typed(run_cli: Callable[..., Any], inputs: Inputs, tmp_path: Path,
                                           case: str) -> None:
    line, expected = CLI_CASES[case]
    out = tmp_path / "out"
    r = run_cli(*(inputs.fmt(token, out) for token in line.split()))
    assert r.exit_code == (1 if case in NOT_USAGE_ERRORS else 2), r.stderr
    assert r.stderr.splitlines()[-1] == "error: " + inputs.fmt(expected, out)
    assert "`" not in r.stderr.splitlines()[-1]


# function -> (its keyword arguments from the inputs and a fresh path `out`, the parameters its message names)
Kwargs = Callable[[Inputs, Path], dict[str, Any]]
LIBRARY_CASES: dict[str, tuple[Callable[..., Any], Kwargs, set[str]]] = {
    "synth-kind": (api.synth_dataset, lambda i, out: dict(kind="blobs", out=out, num_videos=1, num_frames=2,
                                                          resolution=16), {"kind"}),
    "prepare-min-max": (api.prepare_dataset, lambda i, out: dict(src=i.src_bad, out=out, resolution=16, min_frames=8,
                                                                 max_frames=4), {"max_frames", "min_frames"}),
    "prepare-skip-bad": (api.prepare_dataset, lambda i, out: dict(src=i.src_bad, out=out, resolution=16),
                         {"skip_bad"}),
    "fit-start": (api.fit, lambda i, out: dict(video=i.video, out=out, start=19), {"start"}),
    "fit-size": (api.fit, lambda i, out: dict(video=i.tiny, out=out), {"size"}),
    "fit-quality": (api.fit, lambda i, out: dict(video=i.video, out=out, quality="superb"), {"quality"}),
    "fit-overwrite": (api.fit, lambda i, out: dict(video=i.video, out=i.existing), {"overwrite"}),
    "edit-neither": (api.edit, lambda i, out: dict(clip=i.clip, out=out), {"scribble", "canonical"}),
    "edit-frame-size": (api.edit, lambda i, out: dict(clip=i.clip, out=out, scribble=i.big, frame=1),
                        {"frame", "resize"}),
    "segment-mode": (api.segment, lambda i, out: dict(clip=i.clip, mask=i.mask, out=out, mode="cubic"), {"mode"}),
    "track-npz": (api.track, lambda i, out: dict(clip=i.clip, points=i.points, formats=("tapvid", "cotracker"),
                                                 npz=out), {"npz", "formats", "out"}),
    "flow-max": (api.flow, lambda i, out: dict(clip=i.clip, out=out, flow_max=-1.0), {"flow_max"}),
    "eval-both": (api.evaluate, lambda i, out: dict(data=i.data, ckpt=i.root / "run", fake=i.fake4), {"ckpt", "fake"}),
    "eval-motion-frames": (api.evaluate, lambda i, out: dict(data=i.data, fake=i.fake4, metrics=("motion",),
                                                             motion_frames=6, cache=False, device="cpu"),
                           {"motion_frames"}),
    "eval-tracks-mode": (api.evaluate_tracks, lambda i, out: dict(tracks=i.tracks, data=i.data, video="0",
                                                                  query_mode="all"), {"query_mode"}),
    "demo-ckpt": (api.demo, lambda i, out: dict(out=out, video=i.video, ckpt=i.root / "run"), {"ckpt", "video"}),
    "demo-fit-frames": (api.demo, lambda i, out: dict(out=out, fit_frames=1), {"fit_frames"}),
    "render-crf": (api.render, lambda i, out: dict(clip=i.clip, crf=60), {"crf"}),
    "sample-frames": (api.sample, lambda i, out: dict(out=out, frames=0), {"frames"}),
    "train-set": (api.resolve_train_config, lambda i, out: dict(stage="pretrain", preset="tiny", overrides=["lr_g"]),
                  {"overrides"}),
}


@pytest.mark.parametrize("case", list(LIBRARY_CASES))
def test_library_errors_name_parameters_in_backticks(inputs: Inputs, tmp_path: Path, case: str) -> None:
    fn, kwargs, names = LIBRARY_CASES[case]
    out = tmp_path / "out"
    with pytest.raises(GendefError) as e:
        fn(**kwargs(inputs, out))
    message = str(e.value)
    assert set(re.findall(r"`([a-z][a-z0-9_]*)`", message)) == names, message
    assert names <= set(inspect.signature(fn).parameters), (fn.__name__, message)
    assert not re.search(r"(?<![\w-])--[a-z]", message), message
    assert not out.exists()


def test_training_messages_name_the_overrides_of_resolve_train_config(inputs: Inputs, tmp_path: Path) -> None:
    """`pretrain` takes a config; its advice names the `overrides` that `resolve_train_config` (and the CLI's
    --set) applies. `--resolution` is an option of another command (`gendef data prepare`), so it stays."""
    cfg = api.resolve_train_config("pretrain", preset="tiny", steps=1, overrides=["model.resolution=32"])
    with pytest.raises(GendefError) as e:
        api.pretrain(inputs.data, tmp_path / "run", cfg)
    assert str(e.value).endswith("prepare the data at --resolution 32 or `overrides` model.resolution=16"), e.value


def test_library_names_that_a_command_spells_otherwise() -> None:
    """`cli_message` maps a library parameter to the option of the command that gives it under another name
    (`gendef_cli.main.LIBRARY_NAMES`), and to an argument's metavar."""
    from gendef_cli.main import cli_message

    assert (cli_message("`num_videos` must be >= 1, `num_frames` >= 2 and `grid` >= 1", ["data", "synth"])
            == "--num-videos must be >= 1, --frames >= 2 and --grid >= 1")
    assert cli_message("drop `resume_run` to start a new run", ["finetune"]) == "drop --resume to start a new run"
    assert cli_message("`overrides` model.resolution=16", ["pretrain"]) == "--set model.resolution=16"
    assert cli_message("pass a run or checkpoint as `path`", ["info"]) == "pass a run or checkpoint as PATH"
    assert cli_message("pass a run or checkpoint as `ckpt`", ["sample"]) == "pass a run or checkpoint as --ckpt"
    # a name the command has no option for stays as the library wrote it
    assert cli_message("`num_frames` >= 2", ["render"]) == "`num_frames` >= 2"
