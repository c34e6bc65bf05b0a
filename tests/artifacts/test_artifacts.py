"""Library-level artifact I/O: clips, atomic writes, manifests and migrations, checkpoints, datasets."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core import __version__
from gendef_core.artifacts.checkpoint import (
    CheckpointInfo,
    checkpoint_name,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    resolve_checkpoint,
    save_checkpoint,
)
from gendef_core.artifacts.clip import CONVENTION_V2, Clip, load_clip, read_clip_manifest
from gendef_core.artifacts.common import (
    atomic_dir,
    atomic_file,
    file_record,
    read_manifest,
    sha256_file,
    write_bytes_atomic,
    write_json_atomic,
)
from gendef_core.artifacts.dataset import (
    VideoEntry,
    load_dataset_info,
    load_ground_truth,
    read_video_frames,
    write_dataset_manifest,
    write_ground_truth,
    write_video_frames,
)
from gendef_core.artifacts.tensors import load_tensors, save_tensors
from gendef_core.clips import save_clip
from gendef_core.errors import ArtifactError


def listing(d: Path) -> list[str]:
    """Every entry of a directory, hidden ones included, sorted."""
    return sorted(p.name for p in Path(d).iterdir())


def raises(match: str):
    return pytest.raises(ArtifactError, match=re.escape(match))


# --------------------------------------------------------------------------------------------- clip


def random_clip(t: int = 3, h: int = 7, w: int = 9, **kw) -> Clip:
    g = torch.Generator().manual_seed(1)
    canonical = torch.rand(3, h, w, generator=g) * 2 - 1
    canonical[0, 0, 0], canonical[1, 0, 0] = -1.0, 1.0  # both ends of the range are allowed
    offsets = torch.randn(t, 2, h, w, generator=g) * 0.3
    return Clip(canonical=canonical, offsets=offsets, **kw)


def test_clip_round_trip_is_bit_exact(tmp_path: Path) -> None:
    from gendef_core.data.images import to_uint8
    from gendef_core.data.video_io import read_video

    g = torch.Generator().manual_seed(2)
    latents = {"z": torch.randn(2, 8, generator=g), "noise": torch.randn(3, 1, 4, 4, generator=g),
               "index": torch.arange(5, dtype=torch.int64)}
    clip = random_clip(fps=Fraction(30000, 1001), seed=2**40 + 7, checkpoint="runs/exp/checkpoints/step-00001000",
                       source="sample", latents=latents)
    path = save_clip(clip, tmp_path / "clip")
    assert path == tmp_path / "clip"
    assert listing(tmp_path) == ["clip"]  # no partial siblings
    assert listing(path) == ["canonical.png", "canonical.safetensors", "deform.safetensors", "latents.safetensors",
                             "manifest.json", "video.mp4"]

    back = load_clip(path)
    assert back.canonical.dtype == back.offsets.dtype == torch.float32
    assert torch.equal(back.canonical, clip.canonical)
    assert torch.equal(back.offsets, clip.offsets)
    assert isinstance(back.fps, Fraction) and back.fps == Fraction(30000, 1001)
    assert (back.seed, back.checkpoint, back.source) == (2**40 + 7, "runs/exp/checkpoints/step-00001000", "sample")
    assert sorted(back.latents) == ["index", "noise", "z"]
    for name, value in latents.items():
        assert back.latents[name].dtype == value.dtype and torch.equal(back.latents[name], value)
    assert (back.num_frames, back.height, back.width) == (3, 7, 9)

    m = json.loads((path / "manifest.json").read_text())
    assert {k: m[k] for k in ("format", "format_version", "gendef_version", "height", "width", "num_frames", "fps",
                              "seed", "checkpoint", "source", "convention", "latents", "videos")} == {
        "format": "gendef.clip", "format_version": 2, "gendef_version": __version__, "height": 7, "width": 9,
        "num_frames": 3, "fps": [30000, 1001], "seed": 2**40 + 7, "checkpoint": "runs/exp/checkpoints/step-00001000",
        "source": "sample", "convention": CONVENTION_V2, "latents": ["index", "noise", "z"],
        "videos": {"video.mp4": {"num_frames": 3}}}
    assert (m["canonical_height"], m["canonical_width"], m["origin"]) == (7, 9, [0, 0])
    assert sorted(m["files"]) == ["canonical.safetensors", "deform.safetensors", "latents.safetensors"]
    for name, rec in m["files"].items():
        assert rec == {"bytes": (path / name).stat().st_size, "sha256": sha256_file(path / name)}
    assert read_clip_manifest(path) == m

    # canonical.png is the 8-bit canonical; video.mp4 pads odd sizes by one row/column (7x9 -> 8x10).
    assert np.array_equal(np.asarray(Image.open(path / "canonical.png")), to_uint8(clip.canonical).numpy())
    frames, fps = read_video(path / "video.mp4")
    assert frames.shape == (3, 8, 10, 3) and fps == Fraction(30000, 1001)


def test_clip_defaults_and_no_video(tmp_path: Path) -> None:
    clip = random_clip(t=1, h=2, w=2)
    save_clip(clip, tmp_path / "clip", video=False)
    assert listing(tmp_path / "clip") == ["canonical.png", "canonical.safetensors", "deform.safetensors",
                                          "manifest.json"]
    back = load_clip(tmp_path / "clip")
    assert (back.fps, back.seed, back.checkpoint, back.source, dict(back.latents)) == (Fraction(25), None, None,
                                                                                       "unknown", {})
    m = read_clip_manifest(tmp_path / "clip")
    assert (m["videos"], m["latents"], m["fps"]) == ({}, [], [25, 1])


def _bad_clips() -> list:
    c = random_clip()
    nan_offsets = c.offsets.clone()
    nan_offsets[1, 0, 2, 3] = float("nan")
    inf_canonical = c.canonical.clone()
    inf_canonical[2, 1, 1] = float("inf")
    high = c.canonical.clone()
    high[0, 3, 4] = 1.5
    return [
        pytest.param(Clip(c.canonical.double(), c.offsets), "tensor 'canonical' is torch.float64, expected "
                     "torch.float32", id="canonical-float64"),
        pytest.param(Clip(c.canonical, c.offsets.half()), "tensor 'offsets' is torch.float16, expected torch.float32",
                     id="offsets-float16"),
        pytest.param(Clip(high, c.offsets), "tensor 'canonical' has values in [-1, 1.5], outside [-1.0001, 1.0001]",
                     id="canonical-out-of-range"),
        pytest.param(Clip(c.canonical, torch.zeros(3, 2, 7, 10)), "origin: a 7x10 frame at origin (0, 0) does not "
                     "fit on a 7x9 canonical", id="frame-larger-than-canonical"),
        pytest.param(Clip(c.canonical, torch.zeros(3, 2, 5, 6), origin=(4, 0)), "origin: a 5x6 frame at origin "
                     "(4, 0) does not fit on a 7x9 canonical", id="origin-off-the-canonical"),
        pytest.param(Clip(c.canonical, torch.zeros(3, 3, 7, 9)), "tensor 'offsets' has shape [3, 3, 7, 9], "
                     "expected [*, 2, *, *]", id="offsets-three-channels"),
        pytest.param(Clip(c.canonical, torch.zeros(2, 7, 9)), "tensor 'offsets' has shape [2, 7, 9], expected "
                     "[*, 2, *, *]", id="offsets-3d"),
        pytest.param(Clip(c.canonical, c.offsets, visibility=torch.ones(3, 7, 8, dtype=torch.bool)),
                     "tensor 'visible' has shape [3, 7, 8], expected [3, 7, 9]", id="visibility-shape"),
        pytest.param(Clip(c.canonical, nan_offsets), "tensor 'offsets' contains NaN or inf", id="offsets-nan"),
        pytest.param(Clip(inf_canonical, c.offsets), "tensor 'canonical' contains NaN or inf", id="canonical-inf"),
        pytest.param(Clip(c.canonical, torch.zeros(0, 2, 7, 9)), "the clip has no frames", id="no-frames"),
        pytest.param(Clip(torch.zeros(3, 1, 9), torch.zeros(2, 2, 1, 9)), "the canonical is 1x9; clips need at "
                     "least 2x2 pixels", id="too-small"),
        pytest.param(Clip(c.canonical, c.offsets, fps=Fraction(0)), "fps must be positive, got 0", id="fps-zero"),
    ]


@pytest.mark.parametrize("clip, message", _bad_clips())
def test_save_clip_refuses_invalid_clips(tmp_path: Path, clip: Clip, message: str) -> None:
    out = tmp_path / "clip"
    # Tensor problems name the file the tensor is stored in; the fps problem names the clip.
    where = out / ("canonical.safetensors" if "'canonical'" in message or "1x9" in message else
                   "deform.safetensors" if "offsets" in message or "no frames" in message else
                   "manifest.json" if "origin" in message else
                   "visibility.safetensors" if "visible" in message else "")
    with raises(f"{where if where != out / '' else out}: {message}"):
        save_clip(clip, out)
    assert listing(tmp_path) == []


def test_save_clip_refuses_existing_output_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "clip"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with raises(f"{out} already exists; choose another output path or pass `overwrite` to replace the clip"):
        save_clip(random_clip(), out, video=False)
    assert listing(out) == ["mine.txt"]
    save_clip(random_clip(seed=5), out, video=False, overwrite=True)
    assert "mine.txt" not in listing(out) and load_clip(out).seed == 5
    assert listing(tmp_path) == ["clip"]


def test_load_clip_refuses_a_missing_tensor_name(tmp_path: Path) -> None:
    out = save_clip(random_clip(), tmp_path / "clip", video=False)
    save_tensors(out / "deform.safetensors", {"flow": torch.zeros(3, 2, 7, 9)})
    m = json.loads((out / "manifest.json").read_text())
    m["files"]["deform.safetensors"] = {"bytes": (out / "deform.safetensors").stat().st_size,
                                        "sha256": sha256_file(out / "deform.safetensors")}
    write_json_atomic(out / "manifest.json", m)
    with raises(f"{out}: tensor 'offsets' is missing; re-create the clip"):
        load_clip(out)


def test_load_clip_refuses_manifest_size_disagreeing_with_tensors(tmp_path: Path) -> None:
    out = save_clip(random_clip(), tmp_path / "clip", video=False)
    m = json.loads((out / "manifest.json").read_text())
    m["num_frames"] = 4
    write_json_atomic(out / "manifest.json", m)
    with raises(f"{out / 'deform.safetensors'}: tensor 'offsets' has shape [3, 2, 7, 9], expected [4, 2, 7, 9] "
                f"(the manifest's frames)"):
        load_clip(out)


def test_load_clip_detects_altered_tensors_by_sha256(tmp_path: Path) -> None:
    out = save_clip(random_clip(), tmp_path / "clip", video=False)
    f = out / "canonical.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0x01  # same size, different content
    f.write_bytes(bytes(data))
    with raises(f"{f} does not match its sha256 in manifest.json; re-create the clip"):
        load_clip(out)
    assert load_clip(out, verify=False).canonical.shape == (3, 7, 9)  # verify=False skips the digest


def test_tensor_files_get_the_same_permissions_as_other_files(tmp_path: Path) -> None:
    out = save_clip(random_clip(), tmp_path / "clip", video=False)
    mode = (out / "manifest.json").stat().st_mode & 0o777
    assert (out / "canonical.safetensors").stat().st_mode & 0o777 == mode


# --------------------------------------------------------------------------------------------- atomic writes


def test_atomic_dir_leaves_nothing_when_the_body_raises(tmp_path: Path) -> None:
    out = tmp_path / "art"
    with pytest.raises(RuntimeError, match="boom"), atomic_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".art.partial-")
        (tmp / "manifest.json").write_text("{}")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "x.bin").write_bytes(b"123")
        raise RuntimeError("boom")
    assert listing(tmp_path) == []


def test_atomic_dir_keeps_the_old_artifact_when_overwrite_fails(tmp_path: Path) -> None:
    out = tmp_path / "art"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise KeyboardInterrupt
    assert listing(tmp_path) == ["art"]
    assert listing(out) == ["old.txt"] and (out / "old.txt").read_text() == "old"


def test_atomic_dir_success_replaces_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "art"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        assert listing(out) == ["old.txt"]  # nothing visible until the body is done
    assert listing(tmp_path) == ["art"]  # no .art.old-* / .art.partial-* left
    assert listing(out) == ["new.txt"]


def test_atomic_dir_refuses_without_overwrite_before_the_body(tmp_path: Path) -> None:
    out = tmp_path / "art"
    out.mkdir()
    (out / "x").write_text("x")
    ran = []
    with raises(f"{out} already exists; choose another output path or pass `overwrite` to replace the thing"):
        with atomic_dir(out, what="thing"):
            ran.append(True)
    assert ran == [] and listing(tmp_path) == ["art"]
    (tmp_path / "file").write_text("f")
    with raises(f"{tmp_path / 'file'} exists and is not a directory; choose another output path"):
        with atomic_dir(tmp_path / "file", overwrite=True):
            pass


def test_atomic_file_and_write_bytes_atomic(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"old")
    with pytest.raises(ValueError), atomic_file(f) as tmp:
        assert tmp.name.startswith(".a.partial-") and tmp.suffix == ".bin"
        tmp.write_bytes(b"half")
        raise ValueError
    assert listing(tmp_path) == ["a.bin"] and f.read_bytes() == b"old"
    write_bytes_atomic(f, b"new")
    assert listing(tmp_path) == ["a.bin"] and f.read_bytes() == b"new"


# --------------------------------------------------------------------------------------------- manifests


def write_fake(d: Path, version: object, **fields: object) -> Path:
    d.mkdir(exist_ok=True)
    (d / "manifest.json").write_text(json.dumps({"format": "test.fake", "format_version": version, **fields}))
    return d


def _migrations(calls: list):
    def v1_to_v2(m: dict) -> dict:
        calls.append((1, m["format_version"], sorted(m)))
        return {**{k: v for k, v in m.items() if k != "size"}, "format_version": 2, "width": m["size"]}

    def v2_to_v3(m: dict) -> dict:
        calls.append((2, m["format_version"], sorted(m)))
        return {**m, "format_version": 3, "height": m["width"] * 2}

    return {1: v1_to_v2, 2: v2_to_v3}


def read_fake(d: Path, migrations=None, version: int = 3) -> dict:
    return read_manifest(d, fmt="test.fake", version=version, what="fake thing", fix="make a new one",
                         migrations=migrations)


def test_read_manifest_migrates_one_step_at_a_time(tmp_path: Path) -> None:
    calls: list = []
    m = read_fake(write_fake(tmp_path / "v1", 1, size=4), _migrations(calls))
    assert m == {"format": "test.fake", "format_version": 3, "width": 4, "height": 8}
    assert calls == [(1, 1, ["format", "format_version", "size"]), (2, 2, ["format", "format_version", "width"])]

    calls.clear()
    m = read_fake(write_fake(tmp_path / "v2", 2, width=5), _migrations(calls))
    assert m == {"format": "test.fake", "format_version": 3, "width": 5, "height": 10}
    assert [c[0] for c in calls] == [2]

    calls.clear()
    m = read_fake(write_fake(tmp_path / "v3", 3, width=1, height=1), _migrations(calls))
    assert m == {"format": "test.fake", "format_version": 3, "width": 1, "height": 1} and calls == []


def test_read_manifest_refuses_newer_versions(tmp_path: Path) -> None:
    d = write_fake(tmp_path / "v4", 4)
    with raises(f"{d / 'manifest.json'}: fake thing format v4 is newer than this gendef ({__version__}) reads (v3); "
                "upgrade gendef"):
        read_fake(d, _migrations([]))


def test_read_manifest_refuses_a_missing_migration(tmp_path: Path) -> None:
    d = write_fake(tmp_path / "v1", 1, size=4)
    with raises(f"{d / 'manifest.json'}: no migration from fake thing format v1; upgrade gendef"):
        read_fake(d, {2: _migrations([])[2]})


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0, None])
def test_read_manifest_refuses_bad_versions(tmp_path: Path, version: object) -> None:
    d = write_fake(tmp_path / "x", version)
    with raises(f"{d / 'manifest.json'}: format_version must be a positive integer, got {version!r}"):
        read_fake(d)


def test_read_manifest_refuses_non_artifacts(tmp_path: Path) -> None:
    with raises(f"{tmp_path / 'nope'} does not exist; make a new one"):
        read_fake(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with raises(f"{tmp_path / 'file'} is not a directory; a fake thing is a directory with a manifest.json"):
        read_fake(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with raises(f"{tmp_path / 'empty'} has no manifest.json, so it is not a fake thing; make a new one"):
        read_fake(tmp_path / "empty")
    d = tmp_path / "other"
    d.mkdir()
    (d / "manifest.json").write_text('{"format": "gendef.clip", "format_version": 1}')
    with raises(f"{d / 'manifest.json'}: format 'gendef.clip' is not 'test.fake'; is {d} a fake thing?"):
        read_fake(d)
    (d / "manifest.json").write_text("[1, 2]")
    with raises(f"{d / 'manifest.json'}: format 'list' is not 'test.fake'"):
        read_fake(d)
    (d / "manifest.json").write_bytes(b"\xff\xfe{")
    with raises(f"{d / 'manifest.json'} is not valid JSON ("):
        read_fake(d)


# --------------------------------------------------------------------------------------------- checkpoints


def nets(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return {"generator": {"w": torch.randn(4, 3, generator=g), "b": torch.randn(4, generator=g),
                          "steps": torch.tensor([seed], dtype=torch.int64)},
            "discriminator": {"w": torch.randn(2, 2, generator=g).to(torch.bfloat16)}}


def save_step(run: Path, step: int, **kw) -> Path:
    return save_checkpoint(run / "checkpoints" / checkpoint_name(step), step=step, config={"lr": 0.002, "step": step},
                           networks=nets(step), **kw)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "optimizer.bin").write_bytes(b"\x01\x02")
    config = {"model": {"dim": 8, "layers": [1, 2]}, "lr": 0.002, "name": "tiny"}
    ck = save_checkpoint(tmp_path / "ck", step=1234, config=config, networks=nets(3),
                         metadata={"kimg": 1.5, "wall_time": 12}, train_state=state)
    assert not state.exists()  # moved inside
    assert listing(tmp_path) == ["ck"]
    assert listing(ck) == ["config.json", "discriminator.safetensors", "generator.safetensors", "manifest.json",
                           "train_state"]

    info = load_checkpoint(ck)
    assert isinstance(info, CheckpointInfo)
    assert (info.path, info.step, dict(info.config), info.networks, dict(info.metadata)) == (
        ck, 1234, config, ("discriminator", "generator"), {"kimg": 1.5, "wall_time": 12})
    assert info.train_state == ck / "train_state"
    assert (ck / "train_state" / "optimizer.bin").read_bytes() == b"\x01\x02"
    for name, state_dict in nets(3).items():
        loaded = info.load_network(name)
        assert sorted(loaded) == sorted(state_dict)
        for k, v in state_dict.items():
            assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v)
    with raises(f"{ck}: has no network 'ema' (has discriminator, generator)"):
        info.load_network("ema")

    m = json.loads((ck / "manifest.json").read_text())
    assert (m["format"], m["format_version"], m["step"]) == ("gendef.checkpoint", 1, 1234)
    assert m["networks"]["generator"] == {"bytes": (ck / "generator.safetensors").stat().st_size,
                                          "sha256": sha256_file(ck / "generator.safetensors"), "num_tensors": 3}
    assert json.loads((ck / "config.json").read_text()) == {"format": "gendef.config", "format_version": 1,
                                                            "gendef_version": __version__, "config": config}
    from safetensors import safe_open

    with safe_open(str(ck / "generator.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "gendef.checkpoint", "format_version": "1", "gendef_version": __version__}


def test_checkpoint_without_train_state(tmp_path: Path) -> None:
    info = load_checkpoint(save_step(tmp_path / "run", 0))
    assert info.step == 0 and info.train_state is None


@pytest.mark.parametrize("kwargs, message", [
    ({"step": -1}, "step must be non-negative"),
    ({"networks": {}}, "network names must match"),
    ({"networks": {"Generator": {"w": torch.ones(1)}}}, "network names must match"),
    ({"networks": {"gen/ema": {"w": torch.ones(1)}}}, "network names must match"),
])
def test_save_checkpoint_refuses_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"step": 1, "config": {}, "networks": nets(), **kwargs}
    with pytest.raises(ValueError, match=message):
        save_checkpoint(tmp_path / "ck", **args)
    assert listing(tmp_path) == []


def test_run_directory_resolves_to_the_latest_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for step in (10, 5, 100):
        save_step(run, step)
    (run / "checkpoints" / ".step-00000200.partial-1234abcd").mkdir()   # an interrupted save
    (run / "checkpoints" / "step-00000300").mkdir()                     # no manifest: incomplete
    (run / "checkpoints" / "notes").mkdir()
    assert [p.name for p in list_checkpoints(run)] == ["step-00000005", "step-00000010", "step-00000100"]
    assert resolve_checkpoint(run) == run / "checkpoints" / "step-00000100"
    info = load_checkpoint(run)
    assert (info.step, info.config["step"]) == (100, 100)
    assert torch.equal(info.load_network("generator")["w"], nets(100)["generator"]["w"])
    assert load_checkpoint(run / "checkpoints" / "step-00000010").step == 10  # a checkpoint dir is itself


def test_resolve_refuses_runs_without_checkpoints(tmp_path: Path) -> None:
    with raises(f"{tmp_path / 'nope'} does not exist; point at a run directory or a checkpoint"):
        resolve_checkpoint(tmp_path / "nope")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with raises(f"{tmp_path / 'run'} is neither a checkpoint nor a run directory with checkpoints"):
        load_checkpoint(tmp_path / "run")


def test_prune_checkpoints_keeps_the_newest(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for step in (1, 2, 3, 4, 5):
        save_step(run, step)
    deleted = prune_checkpoints(run, 2)
    assert [p.name for p in deleted] == ["step-00000001", "step-00000002", "step-00000003"]
    assert listing(run / "checkpoints") == ["step-00000004", "step-00000005"]
    assert prune_checkpoints(run, 0) == [run / "checkpoints" / "step-00000004"]  # the latest always stays
    assert listing(run / "checkpoints") == ["step-00000005"]
    assert prune_checkpoints(run, 3) == []
    assert prune_checkpoints(tmp_path / "empty", 1) == []


def test_corrupted_network_is_detected_by_sha256(tmp_path: Path) -> None:
    ck = save_step(tmp_path / "run", 7)
    f = ck / "generator.safetensors"
    data = bytearray(f.read_bytes())
    data[-3] ^= 0x40  # flip one bit of a weight: same size, still a valid safetensors file
    f.write_bytes(bytes(data))
    with raises(f"{f} does not match its sha256 in manifest.json; point at a run directory or a checkpoint"):
        load_checkpoint(tmp_path / "run")
    f.write_bytes(bytes(data[:50]))
    with raises(f"{f} is truncated or altered (50 bytes, manifest says {len(data)})"):
        load_checkpoint(ck)
    f.unlink()
    with raises(f"{f} is missing; point at a run directory or a checkpoint"):
        load_checkpoint(ck)


def write_config(ck: Path, cfg: dict) -> None:
    """Replace a checkpoint's config.json and re-record its checksum, as a consistent writer would."""
    (ck / "config.json").write_text(json.dumps(cfg))
    m = json.loads((ck / "manifest.json").read_text())
    m["files"]["config.json"] = file_record(ck / "config.json")
    (ck / "manifest.json").write_text(json.dumps(m))


