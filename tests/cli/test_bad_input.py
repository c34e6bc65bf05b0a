"""Bad input through the real CLI: one-line `error:` on stderr, exit 1 (2 for usage), nothing left behind.

Every failure case checks the whole contract: exit code, exactly one `error:` line naming the
offending file/option with its key phrase, no traceback, empty stdout, and a byte-identical
tree afterwards (no output, no hidden `.NAME.partial-*` siblings, inputs untouched).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core import __version__
from gendef_core.artifacts.clip import Clip
from gendef_core.artifacts.common import file_record
from gendef_core.artifacts.tensors import save_tensors
from gendef_core.clips import save_clip

RES = "16"


# --------------------------------------------------------------------------------------------- helpers


def tree(root: Path) -> dict[str, str]:
    """Every path under `root` (hidden ones too) with a digest of its content ("dir" for folders)."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(Path(root).rglob("*"))}


def assert_error(result, *phrases: str, code: int = 1, warnings_before: int = 0) -> str:
    """The one-line error contract; returns the error line. `phrases` must all be in that line."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr
    error = lines[-1]
    # Warnings may precede the error (they are wrapped at 80 columns: see test_warnings_are_not_wrapped).
    warnings = result.stderr[: -len(error) - 1]
    assert warnings.count("warning: ") == warnings_before, result.stderr
    assert warnings == "" or warnings.startswith("warning: "), result.stderr
    assert error.startswith("error: "), result.stderr
    for phrase in phrases:
        assert phrase in error, f"{phrase!r} not in {error!r}"
    return error


def unwrap(stderr: str) -> str:
    """Undo rich's wrapping of warnings (it keeps the spaces and hard-folds long words)."""
    return "".join(stderr.splitlines())


