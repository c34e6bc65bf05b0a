"""Issue 16: every reader, fed bad files, ends in one `error:` line (sections 1, 4 and 5).

Tiny valid artifacts are made once (module fixture, with the api); each case corrupts a copy and runs
the real CLI, which must exit 1 or 2 with exactly one `error:` line naming the file (or option), no
traceback, nothing on stdout, and leave the tree as it was: no output, nothing changed. The corruptions
are the issue's sweep: JSON edge cases (nesting, huge integers, invalid UTF-8, NaN, truncation) in every
reader, wrong types and ranges nested in manifests, names that leave the artifact, symbolic links,
float16 / int32 / NaN weights and optimizer state, absurd sizes, and decompression-bomb PNGs. A seeded
mutation fuzz of the readers (hypothesis is not a dependency) closes the module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gendef_core.artifacts.common import file_record
from gendef_core.artifacts.tensors import load_tensors, save_tensors
from gendef_core.errors import GendefError

# --------------------------------------------------------------------------------------------- helpers


def tree(root: Path) -> dict[str, str]:
    """Every path under `root` with a digest of its content ("dir" for folders, the target for links)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        key = str(p.relative_to(root))
        if p.is_symlink():
            out[key] = f"link:{os.readlink(p)}"
        elif p.is_file():
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[key] = "dir"
    return out


def assert_refused(result: Any, *phrases: str, code: int | None = None) -> str:
    """The contract: exit 1 or 2 (or `code`), exactly one `error:` line, last, holding every phrase; no
    traceback; nothing on stdout. Warnings (e.g. a busy machine) may come before it."""
    assert result.exit_code in ((1, 2) if code is None else (code,)), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    for phrase in phrases:
        assert phrase in errors[0], f"{phrase!r} not in {errors[0]!r}"
    return errors[0]


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Rewrite the JSON file `path` as ``change(doc)`` (or `doc` changed in place when it returns None)."""
    doc = json.loads(path.read_text())
    new = change(doc)
    path.write_text(json.dumps(doc if new is None else new))


def rewrite_tensors(directory: Path, file: str, change: Callable[[dict[str, torch.Tensor]], None],
                    record: Callable[[Any], dict[str, Any]]) -> None:
    """Change the tensors of ``directory/file`` and update its record in the manifest (``record(manifest)``
    is the dict of records), so that only the tensor checks can object."""
    f = directory / file
    tensors = load_tensors(f, fix="")
    change(tensors)
    save_tensors(f, tensors)
    m = json.loads((directory / "manifest.json").read_text())
    record(m)[f.stem if "networks" in m else file].update(file_record(f))
    (directory / "manifest.json").write_text(json.dumps(m))


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims `width` x `height` pixels (a "decompression bomb")."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def latest(run: Path) -> Path:
    return sorted((run / "checkpoints").iterdir())[-1]


# --------------------------------------------------------------------------------------------- artifacts


@dataclass(frozen=True)
class Base:
    """The valid artifacts every case starts from (never changed: cases corrupt copies)."""

    run: Path       # a tiny fine-tuning run (tests/conftest.py tiny_ckpt)
    pre: Path       # its pre-training run
    data: Path      # the clouds dataset the run trained on (2 videos of 8 frames, 16 px)
    clip: Path      # a 4-frame clip sampled from the run (with latents)
    points: Path    # a points file for the clip
    tracks: Path    # `gendef track` of those points
    config: Path    # the run's config.json
    shots: Path     # a shots folder with one shot (a copy of the clip)


@pytest.fixture(scope="module")
def base(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Base:
    from gendef_core import api
    from gendef_core.artifacts.shots import ShotEntry, write_shots_index

    root = tmp_path_factory.mktemp("adversarial")
    clip = api.sample(root / "clip", ckpt=tiny_ckpt, frames=4, seed=0, device="cpu")[0]
    points = root / "points.json"
    points.write_text("[[1, 2], [5, 7]]")
    tracks = root / "tracks.json"
    api.track(clip, points, out=tracks)
    shots = root / "shots"
    shots.mkdir()
    shutil.copytree(clip, shots / "shot-000")
    write_shots_index(shots, source="video.mp4", start=0, shots=[ShotEntry("shot-000", 0, 4)], cuts=[])
    return Base(run=tiny_ckpt, pre=tiny_ckpt.parent / "pre", data=tiny_ckpt.parent / "clouds", clip=clip,
                points=points, tracks=tracks, config=tiny_ckpt / "config.json", shots=shots)


@dataclass
class Work:
    """A case's copy of one artifact (`mine`) in `tmp`, the other (valid) artifacts and an output path."""

    base: Base
    tmp: Path
    mine: Path
    out: Path