def test_newer_config_and_checkpoint_formats_are_refused(tmp_path: Path) -> None:
    ck = save_step(tmp_path / "run", 1)
    cfg = json.loads((ck / "config.json").read_text())
    (ck / "config.json").write_text(json.dumps({**cfg, "format_version": 2}))  # not re-recorded: the checksum says
    with raises(f"{ck / 'config.json'} is truncated or altered"):
        load_checkpoint(ck)
    write_config(ck, {**cfg, "format_version": 2})
    with raises(f"{ck / 'config.json'}: config format v2 is newer than this gendef ({__version__}) reads (v1); "
                "upgrade gendef"):
        load_checkpoint(ck)
    write_config(ck, {**cfg, "format": "something.else"})
    with raises(f"{ck / 'config.json'}: format 'something.else' is not 'gendef.config'; point at a run directory"):
        load_checkpoint(ck)
    write_config(ck, {k: v for k, v in cfg.items() if k != "config"})
    with raises(f"{ck / 'config.json'}: missing field 'config'"):
        load_checkpoint(ck)

    ck2 = save_step(tmp_path / "run", 2)
    m = json.loads((ck2 / "manifest.json").read_text())
    (ck2 / "manifest.json").write_text(json.dumps({**m, "format_version": 2}))
    with raises(f"{ck2 / 'manifest.json'}: checkpoint format v2 is newer than this gendef ({__version__}) reads (v1); "
                "upgrade gendef"):
        load_checkpoint(tmp_path / "run")


