"""Issue 15: the same inputs give byte-identical artifacts (FORMATS.md "Reproducibility").

Two independent runs of every command that writes files — `sample` (bundled model and a tiny trained
run, `--num 2 --flow`), `data synth` (each kind), `data prepare` (small MP4s), `data clip`, a seeded
tiny `pretrain` + `finetune` (checkpoints with train_state), `export`, `edit`, `segment`, `flow` and
`track` — each in its own process with its own PYTHONHASHSEED, into different directories, must give
the same files, compared by sha256. The only allowed differences are the wall-clock fields documented
in FORMATS.md (`time_s` and `images_per_s` in a run's events.jsonl); they are masked, everything else
in those lines must agree.

Both runs read their inputs from the same place: run A uses its own earlier outputs, run B uses run
A's, so that the only difference between the two is where the outputs go (and the process).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

# Wall-clock fields: the only ones allowed to differ between two runs (FORMATS.md "Reproducibility").
WALL_CLOCK = {"events.jsonl": ("time_s", "images_per_s")}


def _cli(*args: object) -> None:
    from gendef_cli.main import main

    try:
        main([str(a) for a in args] + ["--quiet"] * ("--quiet" not in args and args[0] != "export"))
    except SystemExit as e:
        if e.code not in (0, None):
            raise RuntimeError(f"gendef {' '.join(map(str, args))} exited with {e.code}") from None


def pipeline(out: Path, ref: Path, inputs: Path) -> None:
    """Every command once, writing under `out`; dependent steps read their input from `ref`."""
    import torch

    torch.set_num_threads(1)
    _cli("sample", "--out", out / "sample", "--num", 2, "--frames", 4, "--seed", 3, "--flow", "--device", "cpu")
    for kind in ("clouds", "sprites", "pan"):
        _cli("data", "synth", "--kind", kind, "--out", out / kind, "--num-videos", 2, "--frames", 6,
             "--resolution", 16, "--seed", 1, "--grid", 2)
    _cli("data", "prepare", inputs / "videos", "--out", out / "prepared", "--resolution", 16, "--min-frames", 4)
    _cli("data", "clip", ref / "clouds", "--out", out / "dataclip", "--video", 1, "--flow")
    clip = ref / "sample" / "000000"
    _cli("resample", clip, "--out", out / "resampled", "--motion-seed", 11, "--flow", "--device", "cpu")
    _cli("edit", clip, "--scribble", inputs / "scribble.png", "--out", out / "edited", "--flow")
    _cli("segment", clip, "--mask", inputs / "mask.png", "--out", out / "masks", "--overlay", out / "masks.mp4")
    _cli("flow", clip, "--out", out / "flow")
    _cli("track", clip, "--points", inputs / "points.json", "--out", out / "tracks.json",
         "--overlay", out / "tracks.mp4", "--format", "tapvid")
    tiny = ["--preset", "tiny", "--batch-size", 2, *(x for kv in ("save_every=1", "keep_last=2", "log_every=1",
                                                                  "snapshot_every=2") for x in ("--set", kv))]
    _cli("pretrain", "--data", ref / "clouds", "--out", out / "pre", "--steps", 2, *tiny)
    _cli("finetune", "--data", ref / "clouds", "--init", ref / "pre", "--out", out / "ft", "--steps", 2,
         "--deform-init", "xavier", *tiny)
    _cli("export", ref / "ft", "--out", out / "exported")
    _cli("sample", "--ckpt", ref / "ft", "--out", out / "sample_tiny", "--num", 2, "--frames", 5, "--seed", 7,
         "--flow", "--device", "cpu")


def make_inputs(inputs: Path) -> None:
    """The shared inputs: three small MP4s, a scribble, a mask and points for the bundled 64 px clips."""
    from gendef_core.data.video_io import write_video
    from tests.conftest import gradient_video

    (inputs / "videos").mkdir(parents=True)
    for i in range(3):
        write_video(inputs / "videos" / f"v{i}.mp4", [gradient_video(6, 24, 32, seed=i)], 25)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[20:40, 10:30] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(inputs / "scribble.png")
    mask = np.zeros((64, 64), np.uint8)
    mask[8:30, 30:60] = 255
    Image.fromarray(mask, "L").save(inputs / "mask.png")
    (inputs / "points.json").write_text(json.dumps([[10.5, 12.0], [40.0, 33.25], [63.0, 0.0]]))


def _run(out: Path, ref: Path, inputs: Path, hashseed: str, *, one_cpu: bool = False) -> None:
    """`pipeline` in a fresh process; `one_cpu`: pinned to one CPU (another machine, as far as threads go)."""
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("GENDEF_DEBUG", None)
    code = (f"from pathlib import Path; from tests.artifacts.test_reproducible import pipeline; "
            f"pipeline(Path({str(out)!r}), Path({str(ref)!r}), Path({str(inputs)!r}))")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = (lambda: os.sched_setaffinity(0, cpus[:1])) if one_cpu and len(cpus) > 1 else None
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                       preexec_fn=pin)
    assert r.returncode == 0, r.stderr[-3000:]


def _masked(name: str, data: bytes) -> bytes:
    fields = WALL_CLOCK.get(name)
    if fields is None:
        return data
    lines = [json.loads(line) for line in data.decode().splitlines()]
    return json.dumps([{k: ("<wall-clock>" if k in fields else v) for k, v in rec.items()} for rec in lines]).encode()


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (wall-clock fields masked), by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(_masked(p.name, p.read_bytes())).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_runs_write_byte_identical_files(tmp_path: Path) -> None:
    inputs, a, b = tmp_path / "inputs", tmp_path / "run-a", tmp_path / "elsewhere" / "run-b"
    make_inputs(inputs)
    _run(a, a, inputs, "1")
    _run(b, a, inputs, "4242", one_cpu=True)
    da, db = digests(a), digests(b)
    assert sorted(da) == sorted(db)
    differ = sorted(name for name in da if da[name] != db[name])
    assert not differ, f"differ between two runs: {differ}"
    # Everything was written, and the only differences masked above are real wall-clock numbers.
    assert {"sample/000001/flow.mp4", "resampled/flow.mp4", "sample_tiny/000001/video.mp4", "pan/manifest.json",
            "prepared/manifest.json", "dataclip/flow.mp4", "edited/video.mp4", "masks.mp4", "flow/manifest.json",
            "tracks.json", "tracks.mp4", "tracks.tapvid.npz", "exported/manifest.json", "ft/events.jsonl",
            "pre/snapshots/step-00000002.png", "ft/snapshots/step-00000002.mp4"} <= set(da)
    assert any(name.startswith("ft/checkpoints/") and "train_state" in name for name in da)
    for ck in (a / "pre" / "checkpoints", a / "ft" / "checkpoints"):
        for manifest in ck.glob("*/manifest.json"):
            assert "wall_time_s" not in json.loads(manifest.read_text())["metadata"]
    for run in ("pre", "ft"):
        events = [json.loads(line) for line in (b / run / "events.jsonl").read_text().splitlines()]
        assert events and all(set(WALL_CLOCK["events.jsonl"]) <= set(e) for e in events)


def test_mp4_bytes_do_not_depend_on_the_number_of_cpus(tmp_path: Path) -> None:
    """x264's automatic thread count follows the CPUs; gendef fixes it (video_io.X264_THREADS)."""
    from gendef_core.data.video_io import write_video
    from tests.conftest import gradient_video

    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(cpus) < 2:
        pytest.skip("needs two CPUs to compare one against several")
    frames = [gradient_video(4, 128, 128)]
    try:
        os.sched_setaffinity(0, {min(cpus)})
        one = write_video(tmp_path / "one.mp4", frames, 25).read_bytes()
    finally:
        os.sched_setaffinity(0, cpus)
    several = write_video(tmp_path / "several.mp4", frames, 25).read_bytes()
    assert hashlib.sha256(one).hexdigest() == hashlib.sha256(several).hexdigest()


