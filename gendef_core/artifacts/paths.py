"""Where a command may write: never over, around or inside what it reads (issue 16).

`--overwrite` replaces an output; it must never be able to destroy an input. `check_apart(out, inputs)`
refuses, before any work, an output that is an input or that contains one (replacing it would delete the
input), and, for the inputs named `sealed`, an output inside them (it would change that input, and a
later run reading it would take the output in: `data prepare SRC --out SRC/x`, `export --out
RUN/checkpoints/step-N`, which would become the run's latest checkpoint). Writing a NEW file next to
a clip's files (`track CLIP --out CLIP/tracks.json`) stays allowed (a clip ignores files it does not list);
replacing one of an input's files (`--out CLIP/manifest.json --overwrite`) is not, and nothing may go into
the `checkpoints/` folder of a run whose checkpoint is an input.
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
                sealed: Collection[str] = (), inside_ok: Collection[str] = ()) -> None:
    """Refuse `out` if it is or contains one of `inputs` (parameter name -> path; None and the bundled
    model's "bundled:..." names are skipped), or lies inside an input named in `sealed`, or replaces something
    inside an input (unless the input is named in `inside_ok`: `data prepare` leaves its output out of its
    source). Messages name the parameters in backticks."""
    target = _real(out)
    for name, given in inputs.items():
        if given is None or (isinstance(given, str) and (given == "bundled" or given.startswith("bundled:"))):
            continue  # the bundled model: inside the package, never an output's place
        source = _real(Path(given))
        if target == source:
            raise ConfigError(f"`{out_name}` {out} is the input `{name}` {given}; writing it would destroy the input; "
                              f"choose another `{out_name}`")
        if target in source.parents:
            raise ConfigError(f"`{out_name}` {out} contains the input `{name}` {given}; replacing it would delete the "
                              f"input; choose another `{out_name}`")
        inside = source in target.parents and source.is_dir()
        if inside and (name in sealed or (os.path.lexists(target) and name not in inside_ok)):
            raise ConfigError(f"`{out_name}` {out} is inside the input `{name}` {given}; writing there would change "
                              f"that input; choose an `{out_name}` outside it")
        runs = source.parent if source.parent.name == "checkpoints" else None  # RUN/checkpoints/step-N given
        if runs is not None and runs in target.parents:
            raise ConfigError(f"`{out_name}` {out} is inside the checkpoints folder of the input `{name}` {given}; it "
                              f"would be taken for a checkpoint of that run; choose an `{out_name}` outside it")