def write_frames(folder: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    """PNG frames f0.png … of the given (width, height) sizes, distinct flat colours."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (w, h) in enumerate(sizes):
        p = folder / f"f{i}.png"
        Image.fromarray(np.full((h, w, 3), 30 * i, np.uint8)).save(p)
        paths.append(p)
    return paths


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def make_clip(path: Path) -> Path:
    """A 4-frame 16x16 clip at 30000/1001 fps, deterministic."""
    g = torch.Generator().manual_seed(0)
    clip = Clip(canonical=torch.rand(3, 16, 16, generator=g) * 2 - 1,
                offsets=(torch.rand(4, 2, 16, 16, generator=g) - 0.5) * 0.1,
                fps=Fraction(30000, 1001), seed=3, source="test")
    return save_clip(clip, path)


def replace_offsets(clip: Path, offsets: torch.Tensor) -> None:
    """Rewrite deform.safetensors AND its manifest record, so only the tensor checks can object."""
    f = clip / "deform.safetensors"
    save_tensors(f, {"offsets": offsets})
    m = read_json(clip / "manifest.json")
    m["files"]["deform.safetensors"] = file_record(f)
    (clip / "manifest.json").write_text(json.dumps(m, indent=2))


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip")


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny sprites and clouds datasets (2 videos of 3 frames at 16 px), made once for the module."""
    from gendef_core import api

    root = tmp_path_factory.mktemp("synth")
    return {kind: Path(api.synth_dataset(kind, root / kind, num_videos=2, num_frames=3, resolution=16,
                                         grid=2).path)
            for kind in ("sprites", "clouds")}


# --------------------------------------------------------------------------------------------- data prepare


def prepare(run_cli, src: Path, out: Path, *extra: str):
    return run_cli("data", "prepare", src, "--out", out, "--resolution", RES, *extra)


def test_prepare_nonexistent_src(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "nope", tmp_path / "out"
    r = prepare(run_cli, src, out)
    assert_error(r, f"error: {src} does not exist; give a folder or .zip of videos or frame folders")
    assert tree(tmp_path) == {}


def test_prepare_empty_folder(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    before = tree(tmp_path)
    r = prepare(run_cli, src, out)
    assert_error(r, f"error: {src} contains no video files (.mp4, .webm", "and no folders of image frames")
    assert tree(tmp_path) == before


def test_prepare_folder_without_media(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "notes.txt").write_text("hello")
    (src / "sub" / "meta.json").write_text("{}")
    (src / ".hidden.mp4").write_bytes(b"not looked at")
    before = tree(tmp_path)
    r = prepare(run_cli, src, out)
    assert_error(r, f"error: {src} contains no video files")
    assert tree(tmp_path) == before


def test_prepare_corrupt_video(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    bad = src / "x.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--min-frames", "4")
    assert_error(r, f"error: {bad} is not a readable video", "re-encode or remove it",
                 "(or pass --skip-bad to skip unreadable videos)")
    assert tree(tmp_path) == before


def test_prepare_corrupt_video_skip_bad(run_cli, make_video, tmp_path: Path) -> None:
    make_video("src/good.mp4", frames=6, size=(24, 32))
    src, out = tmp_path / "src", tmp_path / "out"
    bad = src / "x.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    r = prepare(run_cli, src, out, "--min-frames", "4", "--skip-bad")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out}\n"
    assert f"warning: skipping {bad}: unreadable" in unwrap(r.stderr)
    assert "error" not in r.stderr and "Traceback" not in r.stderr
    m = read_json(out / "manifest.json")
    assert m["videos"] == [{"name": "good", "num_frames": 6}]
    assert m["skipped"] == [{"name": "x", "reason": "unreadable"}]
    assert (m["num_videos"], m["num_frames"], m["resolution"], m["fps"]) == (1, 6, 16, [25, 1])
    assert sorted(p.name for p in (out / "videos" / "good").iterdir()) == [f"{i:06d}.png" for i in range(6)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_prepare_skip_bad_with_nothing_left(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "x.mp4").write_bytes(b"\x00garbage" * 100)
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--skip-bad")
    assert_error(r, f"error: no usable video in {src}: all 1 are unreadable or shorter than --min-frames 16",
                 "lower --min-frames", warnings_before=1)
    assert tree(tmp_path) == before


def test_prepare_zero_byte_video(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    empty = src / "empty.mp4"
    empty.write_bytes(b"")
    before = tree(tmp_path)
    r = prepare(run_cli, src, out)
    assert_error(r, f"error: {empty} is empty (0 bytes); re-encode or remove it", "--skip-bad")
    assert tree(tmp_path) == before


def test_prepare_all_videos_too_short(run_cli, make_video, tmp_path: Path) -> None:
    a = make_video("src/a.mp4", frames=3, size=(24, 32))
    b = make_video("src/b.mp4", frames=2, size=(24, 32))
    src, out = tmp_path / "src", tmp_path / "out"
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--min-frames", "4")
    assert_error(r, f"error: no usable video in {src}: all 2 are unreadable or shorter than --min-frames 4 "
                    "(the longest has 3); lower --min-frames", warnings_before=2)
    warnings = unwrap(r.stderr)
    assert f"warning: skipping {a}: 3 frames, fewer than --min-frames 4" in warnings
    assert f"warning: skipping {b}: 2 frames, fewer than --min-frames 4" in warnings
    assert tree(tmp_path) == before


def test_prepare_frame_folder_with_mixed_sizes(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    frames = write_frames(src / "v", [(24, 24), (24, 24), (24, 24), (24, 20), (24, 24)])
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--min-frames", "2")
    assert_error(r, f"error: {frames[3]} is 24x20 but the other frames of {src / 'v'} are 24x24; "
                    "frames of one video must share a size")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("resolution", ["0", "100", "3000"])
def test_prepare_bad_resolution(run_cli, make_video, tmp_path: Path, resolution: str) -> None:
    make_video("src/a.mp4", frames=4, size=(24, 32))
    src, out = tmp_path / "src", tmp_path / "out"
    before = tree(tmp_path)
    r = run_cli("data", "prepare", src, "--out", out, "--resolution", resolution)
    assert_error(r, "error: --resolution must be a power of two from 8 to 1024 (the generators need one), "
                    f"got {resolution}", code=2)
    assert tree(tmp_path) == before


def test_prepare_max_frames_below_min_frames(run_cli, make_video, tmp_path: Path) -> None:
    make_video("src/a.mp4", frames=4, size=(24, 32))
    src, out = tmp_path / "src", tmp_path / "out"
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--max-frames", "4", "--min-frames", "8")
    assert_error(r, "error: --max-frames 4 is below --min-frames 8; no video could qualify", code=2)
    assert tree(tmp_path) == before


def test_prepare_missing_required_option_is_a_usage_error(run_cli, make_video, tmp_path: Path) -> None:
    make_video("src/a.mp4", frames=4, size=(24, 32))
    before = tree(tmp_path)
    r = run_cli("data", "prepare", tmp_path / "src", "--out", tmp_path / "out")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert "Missing option '--resolution'" in r.stderr
    assert "Traceback" not in r.stderr
    assert tree(tmp_path) == before


def test_prepare_different_frame_rates_need_fps(run_cli, make_video, tmp_path: Path) -> None:
    make_video("src/a.mp4", frames=6, size=(24, 32), fps=25)
    make_video("src/b.mp4", frames=6, size=(24, 32), fps=30)
    src, out = tmp_path / "src", tmp_path / "out"
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--min-frames", "4")
    assert_error(r, f"error: videos in {src} have different frame rates (25, 30); pass --fps F to resample them")
    assert tree(tmp_path) == before

    r = prepare(run_cli, src, out, "--min-frames", "4", "--fps", "25")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out}\n"
    m = read_json(out / "manifest.json")
    assert m["fps"] == [25, 1]
    # 6 frames at 30 fps last 0.2 s: 5 frames at 25 fps.
    assert m["videos"] == [{"name": "a", "num_frames": 6}, {"name": "b", "num_frames": 5}]
    assert (m["num_videos"], m["num_frames"], m["skipped"]) == (2, 11, [])


def test_prepare_plain_file_is_not_a_zip(run_cli, tmp_path: Path) -> None:
    src, out = tmp_path / "videos.tar", tmp_path / "out"
    src.write_bytes(b"this is not a zip archive\n" * 10)
    before = tree(tmp_path)
    r = prepare(run_cli, src, out)
    assert_error(r, f"error: {src} is a file but not a zip; give a folder or .zip of videos or frame folders")
    assert tree(tmp_path) == before


def test_prepare_existing_output_needs_overwrite(run_cli, make_video, tmp_path: Path) -> None:
    make_video("src/a.mp4", frames=4, size=(24, 32))
    src, out = tmp_path / "src", tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--min-frames", "4")
    assert_error(r, f"error: {out} already exists; choose another output path or pass --overwrite to replace "
                    "the dataset")
    assert tree(tmp_path) == before

    r = prepare(run_cli, src, out, "--min-frames", "4", "--overwrite")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out}\n"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "videos"]
    assert read_json(out / "manifest.json")["videos"] == [{"name": "a", "num_frames": 4}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no .out.old-* / .partial-* left


def test_warnings_are_not_wrapped(run_cli, make_video, tmp_path: Path) -> None:
    a = make_video("src/" + "/".join(["a_rather_long_folder_name"] * 12) + "/a.mp4", frames=3, size=(24, 32))
    make_video("src/b.mp4", frames=5, size=(24, 32))
    r = prepare(run_cli, tmp_path / "src", tmp_path / "out", "--min-frames", "4")
    assert r.exit_code == 0, r.stderr
    assert f"warning: skipping {a}: 3 frames, fewer than --min-frames 4" in r.stderr.splitlines()


def test_prepare_zip_with_bad_crc(run_cli, make_video, tmp_path: Path) -> None:
    video = make_video("a.mp4", frames=4, size=(24, 32))
    src, out = tmp_path / "videos.zip", tmp_path / "out"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_STORED) as z:
        z.write(video, "a.mp4")
    video.unlink()
    data = bytearray(src.read_bytes())
    data[200] ^= 0xFF  # inside the stored member: the central directory stays valid
    src.write_bytes(bytes(data))
    assert zipfile.is_zipfile(src)
    before = tree(tmp_path)
    r = prepare(run_cli, src, out, "--min-frames", "2")
    assert_error(r, f"error: {src}")
    assert tree(tmp_path) == before


def test_prepare_zip_with_frames_at_top_level(run_cli, tmp_path: Path) -> None:
    frames = write_frames(tmp_path / "loose", [(16, 16)] * 3)
    src, out = tmp_path / "clipframes.zip", tmp_path / "out"
    with zipfile.ZipFile(src, "w") as z:
        for f in frames:
            z.write(f, f.name)
    r = prepare(run_cli, src, out, "--min-frames", "2")
    assert r.exit_code == 0, r.stderr
    # A folder of loose frames is named after the folder; a zip of loose frames after the zip.
    assert read_json(out / "manifest.json")["videos"] == [{"name": "clipframes", "num_frames": 3}]


def test_prepare_rerun_with_output_inside_src(run_cli, make_video, tmp_path: Path) -> None:
    make_video("src/a.mp4", frames=4, size=(24, 32))
    src = tmp_path / "src"
    out = src / "data"
    assert prepare(run_cli, src, out, "--min-frames", "4").exit_code == 0
    r = prepare(run_cli, src, out, "--min-frames", "4", "--overwrite")
    assert r.exit_code == 0, r.stderr
    assert read_json(out / "manifest.json")["videos"] == [{"name": "a", "num_frames": 4}]


# --------------------------------------------------------------------------------------------- render / info


@pytest.mark.parametrize("cmd, phrase", [("render", "does not exist; point at a clip directory"),
                                         ("info", "does not exist; give a clip, dataset, checkpoint, run, "
                                                  "masks, flow or shots directory")])
def test_clip_path_does_not_exist(run_cli, tmp_path: Path, cmd: str, phrase: str) -> None:
    p = tmp_path / "nope"
    r = run_cli(cmd, p)
    assert_error(r, f"error: {p} {phrase}")
    assert tree(tmp_path) == {}


def test_info_says_missing_path_does_not_exist(run_cli, tmp_path: Path) -> None:
    p = tmp_path / "nope"
    assert_error(run_cli("info", p), f"error: {p} does not exist")


@pytest.mark.parametrize("cmd, phrase", [
    ("render", "has no manifest.json, so it is not a clip; point at a clip directory made by `gendef sample`"),
    ("info", "is not a gendef artifact (no manifest.json); expected a clip, dataset, checkpoint, run, masks, flow or "
             "shots directory"),
])
def test_directory_is_not_a_clip(run_cli, tmp_path: Path, cmd: str, phrase: str) -> None:
    d = tmp_path / "stuff"
    d.mkdir()
    (d / "canonical.safetensors").write_bytes(b"x")
    before = tree(tmp_path)
    assert_error(run_cli(cmd, d), f"error: {d} {phrase}")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("cmd", ["render", "info"])
def test_clip_manifest_is_malformed_json(run_cli, clip: Path, tmp_path: Path, cmd: str) -> None:
    (clip / "manifest.json").write_text('{"format": "gendef.clip", ')
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip), f"error: {clip / 'manifest.json'} is not valid JSON (")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("cmd", ["render", "info"])
def test_clip_format_version_too_new(run_cli, clip: Path, tmp_path: Path, cmd: str) -> None:
    m = read_json(clip / "manifest.json")
    m["format_version"] = 3
    (clip / "manifest.json").write_text(json.dumps(m))
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip), f"error: {clip / 'manifest.json'}: clip format v3 is newer than this gendef "
                                     f"({__version__}) reads (v2); upgrade gendef")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("cmd", ["render", "info"])