@pytest.mark.parametrize("version", [None, "x", [2]])
def test_config_with_non_integer_version_is_refused(tmp_path: Path, version: object) -> None:
    ck = save_step(tmp_path / "run", 1)
    cfg = json.loads((ck / "config.json").read_text())
    (ck / "config.json").write_text(json.dumps({**cfg, "format_version": version}))
    with raises(f"{ck / 'config.json'}"):
        load_checkpoint(ck)


def test_checkpoints_beyond_eight_digits_are_listed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save_step(run, 99_999_999)
    save_step(run, 100_000_000)
    assert load_checkpoint(run).step == 100_000_000


# --------------------------------------------------------------------------------------------- datasets


def frame(v: int, t: int, r: int = 16) -> np.ndarray:
    y, x = np.mgrid[0:r, 0:r]
    return np.stack([(x * 16 + t) % 256, (y * 16 + v * 50) % 256, np.full((r, r), 10 * t + v)], -1).astype(np.uint8)


def make_dataset(path: Path, lengths: dict[str, int], r: int = 16, gt: bool = False) -> Path:
    with atomic_dir(path, what="dataset") as tmp:
        videos = []
        for v, (name, n) in enumerate(lengths.items()):
            assert write_video_frames(tmp, name, (frame(v, t, r) for t in range(n))) == n
            videos.append(VideoEntry(name, n))
            if gt:
                write_ground_truth(tmp, name, {"query_points": torch.zeros(4, 2), "tracks": torch.zeros(n, 4, 2),
                                               "visible": torch.ones(n, 4, dtype=torch.bool)})
        write_dataset_manifest(tmp, resolution=r, fps=Fraction(24000, 1001), videos=videos,
                               source={"kind": "frames", "path": None}, min_frames=2,
                               skipped=[{"name": "tiny", "reason": "too short (1 < 2 frames)"}],
                               ground_truth={"kind": "sprites", "backward_map": False} if gt else None)
    return path


