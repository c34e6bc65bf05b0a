"""`gendef demo`: the showcase on the bundled model, and its HTML page."""

from __future__ import annotations

import re
from pathlib import Path

from gendef_core import api
from gendef_core.data.video_io import probe_video


def test_demo_writes_a_page_whose_every_video_and_picture_exists(tmp_path: Path) -> None:
    summary = api.demo(tmp_path / "demo", num=2, frames=12)
    root = tmp_path / "demo"
    page = (root / "index.html").read_text()
    sources = re.findall(r'(?:src|href)=["]?([^" >]+)', page)
    assert len(sources) >= 14
    for src in sources:
        assert (root / src).exists(), src
    for video in (s for s in sources if s.endswith(".mp4")):
        expected = 11 if "flow" in video else 12       # flow videos have T-1 frames
        assert probe_video(root / video).num_frames == expected, video
    assert summary["model"] == "bundled:clouds64" and 0 < summary["tracked_visible"] <= 1
    assert len(list((root / "masks").glob("*.png"))) == 12


def test_demo_cli_prints_the_page_path(run_cli, tmp_path: Path) -> None:
    r = run_cli("demo", "--out", tmp_path / "d")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "d" / "index.html")
    again = run_cli("demo", "--out", tmp_path / "d")
    assert again.exit_code == 1 and "--overwrite" in again.stderr


def test_demo_records_paths_that_exist_after_it_finishes(tmp_path: Path) -> None:
    import json

    api.demo(tmp_path / "d", num=1, frames=6)                   # num=1 still shows two clips side by side
    assert sorted(p.name for p in (tmp_path / "d" / "clips").iterdir()) == ["000000", "000001"]
    for recorded in (json.loads((tmp_path / "d" / "tracks.json").read_text())["clip"],
                     json.loads((tmp_path / "d" / "masks" / "manifest.json").read_text())["clip"]):
        assert Path(recorded).is_dir(), recorded
