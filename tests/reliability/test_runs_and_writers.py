"""Issue 16, section 2: no output silently lost. A torn run log, leftovers of a killed attempt, a damaged
latest checkpoint, and two writers on one output, each through the CLI (one `error:` line or a warning,
the right exit code, nothing half-written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from gendef_core import api
from gendef_core.artifacts.checkpoint import list_checkpoints, load_checkpoint
from gendef_core.artifacts.common import atomic_dir
from gendef_core.errors import ArtifactError


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rel") / "clouds"
    api.synth_dataset("clouds", path, num_videos=2, num_frames=8, resolution=16, seed=0)
    return path


def _pretrain(run_cli, data: Path, out: Path, steps: int, *more: str):
    return run_cli("pretrain", "--data", data, "--out", out, "--preset", "tiny", "--steps", str(steps),
                   "--set", "save_every=2", "--set", "keep_last=5", "-q", *more)


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(ckpt).load_network("canonical")


def test_a_torn_log_line_neither_stops_a_resume_nor_a_restart(run_cli, data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _pretrain(run_cli, data, run, 2).exit_code == 0
    log = run / "events.jsonl"
    whole = log.read_text()
    log.write_text(whole + '{"step": 3, "loss_d": 0.5, "lo')          # a kill (or ENOSPC) mid-line
    r = _pretrain(run_cli, data, run, 4, "--resume")
    assert r.exit_code == 0 and "Traceback" not in r.stderr, r.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]  # every line parses again
    assert [rec["step"] for rec in records] == sorted(rec["step"] for rec in records) and records[-1]["step"] == 4
    # A fresh start over an attempt that never reached a checkpoint, with a torn log: works too.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "events.jsonl").write_text('{"step": 1}\n{"ste')
    r = _pretrain(run_cli, data, fresh, 2)
    assert r.exit_code == 0, r.stderr
    assert all(json.loads(line) for line in (fresh / "events.jsonl").read_text().splitlines())


def test_leftovers_of_a_killed_attempt_are_cleaned_and_pruning_leaves_no_half_checkpoint(
        run_cli, data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _pretrain(run_cli, data, run, 2).exit_code == 0
    junk = [run / ".train-state-abc123", run / "checkpoints" / ".step-00000004.partial-1234abcd",
            run / "checkpoints" / ".step-00000002.deleting-99999999"]
    for p in junk:
        p.mkdir()
        (p / "half.safetensors").write_bytes(b"\0" * 64)
    assert _pretrain(run_cli, data, run, 4, "--resume").exit_code == 0
    assert not any(p.exists() for p in junk)
    hidden = [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    assert hidden == [] and [p.name for p in list_checkpoints(run)] == ["step-00000002", "step-00000004"]


def test_resume_falls_back_past_a_damaged_latest_checkpoint(run_cli, data: Path, tmp_path: Path) -> None:
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert _pretrain(run_cli, data, straight, 6).exit_code == 0
    assert _pretrain(run_cli, data, run, 4).exit_code == 0
    latest = list_checkpoints(run)[-1]
    f = latest / "canonical.safetensors"
    f.write_bytes(f.read_bytes()[:-100])                                    # truncated by a kill or a full disk
    r = _pretrain(run_cli, data, run, 6, "--resume")
    assert r.exit_code == 0, r.stderr
    assert f"{latest} cannot be resumed" in r.stderr and "falling back" in r.stderr
    # It went on from step 2 and is exactly the uninterrupted run again (the broken step 4 was rewritten).
    for a, b in zip((straight, run), (run, straight), strict=True):
        assert [p.name for p in list_checkpoints(a)] == [p.name for p in list_checkpoints(b)]
    for name, t in _weights(list_checkpoints(straight)[-1]).items():
        assert torch.equal(t, _weights(list_checkpoints(run)[-1])[name]), name
    load_checkpoint(list_checkpoints(run)[1])                             # step 4 is whole again


def test_resume_with_every_checkpoint_damaged_is_one_error(run_cli, data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _pretrain(run_cli, data, run, 2).exit_code == 0
    for ck in list_checkpoints(run):
        (ck / "discriminator.safetensors").write_bytes(b"garbage")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    r = _pretrain(run_cli, data, run, 4, "--resume")
    assert r.exit_code == 1 and r.stderr.count("error:") == 1 and "Traceback" not in r.stderr
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # nothing written


def test_a_second_writer_on_one_output_does_not_replace_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ArtifactError, match="appeared while this command was writing it"):
        with atomic_dir(out, what="dataset") as tmp:
            (tmp / "mine.txt").write_text("second writer")
            out.mkdir()                                                     # the first writer finishes meanwhile
            (out / "theirs.txt").write_text("first writer")
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]               # the first output is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out"]                 # and no partial left behind
    with atomic_dir(out, overwrite=True) as tmp:                           # --overwrite still replaces
        (tmp / "mine.txt").write_text("x")
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_two_data_synth_on_one_out_through_the_cli(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While `data synth` writes, another process publishes the same --out: it exits 1, the other's stays."""
    from gendef_core.data import synth_dataset as sd

    out = tmp_path / "data"
    real = sd.synth_video

    def racing(*args, **kwargs):
        if not out.exists():
            shutil.copytree(tmp_path / "other", out)
        return real(*args, **kwargs)

    assert run_cli("data", "synth", "--kind", "clouds", "--out", tmp_path / "other", "--num-videos", "1",
                   "--frames", "2", "--resolution", "16", "-q").exit_code == 0
    monkeypatch.setattr(sd, "synth_video", racing)
    r = run_cli("data", "synth", "--kind", "sprites", "--out", out, "--num-videos", "1", "--frames", "2",
                "--resolution", "16")
    assert r.exit_code == 1 and r.stdout == "", r.stderr
    assert r.stderr.count("error:") == 1 and "appeared while this command was writing it" in r.stderr
    assert "--overwrite" in r.stderr and "Traceback" not in r.stderr
    assert json.loads((out / "manifest.json").read_text())["source"]["synth_kind"] == "clouds"  # intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "other"]


