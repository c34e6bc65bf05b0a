"""A run's log, ``RUN/events.jsonl`` (FORMATS.md, "Run"): one JSON object per logged training step."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from gendef_core.artifacts.common import write_bytes_atomic

EVENTS = "events.jsonl"


def append_event(run: Path, record: Mapping[str, object]) -> None:
    """Append one record (a line) to ``run/events.jsonl``."""
    with open(Path(run) / EVENTS, "a") as f:
        f.write(json.dumps(dict(record)) + "\n")


def truncate_events(run: Path, step: int) -> None:
    """Drop the records past `step` (logged by an attempt after the checkpoint a run resumes from)."""
    path = Path(run) / EVENTS
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    write_bytes_atomic(path, "".join(line + "\n" for line in kept).encode())