def test_clip_canonical_deleted(run_cli, clip: Path, tmp_path: Path, cmd: str) -> None:
    (clip / "canonical.safetensors").unlink()
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip), f"error: {clip / 'canonical.safetensors'} is missing; re-create the clip")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("cmd", ["render", "info"])
def test_clip_deform_truncated(run_cli, clip: Path, tmp_path: Path, cmd: str) -> None:
    f = clip / "deform.safetensors"
    size = f.stat().st_size
    f.write_bytes(f.read_bytes()[:100])
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip), f"error: {f} is truncated or altered (100 bytes, manifest says {size}); "
                                     "re-create the clip")
    assert tree(tmp_path) == before


def test_clip_video_deleted_info_fails_render_repairs(run_cli, clip: Path, tmp_path: Path) -> None:
    from gendef_core.data.video_io import read_video

    video = clip / "video.mp4"
    video.unlink()
    before = tree(tmp_path)
    assert_error(run_cli("info", clip), f"error: {video} is missing; run `gendef render {clip}` to rebuild it")
    assert tree(tmp_path) == before

    r = run_cli("render", clip)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{video}\n"
    assert "Traceback" not in r.stderr
    frames, fps = read_video(video)
    assert frames.shape == (4, 16, 16, 3)
    assert fps == Fraction(30000, 1001)
    assert sorted(p.name for p in clip.iterdir()) == ["canonical.png", "canonical.safetensors",
                                                      "deform.safetensors", "manifest.json", "video.mp4"]

    r = run_cli("info", clip)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"format": "gendef.clip", "path": str(clip), "num_frames": 4, "height": 16,
                                    "width": 16, "fps": "30000/1001", "seed": 3, "checkpoint": None,
                                    "source": "test", "latents": [], "videos": ["video.mp4"],
                                    "canonical_height": 16, "canonical_width": 16, "origin": [0, 0],
                                    "has_visibility": False}