def test_dataset_round_trip(tmp_path: Path) -> None:
    from gendef_core.data.datasets import load_video_frames

    d = make_dataset(tmp_path / "data", {"b": 3, "a": 2})
    info = load_dataset_info(d)
    assert (info.resolution, info.fps, info.num_frames, info.min_frames) == (16, Fraction(24000, 1001), 5, 2)
    assert [(v.name, v.num_frames) for v in info.videos] == [("a", 2), ("b", 3)]  # sorted by name
    assert info.skipped == ({"name": "tiny", "reason": "too short (1 < 2 frames)"},)
    assert info.ground_truth is None and dict(info.source) == {"kind": "frames", "path": None}
    assert np.array_equal(read_video_frames(info, "b"), np.stack([frame(0, t) for t in range(3)]))
    vf = load_video_frames(d)
    assert vf.frames.shape == (5, 3, 16, 16) and vf.starts.tolist() == [0, 2] and vf.lengths.tolist() == [2, 3]
    assert torch.equal(vf.frames[2:], torch.from_numpy(np.stack([frame(0, t) for t in range(3)])).permute(0, 3, 1, 2))
    m = json.loads((d / "manifest.json").read_text())
    assert (m["num_videos"], m["num_frames"], m["fps"]) == (2, 5, [24000, 1001])


