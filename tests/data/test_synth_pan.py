"""The `pan` synthetic kind: determinism, exact tracks, camera motion, the object, occlusion, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gendef_core.data import synth_pan
from gendef_core.data.synth import SYNTH_KINDS, SynthVideo, synth_video
from gendef_core.warp import sample

_SEEDS = range(3)
_RES, _FRAMES, _GRID = 64, 32, 24


def _scene(seed: int) -> synth_pan.PanScene:
    """The scene `synth_video("pan", seed=seed)` draws (seeded as synth_video seeds it)."""
    return synth_pan.draw_pan_scene(np.random.default_rng([SYNTH_KINDS.index("pan"), int(seed < 0), abs(seed)]))


def _bilinear(frames: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Sample ``frames [T, H, W, C]`` at pixel ``points [T, N, 2]`` -> ``[T, N, C]`` float64."""
    img = frames.permute(0, 3, 1, 2).double()
    pos = points.double().permute(0, 2, 1)[:, None, :, None, :]  # [T, 1, 2, 1, N]
    return sample(img, pos, padding="border")[:, 0, :, 0, :].transpose(1, 2)


def _colour_error(v: SynthVideo, tracks: torch.Tensor) -> torch.Tensor:
    """``[T, N]`` mean absolute difference (8-bit levels) between frame t at ``tracks [T, N, 2]``
    (bilinear) and frame 0 at the query points."""
    ref = v.frames[0][v.query_points[:, 1].long(), v.query_points[:, 0].long()].double()  # [N, 3]
    return (_bilinear(v.frames, tracks) - ref).abs().mean(-1)


def _times(v: SynthVideo) -> torch.Tensor:
    return torch.arange(v.frames.shape[0], dtype=torch.float64)


def _world(scene: synth_pan.PanScene, t: torch.Tensor, pixels: torch.Tensor, res: int) -> torch.Tensor:
    """World positions ``[T, N, 2]`` of frame pixels ``[T, N, 2]`` (or ``[1, N, 2]``) at times ``t``."""
    return synth_pan.frame_to_world(scene.camera, t, (pixels.double() + 0.5) / res)


def _on_object(scene: synth_pan.PanScene, v: SynthVideo) -> torch.Tensor:
    """``[N]`` True for query points on the object at t = 0."""
    t0 = torch.zeros(1, dtype=torch.float64)
    res = v.frames.shape[1]
    return synth_pan.object_distance(scene.obj, t0, _world(scene, t0, v.query_points[None], res))[0] < 0


@pytest.fixture(scope="module")
def videos() -> list[tuple[SynthVideo, synth_pan.PanScene]]:
    return [(synth_video("pan", num_frames=_FRAMES, resolution=_RES, seed=s, grid=_GRID), _scene(s)) for s in _SEEDS]


def test_deterministic_and_a_longer_video_extends_a_shorter() -> None:
    a = synth_video("pan", num_frames=16, resolution=32, seed=5, grid=6)
    b = synth_video("pan", num_frames=16, resolution=32, seed=5, grid=6)
    long = synth_video("pan", num_frames=24, resolution=32, seed=5, grid=6)
    other = synth_video("pan", num_frames=16, resolution=32, seed=6, grid=6)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.tracks, b.tracks) and torch.equal(a.visible, b.visible)
    assert torch.equal(long.frames[:16], a.frames)
    assert torch.equal(long.tracks[:16], a.tracks) and torch.equal(long.visible[:16], a.visible)
    assert not torch.equal(other.frames, a.frames)
    assert a.canonical is None and a.offsets is None
    assert a.frames.shape == (16, 32, 32, 3) and a.frames.dtype == torch.uint8
    assert a.tracks.shape == (16, 36, 2) and a.tracks.dtype == torch.float32 and a.visible.dtype == torch.bool
    torch.testing.assert_close(a.tracks[0], a.query_points, atol=1e-5, rtol=0)
    assert bool(a.visible[0].all())


def test_textured_everywhere(videos: list[tuple[SynthVideo, synth_pan.PanScene]]) -> None:
    # No flat region anywhere: every 8 x 8 patch of the first and last frames has contrast.
    for v, _ in videos:
        lum = v.frames[[0, -1]].double().mean(-1)  # [2, H, W]
        std = lum.unfold(1, 8, 8).unfold(2, 8, 8).reshape(2, -1, 64).std(-1)
        assert float(std.min()) > 5.0  # 8-bit levels


