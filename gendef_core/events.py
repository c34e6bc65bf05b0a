"""Progress reporting. The library never prints: long functions take an `on_event` callback.

The CLI renders these events with rich on stderr; Python users can pass any callable or
leave the default, which drops them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """`completed` of `total` units of `task` are done (total None = unknown)."""

    task: str
    completed: int
    total: int | None = None


@dataclass(frozen=True)
class Warning:
    """Something was skipped or adjusted; the work goes on."""

    message: str


@dataclass(frozen=True)
class Info:
    """A one-line informational message (e.g. a summary)."""

    message: str


Event = Progress | Warning | Info
OnEvent = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default `on_event`: drop the event."""
