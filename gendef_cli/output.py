"""Printing results on stdout: a path, or JSON with --json."""

from __future__ import annotations

import json
from collections.abc import Mapping

import typer


def emit(result_path: object, summary: Mapping[str, object], as_json: bool) -> None:
    typer.echo(json.dumps(summary, indent=2, default=str) if as_json else str(result_path))
