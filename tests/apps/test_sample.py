"""`gendef sample` / `gendef resample` (gendef_core.apps.sample): values, not just shapes.

Everything runs on the session's tiny GenDeF run (`tiny_ckpt`, 16 px) on the CPU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from gendef_core import api
from gendef_core.artifacts.checkpoint import load_checkpoint
from gendef_core.artifacts.clip import Clip, load_clip, read_clip_manifest
from gendef_core.clips import save_clip
from gendef_core.data.images import to_uint8
from gendef_core.data.video_io import read_video, write_video
from gendef_core.errors import ArtifactError, ConfigError
from gendef_core.sampling import draw_latents, load_model
from gendef_core.warp import warp

SEED = 3


def sample(out: Path, ckpt: Path, **kw: object) -> list[Path]:
    return api.sample(out, ckpt=ckpt, device="cpu", **kw)  # type: ignore[arg-type]


def resample(clip: Path, out: Path, **kw: object) -> Path:
    return api.resample(clip, out, device="cpu", **kw)  # type: ignore[arg-type]


def tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` (relative name -> bytes): to check that a directory did not change."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def no_partials(parent: Path) -> None:
    leftovers = [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    assert not leftovers, leftovers


def one_line(e: pytest.ExceptionInfo[BaseException], *phrases: str) -> str:
    msg = str(e.value)
    assert "\n" not in msg and all(p in msg for p in phrases), msg
    return msg


@pytest.fixture(scope="module")
def base(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-frame clip of seed SEED, sampled with the default batch size."""
    return sample(tmp_path_factory.mktemp("base") / "clip", tiny_ckpt, seed=SEED)[0]


@pytest.fixture(scope="module")
def base_clip(base: Path) -> Clip:
    return load_clip(base)


# --------------------------------------------------------------------------------------------- sample


def test_base_clip_is_a_moving_sampled_clip(base: Path, base_clip: Clip, tiny_ckpt: Path) -> None:
    m = read_clip_manifest(base)
    assert (m["num_frames"], m["height"], m["width"]) == (16, 16, 16)
    assert m["seed"] == SEED and m["source"] == "sample"
    from gendef_core.sampling import weights_id

    assert m["sampling"] == {"truncation_psi": 1.0, "motion_seed": SEED,
                             "weights": weights_id(load_model(tiny_ckpt, device="cpu").generator)}
    assert m["latents"] == ["motion_noise", "z_c", "z_d"]
    assert m["checkpoint"] == str(load_checkpoint(tiny_ckpt).path.resolve())
    # The clip's latents are exactly those the module docstring promises for its seed.
    want = draw_latents(load_model(tiny_ckpt, device="cpu"), SEED, 16)
    assert set(base_clip.latents) == set(want)
    for k, v in want.items():
        assert torch.equal(base_clip.latents[k], v), k
    # Frames really differ from one another (the offsets are not constant in time).
    assert (base_clip.offsets[1:] - base_clip.offsets[:-1]).abs().max() > 1e-4




@pytest.mark.parametrize("batch_size", [1, 5, 7, 64])  # every frame alone; 5+5+5+1; 7+7+2; one chunk
def test_chunking_does_not_change_the_result(tiny_ckpt: Path, base_clip: Clip, tmp_path: Path,
                                             batch_size: int) -> None:
    # Against the base clip, sampled with the default batch size 32 (one chunk of 16 frames). The
    # canonical is computed once either way; the offsets agree to float round-off only, because the
    # CPU matmul kernel (and so its rounding) depends on the number of rows, e.g. a 1-frame chunk.
    c = load_clip(sample(tmp_path / "clip", tiny_ckpt, seed=SEED, batch_size=batch_size)[0])
    assert torch.equal(c.canonical, base_clip.canonical)
    torch.testing.assert_close(c.offsets, base_clip.offsets, atol=1e-5, rtol=0)


