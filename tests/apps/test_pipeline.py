"""Tracking against the synthetic datasets' exact ground truth, and the sample -> edit -> track -> segment
round trip through the installed `gendef` command in a real shell pipeline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gendef_core import api
from gendef_core.artifacts.clip import load_clip
from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth
from gendef_core.artifacts.edit_images import overlay_from_uint8
from gendef_core.edit import composite, propagate_labels


def test_tracks_of_clouds_clips_match_the_ground_truth_tracks(tmp_path: Path) -> None:
    data = tmp_path / "clouds"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=20, resolution=32, seed=7)
    info = load_dataset_info(data)
    for i, video in enumerate(info.videos):
        clip = api.dataset_clip(data, tmp_path / f"clip{i}", video=video.name)
        gt = load_ground_truth(info, video.name)
        pts = tmp_path / f"pts{i}.json"
        pts.write_text(json.dumps(gt.query_points.tolist()))  # clouds queries are canonical points
        doc = api.track(clip, pts)
        tracks = torch.tensor(doc["tracks"])
        visible = torch.tensor(doc["visible"])
        assert torch.equal(visible, gt.visible)
        err = (tracks - gt.tracks).norm(dim=-1)[gt.visible]
        # The ground truth inverts the analytic field, we invert its bilinear interpolation between pixels.
        assert err.max() < 0.03, float(err.max())
        assert max(max(r) for r in doc["residual"]) < 1e-4


def test_a_zero_deformation_keeps_frame_queries_exactly_where_they_were_drawn(tmp_path: Path) -> None:
    from gendef_core.artifacts.clip import Clip
    from gendef_core.clips import save_clip

    clip = save_clip(Clip(canonical=torch.zeros(3, 16, 16), offsets=torch.zeros(5, 2, 16, 16)), tmp_path / "still")
    pts = tmp_path / "pts.json"
    pts.write_text(json.dumps({"space": "frame", "frame": 2, "points": [[0, 0], [15, 15], [3.25, 7.5]]}))
    doc = api.track(clip, pts)
    assert np.array_equal(np.array(doc["tracks"]), np.tile([[0, 0], [15, 15], [3.25, 7.5]], (5, 1, 1)))
    assert all(all(v) for v in doc["visible"])


def _gendef() -> str:
    exe = Path(sys.executable).parent / "gendef"
    found = str(exe) if exe.is_file() else shutil.which("gendef")
    if found is None:
        pytest.skip("the gendef console script is not installed")
    return found


def test_sample_edit_track_segment_in_a_shell_pipeline(tiny_ckpt: Path, tmp_path: Path) -> None:
    overlay = np.zeros((16, 16, 4), np.uint8)
    overlay[4:9, 5:12] = (255, 40, 0, 255)
    Image.fromarray(overlay).save(tmp_path / "scribble.png")
    mask = np.zeros((16, 16), np.uint8)
    mask[2:10, 3:13] = 1
    Image.fromarray(mask * 255).save(tmp_path / "mask.png")
    (tmp_path / "pts.json").write_text("[[4, 4], [8.5, 6], [12, 11]]")
    script = """
set -eu
clip=$("$GENDEF" sample --ckpt "$CKPT" --out "$D/clip" --frames 12 --seed 3 -q)
edited=$("$GENDEF" edit "$clip" --scribble "$D/scribble.png" -q)
"$GENDEF" track "$edited" --points "$D/pts.json" -q > "$D/tracks.json"
masks=$("$GENDEF" segment "$edited" --mask "$D/mask.png" -q)
echo "$edited"
echo "$masks"
"""
    env = {**os.environ, "GENDEF": _gendef(), "CKPT": str(tiny_ckpt), "D": str(tmp_path)}
    env.pop("GENDEF_DEBUG", None)
    run = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    edited, masks = (Path(line) for line in run.stdout.split())
    assert edited == tmp_path / "clip-edited" and masks == tmp_path / "clip-edited-masks"

    original = load_clip(tmp_path / "clip")
    clip = load_clip(edited)
    assert torch.equal(clip.offsets, original.offsets)
    assert torch.equal(clip.canonical, composite(original.canonical, overlay_from_uint8(overlay)))
    doc = json.loads((tmp_path / "tracks.json").read_text())
    assert doc == api.track(edited, tmp_path / "pts.json") | {"clip": str(edited)}
    assert len(doc["tracks"]) == 12 and len(doc["tracks"][0]) == 3
    labels = propagate_labels(torch.from_numpy(mask.astype(np.int64)), clip.offsets)
    pngs = sorted(masks.glob("*.png"))
    assert [p.name for p in pngs] == [f"{t:05d}.png" for t in range(12)]
    for t, p in enumerate(pngs):
        with Image.open(p) as im:
            assert im.mode == "P"
            assert np.array_equal(np.asarray(im), labels[t].numpy())


def test_default_outputs_of_a_clip_given_as_dot_are_siblings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gendef_core.artifacts.clip import Clip
    from gendef_core.clips import save_clip

    clip = save_clip(Clip(canonical=torch.zeros(3, 8, 8), offsets=torch.zeros(3, 2, 8, 8)), tmp_path / "still")
    Image.fromarray(np.full((8, 8, 4), 255, np.uint8)).save(tmp_path / "white.png")
    Image.fromarray(np.ones((8, 8), np.uint8)).save(tmp_path / "mask.png")
    monkeypatch.chdir(clip)
    assert api.edit(Path("."), scribble=tmp_path / "white.png")["clip"] == str(tmp_path / "still-edited")
    assert api.segment(Path("."), tmp_path / "mask.png")["path"] == str(tmp_path / "still-masks")
    assert api.flow(Path("."))["path"] == str(tmp_path / "still-flow")
