"""Where a command may write: never over, around or inside what it reads (issue 16).

`--overwrite` replaces an output; it must never be able to destroy an input. `check_apart(out, inputs)`
refuses, before any work, an output that is an input or that contains one (replacing it would delete the
input), and, for the inputs named `sealed`, an output inside them (it would change that input, and a
later run reading it would take the output in: `data prepare SRC --out SRC/x`, `export --out
RUN/checkpoints/step-N`, which would become the run's latest checkpoint). Writing next to a clip's
files (`track CLIP --out CLIP/tracks.json`) stays allowed: a clip ignores files it does not list.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from gendef_core.errors import ConfigError


def _real(path: Path) -> Path:
    """The absolute path with symlinks resolved as far as the path exists (an output usually does not)."""
    return Path(os.path.realpath(Path(path).expanduser()))


def check_apart(out: Path, inputs: Mapping[str, Path | str | None], *, out_name: str = "out",
                sealed: Collection[str] = ()) -> None:
    """Refuse `out` if it is or contains one of `inputs` (parameter name -> path; None and the bundled
    model's "bundled:..." names are skipped), or lies inside an input named in `sealed`. Messages name the
    parameters in backticks."""
    target = _real(out)
    for name, given in inputs.items():
        if given is None or (isinstance(given, str) and given.startswith("bundled")):
            continue
        source = _real(Path(given))
        if target == source:
            raise ConfigError(f"`{out_name}` {out} is the input `{name}` {given}; writing it would destroy the input; "
                              f"choose another `{out_name}`")
        if target in source.parents:
            raise ConfigError(f"`{out_name}` {out} contains the input `{name}` {given}; replacing it would delete the "
                              f"input; choose another `{out_name}`")
        if name in sealed and source in target.parents and source.is_dir():
            raise ConfigError(f"`{out_name}` {out} is inside the input `{name}` {given}; writing there would change "
                              f"that input; choose an `{out_name}` outside it")
