"""Every released fixture in tests/fixtures/ still loads, with exactly the values it was written with.

The fixtures are frozen (see tests/fixtures/make_fixtures.py): never regenerate them to make these
tests pass. The expected values are recomputed here from the same closed-form formulas, written
out again on purpose so that a change to the script cannot silently change the expectations.
Fixtures are only read in place; anything that writes works on a copy.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core import __version__
from gendef_core.artifacts.checkpoint import load_checkpoint
from gendef_core.artifacts.clip import CONVENTION_V2, load_clip, read_clip_manifest
from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth, read_video_frames
from gendef_core.errors import ArtifactError
from gendef_core.warp import warp

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
R, T = 8, 3


# ---- the closed forms (same as make_fixtures.py) -----------------------------------------------------


def clip_canonical() -> torch.Tensor:
    c, i, j = np.mgrid[0:3, 0:R, 0:R].astype(np.float64)
    return torch.from_numpy((((3 * c + 5 * i + 7 * j) % 16) / 7.5 - 1.0).astype(np.float32))


def clip_offsets() -> torch.Tensor:
    t, i, j = np.mgrid[0:T, 0:R, 0:R].astype(np.float64)
    return torch.from_numpy(np.stack([t * (i - 3.5) / 56, t * (3.5 - j) / 84 + t / 100], axis=1).astype(np.float32))


def dataset_canonical(v: int) -> torch.Tensor:
    c, i, j = np.mgrid[0:3, 0:R, 0:R].astype(np.float64)
    return torch.from_numpy((((3 * c + 5 * i + 7 * j + 11 * v) % 16) / 7.5 - 1.0).astype(np.float32))


def dataset_offsets(v: int) -> torch.Tensor:
    t = np.arange(T, dtype=np.float64)
    grid = np.ones((T, 2, R, R))
    grid[:, 0] *= (-(0.75 + 0.5 * v) * t * 2 / (R - 1))[:, None, None]
    grid[:, 1] *= (0.25 * t * 2 / (R - 1))[:, None, None]
    return torch.from_numpy(grid.astype(np.float32))


QUERY = torch.tensor([[2.0, 2.0], [5.0, 2.0], [2.0, 5.0], [5.0, 5.0]])


def dataset_tracks(v: int) -> torch.Tensor:
    t = torch.arange(T, dtype=torch.float32).view(T, 1)
    return torch.stack([QUERY[:, 0] + (0.75 + 0.5 * v) * t, QUERY[:, 1] - 0.25 * t], dim=-1)


# ---- tests -------------------------------------------------------------------------------------------


def test_fixtures_are_small_and_complete() -> None:
    files = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    assert files == [
        "checkpoint_v1/checkpoints/step-00000042/config.json",
        "checkpoint_v1/checkpoints/step-00000042/generator.safetensors",
        "checkpoint_v1/checkpoints/step-00000042/manifest.json",
        "checkpoint_v1/config.json",
        "checkpoint_v1/events.jsonl",
        "clip_v1/canonical.png",
        "clip_v1/canonical.safetensors",
        "clip_v1/deform.safetensors",
        "clip_v1/latents.safetensors",
        "clip_v1/manifest.json",
        "clip_v1/video.mp4",
        "clip_v2/canonical.png",
        "clip_v2/canonical.safetensors",
        "clip_v2/deform.safetensors",
        "clip_v2/manifest.json",
        "clip_v2/video.mp4",
        "clip_v2/visibility.safetensors",
        "dataset_v1/groundtruth/vid_a.safetensors",
        "dataset_v1/groundtruth/vid_b.safetensors",
        "dataset_v1/manifest.json",
        *[f"dataset_v1/videos/{v}/{t:06d}.png" for v in ("vid_a", "vid_b") for t in range(T)],
        "make_fixtures.py",
    ]
    assert sum((FIXTURES / f).stat().st_size for f in files) < 60_000


def test_clip_v1() -> None:
    from gendef_core.data.images import to_uint8
    from gendef_core.data.video_io import read_video

    path = FIXTURES / "clip_v1"
    clip = load_clip(path)
    assert torch.equal(clip.canonical, clip_canonical())
    assert torch.equal(clip.offsets, clip_offsets())
    assert float(clip.canonical.min()) == -1.0 and float(clip.canonical.max()) == 1.0
    assert sorted(clip.latents) == ["z"]
    assert torch.equal(clip.latents["z"], torch.tensor([[0.0, 0.25, 0.5], [0.75, 1.0, 1.25]]))
    assert isinstance(clip.fps, Fraction) and clip.fps == Fraction(30000, 1001)
    assert (clip.seed, clip.checkpoint, clip.source) == (7, "checkpoint_v1", "fixture")
    m = read_clip_manifest(path)
    assert {k: v for k, v in m.items() if k != "files"} == {
        "format": "gendef.clip", "format_version": 2, "gendef_version": "0.1.0", "height": 8, "width": 8,
        "num_frames": 3, "fps": [30000, 1001], "seed": 7, "checkpoint": "checkpoint_v1", "source": "fixture",
        "convention": CONVENTION_V2, "canonical_height": 8, "canonical_width": 8, "origin": [0, 0],
        "latents": ["z"], "videos": {"video.mp4": {"num_frames": 3}}}  # read through migrate_v1_to_v2
    assert json.loads((path / "manifest.json").read_text())["format_version"] == 1  # the frozen file is v1
    assert sorted(m["files"]) == ["canonical.safetensors", "deform.safetensors", "latents.safetensors"]
    assert np.array_equal(np.asarray(Image.open(path / "canonical.png")), to_uint8(clip_canonical()).numpy())
    frames, fps = read_video(path / "video.mp4")
    assert frames.shape == (3, 8, 8, 3) and fps == Fraction(30000, 1001)


def test_clip_v2() -> None:
    # Written by gendef 0.6.0 (clip v2): a 6x8 frame at origin (3, 2) of a 10x12 canonical, sliding right by
    # half a canonical pixel per frame, with a visibility map and a fit record. Formulas repeated on purpose.
    c, i, j = np.mgrid[0:3, 0:10, 0:12].astype(np.float64)
    canonical = torch.from_numpy((((2 * c + 3 * i + 5 * j) % 13) / 6.0 - 1.0).astype(np.float32))
    offsets = torch.zeros(T, 2, 6, 8)
    offsets[:, 0] = (torch.arange(T, dtype=torch.float64) / 2 * 2 / 11).float().view(T, 1, 1)
    t, ii, jj = np.mgrid[0:T, 0:6, 0:8]
    path = FIXTURES / "clip_v2"
    clip = load_clip(path)
    assert torch.equal(clip.canonical, canonical) and torch.equal(clip.offsets, offsets)
    assert (clip.height, clip.width, clip.canonical_size, clip.origin) == (6, 8, (10, 12), (3, 2))
    assert clip.visibility is not None and torch.equal(clip.visibility, torch.from_numpy((ii + jj + t) % 5 != 0))
    assert clip.fit["psnr_db"] == [40.0, 41.5, 42.25] and clip.latents == {}
    # zero offsets at frame 0: the frame is the canonical's window at the origin, bit for bit
    assert torch.equal(warp(clip.canonical[None], clip.offsets[None, :1], origin=clip.origin)[0, 0],
                       canonical[:, 2:8, 3:11])
    m = json.loads((path / "manifest.json").read_text())
    assert (m["format_version"], m["canonical_height"], m["canonical_width"], m["origin"]) == (2, 10, 12, [3, 2])


def test_clip_v1_through_the_cli(run_cli) -> None:
    r = run_cli("info", FIXTURES / "clip_v1")
    assert (r.exit_code, r.stderr) == (0, "")
    assert json.loads(r.stdout) == {"format": "gendef.clip", "path": str(FIXTURES / "clip_v1"), "num_frames": 3,
                                    "height": 8, "width": 8, "canonical_height": 8, "canonical_width": 8,
                                    "origin": [0, 0], "has_visibility": False, "fps": "30000/1001", "seed": 7,
                                    "checkpoint": "checkpoint_v1", "source": "fixture", "latents": ["z"],
                                    "videos": ["video.mp4"]}


def test_clip_v1_renders_on_a_copy(run_cli, tmp_path: Path) -> None:
    clip = tmp_path / "clip"
    shutil.copytree(FIXTURES / "clip_v1", clip)
    (clip / "video.mp4").unlink()
    r = run_cli("render", clip, "--video", "--flow")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"{clip / 'video.mp4'}\n{clip / 'flow.mp4'}\n"
    videos = read_clip_manifest(clip)["videos"]
    assert sorted(videos) == ["flow.mp4", "video.mp4"]
    assert videos["video.mp4"] == {"num_frames": 3} and videos["flow.mp4"]["num_frames"] == 2
    stored = json.loads((clip / "manifest.json").read_text())  # render records videos, never upgrades the file
    assert stored["format_version"] == 1 and "origin" not in stored


def test_dataset_v1() -> None:
    from gendef_core.data.images import to_uint8
    from gendef_core.warp import warp

    info = load_dataset_info(FIXTURES / "dataset_v1")
    assert (info.resolution, info.fps, info.min_frames, info.num_frames) == (8, Fraction(25), 3, 6)
    assert [(v.name, v.num_frames) for v in info.videos] == [("vid_a", 3), ("vid_b", 3)]
    assert dict(info.source) == {"kind": "synth", "path": None, "synth_kind": "clouds", "seed": 0, "grid": 2}
    assert info.skipped == () and info.ground_truth == {"kind": "clouds", "backward_map": True}
    for v, name in enumerate(("vid_a", "vid_b")):
        gt = load_ground_truth(info, name)
        assert torch.equal(gt.canonical, dataset_canonical(v))
        assert torch.equal(gt.offsets, dataset_offsets(v))
        assert torch.equal(gt.query_points, QUERY)
        assert torch.equal(gt.tracks, dataset_tracks(v))
        frames = read_video_frames(info, name)
        assert frames.shape == (3, 8, 8, 3) and frames.dtype == np.uint8
        # Frame 0 is the canonical (zero offsets warp exactly); all frames are warp(canonical, offsets)
        # up to 8-bit rounding, as FORMATS.md promises for clouds.
        assert np.array_equal(frames[0], to_uint8(dataset_canonical(v)).numpy())
        expected = to_uint8(warp(dataset_canonical(v)[None], dataset_offsets(v)[None])[0]).numpy()
        assert np.abs(frames.astype(int) - expected.astype(int)).max() <= 1
    # vid_b's right-hand points leave the frame at t=2 (x = 5 + 2 * 1.25 = 7.5 > 7); vid_a's do not.
    assert load_ground_truth(info, "vid_a").visible.all()
    assert load_ground_truth(info, "vid_b").visible.tolist() == [[True] * 4, [True] * 4,
                                                                 [True, False, True, False]]


def test_dataset_v1_through_the_cli(run_cli, tmp_path: Path) -> None:
    r = run_cli("info", FIXTURES / "dataset_v1")
    assert (r.exit_code, r.stderr) == (0, "")
    assert json.loads(r.stdout) == {
        "format": "gendef.dataset", "path": str(FIXTURES / "dataset_v1"), "resolution": 8, "fps": "25",
        "num_videos": 2, "num_frames": 6, "frames_per_video": {"min": 3, "max": 3},
        "source": {"kind": "synth", "path": None, "synth_kind": "clouds", "seed": 0, "grid": 2}, "skipped": 0,
        "ground_truth": {"kind": "clouds", "backward_map": True}}
    out = tmp_path / "clip"
    r = run_cli("data", "clip", FIXTURES / "dataset_v1", "--video", "vid_b", "--out", out)
    assert r.exit_code == 0, r.stderr
    clip = load_clip(out)
    assert torch.equal(clip.canonical, dataset_canonical(1)) and torch.equal(clip.offsets, dataset_offsets(1))


def test_checkpoint_v1() -> None:
    run = FIXTURES / "checkpoint_v1"
    config = {"preset": "tiny", "lr": 0.002, "model": {"dim": 2, "layers": [1, 2]}}
    ck = load_checkpoint(run)
    assert ck.path == run / "checkpoints" / "step-00000042"
    assert (ck.step, dict(ck.config), ck.networks, dict(ck.metadata)) == (
        42, config, ("generator",), {"kimg": 0.25, "wall_time": 1.5})
    assert ck.train_state is None
    g = ck.load_network("generator")
    assert sorted(g) == ["bias", "weight"]
    assert torch.equal(g["weight"], torch.tensor([[0.0, 0.125, 0.25], [0.375, 0.5, 0.625]]))
    assert torch.equal(g["bias"], torch.tensor([0.5, -0.25]))
    assert g["weight"].dtype == g["bias"].dtype == torch.float32
    run_config = json.loads((run / "config.json").read_text())
    assert run_config == json.loads((ck.path / "config.json").read_text()) == {
        "format": "gendef.config", "format_version": 1, "gendef_version": "0.1.0", "config": config}
    assert [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()] == [
        {"step": 42, "loss": 0.5}]
    assert load_checkpoint(ck.path).step == 42


def test_checkpoint_v1_through_the_cli(run_cli) -> None:
    r = run_cli("info", FIXTURES / "checkpoint_v1")
    assert (r.exit_code, r.stderr) == (0, "")
    assert json.loads(r.stdout) == {"format": "gendef.checkpoint",
                                    "path": str(FIXTURES / "checkpoint_v1" / "checkpoints" / "step-00000042"),
                                    "step": 42, "networks": ["generator"], "metadata": {"kimg": 0.25, "wall_time": 1.5}}


BUMPED = [
    ("clip_v1", "manifest.json", load_clip, f"clip format v3 is newer than this gendef ({__version__}) reads (v2)"),
    ("dataset_v1", "manifest.json", load_dataset_info,
     f"dataset format v2 is newer than this gendef ({__version__}) reads (v1)"),
    ("checkpoint_v1", "checkpoints/step-00000042/manifest.json", load_checkpoint,
     f"checkpoint format v2 is newer than this gendef ({__version__}) reads (v1)"),
    ("checkpoint_v1", "checkpoints/step-00000042/config.json", load_checkpoint,
     f"config format v2 is newer than this gendef ({__version__}) reads (v1)"),
]


@pytest.mark.parametrize("name, manifest, load, message", BUMPED,
                         ids=["clip", "dataset", "checkpoint", "checkpoint-config"])
def test_bumped_format_version_is_refused(run_cli, tmp_path: Path, name: str, manifest: str, load,
                                          message: str) -> None:
    copy = tmp_path / name
    shutil.copytree(FIXTURES / name, copy)
    f = copy / manifest
    m = json.loads(f.read_text())
    assert m["format_version"] == 1
    newer = int(message.split(" format v")[1].split()[0])  # one beyond what this gendef reads
    f.write_text(json.dumps({**m, "format_version": newer}, indent=2))
    expected = f"{f}: {message}; upgrade gendef"
    with pytest.raises(ArtifactError) as e:
        load(copy)
    assert str(e.value) == expected

    r = run_cli("info", copy)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [f"error: {expected}"]
