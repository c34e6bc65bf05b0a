"""How `gendef ... --help` reads: plain text in the manner of uv's, ruff's or git's help.

Typer's rich panels squeeze descriptions into a narrow column at 80 columns, truncate long option
names and show a `<bool>` placeholder after every flag, so the app uses click's plain layout
(`rich_markup_mode=None`) with three changes made here: an option's placeholder names its type the
way click and hf do (`--out PATH`, `--steps INTEGER`, none after a flag); the usage line shows an
argument as `CLIP` (required) or `[PATH]` (optional), not `{CLIP}` or `[[PATH]]`; and the Arguments
section lists an argument by its name alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typer.core import TyperArgument, TyperCommand, TyperOption

if TYPE_CHECKING:
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter

_TYPE_METAVARS = {int: "INTEGER", float: "FLOAT", str: "TEXT"}


def _option_metavar(option: TyperOption) -> str | None:
    """`PATH`, `INTEGER`, `FLOAT`, `TEXT` or `[a|b]`; None for flags and options of other types."""
    if option.is_flag or option.count:
        return None
    desc = option.type_descriptor
    if desc.choices is not None:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
    if desc.is_path:
        return "PATH"
    annotation = desc.annotation
    if desc.is_list:
        (annotation,) = getattr(annotation, "__args__", (str,))
    if annotation in _TYPE_METAVARS:
        return _TYPE_METAVARS[annotation]
    return None


def _argument_name(argument: TyperArgument) -> str:
    """`CLIP` for `metavar="CLIP"` (and for `metavar="[PATH]"`: the usage line adds the brackets)."""
    name = (argument.metavar or (argument.name or "").upper()).strip("[]")
    return name + ("..." if argument.nargs != 1 else "")


class GendefCommand(TyperCommand):
    """A command whose `--help` has readable placeholders and usage line (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperOption) and param.metavar is None:
                param.metavar = _option_metavar(param)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                arguments.append((_argument_name(param), record[1]))
            else:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)