def test_tracks_are_exact(videos: list[tuple[SynthVideo, synth_pan.PanScene]]) -> None:
    err, err_x, err_y, err_obj, n_inside = [], [], [], [], 0
    for v, scene in videos:
        t, res = _times(v), _RES
        on_obj = _on_object(scene, v)
        mask, _ = synth_pan.ripple_mask(scene.ripple, _world(scene, t[:1], v.query_points[None], res)[0])
        # Background points 3 px clear of the object, not on the ripple's soft border (its interior counts).
        clear = synth_pan.object_distance(scene.obj, t, _world(scene, t, v.tracks, res)) > 3 / res
        rim = (mask > 0.01) & (mask < 0.99)
        keep = v.visible & clear & ~on_obj & ~rim & (t > 0)[:, None]
        n_inside += int((keep & (mask > 0.99)).sum())
        err.append(_colour_error(v, v.tracks)[keep])
        err_x.append(_colour_error(v, v.tracks + torch.tensor([1.0, 0.0]))[keep])
        err_y.append(_colour_error(v, v.tracks + torch.tensor([0.0, 1.0]))[keep])
        err_obj.append(_colour_error(v, v.tracks)[v.visible & on_obj & (t > 0)[:, None]])
    e, ex, ey, eo = (torch.cat(x) for x in (err, err_x, err_y, err_obj))
    assert e.numel() > 5000 and n_inside > 500 and eo.numel() > 200
    tolerance = 4.0  # 8-bit levels
    assert float(e.median()) < tolerance
    assert float(eo.median()) < tolerance  # points on the object follow it
    # A track 1 px off would fail: the test has the resolution to see a pixel.
    assert float(ex.median()) > 1.5 * tolerance and float(ey.median()) > 1.5 * tolerance


def test_ripple_is_non_rigid_and_exactly_inverted(videos: list[tuple[SynthVideo, synth_pan.PanScene]]) -> None:
    err, err_rigid = [], []
    for v, scene in videos:
        t, res = _times(v), _RES
        rp = scene.ripple
        # Tracks vs the camera alone: points in the patch move off the rigid prediction (~0.7 px at 64 px).
        w0 = _world(scene, t[:1], v.query_points[None], res)
        rigid = (synth_pan.world_to_frame(scene.camera, t, w0.expand(t.shape[0], -1, -1)) * res - 0.5).float()
        off = (v.tracks - rigid).norm(dim=-1)  # [T, N] px
        mask, _ = synth_pan.ripple_mask(rp, w0[0])
        background = ~_on_object(scene, v)
        assert float(off[:, background & (mask > 0.99)].max()) > 0.8
        assert float(off[:, background & (mask == 0)].max()) < 1e-3  # and outside it the scene is rigid
        # There the tracks keep the colour much better than the camera-only prediction does.
        clear = synth_pan.object_distance(scene.obj, t, _world(scene, t, v.tracks, res)) > 3 / res
        keep = v.visible & clear & (background & (mask > 0.99))[None] & (off > 0.5)
        err.append(_colour_error(v, v.tracks)[keep])
        err_rigid.append(_colour_error(v, rigid)[keep])
        # The forward map inverts the backward one to well under 1e-3 px, and the backward map is
        # fold-free: grad e is a contraction, so I + grad e has a positive determinant.
        c = torch.linspace(-0.45, 0.45, 31, dtype=torch.float64)
        gy, gx = torch.meshgrid(c, c, indexing="ij")
        w = (torch.stack([gx, gy], -1) + torch.from_numpy(rp.centre)).reshape(1, -1, 2).expand(t.shape[0], -1, -1)
        u = synth_pan.rest_position(rp, t, w)
        assert float((synth_pan.world_position(rp, t, u) - w).abs().max()) * res < 1e-6
        assert float((u - w).norm(dim=-1).max()) * res > 0.8
        _, jac = synth_pan._ripple(rp, t, w, jacobian=True)
        assert jac is not None
        assert float(torch.linalg.matrix_norm(jac, ord=2).max()) < 1.0
        assert float(torch.linalg.det(torch.eye(2, dtype=torch.float64) + jac).min()) > 0
    e, e_rigid = torch.cat(err), torch.cat(err_rigid)
    assert e.numel() > 300
    assert float(e.median()) < 3.0 and float(e.median()) < 0.6 * float(e_rigid.median())


