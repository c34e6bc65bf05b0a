"""`gendef demo`: the showcase on the bundled model, the demo of your own video (`--video`), and their HTML pages."""

from __future__ import annotations

import html
import json
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core import api
from gendef_core.apps import demo as demo_app
from gendef_core.data.video_io import probe_video


def _sources(root: Path) -> list[str]:
    """Every relative file the page links or embeds; each must exist."""
    page = (root / "index.html").read_text()
    sources = re.findall(r'(?:src|href)=["]?([^" >]+)', page)
    for src in sources:
        assert not src.startswith(("/", "http", "file:")), src      # a static page with relative links
        assert (root / src).exists(), src
    return sources


def _pan_video(path: Path, frames: int, *, seed: int = 0) -> Path:
    """A small camera pan (`gendef data synth --kind pan`), cropped to 48x64, written as an MP4."""
    from gendef_core.data.synth import synth_video
    from gendef_core.data.video_io import write_video

    v = synth_video("pan", num_frames=frames, resolution=64, seed=seed).frames.numpy()
    write_video(path, v[:, 8:56], fps=25)
    return path


FIT_PANELS = ("fit/source.mp4", "fit/video.mp4", "fit/canonical.png", "edited/video.mp4")


def test_demo_writes_a_page_whose_every_video_and_picture_exists(tmp_path: Path) -> None:
    summary = api.demo(tmp_path / "demo", num=2, frames=12, fit_frames=12)
    root = tmp_path / "demo"
    sources = _sources(root)
    assert len(sources) >= 18
    for video in (s for s in sources if s.endswith(".mp4")):
        expected = 11 if "flow" in video else 12       # flow videos have T-1 frames
        assert probe_video(root / video).num_frames == expected, video
    assert summary["model"] == "bundled:clouds64" and 0 < summary["tracked_visible"] <= 1
    assert len(list((root / "masks").glob("*.png"))) == 12
    # "Your own video": a fitted pan, its four panels and the fit's numbers from the clip's fit record
    page = (root / "index.html").read_text()
    assert "Your own video: gendef fit" in page
    assert all(f"own/{p}" in sources for p in FIT_PANELS)
    m = json.loads((root / "own" / "fit" / "manifest.json").read_text())
    fit = m["fit"]
    assert summary["fit"]["psnr_mean_db"] == fit["psnr_mean_db"] > 15
    assert f"mean {fit['psnr_mean_db']:.2f} dB, min {fit['psnr_min_db']:.2f} dB" in page
    assert f"{m['canonical_width']}x{m['canonical_height']} px canonical for 64x64 px frames" in page
    assert m["canonical_width"] * m["canonical_height"] > 64 * 64   # content entering the view is kept
    assert "quality <code>default</code>" in page
    # Motion shown honestly (issue 14): one stated flow scale with its key, palette masks, a movement line
    assert "flow_legend.png" in sources and all(f"clips/{i:06d}/flow.mp4" in sources for i in range(2))
    assert "full colour = 1 px per frame" in page
    assert Image.open(root / "mask.png").mode == "P"                # shown in its palette colours
    assert [m["num_frames"] for m in summary["movement"]] == [12, 12]
    for i, m in enumerate(summary["movement"]):
        assert f"clip {i}: content moves {m['disp_clip']:.1f} px over 12 frames" in page
        assert m == demo_app.movement(root / "clips" / f"{i:06d}")


def test_movement_is_the_net_displacement_of_the_content(tmp_path: Path) -> None:
    """A clip whose content drifts 0.5 px per frame to the right moves 0.5 * (T - 1) px; zero offsets: 0."""
    from gendef_core.artifacts.clip import Clip
    from gendef_core.clips import save_clip
    from gendef_core.warp import pixels_to_offsets

    t = 9
    shift = torch.zeros(t, 2, 32, 32, dtype=torch.float64)
    shift[:, 0] = -0.5 * torch.arange(t, dtype=torch.float64)[:, None, None]  # frame(p) = canonical(p - 0.5 t)
    offsets = pixels_to_offsets(shift, (32, 32)).float()
    canonical = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for name, off in (("drift", offsets), ("still", torch.zeros_like(offsets))):
        save_clip(Clip(canonical=canonical, offsets=off, fps=Fraction(25)), tmp_path / name, video=False)
    drift = demo_app.movement(tmp_path / "drift")
    assert drift["disp_clip"] == pytest.approx(0.5 * (t - 1), abs=1e-3) and drift["moved_1px"] == 1.0
    still = demo_app.movement(tmp_path / "still")
    assert still["disp_clip"] == 0.0 and still["moved_1px"] == 0.0
    assert "content moves 4.0 px over 9 frames (100 % of points > 1 px)" == demo_app._movement_line(drift)


