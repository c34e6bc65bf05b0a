"""Options shared by several commands (Annotated aliases, as huggingface_hub does)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace the output if it exists.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr.")]
OutDirOpt = Annotated[Path, typer.Option("--out", "-o", help="Directory to create.", show_default=False)]
ClipArg = Annotated[Path, typer.Argument(metavar="CLIP", show_default=False,
                                         help="A clip directory (made by `gendef sample` or `gendef data clip`).")]
FpsOpt = Annotated[str | None, typer.Option("--fps", help="Frame rate, e.g. 25 or 30000/1001.")]
CkptOpt = Annotated[Path | None, typer.Option("--ckpt", help="A `gendef finetune` run or checkpoint (default: the "
                                              "bundled model).", show_default=False)]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Frames per generator call (bounds memory, not the "
                                       "result).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (a GPU if there is one), cpu, cuda, cuda:N.")]
FlowVideoOpt = Annotated[bool, typer.Option("--flow", help="Also write flow.mp4 (deformation flow colours).")]
FlowMaxOpt = Annotated[float | None, typer.Option("--flow-max", help="Flow (px per frame) of full colour in "
                                                  "flow.mp4; default: each clip's largest.", show_default=False)]
