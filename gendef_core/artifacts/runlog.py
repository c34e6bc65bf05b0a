"""A run's log, ``RUN/events.jsonl`` (FORMATS.md, "Run"): one JSON object per logged training step."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from gendef_core.artifacts.common import naming_full_disk, write_bytes_atomic

EVENTS = "events.jsonl"


def append_event(run: Path, record: Mapping[str, object]) -> None:
    """Append one record (a line) to ``run/events.jsonl`` (a full disk: one error naming the log; a torn last
    line is dropped when the run starts again, `truncate_events`)."""
    path = Path(run) / EVENTS
    with naming_full_disk(path), open(path, "a") as f:
        f.write(json.dumps(dict(record)) + "\n")


def _record(line: str) -> dict[str, object] | None:
    """A log line's record, or None for a line that is not one: a torn last line (a kill or a full disk in
    the middle of a write) or anything else that is not a JSON object."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return rec if isinstance(rec, dict) else None


def truncate_events(run: Path, step: int) -> None:
    """Drop the records past `step` (logged by an attempt after the checkpoint a run resumes from) and any
    line that is not a record (a torn last line), so the log a run continues is whole again."""
    path = Path(run) / EVENTS
    if not path.exists():
        return
    kept = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        rec = _record(line)
        s = rec.get("step", 0) if rec is not None else None
        if rec is not None and isinstance(s, int) and not isinstance(s, bool) and s <= step:
            kept.append(line)
    write_bytes_atomic(path, "".join(line + "\n" for line in kept).encode())
