"""Turn library events into rich progress bars and messages on stderr (stdout stays for results)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape

from gendef_core.events import Event, Info, OnEvent, Progress, Warning

err_console = Console(stderr=True, highlight=False)


@contextlib.contextmanager
def progress_to_stderr(quiet: bool = False) -> Iterator[OnEvent]:
    """Yield an `on_event` that shows progress bars (on a terminal only) and warnings/infos (their backticked
    parameters as the invoked command's options, `gendef_cli.main.cli_message`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as Bars

    live = err_console.is_terminal and not quiet and not os.environ.get("CI")
    bars = Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TimeRemainingColumn(), console=err_console, transient=True, disable=not live)
    tasks: dict[str, TaskID] = {}

    def words(message: str) -> str:  # library messages name parameters in backticks: show the options typed
        from gendef_cli.main import cli_message, invoked_args

        return cli_message(message, invoked_args())

    def on_event(event: Event) -> None:
        if isinstance(event, Progress):
            if event.task not in tasks:
                tasks[event.task] = bars.add_task(event.task, total=event.total)
            bars.update(tasks[event.task], completed=event.completed, total=event.total)
        elif isinstance(event, Warning):
            bars.console.print(f"[yellow]warning:[/] {escape(words(event.message))}", soft_wrap=True)
        elif isinstance(event, Info) and not quiet:
            bars.console.print(escape(words(event.message)), soft_wrap=True)

    with bars:
        yield on_event
