"""The busy-machine warning: torch threads competing with other work for too few cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gendef_core import devices


@pytest.mark.parametrize("load, threads, warns", [(9.0, 2, True), (9.0, 1, False), (0.5, 2, False)])
def test_oversubscription(monkeypatch: pytest.MonkeyPatch, load: float, threads: int, warns: bool) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    msg = devices.oversubscription(threads)
    assert (msg is not None) == warns
    if msg:
        assert "load 9.0 on 2 cores" in msg and "2 threads" in msg and "OMP_NUM_THREADS=1" in msg
        monkeypatch.setenv("OMP_NUM_THREADS", "2")  # chosen by the user: no advice
        assert devices.oversubscription(threads) is None


def test_training_warns_on_a_busy_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gendef_core import api
    from gendef_core.events import Warning as GendefWarning

    api.synth_dataset("clouds", tmp_path / "d", num_videos=1, num_frames=4, resolution=16, seed=0)
    import gendef_core.training.loop as loop

    monkeypatch.setattr(loop, "oversubscription", lambda: "busy!")
    events: list[object] = []
    api.pretrain(tmp_path / "d", tmp_path / "run", api.resolve_train_config("pretrain", preset="tiny", steps=1),
                 on_event=events.append)
    assert [e.message for e in events if isinstance(e, GendefWarning)] == ["busy!"]