@pytest.mark.parametrize("cmd", ["render", "info"])
def test_clip_offsets_of_the_wrong_shape(run_cli, clip: Path, tmp_path: Path, cmd: str) -> None:
    replace_offsets(clip, torch.zeros(4, 2, 8, 8))
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip), f"error: {clip / 'deform.safetensors'}: tensor 'offsets' has shape "
                                     "[4, 2, 8, 8], expected [4, 2, 16, 16] (the manifest's frames); "
                                     "re-create the clip")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("cmd", ["render", "info"])
def test_clip_offsets_with_nan(run_cli, clip: Path, tmp_path: Path, cmd: str) -> None:
    offsets = torch.zeros(4, 2, 16, 16)
    offsets[2, 1, 5, 7] = float("nan")
    replace_offsets(clip, offsets)
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip), f"error: {clip / 'deform.safetensors'}: tensor 'offsets' contains NaN or inf; "
                                     "re-create the clip")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("bad", ["shape", "nan"])
def test_clip_tensor_errors_name_the_file_and_the_fix(run_cli, clip: Path, bad: str) -> None:
    offsets = torch.zeros(4, 2, 8, 8) if bad == "shape" else torch.full((4, 2, 16, 16), float("nan"))
    replace_offsets(clip, offsets)
    assert_error(run_cli("info", clip), str(clip / "deform.safetensors"), "re-create the clip")


