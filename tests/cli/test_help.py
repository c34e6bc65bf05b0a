"""Every command's `--help` at 80 columns reads like uv's or ruff's: plain text, `--out PATH` placeholders
(none after a flag), `CLIP` / `[PATH]` in the usage line, every option name whole, the help text verbatim."""

from __future__ import annotations

import re

import pytest
import typer

from gendef_cli.main import app


def commands() -> dict[str, object]:
    """`gendef`, `gendef data`, `gendef data synth`, ... -> the click command."""
    found: dict[str, object] = {}

    def walk(path: tuple[str, ...], cmd: object) -> None:
        found[" ".join(path)] = cmd
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk((*path, name), sub)

    walk((), typer.main.get_command(app))
    return found


COMMANDS = commands()


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_at_80_columns(run_cli, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    r = run_cli(*path.split(), "--help")
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert text.startswith(f"Usage: gendef {path}".replace("  ", " ").rstrip() + " "), text
    usage = text.split("\n\n")[0]
    assert "{" not in usage and "[[" not in usage and "<" not in usage, usage
    assert "<bool>" not in text and not re.search(r"<[a-z][a-z\[\] ]*>", text), text  # no typer placeholders
    assert "…" not in text and "╭" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for param in getattr(COMMANDS[path], "params", []):
        for opt in (*param.opts, *param.secondary_opts) if param.param_type_name == "option" else ():
            assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text), f"{opt} missing in:\n{text}"
        if param.param_type_name == "option" and param.is_flag:  # a flag (`--help` too) has no placeholder
            flag = max(param.opts, key=len)
            assert not re.search(rf"(?<![\w-]){re.escape(flag)} [A-Z<\[]", text), f"{flag} in:\n{text}"


def test_placeholders_name_the_type(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = run_cli("finetune", "--help").stdout
    for shown in ("--data PATH", "-o, --out PATH", "--steps INTEGER", "--kimg FLOAT", "--preset TEXT",
                  "--set TEXT", "--no-canonical-feature  ", "--resume  "):
        assert shown in text, (shown, text)
    assert "Optimisation steps (total).  [x>=0]" in text


def test_track_help_keeps_brackets(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = run_cli("track", "--help").stdout
    assert "Usage: gendef track [OPTIONS] CLIP\n" in text
    assert "JSON: [[x, y], ...] canonical pixels" in text
    assert '{"space": "frame", "frame": t, "points": [...]}' in " ".join(text.split())


def test_optional_argument_usage(run_cli) -> None:
    text = run_cli("info", "--help").stdout
    assert text.startswith("Usage: gendef info [OPTIONS] [PATH]\n")
    assert "\n  PATH  A clip, dataset" in text
