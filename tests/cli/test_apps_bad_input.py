"""Bad input to `gendef edit`, `segment`, `track` and `flow` through the real CLI.

The house contract (as in test_bad_input.py): exit 1 (2 for usage errors), exactly one `error:`
line naming the offending file/option, no traceback, empty stdout, and a byte-identical tree
afterwards (no output, no hidden `.NAME.partial-*` siblings, inputs untouched).
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core.artifacts.clip import Clip
from gendef_core.clips import save_clip
from gendef_core.warp import pixels_to_offsets

# --------------------------------------------------------------------------------------------- helpers


def tree(root: Path) -> dict[str, str]:
    """Every path under `root` (hidden ones too) with a digest of its content ("dir" for folders)."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(Path(root).rglob("*"))}


def assert_error(result, *phrases: str, code: int = 1) -> str:
    """The one-line error contract; returns the error line. `phrases` must all be in that line."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr
    assert not [line for line in lines[:-1] if not line.startswith("warning: ")], result.stderr
    for phrase in phrases:
        assert phrase in lines[-1], f"{phrase!r} not in {lines[-1]!r}"
    return lines[-1]


def assert_usage_error(result, phrase: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert phrase in result.stderr, result.stderr


def make_clip(path: Path, frames: int = 4) -> Path:
    """A 16x16 clip translating by whole pixels, deterministic."""
    shifts = torch.tensor([[0, 0], [2, 0], [-1, 3], [3, -2]][:frames], dtype=torch.float32)
    offsets = pixels_to_offsets(shifts.view(-1, 2, 1, 1).expand(-1, 2, 16, 16), (16, 16)).contiguous()
    canonical = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return save_clip(Clip(canonical=canonical, offsets=offsets, fps=Fraction(25), seed=0, source="test"), path)


def png(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(arr, mode=mode).save(path)
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip")


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[4:8, 4:8] = (255, 0, 0, 255)
    return png(tmp_path / "overlay.png", rgba)


@pytest.fixture
def points(tmp_path: Path) -> Path:
    p = tmp_path / "points.json"
    p.write_text("[[3, 4], [10.5, 2]]")
    return p


@pytest.fixture
def mask(tmp_path: Path) -> Path:
    m = np.zeros((16, 16), np.uint8)
    m[4:10, 4:10] = 255
    return png(tmp_path / "mask.png", m)


# --------------------------------------------------------------------------------------------- edit


@pytest.mark.parametrize("which", ["neither", "both"])
def test_edit_needs_exactly_one_source(run_cli, clip: Path, overlay: Path, tmp_path: Path, which: str) -> None:
    args = [] if which == "neither" else ["--scribble", overlay, "--canonical", overlay]
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, *args),
                 "error: give exactly one of --scribble overlay.png and --canonical edited.png", code=2)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("option", ["--scribble", "--canonical"])
def test_edit_image_of_the_wrong_size(run_cli, clip: Path, tmp_path: Path, option: str) -> None:
    bad = png(tmp_path / "big.png", np.zeros((12, 20, 4), np.uint8))
    before = tree(tmp_path)
    hint = ("draw on its canonical.png, or use --frame T for a drawing on a frame, or pass --resize"
            if option == "--scribble" else "edit its canonical.png, or pass --resize")
    assert_error(run_cli("edit", clip, option, bad),
                 f"error: {bad} is 20x12 pixels (WxH) but must be 16x16 to match the canonical of {clip} ({hint})")
    assert tree(tmp_path) == before


def test_edit_frame_scribble_of_the_wrong_size(run_cli, clip: Path, tmp_path: Path) -> None:
    bad = png(tmp_path / "big.png", np.zeros((12, 20, 4), np.uint8))
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, "--scribble", bad, "--frame", "2"),
                 f"error: {bad} is 20x12 pixels (WxH) but must be 16x16 to match frame 2 of {clip} (draw on a frame "
                 f"of its video.mp4 at the frame size, or drop --frame for a drawing on the canonical, or pass "
                 f"--resize)")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("option", ["--scribble", "--canonical"])
@pytest.mark.parametrize("content", [b"hello, not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b""])
def test_edit_image_that_is_not_an_image(run_cli, clip: Path, tmp_path: Path, option: str, content: bytes) -> None:
    bad = tmp_path / "overlay.png"
    bad.write_bytes(content)
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, option, bad), f"error: {bad} is not a readable image (")
    assert tree(tmp_path) == before


def test_edit_image_that_does_not_exist(run_cli, clip: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, "--scribble", tmp_path / "nope.png"), f"error: {tmp_path / 'nope.png'} "
                                                                             "does not exist")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("frame", ["4", "-1", "100"])
def test_edit_frame_out_of_range(run_cli, clip: Path, overlay: Path, tmp_path: Path, frame: str) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, "--scribble", overlay, "--frame", frame),
                 f"error: --frame must be in 0..3 for {clip}, got {frame}", code=2)
    assert tree(tmp_path) == before


def test_edit_frame_without_scribble(run_cli, clip: Path, tmp_path: Path) -> None:
    edited = png(tmp_path / "edited.png", np.zeros((16, 16, 3), np.uint8))
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, "--canonical", edited, "--frame", "1"),
                 "error: --frame goes with --scribble (an overlay drawn on that frame)", code=2)
    assert tree(tmp_path) == before


def test_edit_frame_not_an_integer_is_a_usage_error(run_cli, clip: Path, overlay: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    assert_usage_error(run_cli("edit", clip, "--scribble", overlay, "--frame", "two"), "--frame")
    assert tree(tmp_path) == before


def test_edit_a_directory_that_is_not_a_clip(run_cli, overlay: Path, tmp_path: Path) -> None:
    d = tmp_path / "stuff"
    d.mkdir()
    (d / "canonical.safetensors").write_bytes(b"x")
    before = tree(tmp_path)
    assert_error(run_cli("edit", d, "--scribble", overlay),
                 f"error: {d} has no manifest.json, so it is not a clip; point at a clip directory")
    assert tree(tmp_path) == before


def test_edit_a_clip_that_does_not_exist(run_cli, overlay: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("edit", tmp_path / "nope", "--scribble", overlay), f"error: {tmp_path / 'nope'}")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("cmd", ["edit", "segment", "track", "flow"])
def test_clip_with_a_missing_deform_file(run_cli, clip: Path, overlay: Path, points: Path, mask: Path,
                                         tmp_path: Path, cmd: str) -> None:
    (clip / "deform.safetensors").unlink()
    extra = {"edit": ["--scribble", overlay], "segment": ["--mask", mask], "track": ["--points", points],
             "flow": []}[cmd]
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip, *extra), f"error: {clip / 'deform.safetensors'} is missing; re-create the clip")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("cmd", ["edit", "segment", "track", "flow"])
def test_clip_with_an_altered_canonical(run_cli, clip: Path, overlay: Path, points: Path, mask: Path,
                                        tmp_path: Path, cmd: str) -> None:
    f = clip / "canonical.safetensors"
    data = bytearray(f.read_bytes())
    data[-5] ^= 0x01  # same size, one bit of one value flipped: only the sha256 can tell
    f.write_bytes(bytes(data))
    extra = {"edit": ["--scribble", overlay], "segment": ["--mask", mask], "track": ["--points", points],
             "flow": []}[cmd]
    before = tree(tmp_path)
    assert_error(run_cli(cmd, clip, *extra), f"error: {f} does not match its sha256 in manifest.json; "
                                             "re-create the clip")
    assert tree(tmp_path) == before


def test_edit_existing_out_needs_overwrite(run_cli, clip: Path, overlay: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, "--scribble", overlay, "--out", out),
                 f"error: {out} already exists; choose another output path or pass --overwrite to replace the clip")
    assert tree(tmp_path) == before

    r = run_cli("edit", clip, "--scribble", overlay, "--out", out, "--overwrite")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{out}\n"
    assert sorted(p.name for p in out.iterdir()) == ["canonical.png", "canonical.safetensors", "deform.safetensors",
                                                     "manifest.json", "video.mp4"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_edit_existing_default_out_needs_overwrite(run_cli, clip: Path, overlay: Path, tmp_path: Path) -> None:
    r = run_cli("edit", clip, "--scribble", overlay)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{tmp_path / 'clip-edited'}\n"
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, "--scribble", overlay),
                 f"error: {tmp_path / 'clip-edited'} already exists; choose another output path or pass --overwrite")
    assert tree(tmp_path) == before


def test_edit_out_is_a_file(run_cli, clip: Path, overlay: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("a file")
    before = tree(tmp_path)
    assert_error(run_cli("edit", clip, "--scribble", overlay, "--out", out, "--overwrite"),
                 f"error: {out} exists and is not a directory; choose another output path")
    assert tree(tmp_path) == before


# --------------------------------------------------------------------------------------------- track

EXAMPLE = 'e.g. [[12.5, 30], [40, 8]] or {"space": "frame", "frame": 3, "points": [[12.5, 30]]}'


@pytest.mark.parametrize("content, phrase", [
    ("[[1, 2],", " is not valid JSON (Expecting value: line 1 column 9 (char 8)); give " + EXAMPLE),
    ("", " is not valid JSON ("),
    ('{"pts": [[1, 2]]}', ": expected the keys space, frame, points (unknown: pts); " + EXAMPLE),
    ('{"space": "canonical"}', ": expected the keys space, frame, points; " + EXAMPLE),
    ('{"space": "world", "points": [[1, 2]]}', ': space must be "canonical" or "frame", got \'world\''),
    ("[]", ": points must be a non-empty list of [x, y] pairs; " + EXAMPLE),
    ('"points"', ": points must be a non-empty list of [x, y] pairs"),
    ("[[1, 2], [16, 3]]", ": point 1 (16, 3) is outside the canonical image (16x16: x in [0, 15], y in [0, 15])"),
    ("[[-0.5, 3]]", ": point 0 (-0.5, 3) is outside the canonical image"),
    ("[[1, 2, 3]]", ": point 0 is [1, 2, 3], not an [x, y] pair of finite numbers; " + EXAMPLE),
    ("[[1, 2], 3]", ": point 1 is 3, not an [x, y] pair of finite numbers"),
    ('[["1", 2]]', ': point 0 is ["1", 2], not an [x, y] pair of finite numbers'),
    ("[[true, 2]]", ": point 0 is [true, 2], not an [x, y] pair"),
    ("[[NaN, 2]]", ": point 0 is [NaN, 2], not an [x, y] pair of finite numbers"),
    ('{"space": "frame", "frame": 4, "points": [[1, 2]]}',
     ': frame must be an integer in 0..3 for "frame" points, got 4'),
    ('{"space": "frame", "frame": -1, "points": [[1, 2]]}', ': frame must be an integer in 0..3'),
    ('{"space": "frame", "points": [[1, 2]]}', ': frame must be an integer in 0..3 for "frame" points, got None'),
    ('{"space": "frame", "frame": 1.0, "points": [[1, 2]]}', ": frame must be an integer in 0..3"),
    ('{"space": "frame", "frame": 1, "points": [[16, 2]]}', ": point 0 (16, 2) is outside the frame 1"),
    ('{"frame": 1, "points": [[1, 2]]}', ': "frame" is only meaningful with "space": "frame"'),
])
def test_track_bad_points_file(run_cli, clip: Path, tmp_path: Path, content: str, phrase: str) -> None:
    p = tmp_path / "pts.json"
    p.write_text(content)
    before = tree(tmp_path)
    assert_error(run_cli("track", clip, "--points", p, "--out", tmp_path / "t.json", "--format", "tapvid",
                         "--overlay", tmp_path / "t.mp4"), f"error: {p}{phrase}")
    assert tree(tmp_path) == before


def test_track_points_file_does_not_exist(run_cli, clip: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("track", clip, "--points", tmp_path / "nope.json"),
                 f"error: {tmp_path / 'nope.json'} does not exist; give a JSON list of [x, y] pixel points")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("args, phrase", [
    (("--format", "bogus", "--out", "t.json"), "--format must be one of tapvid, cotracker, got 'bogus'"),
    (("--format", "tapvid", "--format", "TAPVID", "--out", "t.json"), "--format must be one of tapvid, cotracker"),
    (("--format", "tapvid"), "--format writes NPZ files: give --out tracks.json (they go beside it) or --npz PATH"),
    (("--format", "cotracker", "--overlay", "t.mp4"), "--format writes NPZ files"),
    (("--format", "tapvid", "--format", "cotracker", "--npz", "t.npz"),
     "--npz names one file: give one --format, or --out to write each beside it"),
    (("--tolerance", "0", "--out", "t.json"), "--tolerance must be positive, got 0.0"),
    (("--tolerance", "-1"), "--tolerance must be positive"),
])
def test_track_bad_options(run_cli, clip: Path, points: Path, tmp_path: Path, args: tuple[str, ...],
                           phrase: str) -> None:
    args = tuple(str(tmp_path / a) if a.endswith((".json", ".mp4", ".npz")) else a for a in args)
    before = tree(tmp_path)
    assert_error(run_cli("track", clip, "--points", points, *args), f"error: {phrase}", code=2)
    assert tree(tmp_path) == before


def test_track_without_points_is_a_usage_error(run_cli, clip: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    assert_usage_error(run_cli("track", clip), "Missing option '--points'")
    assert tree(tmp_path) == before


def test_track_good_points_still_work(run_cli, clip: Path, points: Path, tmp_path: Path) -> None:
    """The control: the same command with a good points file prints the tracks document."""
    r = run_cli("track", clip, "--points", points)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["format"], doc["num_points"], doc["num_frames"]) == ("gendef.tracks", 2, 4)


@pytest.mark.parametrize("option", ["--out", "--npz"])
def test_track_output_in_a_missing_directory_creates_it(run_cli, clip: Path, points: Path, tmp_path: Path,
                                                        option: str) -> None:
    """Like every other output, a missing parent directory is created (edit/segment/flow do the same)."""
    target = tmp_path / "nodir" / ("t.json" if option == "--out" else "t.npz")
    r = run_cli("track", clip, "--points", points, option, target, "--format", "tapvid")
    assert r.exit_code == 0, r.stderr
    assert target.is_file()


def test_track_out_is_a_directory(run_cli, clip: Path, points: Path, tmp_path: Path) -> None:
    out = tmp_path / "tracks"
    out.mkdir()
    before = tree(tmp_path)
    assert_error(run_cli("track", clip, "--points", points, "--out", out),
                 f"error: {out} is a directory; give a file path")
    assert tree(tmp_path) == before


def test_track_existing_outputs_need_overwrite(run_cli, clip: Path, points: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    out.write_text("old")
    npz = tmp_path / "t.tapvid.npz"
    before = tree(tmp_path)
    assert_error(run_cli("track", clip, "--points", points, "--out", out),
                 f"error: {out} already exists; choose another path or pass --overwrite to replace it")
    assert tree(tmp_path) == before
    r = run_cli("track", clip, "--points", points, "--out", out, "--format", "tapvid", "--overwrite")
    assert r.exit_code == 0, r.stderr
    assert json.loads(out.read_text())["format"] == "gendef.tracks" and npz.is_file()
    # An existing NPZ is checked before anything is written: the JSON stays as it was.
    out.unlink()
    assert_error(run_cli("track", clip, "--points", points, "--out", out, "--format", "tapvid"),
                 f"error: {npz} already exists")
    assert not out.exists()


# --------------------------------------------------------------------------------------------- segment


def test_segment_mask_of_the_wrong_size(run_cli, clip: Path, tmp_path: Path) -> None:
    m = png(tmp_path / "mask.png", np.zeros((12, 20), np.uint8))
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", m, "--overlay", tmp_path / "o.mp4"),
                 f"error: {m} is 20x12 pixels (WxH) but must be 16x16 to match the canonical of {clip} (draw on its "
                 f"canonical.png, or add --frame T for a mask drawn on a frame, or pass --resize)")
    assert tree(tmp_path) == before
    assert_error(run_cli("segment", clip, "--mask", m, "--frame", "1"),
                 f"error: {m} is 20x12 pixels (WxH) but must be 16x16 to match frame 1 of {clip} (draw on a frame of "
                 f"its video.mp4 at the frame size, or drop --frame for a drawing on the canonical, or pass --resize)")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("frame", ["4", "-1"])
def test_segment_frame_out_of_range(run_cli, clip: Path, mask: Path, tmp_path: Path, frame: str) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", mask, "--frame", frame),
                 f"error: --frame must be in 0..3 for {clip}, got {frame}", code=2)
    assert tree(tmp_path) == before


def test_segment_rgb_mask_with_three_non_palette_colours(run_cli, clip: Path, tmp_path: Path) -> None:
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[2:5, 2:5] = (10, 200, 30)
    rgb[8:10, 8:10] = (200, 10, 30)
    m = png(tmp_path / "mask.png", rgb)
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", m),
                 f"error: {m} has 3 colours, not all from the DAVIS palette; give an indexed (P-mode) or greyscale "
                 "label PNG whose pixel values are the object ids")
    assert tree(tmp_path) == before


def test_segment_mask_that_is_not_an_image(run_cli, clip: Path, tmp_path: Path) -> None:
    m = tmp_path / "mask.png"
    m.write_text("not a png")
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", m), f"error: {m} is not a readable image (")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("mode", ["bogus", "Bilinear", ""])
def test_segment_bad_mode(run_cli, clip: Path, mask: Path, tmp_path: Path, mode: str) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", mask, "--mode", mode),
                 f"error: --mode must be bilinear or nearest, got {mode!r}", code=2)
    assert tree(tmp_path) == before


def test_segment_without_mask_is_a_usage_error(run_cli, clip: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    assert_usage_error(run_cli("segment", clip), "Missing option '--mask'")
    assert tree(tmp_path) == before


def test_segment_existing_out_needs_overwrite(run_cli, clip: Path, mask: Path, tmp_path: Path) -> None:
    out = tmp_path / "masks"
    out.mkdir()
    (out / "00000.png").write_bytes(b"old")
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", mask, "--out", out),
                 f"error: {out} already exists; choose another output path or pass --overwrite to replace the "
                 "mask directory")
    assert tree(tmp_path) == before


def test_segment_label_above_255(run_cli, clip: Path, tmp_path: Path) -> None:
    ids = np.zeros((16, 16), np.uint16)
    ids[3:6, 3:6] = 300
    m = tmp_path / "mask.png"
    Image.fromarray(ids).save(m)
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", m),
                 f"error: {m} has label values outside 0..254 (found 0..300); DAVIS masks are 8-bit with 255 = void: "
                 "renumber the objects 1..254")
    assert tree(tmp_path) == before


def test_segment_overlay_checked_before_any_work(run_cli, clip: Path, mask: Path, tmp_path: Path) -> None:
    """An --overlay that is a directory is refused before the masks are written (nothing is left behind)."""
    (tmp_path / "o.mp4").mkdir()
    before = tree(tmp_path)
    assert_error(run_cli("segment", clip, "--mask", mask, "--out", tmp_path / "m", "--overlay", tmp_path / "o.mp4"),
                 f"error: {tmp_path / 'o.mp4'} is a directory; give a file path")
    assert tree(tmp_path) == before


def test_segment_overlay_in_a_missing_directory_creates_it(run_cli, clip: Path, mask: Path, tmp_path: Path) -> None:
    r = run_cli("segment", clip, "--mask", mask, "--out", tmp_path / "m", "--overlay", tmp_path / "nodir" / "o.mp4")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "nodir" / "o.mp4").is_file() and (tmp_path / "m" / "00000.png").is_file()


# --------------------------------------------------------------------------------------------- flow


def test_flow_of_a_one_frame_clip(run_cli, tmp_path: Path) -> None:
    one = make_clip(tmp_path / "one", frames=1)
    before = tree(tmp_path)
    assert_error(run_cli("flow", one), f"error: {one} has one frame; optical flow needs at least two")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("value", ["0", "-2"])
def test_flow_bad_flow_max(run_cli, clip: Path, tmp_path: Path, value: str) -> None:
    before = tree(tmp_path)
    assert_error(run_cli("flow", clip, "--flow-max", value),
                 f"error: --flow-max must be a positive number of pixels, got {float(value)}", code=2)
    assert tree(tmp_path) == before


def test_flow_existing_out_needs_overwrite(run_cli, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip-flow"
    out.mkdir()
    (out / "keep").write_text("x")
    before = tree(tmp_path)
    assert_error(run_cli("flow", clip), f"error: {out} already exists; choose another output path or pass "
                                        "--overwrite to replace the flow directory")
    assert tree(tmp_path) == before