def test_failed_render_leaves_clip_untouched(run_cli, clip: Path, tmp_path: Path) -> None:
    (clip / "video.mp4").unlink()
    f = clip / "deform.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    before = tree(tmp_path)
    assert_error(run_cli("render", clip), f"error: {f} is truncated or altered")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("args, phrase", [(("--crf", "60"), "--crf must be in 0..51, got 60"),
                                          (("--flow-max", "-1"), "--flow-max must be a positive number of pixels")])
def test_render_bad_options(run_cli, clip: Path, tmp_path: Path, args: tuple[str, ...], phrase: str) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("render", clip, *args), f"error: {phrase}", code=2)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("content", ["[1, 2]", '"clip"', "null"])
def test_info_manifest_not_an_object(run_cli, tmp_path: Path, content: str) -> None:
    d = tmp_path / "thing"
    d.mkdir()
    (d / "manifest.json").write_text(content)
    before = tree(tmp_path)
    assert_error(run_cli("info", d), f"error: {d / 'manifest.json'} is not a gendef manifest (a JSON object with "
                                     "a 'format' field); re-create the artifact")
    assert tree(tmp_path) == before


def test_info_manifest_of_unknown_format(run_cli, tmp_path: Path) -> None:
    d = tmp_path / "thing"
    d.mkdir()
    (d / "manifest.json").write_text('{"format": "gendef.movie", "format_version": 1}')
    assert_error(run_cli("info", d), f"error: {d / 'manifest.json'}: unknown format 'gendef.movie'; "
                                     "upgrade gendef if it is newer")


