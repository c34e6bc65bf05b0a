"""The one header helper every format reads and writes through, the fps codec, the run config and the
artifact writers that take already-rendered files (clip, flow, masks)."""

from __future__ import annotations

import json
import os
import re
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from gendef_core import __version__
from gendef_core.artifacts.clip import Clip, load_clip, read_clip_manifest, write_clip
from gendef_core.artifacts.common import check_header, fps_from_json, fps_to_json, header, write_json_atomic
from gendef_core.artifacts.flow import FLOW_CONVENTION, write_flow
from gendef_core.artifacts.masks import MASKS_CONVENTION, mask_name, write_masks_manifest
from gendef_core.artifacts.runconfig import read_run_config, write_run_config
from gendef_core.artifacts.tensors import load_tensors, save_tensors
from gendef_core.errors import ArtifactError


def raises(match: str):
    return pytest.raises(ArtifactError, match=re.escape(match))


def test_check_header_is_the_reading_side_of_header(tmp_path: Path) -> None:
    where = tmp_path / "x.json"
    assert check_header(header("gendef.thing", 2), where, fmt="gendef.thing", version=2, what="thing",
                        hint="fix") == header("gendef.thing", 2)
    with raises(f"{where}: format 'gendef.other' is not 'gendef.thing'; make one"):
        check_header(header("gendef.other", 1), where, fmt="gendef.thing", version=2, what="thing", hint="make one")
    with raises(f"{where}: format 'list' is not 'gendef.thing'; fix"):
        check_header([], where, fmt="gendef.thing", version=2, what="thing", hint="fix")
    with raises(f"{where}: thing format v3 is newer than this gendef ({__version__}) reads (v2); upgrade gendef"):
        check_header(header("gendef.thing", 3), where, fmt="gendef.thing", version=2, what="thing", hint="fix")
    with raises(f"{where}: no migration from thing format v1; upgrade gendef"):
        check_header(header("gendef.thing", 1), where, fmt="gendef.thing", version=2, what="thing", hint="fix")


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001), Fraction(1, 3)])
def test_fps_round_trips_exactly(tmp_path: Path, fps: Fraction) -> None:
    doc = json.loads(json.dumps({"fps": fps_to_json(fps)}))
    assert fps_from_json(doc, tmp_path) == fps


@pytest.mark.parametrize("value", [[25, 0], [0, 1], [-25, 1], [25], [25, 1, 1], [True, 1], [25.0, 1], "25"])
def test_fps_from_json_refuses_anything_but_two_positive_integers(tmp_path: Path, value: object) -> None:
    where = tmp_path / "manifest.json"
    with raises(f"{where}: "):
        fps_from_json({"fps": value}, where)


def test_run_config_round_trip_with_a_header(tmp_path: Path) -> None:
    path = write_run_config(tmp_path / "config.json", {"seed": 3, "model": {"resolution": 16}})
    assert json.loads(path.read_text()) == {"format": "gendef.config", "format_version": 1,
                                            "gendef_version": __version__,
                                            "config": {"seed": 3, "model": {"resolution": 16}}}
    assert read_run_config(path) == {"seed": 3, "model": {"resolution": 16}}
    write_json_atomic(path, {**header("gendef.config", 2), "config": {}})
    with raises(f"{path}: config format v2 is newer than this gendef ({__version__}) reads (v1); upgrade gendef"):
        read_run_config(path, allow_headerless=True)  # a header is always checked


def test_run_config_without_a_header_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"config": {"seed": 1}}))
    assert read_run_config(path, allow_headerless=True) == {"seed": 1}
    with raises(f"{path}: format None is not 'gendef.config'; give a config.json written by gendef"):
        read_run_config(path)
    path.write_text(json.dumps({"seed": 2}))  # the bare config object
    assert read_run_config(path, allow_headerless=True) == {"seed": 2}
    path.write_text("[1, 2]")
    with raises(f"{path}: the config must be a JSON object"):
        read_run_config(path, allow_headerless=True)


def test_tensor_files_follow_the_umask_at_write_time(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        save_tensors(tmp_path / "t.safetensors", {"x": torch.zeros(2)})
        write_json_atomic(tmp_path / "m.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "t.safetensors").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o640


def test_write_clip_writes_a_clip_around_the_files_already_there(tmp_path: Path) -> None:
    clip = Clip(canonical=torch.zeros(3, 4, 5), offsets=torch.zeros(2, 2, 4, 5), fps=Fraction(24), source="test")
    (tmp_path / "video.mp4").write_bytes(b"")  # write_clip never looks at the videos it is told about
    write_clip(clip, tmp_path, videos={"video.mp4": {"num_frames": 2}})
    m = read_clip_manifest(tmp_path)
    assert (m["fps"], m["videos"], sorted(m["files"])) == ([24, 1], {"video.mp4": {"num_frames": 2}},
                                                           ["canonical.safetensors", "deform.safetensors"])
    assert torch.equal(load_clip(tmp_path).offsets, clip.offsets)


def test_write_flow(tmp_path: Path) -> None:
    flow = torch.zeros(2, 2, 3, 4)
    flow[:, 0] = 3.0
    valid = torch.ones(2, 3, 4, dtype=torch.bool)
    valid[1] = False
    m = write_flow(tmp_path, clip="c", flow=flow, valid=valid, fps=Fraction(30000, 1001), flow_max=3.0,
                   videos={"flow.mp4": {"num_frames": 2}})
    assert json.loads((tmp_path / "manifest.json").read_text()) == m
    assert {k: m[k] for k in ("format", "format_version", "num_frames", "height", "width", "fps", "convention",
                              "valid_fraction", "mean_magnitude")} == {
        "format": "gendef.flow", "format_version": 1, "num_frames": 2, "height": 3, "width": 4, "fps": [30000, 1001],
        "convention": FLOW_CONVENTION, "valid_fraction": 0.5, "mean_magnitude": 3.0}
    tensors = load_tensors(tmp_path / "flow.safetensors", fix="")
    assert torch.equal(tensors["flow"], flow) and torch.equal(tensors["valid"], valid)


def test_write_masks_manifest(tmp_path: Path) -> None:
    labels = torch.zeros(2, 2, 4, dtype=torch.long)
    labels[0, 0, :2] = 3
    m = write_masks_manifest(tmp_path, clip="c", mask="m.png", frame=None, mode="nearest", labels=labels, ids=[0, 3])
    assert json.loads((tmp_path / "manifest.json").read_text()) == m == {
        **header("gendef.masks", 1), "clip": "c", "mask": "m.png", "frame": None, "mode": "nearest", "num_frames": 2,
        "height": 2, "width": 4, "labels": [0, 3], "convention": MASKS_CONVENTION,
        "area": {"0": [0.75, 1.0], "3": [0.25, 0.0]}}
    assert mask_name(7) == "00007.png"