def test_dataset_missing_frame_file(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "data", {"a": 3})
    (d / "videos" / "a" / "000001.png").unlink()
    with raises(f"{d / 'videos' / 'a'} has 2 frame files, the manifest lists 3 (000000.png … consecutive); "
                "re-create it with `gendef data prepare` or `gendef data synth`"):
        load_dataset_info(d)
    assert load_dataset_info(d, check_files=False).num_frames == 3  # the cheap path does not look


def test_dataset_wrong_frame_count_in_manifest(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "data", {"a": 3, "b": 2})
    m = json.loads((d / "manifest.json").read_text())
    m["videos"][1]["num_frames"] = 4
    (d / "manifest.json").write_text(json.dumps(m))
    with raises(f"{d / 'videos' / 'b'} has 2 frame files, the manifest lists 4"):
        load_dataset_info(d)


def test_dataset_frame_gap_and_missing_video_folder(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "data", {"a": 3, "b": 2})
    (d / "videos" / "a" / "000002.png").rename(d / "videos" / "a" / "000005.png")
    with raises(f"{d / 'videos' / 'a'} has 3 frame files, the manifest lists 3 (000000.png … consecutive)"):
        load_dataset_info(d)
    (d / "videos" / "a" / "000005.png").rename(d / "videos" / "a" / "000002.png")
    for f in (d / "videos" / "b").iterdir():
        f.unlink()
    (d / "videos" / "b").rmdir()
    with raises(f"{d / 'videos' / 'b'} is missing; the dataset is incomplete"):
        load_dataset_info(d)