def test_longer_clip_of_a_seed_continues_the_shorter_one(tiny_ckpt: Path, base_clip: Clip, tmp_path: Path) -> None:
    long = load_clip(sample(tmp_path / "long", tiny_ckpt, seed=SEED, frames=40)[0])  # chunks 32 + 8
    assert long.num_frames == 40
    assert torch.equal(long.canonical, base_clip.canonical)
    # The same motion, continued: equal to float round-off (atol as in the chunking test; bitwise equality held
    # on one CPU and not on another, since the matmul kernel's rounding depends on the chunk's row count), and
    # far from another seed's motion.
    torch.testing.assert_close(long.offsets[:16], base_clip.offsets, atol=1e-5, rtol=0)
    assert (long.offsets[:16] - base_clip.offsets).abs().max() < 1e-3 * base_clip.offsets.abs().max()
    assert torch.equal(long.latents["z_c"], base_clip.latents["z_c"])
    assert torch.equal(long.latents["z_d"], base_clip.latents["z_d"])
    n = base_clip.latents["motion_noise"].shape[0]
    assert long.latents["motion_noise"].shape[0] > n
    assert torch.equal(long.latents["motion_noise"][:n], base_clip.latents["motion_noise"])
    # ... and it goes on moving after frame 16.
    assert not torch.equal(long.offsets[16:32], long.offsets[:16])


