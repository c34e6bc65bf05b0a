"""The bundled model (package data), `gendef info` without a path, and `gendef export`."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from gendef_core import api
from gendef_core.artifacts.checkpoint import load_checkpoint
from gendef_core.artifacts.clip import load_clip
from gendef_core.models.bundled import BUNDLED, bundled_path


def test_the_bundled_model_is_a_small_valid_exported_checkpoint() -> None:
    path = bundled_path()
    ck = load_checkpoint(path)  # validates the manifest and every file's sha256
    assert set(ck.networks) == {"canonical_ema", "deformation_ema"}
    assert ck.config["stage"] == "finetune" and ck.config["model"]["variant"] == "gendef"
    assert sum(f.stat().st_size for f in path.iterdir()) <= 10 * 2**20
    assert (path / "MODEL_CARD.md").is_file()


def test_info_without_a_path_describes_the_bundled_model(run_cli) -> None:
    r = run_cli("info")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["bundled"] == f"bundled:{BUNDLED}" and doc["resolution"] == 64
    assert doc["model_card"].endswith("MODEL_CARD.md")


def test_export_keeps_only_the_ema_generator_and_samples_identically(run_cli, tiny_ckpt: Path, tmp_path: Path) -> None:
    r = run_cli("export", tiny_ckpt, "--out", tmp_path / "model")
    assert r.exit_code == 0 and r.stdout.strip() == str(tmp_path / "model"), r.stderr
    ck = load_checkpoint(tmp_path / "model")
    assert set(ck.networks) == {"canonical_ema", "deformation_ema"} and ck.train_state is None
    assert ck.metadata["exported_step"] == load_checkpoint(tiny_ckpt).step
    a = load_clip(api.sample(tmp_path / "a", ckpt=tiny_ckpt, frames=5, seed=4, device="cpu")[0])
    b = load_clip(api.sample(tmp_path / "b", ckpt=tmp_path / "model", frames=5, seed=4, device="cpu")[0])
    assert torch.equal(a.canonical, b.canonical) and torch.equal(a.offsets, b.offsets)
    again = run_cli("export", tiny_ckpt, "--out", tmp_path / "model")
    assert again.exit_code == 1 and "--overwrite" in again.stderr


def test_bundled_names_must_be_plain_names(tmp_path: Path) -> None:
    import pytest

    from gendef_core.errors import ArtifactError

    with pytest.raises(ArtifactError, match="is not installed"):
        api.sample(tmp_path / "x", ckpt="bundled:../bundled/clouds64")


def test_no_shipped_bundled_file_holds_an_absolute_path() -> None:
    import re

    root = bundled_path().parent
    files = [f for f in root.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    assert any(f.name == "manifest.json" for f in files)
    # a POSIX path of two or more components, or a Windows drive path, in any file (the weights' headers too)
    machine_path = re.compile(rb"""(?<![\w.:/])/(?:home|root|tmp|work|Users|usr|var|opt|mnt|srv)/|[A-Za-z]:\\\\""")
    assert [str(f) for f in files if machine_path.search(f.read_bytes())] == []
    for f in files:
        if f.suffix == ".json":
            strings = re.findall(r'"((?:[^"\\]|\\.)*)"', f.read_text())
            assert [s for s in strings if s.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", s)] == [], f


def test_info_of_the_bundled_model_shows_where_it_came_from_without_machine_paths(run_cli) -> None:
    doc = json.loads(run_cli("info").stdout)
    assert "exported_from" not in doc["metadata"]
    assert doc["metadata"]["exported_checkpoint"] == "step-00000208" and doc["metadata"]["exported_step"] == 208
    assert load_checkpoint(bundled_path()).config["init_from"] is None


def test_sample_names_the_bundled_model_as_clips_record_it(run_cli, tmp_path: Path) -> None:
    r = run_cli("sample", "--out", tmp_path / "c", "--frames", "2")
    assert r.exit_code == 0, r.stderr
    assert f"from bundled:{BUNDLED}" in r.stderr and "gendef_core" not in r.stderr
    assert load_clip(tmp_path / "c").checkpoint == f"bundled:{BUNDLED}"


def test_export_writes_no_machine_paths(run_cli, tiny_ckpt: Path, tmp_path: Path) -> None:
    r = run_cli("export", tiny_ckpt, "--out", tmp_path / "model")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.startswith("exported canonical_ema, deformation_ema of step")
    text = "".join((tmp_path / "model" / name).read_text() for name in ("manifest.json", "config.json"))
    assert str(tmp_path) not in text and str(tiny_ckpt) not in text and str(tiny_ckpt.resolve()) not in text
    ck = load_checkpoint(tmp_path / "model")
    source = load_checkpoint(tiny_ckpt)
    assert ck.metadata["exported_checkpoint"] == source.path.name and "exported_from" not in ck.metadata
    assert ck.metadata["pretrained_checkpoint"] == Path(source.config["init_from"]).name
    assert ck.config["init_from"] is None