def test_dataset_manifest_fields_are_checked(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "data", {"a": 2})
    where = d / "manifest.json"
    good = json.loads(where.read_text())
    cases = [({"num_videos": 2}, "num_videos is 2 but 1 videos are listed"),
             ({"resolution": 1}, "resolution must be at least 2, got 1"),
             ({"resolution": "16"}, "field 'resolution' has the wrong type (str)"),
             ({"fps": [25, 0]}, "fps must be [numerator, denominator] > 0, got [25, 0]"),
             ({"videos": []}, "the dataset has no videos"),
             ({"videos": [{"name": "../a", "num_frames": 2}]},
              "videos[0] must be {'name': str, 'num_frames': int >= 1}"),
             ({"videos": [{"name": "a", "num_frames": 0}]}, "videos[0] must be"),
             ({"source": None}, "field 'source' has the wrong type (NoneType)")]
    for change, message in cases:
        where.write_text(json.dumps({**good, **change}))
        with raises(f"{where}: {message}"):
            load_dataset_info(d)


def test_frame_of_wrong_size_is_named(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "data", {"a": 3})
    odd = d / "videos" / "a" / "000002.png"
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(odd)
    info = load_dataset_info(d)  # sizes are only seen when decoding
    with raises(f"{odd} is 12x8, but the dataset's resolution is 16; re-create it with `gendef data prepare`"):
        read_video_frames(info, "a")
    odd.write_bytes(b"not a png")
    with raises(f"{odd} is not a readable image ("):
        read_video_frames(info, "a")
    with raises(f"{d}: no video named 'zz'"):
        read_video_frames(info, "zz")