def test_a_kill_during_pruning_leaves_no_visible_half_checkpoint(run_cli, data: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Pruning renames a checkpoint aside before deleting it: a kill between the two (simulated: the delete
    never happens) leaves only whole, listed checkpoints and a hidden leftover the next start removes."""
    from gendef_core.artifacts import checkpoint

    run = tmp_path / "run"
    monkeypatch.setattr(checkpoint.shutil, "rmtree", lambda *a, **k: None)   # killed before the delete
    assert run_cli("pretrain", "--data", data, "--out", run, "--preset", "tiny", "--steps", "4", "--set",
                   "save_every=1", "--set", "keep_last=2", "-q").exit_code == 0
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    visible = [n for n in names if not n.startswith(".")]
    assert visible == ["step-00000003", "step-00000004"]                        # whole ones only
    assert len(names) == 4 and all(".deleting-" in n for n in names if n.startswith("."))
    for name in visible:
        load_checkpoint(run / "checkpoints" / name)                               # each verifies
    monkeypatch.undo()
    assert _pretrain(run_cli, data, run, 5, "--resume").exit_code == 0
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]


def test_a_second_writer_on_one_file_does_not_replace_the_first(run_cli, tiny_ckpt: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`track --out T.json` while another command publishes T.json: it fails and says so (a file output is
    placed with a hard link, which never replaces); with --overwrite it replaces, as asked."""
    from gendef_core.apps import track as track_app

    clip = api.sample(tmp_path / "clip", ckpt=tiny_ckpt, frames=3)[0]
    (tmp_path / "p.json").write_text(json.dumps([[2.0, 2.0]]))
    out = tmp_path / "t.json"
    real = track_app.write_tracks

    def racing(path, doc, **kw):
        out.write_text("the other command's tracks")
        return real(path, doc, **kw)

    monkeypatch.setattr(track_app, "write_tracks", racing)
    r = run_cli("track", clip, "--points", tmp_path / "p.json", "--out", out)
    assert r.exit_code == 1 and r.stderr.count("error:") == 1, r.stderr
    assert "appeared while this command was writing it" in r.stderr and "--overwrite" in r.stderr
    assert out.read_text() == "the other command's tracks"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no partial left
    r = run_cli("track", clip, "--points", tmp_path / "p.json", "--out", out, "--overwrite")
    assert r.exit_code == 0 and json.loads(out.read_text())["format"] == "gendef.tracks"


def test_an_overlay_that_appears_meanwhile_is_not_replaced(run_cli, tiny_ckpt: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from gendef_core.data import video_io

    clip = api.sample(tmp_path / "clip", ckpt=tiny_ckpt, frames=3)[0]
    (tmp_path / "p.json").write_text(json.dumps([[2.0, 2.0]]))
    overlay = tmp_path / "o.mp4"
    real_exit = video_io.VideoWriter.__exit__

    def racing_exit(self, *exc):
        overlay.write_bytes(b"the other command's video")
        return real_exit(self, *exc)

    monkeypatch.setattr(video_io.VideoWriter, "__exit__", racing_exit)
    r = run_cli("track", clip, "--points", tmp_path / "p.json", "--overlay", overlay)
    assert r.exit_code == 1 and "appeared while this command was writing it" in r.stderr, r.stderr
    assert overlay.read_bytes() == b"the other command's video"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_output_that_is_a_symbolic_link_is_refused(run_cli, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for out in ("link", "dangling"):
        r = run_cli("data", "synth", "--kind", "clouds", "--out", tmp_path / out, "--num-videos", "1", "--frames",
                    "2", "--resolution", "16", "--overwrite")
        assert r.exit_code == 1 and r.stderr.count("error:") == 1 and "is a symbolic link" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "link", "real"]
    assert list((tmp_path / "real").iterdir()) == []