def test_num_clips_are_seed_plus_i(tiny_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "many"
    paths = sample(out, tiny_ckpt, num=3, seed=5, frames=4)
    assert paths == [out / "000000", out / "000001", out / "000002"]
    assert sorted(p.name for p in out.iterdir()) == ["000000", "000001", "000002"]
    no_partials(tmp_path)
    for i, p in enumerate(paths):
        m = read_clip_manifest(p)
        assert m["seed"] == 5 + i and m["sampling"]["motion_seed"] == 5 + i
        alone = load_clip(sample(tmp_path / f"alone{i}", tiny_ckpt, num=1, seed=5 + i, frames=4)[0])
        c = load_clip(p)
        assert torch.equal(c.canonical, alone.canonical) and torch.equal(c.offsets, alone.offsets), i
        for k in alone.latents:
            assert torch.equal(c.latents[k], alone.latents[k]), (i, k)
    a, b = load_clip(paths[0]), load_clip(paths[1])
    assert not torch.equal(a.canonical, b.canonical)


def test_truncation_zero_is_the_mean_canonical(tiny_ckpt: Path, tmp_path: Path) -> None:
    def canon(seed: int, psi: float) -> torch.Tensor:
        return load_clip(sample(tmp_path / f"s{seed}-{psi}", tiny_ckpt, seed=seed, truncation=psi, frames=1)[0]
                         ).canonical

    assert torch.equal(canon(0, 0.0), canon(1, 0.0))
    assert (canon(0, 1.0) - canon(1, 1.0)).abs().max() > 1e-3
    assert read_clip_manifest(tmp_path / "s0-0.0")["sampling"]["truncation_psi"] == 0.0


@pytest.mark.parametrize("kw, phrase", [
    ({"truncation": -0.1}, "`truncation` must be in [0, 1]"),
    ({"truncation": 1.5}, "`truncation` must be in [0, 1]"),
    ({"truncation": math.nan}, "`truncation` must be in [0, 1]"),
    ({"frames": 0}, "`frames` must be in 1..100000"),
    ({"frames": 100_001}, "`frames` must be in 1..100000"),
    ({"batch_size": 0}, "`batch_size` must be >= 1"),
    ({"num": 0}, "`num` must be >= 1"),
    ({"fps": "0"}, "`fps`"),
])
def test_out_of_range_settings_are_one_line_config_errors(tiny_ckpt: Path, tmp_path: Path, kw: dict[str, object],
                                                          phrase: str) -> None:
    with pytest.raises(ConfigError) as e:
        sample(tmp_path / "out", tiny_ckpt, **kw)
    one_line(e, phrase)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kw, phrase", [
    ({"frames": 0}, "`frames` must be in 1..100000"),
    ({"batch_size": 0}, "`batch_size` must be >= 1"),
])
def test_resample_out_of_range_settings(base: Path, tmp_path: Path, kw: dict[str, object], phrase: str) -> None:
    with pytest.raises(ConfigError) as e:
        resample(base, tmp_path / "out", **kw)
    one_line(e, phrase)
    assert list(tmp_path.iterdir()) == []


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 Y of ``[..., 3]`` RGB: what yuv420p keeps at full resolution."""
    return rgb.float() @ torch.tensor([0.299, 0.587, 0.114])


def test_video_shows_the_warped_canonical(base: Path, base_clip: Clip, tmp_path: Path) -> None:
    frames, fps = read_video(base / "video.mp4")
    want = to_uint8(warp(base_clip.canonical[None], base_clip.offsets[None])[0])  # uint8 [T, H, W, 3]
    assert frames.shape == tuple(want.shape) == (16, 16, 16, 3) and fps == 25
    got = torch.from_numpy(frames)
    # video.mp4 is H.264 yuv420p at crf 18. At 16x16 the frames of a barely trained GAN are colour noise
    # at the pixel scale, and 4:2:0 keeps chroma only per 2x2 block: measured, the mean RGB error is
    # ~12 levels even at crf 0 (lossless), so RGB is not a usable check here. Luma is kept at full
    # resolution; what remains there is limited-range YUV rounding, clipping of saturated colours and
    # crf-18 quantisation, measured at 3.3 levels on average and at most 4.2 for any frame. So: at most
    # 6 levels per frame. The same frames without their deformation are ~10 levels off, beyond it.
    err = (luma(got) - luma(want)).abs().mean(dim=(1, 2))  # per frame, in 8-bit levels
    assert err.max() < 6, err
    unwarped = to_uint8(base_clip.canonical)[None].expand_as(got)
    assert (luma(got) - luma(unwarped)).abs().mean() > 6
    # Tighter: the decoded video is exactly what gendef's own writer makes of to_uint8(warp(...)) frames.
    write_video(tmp_path / "ref.mp4", [want.numpy()], 25)
    assert np.array_equal(read_video(tmp_path / "ref.mp4")[0], frames)


# ------------------------------------------------------------------------------------------- resample


def test_resample_with_its_own_seed_reproduces_the_clip(base: Path, base_clip: Clip, tmp_path: Path) -> None:
    c = load_clip(resample(base, tmp_path / "same", motion_seed=SEED))
    assert torch.equal(c.offsets, base_clip.offsets)
    assert torch.equal(c.canonical, base_clip.canonical)
    for k in base_clip.latents:
        assert torch.equal(c.latents[k], base_clip.latents[k]), k
    m = read_clip_manifest(tmp_path / "same")
    assert m["source"] == "resample" and m["seed"] == SEED and m["sampling"]["motion_seed"] == SEED


def test_resample_keeps_the_canonical_and_changes_the_motion(tiny_ckpt: Path, base: Path, base_clip: Clip,
                                                             tmp_path: Path) -> None:
    other = load_clip(resample(base, tmp_path / "other", motion_seed=SEED + 7))
    assert torch.equal(other.canonical, base_clip.canonical)
    assert torch.equal(other.latents["z_c"], base_clip.latents["z_c"])
    assert (other.offsets - base_clip.offsets).abs().max() > 1e-3
    # The default motion seed is the clip's seed + 1: the z_d and motion noise `sample --seed SEED+1` draws.
    default = load_clip(resample(base, tmp_path / "default"))
    m = read_clip_manifest(tmp_path / "default")
    assert {k: v for k, v in m["sampling"].items() if k != "weights"} == {"truncation_psi": 1.0,
                                                                           "motion_seed": SEED + 1}
    assert m["sampling"]["weights"] == base_clip.sampling["weights"]
    want = draw_latents(load_model(tiny_ckpt, device="cpu"), SEED + 1, 16)
    assert torch.equal(default.latents["z_d"], want["z_d"])
    assert torch.equal(default.latents["motion_noise"], want["motion_noise"])
    assert torch.equal(default.canonical, base_clip.canonical)
    assert not torch.equal(default.offsets, other.offsets)


def test_resample_longer_than_the_source(base: Path, base_clip: Clip, tmp_path: Path) -> None:
    c = load_clip(resample(base, tmp_path / "long", motion_seed=SEED, frames=40))
    assert c.num_frames == 40
    assert torch.equal(c.canonical, base_clip.canonical)
    torch.testing.assert_close(c.offsets[:16], base_clip.offsets, atol=1e-5, rtol=0)  # the same motion, continued
    assert read_clip_manifest(tmp_path / "long")["num_frames"] == 40


def test_edited_canonical_stays_edited(base: Path, base_clip: Clip, tmp_path: Path) -> None:
    edited = base_clip.canonical.flip(-1) * 0.5  # anything a model would never make from z_c
    src = save_clip(Clip(canonical=edited, offsets=base_clip.offsets, fps=base_clip.fps, seed=base_clip.seed,
                         checkpoint=base_clip.checkpoint, source="edit", latents=base_clip.latents,
                         sampling=base_clip.sampling), tmp_path / "edited")
    c = load_clip(resample(src, tmp_path / "re", motion_seed=SEED + 2))
    assert torch.equal(c.canonical, edited)
    # The motion does not see the edit: G_d is conditioned on the feature of z_c, as for the unedited clip.
    ref = load_clip(resample(base, tmp_path / "ref", motion_seed=SEED + 2))
    assert torch.equal(c.offsets, ref.offsets)


def test_clip_without_latents_cannot_be_resampled(tiny_ckpt: Path, tmp_path: Path) -> None:
    data = tmp_path / "clouds"
    api.synth_dataset("clouds", data, num_videos=1, num_frames=4, resolution=16)
    clip = api.dataset_clip(data, tmp_path / "gt")
    with pytest.raises(ConfigError) as e:
        resample(clip, tmp_path / "out", ckpt=tiny_ckpt)
    one_line(e, "has no latents")
    assert not (tmp_path / "out").exists()


def test_pretraining_checkpoint_is_refused(tiny_ckpt: Path, tmp_path: Path) -> None:
    pre = Path(load_checkpoint(tiny_ckpt).config["init_from"])
    with pytest.raises(ConfigError) as e:
        sample(tmp_path / "out", pre)
    one_line(e, "pre-training", "gendef finetune")
    assert list(tmp_path.iterdir()) == []


def test_without_ckpt_the_bundled_model_samples_and_is_recorded_by_name(run_cli: Callable[..., object],
                                                                       tmp_path: Path) -> None:
    from gendef_core.models.bundled import BUNDLED, bundled_path

    r = run_cli("sample", "--out", tmp_path / "clip", "--frames", "6", "--seed", "2")
    assert r.exit_code == 0, r.stderr  # type: ignore[attr-defined]
    m = read_clip_manifest(tmp_path / "clip")
    assert m["checkpoint"] == f"bundled:{BUNDLED}" and (m["height"], m["num_frames"]) == (64, 6)
    same = load_clip(sample(tmp_path / "again", bundled_path(), seed=2, frames=6)[0])
    assert torch.equal(load_clip(tmp_path / "clip").offsets, same.offsets)  # = sampling the bundled path
    moved = load_clip(api.resample(tmp_path / "clip", tmp_path / "moved", device="cpu"))
    assert moved.checkpoint == f"bundled:{BUNDLED}" and torch.equal(moved.canonical, same.canonical)
    with pytest.raises(ArtifactError, match="bundled model 'nope' is not installed"):
        api.sample(tmp_path / "x", ckpt="bundled:nope")


def test_checkpoint_path_is_absolute_and_resample_works_elsewhere(tiny_ckpt: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tiny_ckpt.parent)
    clip = sample(tmp_path / "clip", Path(tiny_ckpt.name), seed=SEED, frames=4)[0]  # a relative --ckpt
    recorded = read_clip_manifest(clip)["checkpoint"]
    assert Path(recorded).is_absolute() and Path(recorded) == load_checkpoint(tiny_ckpt).path.resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    c = load_clip(resample(clip, Path("re"), motion_seed=SEED))
    assert torch.equal(c.offsets, load_clip(clip).offsets)
    assert (elsewhere / "re" / "manifest.json").is_file()


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_json_output(run_cli: Callable[..., object], tiny_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips"
    r = run_cli("sample", "--ckpt", tiny_ckpt, "--out", out, "--num", "2", "--frames", "3", "--seed", "4", "--json",
                "--device", "cpu")
    assert r.exit_code == 0, r.stderr  # type: ignore[attr-defined]
    doc = json.loads(r.stdout)  # type: ignore[attr-defined]
    assert doc["clips"] == [str(out / "000000"), str(out / "000001")]
    assert doc["num_frames"] == 3 and doc["seed"] == 4 and doc["out"] == str(out)
    assert [load_clip(Path(p)).num_frames for p in doc["clips"]] == [3, 3]
    one = tmp_path / "one"
    r = run_cli("resample", doc["clips"][0], "--out", one, "--json", "--device", "cpu")
    assert r.exit_code == 0, r.stderr  # type: ignore[attr-defined]
    assert json.loads(r.stdout) == {"clip": str(one), "from": doc["clips"][0]}  # type: ignore[attr-defined]
    assert read_clip_manifest(one)["sampling"]["motion_seed"] == 5


def test_cli_existing_output_is_left_alone(run_cli: Callable[..., object], base: Path, tiny_ckpt: Path,
                                          tmp_path: Path) -> None:
    out = tmp_path / "clip"
    assert run_cli("sample", "--ckpt", tiny_ckpt, "--out", out, "--frames", "2", "--quiet").exit_code == 0  # type: ignore[attr-defined]
    before = tree(out)
    for args in (["sample", "--ckpt", tiny_ckpt, "--out", out, "--seed", "9"],
                 ["resample", base, "--out", out]):
        r = run_cli(*args)
        assert r.exit_code == 1, r.stderr  # type: ignore[attr-defined]
        lines = r.stderr.strip().splitlines()  # type: ignore[attr-defined]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "already exists" in lines[0], r.stderr  # type: ignore[attr-defined]
        assert "--overwrite" in lines[0] and r.stdout == ""  # type: ignore[attr-defined]
        assert tree(out) == before
        no_partials(tmp_path)
    # With --overwrite the clip is replaced.
    assert run_cli("sample", "--ckpt", tiny_ckpt, "--out", out, "--frames", "2", "--seed", "9", "--overwrite",
                   "--quiet").exit_code == 0  # type: ignore[attr-defined]
    assert read_clip_manifest(out)["seed"] == 9
    no_partials(tmp_path)


def test_failure_half_way_leaves_nothing(run_cli: Callable[..., object], tiny_ckpt: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import gendef_core.apps.sample as app

    real = app.save_clip
    calls: list[Path] = []

    def failing(clip: Clip, path: Path, **kw: object) -> Path:
        calls.append(path)
        if len(calls) == 2:
            raise ArtifactError("disk full (simulated)")
        return real(clip, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(app, "save_clip", failing)
    out = tmp_path / "clips"
    r = run_cli("sample", "--ckpt", tiny_ckpt, "--out", out, "--num", "3", "--frames", "2")
    assert r.exit_code == 1 and r.stderr.strip().splitlines()[-1] == "error: disk full (simulated)"  # type: ignore[attr-defined]
    assert len(calls) == 2 and not out.exists()
    no_partials(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_nan_offsets_in_a_late_chunk_are_refused_and_nothing_is_written(tiny_ckpt: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The NaN check runs per chunk (no whole-clip temporaries): a bad second chunk stops sampling there."""
    from gendef_core.models.generator import GenDeFGenerator
    from gendef_core.sampling import clip_tensors

    calls = []
    real_deform = GenDeFGenerator.deform

    def deform(self, z_d, times, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = real_deform(self, z_d, times, *args, **kwargs)
        calls.append(int(times[0, 0]))
        if len(calls) == 2:
            out = out.clone()
            out[0, -1, 1, 0, 0] = float("nan")
        return out

    monkeypatch.setattr(GenDeFGenerator, "deform", deform)
    model = load_model(tiny_ckpt, device="cpu")
    lat = draw_latents(model, SEED, 10)
    with pytest.raises(ArtifactError, match="produced non-finite offsets"):
        clip_tensors(model, lat, 10, chunk=4)
    assert calls == [0, 4]  # stopped at the bad chunk, not after the whole clip
    calls.clear()
    with pytest.raises(ArtifactError, match="non-finite offsets"):
        api.sample(tmp_path / "clip", ckpt=tiny_ckpt, frames=10, batch_size=4)
    assert not (tmp_path / "clip").exists() and list(tmp_path.iterdir()) == []


def test_clips_record_the_generator_weights_and_resample_warns_when_they_changed(
        base: Path, base_clip: Clip, tiny_ckpt: Path, tmp_path: Path) -> None:
    from gendef_core.events import Warning as GendefWarning
    from gendef_core.sampling import weights_id

    weights = weights_id(load_model(tiny_ckpt, device="cpu").generator)
    assert len(weights) == 16 and base_clip.sampling["weights"] == weights
    exported = api.export_model(tiny_ckpt, tmp_path / "exported")
    assert weights_id(load_model(exported, device="cpu").generator) == weights
    other = load_model(exported, device="cpu").generator
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)
    assert weights_id(other) != weights
    events: list[object] = []
    api.resample(base, tmp_path / "same", on_event=events.append)
    assert not [e for e in events if isinstance(e, GendefWarning)]
    assert load_clip(tmp_path / "same").sampling["weights"] == weights
    # The same clip as if sampled from other weights of this checkpoint: resampling warns, still works.
    old = tmp_path / "old"
    save_clip(Clip(base_clip.canonical, base_clip.offsets, fps=base_clip.fps, seed=base_clip.seed,
                   checkpoint=base_clip.checkpoint, source="sample", latents=base_clip.latents,
                   sampling={**base_clip.sampling, "weights": "0" * 16}), old, video=False)
    events.clear()
    api.resample(old, tmp_path / "moved", on_event=events.append)
    warnings = [e.message for e in events if isinstance(e, GendefWarning)]
    assert len(warnings) == 1 and "0" * 16 in warnings[0] and weights in warnings[0]
    moved = load_clip(tmp_path / "moved")
    assert torch.equal(moved.canonical, base_clip.canonical) and moved.sampling["weights"] == weights