def test_ground_truth_is_validated(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "data", {"a": 3}, gt=True)
    info = load_dataset_info(d)
    gt = load_ground_truth(info, "a")
    assert gt.tracks.shape == (3, 4, 2) and gt.canonical is None and gt.offsets is None
    f = d / "groundtruth" / "a.safetensors"
    save_tensors(f, {"query_points": torch.zeros(4, 2), "tracks": torch.zeros(2, 4, 2),
                     "visible": torch.ones(3, 4, dtype=torch.bool)})
    with raises(f"{f}: tensor 'tracks' has shape [2, 4, 2], expected [3, 4, 2]"):
        load_ground_truth(info, "a")
    f.write_bytes(b"\x00" * 20)
    with raises(f"{f} is not a readable safetensors file ("):
        load_ground_truth(info, "a")
    with raises(f"{d / 'groundtruth' / 'zz.safetensors'} is missing"):
        load_tensors(d / "groundtruth" / "zz.safetensors", fix="x")
    plain = make_dataset(tmp_path / "plain", {"a": 2})
    with raises(f"{plain} has no ground truth; only `gendef data synth` datasets do"):
        load_ground_truth(load_dataset_info(plain), "a")


def test_dataset_writer_leaves_nothing_on_failure(tmp_path: Path) -> None:
    def frames():
        yield frame(0, 0)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), atomic_dir(tmp_path / "data") as tmp:
        write_video_frames(tmp, "a", frames())
    assert listing(tmp_path) == []


@pytest.mark.parametrize("where", [0, 4095, 4096, 10_000 - 1])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_all_finite_finds_a_bad_value_in_any_block(where: int, bad: float) -> None:
    from gendef_core.artifacts.tensors import all_finite

    t = torch.randn(10_000)
    assert all_finite(t, block=4096) and all_finite(t.reshape(100, 100).t(), block=4096)  # non-contiguous too
    t[where] = bad
    assert not all_finite(t, block=4096) and not all_finite(t.reshape(2, 50, 100), block=4096)
    assert not all_finite(t.reshape(100, 100).t(), block=4096)
    assert not all_finite(t.to(torch.bfloat16), block=4096)
    assert all_finite(torch.empty(0)) and all_finite(torch.ones(3, dtype=torch.bfloat16))
