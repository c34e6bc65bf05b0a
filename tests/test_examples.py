"""The scripts in examples/ run (at a tiny size) and produce what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
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