def work_on(base: Base, tmp: Path, what: str) -> Work:
    """Copy artifact `what` of `base` ("clip", "data", "ckpt" = the run's latest checkpoint, "run", "pre",
    "points", "tracks", "config", "shots") into `tmp`."""
    src = latest(base.run) if what == "ckpt" else getattr(base, what)
    dst = tmp / what
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return Work(base, tmp, dst, tmp / "out")


# The commands a case runs (`w.mine` is the corrupted copy).
INFO = lambda w: ["info", w.mine]  # noqa: E731
SAMPLE = lambda w: ["sample", "--ckpt", w.mine, "--out", w.out, "--frames", "2", "--device", "cpu"]  # noqa: E731
DRY_RUN = lambda w: ["pretrain", "--data", w.base.data, "--out", w.out, "--config", w.mine, "--dry-run"]  # noqa: E731
TRACK = lambda w: ["track", w.base.clip, "--points", w.mine, "--out", w.out]  # noqa: E731
EVAL_TRACKS = lambda w: ["eval-tracks", w.mine, "--data", w.base.data, "--video", "000000"]  # noqa: E731
RESUME = lambda w: ["finetune", "--data", w.base.data, "--out", w.mine, "--resume", "--steps", "3", "--quiet"]  # noqa: E731


def run_case(run_cli: Callable[..., Any], w: Work, argv: list[Any], *phrases: str, code: int | None = None) -> str:
    before = tree(w.tmp)
    error = assert_refused(run_cli(*argv), *phrases, code=code)
    assert tree(w.tmp) == before
    return error


# --------------------------------------------------------------------------------------------- JSON edge cases

