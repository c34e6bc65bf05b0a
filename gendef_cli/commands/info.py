"""`gendef info`: validate and describe an artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def info(path: Annotated[Path | None, typer.Argument(
        metavar="[PATH]", help="A clip, dataset, checkpoint, run, masks, flow or shots directory (default: the "
        "bundled model).", show_default=False)] = None) -> None:
    """Validate a clip, dataset, checkpoint, run, masks, flow or shots directory (default: the bundled model) and print
    what it holds (JSON)."""
    from gendef_core import api

    typer.echo(json.dumps(api.describe(path), indent=2, default=str))