def test_mp4_bytes_do_not_depend_on_uninitialised_memory(tmp_path: Path) -> None:
    """x264's AVX-512 MB-tree code reads heap memory it never wrote on 64 px wide frames, so flow.mp4 differed
    from run to run; gendef turns MB-tree off (video_io.X264_OPTIONS). glibc's MALLOC_PERTURB_ fills fresh
    allocations with a given byte: the bytes of the MP4 must not depend on it."""
    if not sys.platform.startswith("linux"):
        pytest.skip("MALLOC_PERTURB_ is glibc's")
    code = ("import hashlib, sys, numpy as np; from pathlib import Path; "
            "from gendef_core.data.video_io import write_video; "
            "frames = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8); "
            "print(hashlib.sha256(write_video(Path(sys.argv[1]), [frames], 25).read_bytes()).hexdigest())")
    seen = set()
    for i, perturb in enumerate(("0", "85", "170")):
        env = {**os.environ, "MALLOC_PERTURB_": perturb, "OMP_NUM_THREADS": "1"}
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{i}.mp4")], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]
        seen.add(r.stdout.strip())
    assert len(seen) == 1, seen


def test_checkpoints_with_wall_time_still_load(tmp_path: Path) -> None:
    """Checkpoints written before 0.6 record `wall_time_s` in their metadata; they load as before."""
    import torch

    from gendef_core.artifacts.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "ck", step=3, config={}, networks={"generator": {"w": torch.zeros(2)}},
                    metadata={"kimg": 0.01, "wall_time_s": 12.5, "num_processes": 1})
    info = load_checkpoint(tmp_path / "ck")
    assert info.step == 3 and info.metadata["wall_time_s"] == 12.5
    assert torch.equal(info.load_network("generator")["w"], torch.zeros(2))