def test_flow_legend_is_white_at_the_centre_and_saturated_on_the_rim(tmp_path: Path) -> None:
    img = np.asarray(Image.open(demo_app.draw_flow_legend(tmp_path / "key.png", size=33)))
    assert img.shape == (33, 33, 3) and tuple(img[16, 16]) == (255, 255, 255)   # no motion: white
    rim = img[16, 31].astype(int)                                               # 15/16 of the full scale
    assert rim.min() < 100 and tuple(img[0, 0]) == (255, 255, 255)              # saturated; outside: white


def test_demo_cli_prints_the_page_path(run_cli, tmp_path: Path) -> None:
    r = run_cli("demo", "--out", tmp_path / "d", "--fit-frames", "0")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "d" / "index.html")
    assert "gendef fit" not in (tmp_path / "d" / "index.html").read_text()  # --fit-frames 0: no fit section
    again = run_cli("demo", "--out", tmp_path / "d")
    assert again.exit_code == 1 and "--overwrite" in again.stderr


def test_demo_records_paths_that_exist_after_it_finishes(tmp_path: Path) -> None:
    api.demo(tmp_path / "d", num=1, frames=6, fit_frames=6)    # num=1 still shows two clips side by side
    assert sorted(p.name for p in (tmp_path / "d" / "clips").iterdir()) == ["000000", "000001"]
    for recorded in (json.loads((tmp_path / "d" / "tracks.json").read_text())["clip"],
                     json.loads((tmp_path / "d" / "masks" / "manifest.json").read_text())["clip"],
                     json.loads((tmp_path / "d" / "own" / "fit" / "manifest.json").read_text())["fit"]["video"]):
        assert Path(recorded).exists(), recorded


