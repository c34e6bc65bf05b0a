"""Issue 16, section 2: `--overwrite` can never destroy an input. An output equal to, containing, or (for
artifacts a later read would take it in from) inside an input is refused before any work, with one
`error:` line (exit 2: the command line is wrong), and every input is left byte for byte as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gendef_core import api
from tests.cli.test_apps_bad_input import assert_error, tree


@pytest.fixture(scope="module")
def world(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset, a run (copied), a clip with points and a mask: the inputs of the commands below."""
    root = tmp_path_factory.mktemp("apart")
    api.synth_dataset("clouds", root / "data", num_videos=2, num_frames=6, resolution=16, seed=0)
    shutil.copytree(tiny_ckpt, root / "run")
    api.sample(root / "clip", ckpt=root / "run", frames=4)
    (root / "points.json").write_text(json.dumps([[3.0, 4.0], [8.0, 8.0]]))
    import numpy as np

    from gendef_core.artifacts.edit_images import write_label_png

    labels = np.zeros((16, 16), np.uint8)
    labels[4:10, 4:10] = 1
    write_label_png(root / "mask.png", labels)
    shutil.copytree(tiny_ckpt, root / "bundledck")                    # a checkpoint whose name starts "bundled"
    (root / "videos").mkdir()
    shutil.copytree(root / "clip", root / "videos" / "old-clip")     # an earlier output inside a source folder
    from gendef_core.data.video_io import write_video

    frames = np.full((20, 16, 16, 3), 90, np.uint8)
    frames[:, 4:8, :, 0] = 200
    write_video(root / "videos" / "a.mp4", [frames], fps=25)
    return root


CASES = {
    "prepare into its source": (["data", "prepare", "{w}/videos", "--out", "{w}/videos", "--resolution", "16",
                                 "--overwrite"], "is the input SRC"),
    "sample over its checkpoint": (["sample", "--ckpt", "{w}/run", "--out", "{w}/run", "--overwrite"],
                                   "is the input --ckpt"),
    "sample into its run": (["sample", "--ckpt", "{w}/run", "--out", "{w}/run/checkpoints/x", "--overwrite"],
                            "is inside the input --ckpt"),
    "data clip into the dataset": (["data", "clip", "{w}/data", "--out", "{w}/data/clip"], "inside the input DATA"),
    "data clip over the dataset": (["data", "clip", "{w}/data", "--out", "{w}/data", "--overwrite"],
                                   "is the input DATA"),
    "edit over its clip": (["edit", "{w}/clip", "--scribble", "{w}/mask.png", "--out", "{w}/clip", "--overwrite"],
                           "is the input"),
    "edit around its clip": (["edit", "{w}/clip", "--scribble", "{w}/mask.png", "--out", "{w}", "--overwrite"],
                             "contains the input"),
    "segment overlay over its mask": (["segment", "{w}/clip", "--mask", "{w}/mask.png", "--out", "{w}/m",
                                       "--overlay", "{w}/mask.png", "--overwrite"], "is the input"),
    "flow over its clip": (["flow", "{w}/clip", "--out", "{w}/clip", "--overwrite"], "is the input"),
    "resample over its clip": (["resample", "{w}/clip", "--out", "{w}/clip", "--overwrite"], "is the input"),
    "track over its points": (["track", "{w}/clip", "--points", "{w}/points.json", "--out", "{w}/points.json",
                               "--overwrite"], "is the input"),
    "export into the run's checkpoints": (["export", "{w}/run", "--out", "{w}/run/checkpoints/step-99999999",
                                           "--overwrite"], "is inside the input"),
    # found by review: a name starting "bundled", the demo's model, a clip's own files, a run's checkpoints
    "sample over a checkpoint named bundled...": (["sample", "--ckpt", "{w}/bundledck", "--out", "{w}/bundledck",
                                                   "--overwrite"], "is the input --ckpt"),
    "demo around its model": (["demo", "--ckpt", "{w}/run", "--out", "{w}", "--overwrite"], "contains the input"),
    "track over the clip's manifest": (["track", "{w}/clip", "--points", "{w}/points.json", "--out",
                                        "{w}/clip/manifest.json", "--overwrite"], "is inside the input"),
    "track overlay over the clip's video": (["track", "{w}/clip", "--points", "{w}/points.json", "--overlay",
                                             "{w}/clip/video.mp4", "--overwrite"], "is inside the input"),
    "sample among a run's checkpoints": (["sample", "--ckpt", "{ck}", "--out", "{ck}9", "--overwrite"],
                                         "inside the checkpoints folder"),
    "resample over the checkpoint its clip records": (["resample", "{w}/clip", "--out", "{ck}", "--overwrite"],
                                                      "is the input --ckpt"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_output_over_or_around_an_input_is_refused(run_cli, world: Path, case: str) -> None:
    args, phrase = CASES[case]
    from gendef_core.artifacts.checkpoint import list_checkpoints

    before = tree(world)
    r = run_cli(*[a.format(w=world, ck=list_checkpoints(world / "run")[-1]) for a in args])
    line = assert_error(r, phrase, code=2)
    assert "choose" in line
    assert tree(world) == before                                     # nothing written, nothing deleted


def test_writing_beside_a_clips_files_is_still_allowed(run_cli, world: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip"
    shutil.copytree(world / "clip", clip)
    r = run_cli("track", clip, "--points", world / "points.json", "--out", clip / "tracks.json")
    assert r.exit_code == 0, r.stderr
    from gendef_core.artifacts.clip import load_clip

    load_clip(clip)                                                  # the clip still reads, verified


def test_prepare_skips_gendef_artifacts_inside_the_source(run_cli, world: Path, tmp_path: Path) -> None:
    r = run_cli("data", "prepare", world / "videos", "--out", tmp_path / "ds", "--resolution", "16",
                "--min-frames", "2", "--json")
    assert r.exit_code == 0, r.stderr
    m = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert [v["name"] for v in m["videos"]] == ["a"]                 # not old-clip's video.mp4
    r = run_cli("data", "prepare", world / "clip", "--out", tmp_path / "ds2", "--resolution", "16")
    assert_error(r, "is a gendef artifact, not a folder of source videos")
