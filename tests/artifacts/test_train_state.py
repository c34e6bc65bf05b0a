"""A checkpoint's train_state/: optimizer moments round-trip exactly; the header is checked, old files still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gendef_core.artifacts.train_state import load_train_state, save_train_state
from gendef_core.errors import ArtifactError


def _adam() -> torch.optim.Adam:
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(3, 2))
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.randn(3, 2)
    opt.step()
    return opt


def test_round_trip_header_and_legacy(tmp_path: Path) -> None:
    opt = _adam()
    d = save_train_state(tmp_path / "ts", {"optimizer_g": opt}, {"step": 7, "images_seen": 70})
    meta = json.loads((d / "state.json").read_text())
    assert meta["format"] == "gendef.train_state" and meta["format_version"] == 1
    fresh = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3, 2))], lr=0.1)
    assert load_train_state(d, {"optimizer_g": fresh}) == {"step": 7, "images_seen": 70}
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    # gendef <= 0.6.0 wrote no header
    legacy = {k: v for k, v in meta.items() if k not in ("format", "format_version", "gendef_version")}
    (d / "state.json").write_text(json.dumps(legacy))
    assert load_train_state(d, {"optimizer_g": fresh})["step"] == 7
    (d / "state.json").write_text(json.dumps({**meta, "format_version": 2}))
    with pytest.raises(ArtifactError, match="newer than this gendef"):
        load_train_state(d, {"optimizer_g": fresh})