def test_demo_of_your_own_video(tmp_path: Path) -> None:
    from PIL import Image

    from gendef_core.artifacts.clip import load_clip
    from gendef_core.artifacts.edit_images import read_label_mask
    from gendef_core.warp import warp

    video = _pan_video(tmp_path / "pan.mp4", 24)
    root = tmp_path / "demo"
    summary = api.demo(root, video=video, frames=16)
    sources = _sources(root)
    for name in (*FIT_PANELS, "scribble.png", "edited/canonical.png", "tracks.mp4", "tracks.json", "mask.png",
                 "segment.mp4", "flow/flow.mp4"):
        assert name in sources, name
    for v in (s for s in sources if s.endswith(".mp4")):
        assert probe_video(root / v).num_frames == (15 if "flow" in v else 16), v
    page = (root / "index.html").read_text()
    m = json.loads((root / "fit" / "manifest.json").read_text())
    fit = m["fit"]
    assert (m["height"], m["width"], m["num_frames"]) == (48, 64, 16) and fit["end"] == 16
    assert f"mean {fit['psnr_mean_db']:.2f} dB, min {fit['psnr_min_db']:.2f} dB per frame" in page
    assert f"{m['canonical_width']}x{m['canonical_height']} px canonical for 64x48 px frames" in page
    assert f"{fit['folded_max'] * 100:.2f} %" in page and "scene cuts" not in page
    assert summary["fit"]["psnr_mean_db"] == fit["psnr_mean_db"] and summary["video"] == str(video)

    # The edit was drawn on frame 0 at the frame size: where it was drawn (and frame 0 shows the canonical),
    # frame 0 of the edited clip shows the scribble's colours and the fitted clip does not.
    scribble = np.asarray(Image.open(root / "scribble.png"))
    assert scribble.shape == (48, 64, 4)
    fitted, edited = load_clip(root / "fit"), load_clip(root / "edited")
    assert edited.canonical.shape == fitted.canonical.shape and not torch.equal(edited.canonical, fitted.canonical)
    where = torch.from_numpy(scribble[..., 3] == 255) & fitted.visibility[0]
    assert where.float().sum() > 50
    colour = torch.from_numpy(scribble[..., :3].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
    for clip, near in ((edited, True), (fitted, False)):
        frame0 = warp(clip.canonical[None], clip.offsets[None, :1], origin=clip.origin)[0, 0]
        err = float((frame0 - colour).abs().mean(dim=0)[where].mean())
        assert (err < 0.25) if near else (err > 0.5), (near, err)

    # The mask drawn on frame 0 (at the frame size) comes back on frame 0 of the propagated masks.
    drawn = read_label_mask(root / "mask.png")
    assert drawn.shape == (48, 64) and sorted(drawn.unique().tolist()) == [0, 1, 2]
    back = read_label_mask(root / "masks" / "00000.png")
    shown = fitted.visibility[0]                      # frame-0 pixels the fit explains (all but a few here)
    assert float(shown.float().mean()) > 0.9
    one_hot = torch.nn.functional.one_hot(drawn, 3).permute(2, 0, 1).float()[None]
    interior = (-torch.nn.functional.max_pool2d(-one_hot, 3, 1, 1)[0]).sum(dim=0) == 1   # 3x3 of one label
    nearby = torch.nn.functional.max_pool2d(one_hot, 3, 1, 1)[0].gather(0, back[None])[0] > 0
    assert float((back == drawn)[interior & shown].float().mean()) > 0.98      # equal away from label edges ...
    assert float(nearby[shown].float().mean()) > 0.98                          # ... and within a pixel at them
    assert {int(v) for v in back.unique()} == {0, 1, 2}
    assert len(list((root / "masks").glob("*.png"))) == 16

    # The points are a grid on frame 0, tracked from there: frame 0 of the tracks is the grid itself.
    points = json.loads((root / "points.json").read_text())
    tracks = json.loads((root / "tracks.json").read_text())
    assert points["space"] == "frame" and points["frame"] == 0 and len(points["points"]) == 25
    np.testing.assert_allclose(tracks["tracks"][0], points["points"], atol=1e-3)


def test_demo_of_a_video_with_cuts_uses_the_first_shot(run_cli, tmp_path: Path) -> None:
    from gendef_core.data.synth import synth_video
    from gendef_core.data.video_io import write_video

    a = synth_video("pan", num_frames=10, resolution=32, seed=1).frames.numpy()
    b = synth_video("sprites", num_frames=8, resolution=32, seed=2).frames.numpy()
    write_video(tmp_path / "cut.mp4", np.concatenate([a, b]), fps=25)
    r = run_cli("demo", "--video", tmp_path / "cut.mp4", "--out", tmp_path / "d", "--quality", "fast", "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["fit"]["num_shots"] == 2 and (summary["fit"]["start"], summary["fit"]["end"]) == (0, 10)
    page = (tmp_path / "d" / "index.html").read_text()
    assert "has scene cuts</b> (before frames 10)" in page and "<b>first shot</b>, frames 0..9" in page
    _sources(tmp_path / "d")


@pytest.mark.parametrize("args, message", [
    (["--video", "VIDEO", "--ckpt", "bundled"], "--ckpt has no use with --video"),
    (["--size", "64"], "--size goes with --video"),
    (["--video", "missing.mp4"], "does not exist"),  # the one error about a file (exit 1, not 2)
    (["--fit-frames", "1"], "--fit-frames must be 0"),
    (["--quality", "superb"], "--quality must be one of"),
])
def test_demo_refuses_bad_options_before_any_work(run_cli, tmp_path: Path, args: list[str], message: str) -> None:
    video = _pan_video(tmp_path / "v.mp4", 4)
    args = [str(video) if a == "VIDEO" else str(tmp_path / a) if a == "missing.mp4" else a for a in args]
    r = run_cli("demo", "--out", tmp_path / "d", *args)
    assert r.exit_code == (1 if message == "does not exist" else 2) and message in r.stderr, r.stderr
    assert not (tmp_path / "d").exists()


def test_default_demo_adds_the_moving_objects_model_when_installed(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The section on the second bundled model (here clouds64 stands in for it): its clips, new motion, tracks
    and propagated mask exist, and its movement lines are the clips' measured movement."""
    monkeypatch.setattr(demo_app, "OBJECTS_MODEL", "clouds64")
    summary = api.demo(tmp_path / "d", num=1, frames=6, fit_frames=0)
    root = tmp_path / "d"
    page = (root / "index.html").read_text()
    assert "7. Moving objects: bundled:clouds64" in page
    for name in ("objects/clips/000000/video.mp4", "objects/clips/000001/flow.mp4", "objects/resampled/video.mp4",
                 "objects/tracks.mp4", "objects/segment.mp4", "objects/mask.png"):
        assert name in _sources(root) and (root / name).is_file(), name
    objects = summary["objects"]
    assert objects["model"] == "bundled:clouds64" and 0 < objects["tracked_visible"] <= 1
    want = [demo_app.movement(root / "objects" / "clips" / f"{i:06d}") for i in range(2)]
    want.append(demo_app.movement(root / "objects" / "resampled"))
    assert objects["movement"] == want
    assert html.escape(f"clip 0, new motion: {demo_app._movement_line(want[2])}") in page
    assert len(list((root / "objects" / "masks").glob("*.png"))) == 6
    # With a model given, the section is left out.
    other = api.demo(tmp_path / "e", ckpt="bundled:clouds64", num=1, frames=6, fit_frames=0)
    assert "objects" not in other and not (tmp_path / "e" / "objects").exists()