def test_camera_pans_and_content_enters(videos: list[tuple[SynthVideo, synth_pan.PanScene]]) -> None:
    for v, scene in videos:
        t, res = _times(v), _RES
        background = ~_on_object(scene, v)
        moved = (v.tracks[-1] - v.tracks[0]).norm(dim=-1)[background]
        assert float(moved.median()) >= 6.0  # px at 64 px over 32 frames
        # Content enters: pixels of the last frame whose world point frame 0 did not see.
        pix = torch.stack(torch.meshgrid(torch.arange(res), torch.arange(res), indexing="xy"), -1).reshape(1, -1, 2)
        w = _world(scene, t[-1:], pix, res)
        in_frame_0 = synth_pan.world_to_frame(scene.camera, t[:1], w) * res - 0.5
        new = ((in_frame_0 < 0) | (in_frame_0 > res - 1)).any(-1)
        assert 0.1 < float(new.double().mean()) < 0.5
        # Smooth: a visible, unhurried pan of a few tenths of a pixel to ~2 px per frame at 128 px.
        steps = (v.tracks[1:] - v.tracks[:-1])[:, background].norm(dim=-1) * (128 / res)
        assert 0.3 < float(steps.median()) and float(steps.max()) < 2.5


def test_object_crosses_the_frame() -> None:
    for s in _SEEDS:
        v, scene = synth_video("pan", num_frames=64, resolution=32, seed=s, grid=16), _scene(s)
        on_obj = _on_object(scene, v)
        assert int(on_obj.sum()) >= 3
        moved = (v.tracks[-1] - v.tracks[0]).norm(dim=-1)[on_obj]
        assert float(moved.min()) >= 32 / 4


def test_occluded_background_points_are_invisible(videos: list[tuple[SynthVideo, synth_pan.PanScene]]) -> None:
    hidden_err, found = [], 0
    for v, scene in videos:
        t, res = _times(v), _RES
        inside = ((v.tracks >= 0) & (v.tracks <= res - 1)).all(-1)
        hidden = inside & ~v.visible  # [T, N]
        assert not bool(hidden[:, _on_object(scene, v)].any())  # the object is never occluded
        found += int(hidden.sum())
        # Hidden because the object is there, and the frame shows it instead of the point's colour.
        distance = synth_pan.object_distance(scene.obj, t, _world(scene, t, v.tracks, res))
        assert bool((distance[hidden] < 0).all())
        hidden_err.append(_colour_error(v, v.tracks)[hidden & (distance < -2 / res)])
    assert found > 50
    assert float(torch.cat(hidden_err).median()) > 15.0  # levels: far from the background's own colour


def test_visibility_of_points_leaving_the_frame(videos: list[tuple[SynthVideo, synth_pan.PanScene]]) -> None:
    left = 0
    for v, scene in videos:
        t, res = _times(v), _RES
        inside = ((v.tracks >= 0) & (v.tracks <= res - 1)).all(-1)
        covered = synth_pan.object_distance(scene.obj, t, _world(scene, t, v.tracks, res)) < 0
        free = ~covered | _on_object(scene, v)[None]  # points nothing is in front of
        assert torch.equal(v.visible[free], inside[free])
        assert bool(torch.isfinite(v.tracks).all())
        left += int((~inside).sum())
    assert left > 100  # points do leave the frame, and their positions stay defined


def test_cli_writes_a_pan_dataset(tmp_path: Path) -> None:
    from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth

    out = tmp_path / "D"
    gendef = Path(sys.executable).with_name("gendef")
    r = subprocess.run([str(gendef), "data", "synth", "--kind", "pan", "--num-videos", "1", "--frames", "8",
                        "--resolution", "32", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["synth_kind"] == "pan"
    assert manifest["ground_truth"] == {"kind": "pan", "backward_map": False}
    info = load_dataset_info(out)
    gt = load_ground_truth(info, "000000")
    assert gt.tracks.shape == (8, 64, 2) and gt.canonical is None
    assert len(list((out / "videos" / "000000").glob("*.png"))) == 8