PAYLOADS = {
    "nested-100000-deep": b"[" * 100_000 + b"]" * 100_000,
    "integer-of-5000-digits": b'{"format": ' + b"7" * 5000 + b"}",
    "invalid-utf8": b'{"format": "\xff\xfe"}',
    "nan": b'{"format": NaN, "x": [Infinity]}',
    "huge-float": b'{"format": 1e400}',
    "truncated": b'{"format": "gendef.',
    "empty": b"",
    "a-list": b"[1, 2]",
}
TARGETS: dict[str, tuple[str, str, Callable[[Work], list[Any]]]] = {
    # reader: (artifact copied, its file replaced by the payload, command)
    "clip-manifest": ("clip", "manifest.json", INFO),
    "dataset-manifest": ("data", "manifest.json", INFO),
    "checkpoint-manifest": ("ckpt", "manifest.json", INFO),
    "checkpoint-config": ("ckpt", "config.json", SAMPLE),
    "shots-manifest": ("shots", "manifest.json", INFO),
    "config-option": ("config", "", DRY_RUN),
    "points": ("points", "", TRACK),
    "tracks": ("tracks", "", EVAL_TRACKS),
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_json_edge_cases_are_one_line_errors_naming_the_file(run_cli, base: Base, tmp_path: Path, target: str,
                                                             payload: str) -> None:
    what, file, command = TARGETS[target]
    w = work_on(base, tmp_path, what)
    bad = w.mine / file if file else w.mine
    bad.write_bytes(PAYLOADS[payload])
    run_case(run_cli, w, command(w), str(bad))


@pytest.mark.parametrize("payload", ["nested-100000-deep", "integer-of-5000-digits", "invalid-utf8", "truncated"])
def test_json_edge_cases_in_the_train_state(run_cli, base: Base, tmp_path: Path, payload: str) -> None:
    w = work_on(base, tmp_path, "run")
    bad = latest(w.mine) / "train_state" / "state.json"
    bad.write_bytes(PAYLOADS[payload])
    run_case(run_cli, w, RESUME(w), str(bad))


# --------------------------------------------------------------------------------------------- fields of manifests


def _set(path: str, value: Any) -> Callable[[Any], None]:
    """A change setting the dotted field `path` ("sampling.truncation_psi"; list items by index) to `value`."""
    def change(doc: Any) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[int(last) if isinstance(node, list) else last] = value
    return change


def _add(path: str, key: str, value: Any) -> Callable[[Any], None]:
    def change(doc: Any) -> None:
        node = doc
        for p in path.split("."):
            node = node[p]
        node[key] = value
    return change


RECORD = {"bytes": 1, "sha256": "0" * 64}
FIELD_CASES: list[tuple[str, str, Callable[[Any], None], Callable[[Work], list[Any]], str]] = [
    # (id, artifact, change of its manifest.json, command, phrase of the error)
    ("clip-seed-abc", "clip", _set("seed", "abc"), INFO, "field 'seed' has the wrong type (str)"),
    ("clip-truncation-x", "clip", _set("sampling.truncation_psi", "x"), INFO, "'sampling.truncation_psi'"),
    ("clip-fps-bools", "clip", _set("fps", [True, True]), INFO, "fps must be [numerator, denominator] > 0"),
    ("clip-fps-5000", "clip", _set("fps", [5000, 1]), INFO, "fps must be at most 1000 frames per second"),
    ("clip-files-list", "clip", _set("files", []), INFO, "field 'files' has the wrong type (list)"),
    ("clip-file-record-int", "clip", lambda m: m["files"].update({"canonical.safetensors": 3}), INFO,
     """field 'files["canonical.safetensors"]' has the wrong type (int)"""),
    ("clip-height-huge", "clip", _set("height", 10**30), INFO, "height must be an integer in 1..65536"),
    ("clip-frames-zero", "clip", _set("num_frames", 0), INFO, "num_frames must be an integer in 1.."),
    ("clip-origin-short", "clip", _set("origin", [0]), INFO, "origin must be a list of 2 items"),
    ("clip-latents-missing-tensor", "clip", lambda m: m["latents"].append("z_extra"), INFO, "latents names"),
    ("clip-files-etc-shadow", "clip", _add("files", "/etc/shadow", RECORD), INFO, "plain file name"),
    ("clip-files-dotdot", "clip", _add("files", "../../etc/shadow", RECORD), INFO, "plain file name"),
    ("clip-videos-dotdot", "clip", _add("videos", "../video.mp4", {"num_frames": 4}), INFO, "plain file name"),
    ("clip-source-video-dotdot", "clip", _set("source_video", {"file": "../x.mp4", "num_frames": 4, "from": "x",
                                                                "bytes": 1, "sha256": "0" * 64}),
     INFO, "source_video.file must be a plain file name"),
    ("dataset-skipped-str", "data", _set("skipped", "x"), INFO, "field 'skipped' has the wrong type (str)"),
    ("dataset-skipped-item", "data", _set("skipped", [3]), INFO, "'skipped[0]'"),
    ("dataset-min-frames-str", "data", _set("min_frames", "3"), INFO, "field 'min_frames' has the wrong type"),
    ("dataset-fps-bools", "data", _set("fps", [True, True]), INFO, "fps must be [numerator, denominator] > 0"),
    ("dataset-video-dotdot", "data", _set("videos.0.name", "../x"), INFO, "videos[0] must be"),
    ("dataset-ground-truth-list", "data", _set("ground_truth", []), INFO, "'ground_truth'"),
    ("dataset-num-frames-wrong", "data", _set("num_frames", 3), INFO, "num_frames is 3 but the videos listed have"),
    ("dataset-video-twice", "data", lambda m: m.update(videos=[m["videos"][0]] * 2, num_videos=2), INFO,
     "is listed twice"),
    ("checkpoint-network-int", "ckpt", _set("networks.canonical", 3), INFO,
     "field 'networks.canonical' has the wrong type (int)"),
    ("checkpoint-networks-list", "ckpt", _set("networks", []), INFO, "field 'networks' has the wrong type (list)"),
    ("checkpoint-metadata-list", "ckpt", _set("metadata", []), INFO, "field 'metadata' has the wrong type (list)"),
    ("checkpoint-step-negative", "ckpt", _set("step", -5), INFO, "step must be at least 0, got -5"),
    ("checkpoint-step-abc", "ckpt", _set("step", "abc"), INFO, "field 'step' has the wrong type (str)"),
    ("checkpoint-network-dotdot", "ckpt", _add("networks", "../x", {**RECORD, "num_tensors": 1}), INFO,
     "network name"),
    ("checkpoint-sha256-bad", "ckpt", _set("networks.canonical.sha256", "zz"), INFO, "networks.canonical.sha256"),
    ("shots-name-dotdot", "shots", _set("shots.0.name", "../clip"), INFO, "shots[0].name must be a plain file name"),
    ("shots-start-str", "shots", _set("shots.0.start", "0"), INFO, "'shots[0].start'"),
]


@pytest.mark.parametrize("what, change, command, phrase", [c[1:] for c in FIELD_CASES],
                         ids=[c[0] for c in FIELD_CASES])
def test_manifest_fields_are_validated(run_cli, base: Base, tmp_path: Path, what: str, change: Callable[[Any], None],
                                       command: Callable[[Work], list[Any]], phrase: str) -> None:
    w = work_on(base, tmp_path, what)
    edit_json(w.mine / "manifest.json", change)
    run_case(run_cli, w, command(w), str(w.mine), phrase)


def test_a_name_outside_the_clip_is_never_opened(run_cli, base: Base, tmp_path: Path) -> None:
    """The issue's leak: a `files` record of /etc/passwd with its true size used to be hashed (and the error
    revealed the size). Now it is refused for its name, and nothing outside is looked at."""
    w = work_on(base, tmp_path, "clip")
    secret = tmp_path / "secret"
    secret.write_text("not yours")
    edit_json(w.mine / "manifest.json", _add("files", f"../{secret.name}", file_record(secret)))
    error = run_case(run_cli, w, INFO(w), "plain file name")
    assert "bytes" not in error and "sha256" not in error


# --------------------------------------------------------------------------------------------- config files and sizes

def _widen(config: dict[str, Any]) -> None:
    """The widest channels the per-field bounds allow, in G and D: billions of parameters at 16 px."""
    for section in ("model", "discriminator"):
        config[section].update(channel_max=8192, channel_base=1 << 20)


CONFIG_CASES: list[tuple[str, Callable[[Any], None], str]] = [
    ("z-dim-huge", _set("config.model.z_dim", 10**10), "model.z_dim must be in 1..8192, got 10000000000"),
    ("resolution-abc", _set("config.model.resolution", "abc"), "model.resolution must be an integer"),
    ("config-a-string", _set("config", "x"), "field 'config' has the wrong type (str)"),
    ("memory-estimate", lambda d: _widen(d["config"]), "billion parameters"),
    ("lr-string", _set("config.lr_g", "fast"), "lr_g must be a number"),
    ("any-edit", _set("config.seed", 1), "checksum"),
]


@pytest.mark.parametrize("change, phrase", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_a_checkpoint_config_is_validated_when_sampling(run_cli, base: Base, tmp_path: Path,
                                                        change: Callable[[Any], None], phrase: str) -> None:
    """A checkpoint's config.json is covered by the manifest's checksum (since 0.8.0); sampling also checks it as
    training does (checkpoints of older gendefs have no checksum of it), naming the file."""
    w = work_on(base, tmp_path, "ckpt")
    edit_json(w.mine / "config.json", change)
    if "checksum" in phrase:  # the checkpoint's manifest covers config.json
        run_case(run_cli, w, SAMPLE(w), f"{w.mine / 'config.json'} is truncated or altered", code=1)
        return
    edit_json(w.mine / "manifest.json", _set("files", {"config.json": file_record(w.mine / "config.json")}))
    run_case(run_cli, w, SAMPLE(w), f"{w.mine / 'config.json'}: ", phrase, code=1)


def test_config_option_errors_name_the_file(run_cli, base: Base, tmp_path: Path) -> None:
    w = work_on(base, tmp_path, "config")
    edit_json(w.mine, _set("config.model.z_dim", 10**10))
    run_case(run_cli, w, DRY_RUN(w), f"{w.mine}: model.z_dim must be in 1..8192", code=2)


@pytest.mark.parametrize("argv, phrase", [
    (["pretrain", "--set", "model.z_dim=10000000000"], "model.z_dim must be in 1..8192"),
    (["pretrain", "--set", "model.channel_max=100000"], "model.channel_max must be in 1..8192"),
    (["pretrain", "--batch-size", "100000000"], "batch_size must be in 1..65536"),
    (["pretrain", "--set", "seed=-1"], "seed must be in 0.."),
    (["pretrain", "--set", "lr_g=Infinity"], "lr_g must be a finite number"),
    (["pretrain", "--set", "seed=" + "7" * 5000], "--set seed: the value is too large or nested too deeply"),
    (["pretrain", "--set", "seed=" + "[" * 100_000], "--set seed: the value is too large or nested too deeply"),
    (["pretrain", "--kimg", "1e308"], "--kimg must be in 0.."),
    (["pretrain", "--steps", "10000000000000"], "--steps must be in 0.."),
    (["finetune", "--from-scratch", "--set", "num_frames=100000", "--set", "max_span=200000"],
     "num_frames must be in 2..1024"),
    (["pretrain", "--set", "model.channel_max=8192", "--set", "model.channel_base=1048576",
      "--set", "discriminator.channel_max=8192", "--set", "discriminator.channel_base=1048576"],
     "billion parameters"),
    (["pretrain", "--batch-size", "60000", "--set", "model.resolution=1024", "--set", "model.channel_base=2048",
      "--set", "model.deform_channel_base=1024", "--set", "discriminator.channel_base=2048"], "GiB of activations"),
])
def test_absurd_training_sizes_are_usage_errors(run_cli, base: Base, tmp_path: Path, argv: list[str],
                                                phrase: str) -> None:
    r = run_cli(*argv, "--data", base.data, "--out", tmp_path / "run", "--preset", "tiny", "--dry-run")
    assert_refused(r, phrase, code=2)
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("argv, phrase", [
    (["--frames", "1000000000"], "--frames must be in 2..1000000"),
    (["--grid", "100000"], "--grid must be in 1..16"),
    (["--seed", "-1"], "--seed must be in 0.."),
    (["--frames", "100000", "--resolution", "1024"], "GiB of memory"),
    (["--num-videos", "1000000", "--frames", "100000", "--resolution", "16"], "GiB on disk"),
])
def test_absurd_synth_sizes_are_refused(run_cli, tmp_path: Path, argv: list[str], phrase: str) -> None:
    r = run_cli("data", "synth", "--kind", "clouds", "--out", tmp_path / "data", "--resolution", "16", *argv)
    assert_refused(r, phrase)
    assert tree(tmp_path) == {}


def test_seeds_beyond_torch_are_usage_errors(run_cli, base: Base, tmp_path: Path) -> None:
    r = run_cli("sample", "--ckpt", base.run, "--out", tmp_path / "c", "--seed", str(2**70), "--device", "cpu")
    assert_refused(r, "--seed must be in", code=2)
    r = run_cli("resample", base.clip, "--out", tmp_path / "c", "--motion-seed", str(2**70), "--device", "cpu")
    assert_refused(r, "--motion-seed must be in", code=2)
    assert tree(tmp_path) == {}


# --------------------------------------------------------------------------------------------- weights and state


def _networks(m: Any) -> dict[str, Any]:
    return m["networks"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("dtype", [torch.float16, torch.int32])
def test_weights_of_another_dtype_are_refused_not_cast(run_cli, base: Base, tmp_path: Path, dtype: torch.dtype) -> None:
    w = work_on(base, tmp_path, "ckpt")

    def cast(t: dict[str, torch.Tensor]) -> None:
        key = next(k for k, v in t.items() if v.is_floating_point())
        t[key] = t[key].to(dtype)

    rewrite_tensors(w.mine, "canonical_ema.safetensors", cast, _networks)
    run_case(run_cli, w, SAMPLE(w), f"{w.mine / 'canonical_ema.safetensors'}: tensor", f"is {dtype}",
             "the model's is torch.float32", code=1)


def test_nan_weights_given_to_init_say_the_checkpoint_is_non_finite(run_cli, base: Base, tmp_path: Path) -> None:
    w = work_on(base, tmp_path, "pre")

    def poison(t: dict[str, torch.Tensor]) -> None:
        key = next(k for k, v in t.items() if v.is_floating_point() and v.numel() > 1)
        t[key] = t[key].clone()
        t[key].view(-1)[0] = float("nan")

    rewrite_tensors(latest(w.mine), "canonical_ema.safetensors", poison, _networks)
    r = run_cli("finetune", "--data", base.data, "--init", w.mine, "--out", w.out, "--preset", "tiny", "--steps", "1",
                "--quiet")
    assert_refused(r, "canonical_ema.safetensors", "the checkpoint has non-finite weights")
    assert not w.out.exists()


def _moments(change: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[dict[str, torch.Tensor]], None]:
    def apply(t: dict[str, torch.Tensor]) -> None:
        key = next(k for k in sorted(t) if k.endswith(".exp_avg"))
        t[key] = change(t[key])
    return apply


@pytest.mark.parametrize("change, phrase", [
    (_moments(lambda x: x.half()), "is torch.float16"),
    (_moments(lambda x: torch.zeros(1)), "its parameter"),
    (_moments(lambda x: torch.full_like(x, float("inf"))), "contains NaN or inf"),
], ids=["float16-moments", "wrong-shape-moments", "inf-moments"])
def test_optimizer_state_is_checked_on_resume(run_cli, base: Base, tmp_path: Path, change: Any, phrase: str) -> None:
    w = work_on(base, tmp_path, "run")
    state = latest(w.mine) / "train_state"
    f = state / "optimizer_g.safetensors"
    tensors = load_tensors(f, fix="")
    change(tensors)
    save_tensors(f, tensors)  # train_state has no checksums of its own
    run_case(run_cli, w, RESUME(w), str(f), phrase)


def test_train_state_counters_are_checked(run_cli, base: Base, tmp_path: Path) -> None:
    w = work_on(base, tmp_path, "run")
    state = latest(w.mine) / "train_state" / "state.json"
    edit_json(state, _set("counters.step", "abc"))
    run_case(run_cli, w, RESUME(w), str(state), "field 'counters.step' has the wrong type (str)")


def test_latents_of_another_dtype_are_refused(run_cli, base: Base, tmp_path: Path) -> None:
    w = work_on(base, tmp_path, "clip")

    def to_double(t: dict[str, torch.Tensor]) -> None:
        t["z_c"] = t["z_c"].double()

    rewrite_tensors(w.mine, "latents.safetensors", to_double, lambda m: m["files"])
    run_case(run_cli, w, ["resample", w.mine, "--out", w.out, "--device", "cpu"],
             "tensor 'z_c' is torch.float64, expected torch.float32", "re-create the clip")


# --------------------------------------------------------------------------------------------- tracks and points


@pytest.mark.parametrize("change, phrase", [
    (_set("tracks", 3.5), "field 'tracks' has the wrong type (float)"),
    (lambda d: d.update(visible=[[1 for _ in row] for row in d["visible"]]), "'visible[0][0]' has the wrong type"),
    (_set("num_frames", "4"), "field 'num_frames' has the wrong type (str)"),
    (_set("query_frame", 99), "query_frame"),
    (lambda d: d.update(tracks=d["tracks"][:-1]), "tracks must be a list of 4 items"),
], ids=["scalar-tracks", "numbers-as-visible", "num-frames-str", "query-frame-out-of-range", "missing-frame"])
def test_eval_tracks_validates_the_tracks_file(run_cli, base: Base, tmp_path: Path, change: Any, phrase: str) -> None:
    w = work_on(base, tmp_path, "tracks")
    edit_json(w.mine, change)
    run_case(run_cli, w, EVAL_TRACKS(w), str(w.mine), phrase)


@pytest.mark.parametrize("content, phrase", [
    ("[[1e400, 2]]", "not an [x, y] pair of finite numbers"),
    (f"[[{10**4000}, 2]]", "is outside the canonical image"),
    (f'{{"space": "frame", "frame": {10**30}, "points": [[1, 2]]}}', "frame must be an integer in 0..3"),
    ('{"points": [[1, 2]], "space": [[[[1]]]]}', 'space must be "canonical" or "frame"'),
], ids=["overflowing-float", "huge-int", "huge-frame", "nested-space"])
def test_points_edge_cases(run_cli, base: Base, tmp_path: Path, content: str, phrase: str) -> None:
    w = work_on(base, tmp_path, "points")
    w.mine.write_text(content)
    run_case(run_cli, w, TRACK(w), str(w.mine), phrase)


# --------------------------------------------------------------------------------------------- symbolic links


def _link_out(path: Path) -> None:
    """Replace `path` by a symbolic link to an identical copy outside its artifact (same size, same sha256)."""
    outside = path.parent.parent / f"outside-{path.name}"
    shutil.copy(path, outside)
    path.unlink()
    path.symlink_to(outside)


@pytest.mark.parametrize("what, file, command", [
    ("clip", "canonical.safetensors", INFO),
    ("clip", "manifest.json", INFO),
    ("clip", "video.mp4", INFO),
    ("ckpt", "canonical_ema.safetensors", SAMPLE),
    ("ckpt", "config.json", INFO),
    ("data", "videos/000000/000001.png", INFO),
    ("data", "groundtruth/000000.safetensors", lambda w: ["data", "clip", w.mine, "--video", "000000", "--out",
                                                         w.out]),
])
def test_symbolic_links_inside_an_artifact_are_refused(run_cli, base: Base, tmp_path: Path, what: str, file: str,
                                                       command: Callable[[Work], list[Any]]) -> None:
    w = work_on(base, tmp_path, what)
    _link_out(w.mine / file)
    run_case(run_cli, w, command(w), f"{w.mine / file} is a symbolic link")


def test_a_linked_artifact_directory_is_fine(run_cli, base: Base, tmp_path: Path) -> None:
    (tmp_path / "clip").symlink_to(base.clip)
    r = run_cli("info", tmp_path / "clip")
    assert r.exit_code == 0, r.stderr


# --------------------------------------------------------------------------------------------- images


BOMB = png_header(20000, 20000)     # 400 M pixels: Pillow raises DecompressionBombError (not an OSError)
LARGE = png_header(10000, 10000)    # 100 M pixels: Pillow only warns; gendef refuses it too


@pytest.mark.parametrize("image, phrase", [(BOMB, "too large to decode"), (LARGE, "more than gendef decodes")],
                         ids=["bomb", "large"])
@pytest.mark.parametrize("command", ["edit-scribble", "edit-canonical", "segment", "prepare"])
def test_decompression_bombs_are_one_line_errors(run_cli, base: Base, tmp_path: Path, image: bytes, phrase: str,
                                                 command: str) -> None:
    src = tmp_path / "src"
    (src / "v").mkdir(parents=True)
    bomb = src / "v" / "f0.png"
    bomb.write_bytes(image)
    argv: list[Any] = {
        "edit-scribble": ["edit", base.clip, "--scribble", bomb, "--out", tmp_path / "out"],
        "edit-canonical": ["edit", base.clip, "--canonical", bomb, "--out", tmp_path / "out"],
        "segment": ["segment", base.clip, "--mask", bomb, "--out", tmp_path / "out"],
        "prepare": ["data", "prepare", src, "--out", tmp_path / "out", "--resolution", "16", "--min-frames", "1"],
    }[command]
    before = tree(tmp_path)
    assert_refused(run_cli(*argv), str(bomb), phrase)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("content, phrase", [
    (BOMB, "too large to decode"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "is not a readable image ("),
], ids=["bomb", "garbage"])
def test_bad_dataset_frames_when_training(run_cli, base: Base, tmp_path: Path, content: bytes, phrase: str) -> None:
    w = work_on(base, tmp_path, "data")
    frame = w.mine / "videos" / "000001" / "000003.png"
    frame.write_bytes(content)
    error = run_case(run_cli, w, ["pretrain", "--data", w.mine, "--out", w.out, "--preset", "tiny", "--steps", "1",
                                  "--quiet"], str(frame), phrase)
    if "readable" in phrase:  # says what to do
        assert error.endswith("re-create it with `gendef data prepare` or `gendef data synth`")


# --------------------------------------------------------------------------------------------- the other formats


def test_flow_and_masks_manifests_are_validated(base: Base, tmp_path: Path) -> None:
    """Their readers (library only: no command reads them back) validate every field like the others."""
    from gendef_core import api
    from gendef_core.artifacts.flow import read_flow_manifest
    from gendef_core.artifacts.masks import read_masks_manifest
    from gendef_core.errors import ArtifactError

    api.flow(base.clip, tmp_path / "flow")
    mask = tmp_path / "mask.png"
    from PIL import Image
    Image.fromarray(np.pad(np.ones((4, 4), np.uint8), 6)).save(mask)
    api.segment(base.clip, mask, out=tmp_path / "masks")
    assert read_flow_manifest(tmp_path / "flow")["num_frames"] == 3
    assert read_masks_manifest(tmp_path / "masks")["num_frames"] == 4
    for directory, change, phrase in [
        ("flow", _set("valid_fraction", 2), "valid_fraction must be a finite number in [0, 1]"),
        ("flow", _add("files", "../x", RECORD), "plain file name"),
        ("masks", _set("mode", "cubic"), 'mode must be one of "bilinear", "nearest"'),
        ("masks", _set("area.1", [0.5]), "area"),
    ]:
        m = tmp_path / directory / "manifest.json"
        good = m.read_text()
        edit_json(m, change)
        with pytest.raises(ArtifactError, match=phrase.replace("[", r"\[").replace("]", r"\]")):
            (read_flow_manifest if directory == "flow" else read_masks_manifest)(tmp_path / directory)
        m.write_text(good)


# --------------------------------------------------------------------------------------------- fuzz


def _mutations(doc: Any, rng: np.random.Generator, n: int) -> list[Any]:
    """`n` copies of `doc`, each with one random value (anywhere in it) replaced by a random JSON value."""
    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix]
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in list(items)[:20]:
            found += paths(v, (*prefix, k))
        return found

    values = [None, True, False, 0, -1, 2**63, 10**30, 1.5, -0.0, 1e300, "", "x", "../x", "/etc/shadow", [],
              [1, 2], [True, True], {}, {"a": 1}, [[1, 2]] * 3]
    every = paths(doc)
    out = []
    for _ in range(n):
        new = json.loads(json.dumps(doc))
        path = every[int(rng.integers(len(every)))]
        value = values[int(rng.integers(len(values)))]
        if not path:
            new = value
        else:
            node = new
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
        out.append(new)
    return out


def test_fuzzed_manifests_give_gendef_errors_only(base: Base, tmp_path: Path) -> None:
    """A seeded mutation fuzz of the readers, through the library (fast): whatever one value of a valid file
    becomes, the reader accepts it or raises a GendefError; never another exception."""
    from gendef_core.artifacts.checkpoint import load_checkpoint
    from gendef_core.artifacts.clip import read_clip_manifest
    from gendef_core.artifacts.dataset import load_dataset_info
    from gendef_core.artifacts.tracks import read_points, read_tracks
    from gendef_core.models.loading import checkpoint_config

    rng = np.random.default_rng(16)
    readers: list[tuple[Path, Path, Callable[[Path], object]]] = [
        (base.clip, Path("manifest.json"), read_clip_manifest),
        (base.data, Path("manifest.json"), load_dataset_info),
        (latest(base.run), Path("manifest.json"), load_checkpoint),
        (latest(base.run), Path("config.json"), lambda p: checkpoint_config(load_checkpoint(p, verify=False))),
        (base.tracks, Path(), read_tracks),
        (base.points, Path(), lambda p: read_points(p, size=(16, 16), num_frames=4)),
    ]
    for artifact, file, read in readers:
        copy = tmp_path / artifact.name
        (shutil.copytree if artifact.is_dir() else shutil.copy)(artifact, copy)
        target = copy / file
        for doc in _mutations(json.loads(target.read_text()), rng, 60):
            target.write_text(json.dumps(doc))
            try:
                read(copy)
            except GendefError as e:
                assert "\n" not in str(e)
        shutil.rmtree(copy) if copy.is_dir() else copy.unlink()
