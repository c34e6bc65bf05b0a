"""The `gendef` command line: a thin Typer layer over `gendef_core.api`."""
