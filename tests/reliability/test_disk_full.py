"""Issue 16, section 3: a full disk under every kind of writer is one `error:` line (what could not be
written, how much had been written, the fix), exit 1, and nothing half-written is left. ENOSPC is
simulated in the writer (a real tiny tmpfs needs privileges CI does not have)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from gendef_core import api
from tests.cli.test_apps_bad_input import assert_error, tree


def _full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_after(n: int, real):
    """`real`, which fails with ENOSPC from its n-th call on (n - 1 calls succeed: something was written)."""
    calls = {"n": 0}

    def writer(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[0]) if args else None)
        return real(*args, **kwargs)

    return writer


def test_data_synth_on_a_full_disk(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gendef_core.data import synth_dataset as sd

    monkeypatch.setattr(sd, "write_video_frames", _full_after(3, sd.write_video_frames))
    r = run_cli("data", "synth", "--kind", "clouds", "--out", tmp_path / "data", "--num-videos", "4", "--frames",
                "4", "--resolution", "16")
    line = assert_error(r, "no space left on the device to write", str(tmp_path / "data"), "free space")
    assert "KiB written when the disk filled up" in line          # two videos were written before it filled
    assert tree(tmp_path) == {}                                    # no dataset, no hidden partial


def _safetensors_full(*args: object, **kwargs: object) -> None:
    """What safetensors raises on a full disk (seen on a 300 KiB tmpfs): its own error type, not an OSError."""
    from safetensors import SafetensorError

    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_sample_on_a_full_disk(run_cli, tiny_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file", _safetensors_full)
    r = run_cli("sample", "--ckpt", tiny_ckpt, "--out", tmp_path / "clip", "--frames", "3")
    assert_error(r, "no space left on the device to write", str(tmp_path / "clip"))
    assert tree(tmp_path) == {}


def test_a_json_output_on_a_full_disk(run_cli, tiny_ckpt: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    clip = api.sample(tmp_path / "clip", ckpt=tiny_ckpt, frames=3)[0]
    (tmp_path / "p.json").write_text(json.dumps([[2.0, 2.0]]))
    before = tree(tmp_path)
    from gendef_core.artifacts import common

    monkeypatch.setattr(common.os, "fsync", _full)
    r = run_cli("track", clip, "--points", tmp_path / "p.json", "--out", tmp_path / "t.json")
    assert_error(r, "no space left on the device to write", str(tmp_path / "t.json"))
    assert tree(tmp_path) == before


def test_a_video_on_a_full_disk(run_cli, tiny_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = api.sample(tmp_path / "clip", ckpt=tiny_ckpt, frames=3, flow=False)[0]
    before = tree(tmp_path)
    from gendef_core.data import video_io

    monkeypatch.setattr(video_io.VideoWriter, "write", _full)
    r = run_cli("render", clip, "--flow")
    assert_error(r, "no space left on the device", "flow.mp4")
    assert tree(tmp_path) == before                                # no flow.mp4, no partial, manifest unchanged
    monkeypatch.undo()
    import av

    class FullContainer:  # the encoder's last packets hit the full disk when the file is closed
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def close(self) -> None:
            self.real.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: FullContainer(real_open(*a, **k)))
    r = run_cli("render", clip, "--flow")
    line = assert_error(r, "no space left on the device to write", str(clip / "flow.mp4"))
    assert ".partial" not in line and tree(tmp_path) == before


def test_training_checkpoint_on_a_full_disk(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api.synth_dataset("clouds", tmp_path / "d", num_videos=2, num_frames=6, resolution=16, seed=0)
    import safetensors.torch

    real = safetensors.torch.save_file
    calls = {"n": 0}

    def full_on_second(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs) if calls["n"] < 2 else _safetensors_full()

    monkeypatch.setattr(safetensors.torch, "save_file", full_on_second)
    r = run_cli("pretrain", "--data", tmp_path / "d", "--out", tmp_path / "run", "--preset", "tiny", "--steps", "2",
                "-q")
    assert_error(r, "no space left on the device to write", "step-00000002")
    ckpts = tmp_path / "run" / "checkpoints"
    assert not ckpts.exists() or list(ckpts.iterdir()) == []        # no half checkpoint, visible or hidden
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]


def test_any_other_writer_on_a_full_disk_is_one_line_too(run_cli, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer outside the artifact helpers (here the run log's append) still gives one line, exit 1."""
    api.synth_dataset("clouds", tmp_path / "d", num_videos=2, num_frames=6, resolution=16, seed=0)
    from gendef_core.training import loop

    monkeypatch.setattr(loop, "append_event", _full)
    r = run_cli("pretrain", "--data", tmp_path / "d", "--out", tmp_path / "run", "--preset", "tiny", "--steps", "2",
                "--set", "log_every=1", "-q")
    assert_error(r, "no space left on the device", "free space there or write elsewhere")
