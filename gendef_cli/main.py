"""The `gendef` application and the one place where errors become messages and exit codes.

Exit codes: 0 success; 1 bad input (a GendefError: one line, no traceback unless GENDEF_DEBUG=1);
2 usage error (click's own, or a ConfigError naming one of the command's options: see `exit_code`);
130 interrupted. Anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import Annotated

import typer

from gendef_cli.commands import data, edit, evaluate, fit, info, render, sample, track, train
from gendef_cli.helpformat import GendefCommand
from gendef_core import __version__
from gendef_core.errors import ConfigError, GendefError, OptionError

# Plain help (no rich panels; gendef_cli/helpformat.py): it reads at 80 columns and keeps `[[x, y], ...]`.
app = typer.Typer(name="gendef", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  rich_markup_mode=None,
                  help="GenDeF: video generation by warping a canonical image with generated deformation fields.")
data.app.rich_markup_mode = None
for _command in data.app.registered_commands:
    _command.cls = GendefCommand
app.add_typer(data.app, name="data")
app.command(cls=GendefCommand)(train.pretrain)
app.command(cls=GendefCommand)(train.finetune)
app.command(cls=GendefCommand)(train.export)
app.command(cls=GendefCommand)(sample.demo)
app.command(cls=GendefCommand)(sample.sample)
app.command(cls=GendefCommand)(sample.resample)
app.command(cls=GendefCommand)(fit.fit)
app.command(cls=GendefCommand)(edit.edit)
app.command(cls=GendefCommand)(track.track)
app.command(cls=GendefCommand)(edit.segment)
app.command(cls=GendefCommand)(track.flow)
app.command(name="eval", cls=GendefCommand)(evaluate.eval_command)
app.command(name="eval-tracks", cls=GendefCommand)(evaluate.eval_tracks)
app.command(cls=GendefCommand)(render.render)
app.command(cls=GendefCommand)(info.info)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gendef {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """GenDeF: video generation by warping a canonical image with generated deformation fields."""


_ARGV: list[str] | None = None


def invoked_args() -> list[str]:
    """The arguments this invocation of `main` was given (what commands record as the command line)."""
    return list(sys.argv[1:] if _ARGV is None else _ARGV)


LIBRARY_NAMES = {"overrides": "set_",        # `--set` (`set` is a Python builtin)
                 "num_frames": "frames",     # `gendef data synth --frames` is synth_dataset's `num_frames`
                 "resume_run": "resume"}     # `--resume` is resolve_train_config's `resume_run` (the run in --out)
"""Library parameter -> the parameter of the commands that give it under another name (`cli_message`)."""


def _option_names(argv: list[str]) -> dict[str, str]:
    """Python parameter name -> how the invoked command spells it (`--batch-size`, `CLIP`)."""
    cmd = typer.main.get_command(app)
    for arg in argv:  # walk down `gendef data synth ...` to the command that runs
        sub = getattr(cmd, "commands", {}).get(arg)
        if sub is None:
            break
        cmd = sub
    names = {}
    for p in getattr(cmd, "params", []):
        if p.name:
            names[p.name] = max(p.opts, key=len) if p.param_type_name == "option" else p.name.upper()
    for library, cli in LIBRARY_NAMES.items():  # the library's name of a parameter the command names otherwise
        if cli in names and library not in names:
            names[library] = names[cli]
    return names


_PARAMETER = re.compile(r"`([a-z][a-z0-9_]*)`")


def cli_message(message: str, argv: list[str]) -> str:
    """A library message in the command line's words: a parameter the library names in backticks
    (`` `batch_size` must be >= 1``) becomes the option the user typed (``--batch-size must be >= 1``)."""
    if "`" not in message:
        return message
    names = _option_names(argv)
    return _PARAMETER.sub(lambda m: names.get(m[1], m[0]), message)


def exit_code(error: GendefError, argv: list[str]) -> int:
    """2 (a usage error) for an `OptionError` (an invalid training setting) and for a `ConfigError` whose
    problem names, in backticks, an option or argument of the invoked command (`` `frames` must be in
    1..100000``: the command line is wrong); 1 for any other
    `GendefError` (a file, an artifact or the machine is wrong). The problem is the message up to its first
    "; ": advice after it (``{clip} does not record its checkpoint; pass `ckpt` ``) does not count."""
    if isinstance(error, OptionError):  # a training setting's value or name (--set, --preset, flags, --config)
        return 2
    problem = str(error).split("; ", 1)[0]
    if isinstance(error, ConfigError) and "`" in problem:
        names = _option_names(argv)
        if any(m[1] in names for m in _PARAMETER.finditer(problem)):
            return 2
    return 1


def main(argv: list[str] | None = None) -> None:
    global _ARGV
    _ARGV = None if argv is None else [str(a) for a in argv]
    try:
        app(args=argv, prog_name="gendef")
    except GendefError as e:
        if os.environ.get("GENDEF_DEBUG"):
            raise
        from rich.markup import escape

        from gendef_cli.progress import err_console

        err_console.print(f"[bold red]error:[/] {escape(cli_message(str(e), invoked_args()))}", soft_wrap=True)
        sys.exit(exit_code(e, invoked_args()))
    except OSError as e:  # a full disk under a writer that is not an artifact's (a video encoder, a run log)
        if os.environ.get("GENDEF_DEBUG") or e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        from rich.markup import escape

        from gendef_cli.progress import err_console

        where = f" writing {e.filename}" if e.filename else ""
        message = f"no space left on the device{where} ({os.strerror(e.errno)}); free space there or write elsewhere"
        err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        if os.environ.get("GENDEF_DEBUG"):
            raise
        print("interrupted; nothing half-written was left behind", file=sys.stderr)
        sys.exit(130)