def test_info_manifest_without_format_field(run_cli, tmp_path: Path) -> None:
    d = tmp_path / "thing"
    d.mkdir()
    (d / "manifest.json").write_text("{}")
    error = assert_error(run_cli("info", d), str(d / "manifest.json"))
    assert "upgrade gendef" not in error


# --------------------------------------------------------------------------------------------- data clip / synth


def test_data_clip_of_sprites_dataset(run_cli, synth_data: dict[str, Path], tmp_path: Path) -> None:
    data, out = synth_data["sprites"], tmp_path / "clip"
    data_before = tree(data)
    r = run_cli("data", "clip", data, "--out", out)
    assert_error(r, f"error: {data} has no true backward map; only `gendef data synth --kind clouds` datasets do")
    assert tree(tmp_path) == {}
    assert tree(data) == data_before


@pytest.mark.parametrize("video", ["2", "000009", "-1", "sky"])
def test_data_clip_video_out_of_range(run_cli, synth_data: dict[str, Path], tmp_path: Path, video: str) -> None:
    data, out = synth_data["clouds"], tmp_path / "clip"
    r = run_cli("data", "clip", data, "--out", out, "--video", video)
    assert_error(r, f"error: {data} has no video '{video}': give a name (000000, 000001, …) or an index 0..1")
    assert tree(tmp_path) == {}


def test_data_clip_of_clouds_dataset_works(run_cli, synth_data: dict[str, Path], tmp_path: Path) -> None:
    from gendef_core.artifacts.clip import load_clip
    from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth

    data, out = synth_data["clouds"], tmp_path / "clip"
    r = run_cli("data", "clip", data, "--out", out, "--video", "1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out}\n"
    c = load_clip(out)
    gt = load_ground_truth(load_dataset_info(data), "000001")
    assert torch.equal(c.canonical, gt.canonical) and torch.equal(c.offsets, gt.offsets)
    assert (c.fps, c.source) == (Fraction(25), f"dataset:{data}#000001")


def test_synth_unknown_kind(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "data"
    r = run_cli("data", "synth", "--kind", "blobs", "--out", out, "--num-videos", "1", "--frames", "2",
                "--resolution", "16")
    assert_error(r, "error: --kind must be one of sprites, clouds, pan, got 'blobs'", code=2)
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("resolution", ["0", "12", "2048"])
def test_synth_bad_resolution(run_cli, tmp_path: Path, resolution: str) -> None:
    out = tmp_path / "data"
    r = run_cli("data", "synth", "--kind", "clouds", "--out", out, "--num-videos", "1", "--frames", "2",
                "--resolution", resolution)
    assert_error(r, f"error: --resolution must be a power of two from 16 to 1024 (the generators need one), "
                    f"got {resolution}", code=2)
    assert tree(tmp_path) == {}


def test_synth_resolution_8(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "data"
    r = run_cli("data", "synth", "--kind", "clouds", "--out", out, "--num-videos", "1", "--frames", "2",
                "--resolution", "8")
    if r.exit_code == 0:  # either it works …
        assert read_json(out / "manifest.json")["resolution"] == 8
    else:  # … or it is refused cleanly
        assert_error(r, "--resolution", code=2)
        assert tree(tmp_path) == {}


# --------------------------------------------------------------------------------------------- GENDEF_DEBUG


def test_gendef_debug_shows_the_traceback(tmp_path: Path) -> None:
    src, out = tmp_path / "nope", tmp_path / "out"
    cmd = [sys.executable, "-m", "gendef_cli", "data", "prepare", str(src), "--out", str(out), "--resolution", RES]
    env = {k: v for k, v in os.environ.items() if k != "GENDEF_DEBUG"}

    plain = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == 1
    assert plain.stdout == ""
    assert plain.stderr.splitlines() == [f"error: {src} does not exist; give a folder or .zip of videos or "
                                         "frame folders"]

    debug = subprocess.run(cmd, capture_output=True, text=True, env={**env, "GENDEF_DEBUG": "1"}, timeout=120)
    assert debug.returncode == 1
    assert debug.stdout == ""
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert debug.stderr.splitlines()[-1] == (f"gendef_core.errors.DataError: {src} does not exist; give a folder "
                                             "or .zip of videos or frame folders")
    assert tree(tmp_path) == {}
