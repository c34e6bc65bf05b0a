"""The paper's comparisons at small scale: GenDeF, the direct-frame baseline and the ablations, trained on
the procedural datasets at 64² with one CPU budget, then evaluated with `gendef eval`.

    python benchmarks/reproduce_tables.py train OUT [--kinds sprites clouds] [--pretrain-kimg 8] [--finetune-kimg 4]
    python benchmarks/reproduce_tables.py eval OUT [--num-videos 64] [--num-frames-fid 1024] [--runs 2]
    python benchmarks/reproduce_tables.py table OUT > docs/REPRODUCTION.md

Everything goes through the `gendef` command line (the exact commands are logged in OUT/commands.log).
Budget: every GenDeF variant fine-tunes for FINETUNE_KIMG thousand frames from one shared pre-training
of PRETRAIN_KIMG thousand images; variants without pre-training (`w/o pt.`, the direct baseline)
train from scratch for PRETRAIN_KIMG + FINETUNE_KIMG thousand frames instead. `train` and `eval`
skip what is already done, so they can be re-run after an interruption.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

VARIANTS: dict[str, tuple[str, list[str], bool]] = {
    # name: (paper table and row, extra finetune flags, trained from scratch)
    "gendef": ("GenDeF (ours), deformation init zero", [], False),
    "direct": ("direct-frame baseline (StyleGAN-V style)", ["--variant", "direct"], True),
    "no_fc": ("Table 2: w/o f_c", ["--no-canonical-feature"], False),
    "no_reg": ("Table 2: w/o L_reg", ["--reg-weight", "0"], False),
    "no_pretrain": ("Table 4: w/o pre-training", [], True),
    "freeze": ("Table 4: pre-train, then freeze G_c", ["--freeze-canonical"], False),
    "init_xavier": ("Table A1: deformation init xavier", ["--deform-init", "xavier"], False),
    "init_none": ("Table A1: deformation init none (default torch init)", ["--deform-init", "none"], False),
}


def gendef_exe() -> str:
    exe = Path(sys.executable).parent / "gendef"
    return str(exe) if exe.is_file() else (shutil.which("gendef") or "gendef")


def run(out: Path, args: list[str], log_name: str) -> None:
    """Run `gendef ARGS`, log the command line to OUT/commands.log and its stderr to OUT/logs/LOG_NAME."""
    cmd = [gendef_exe(), *args]
    (out / "logs").mkdir(parents=True, exist_ok=True)
    with open(out / "commands.log", "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  gendef {shlex.join(args)}\n")
    t0 = time.time()
    with open(out / "logs" / f"{log_name}.log", "a") as err:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "CI": "1"})
    with open(out / "commands.log", "a") as f:
        f.write(f"    done in {time.time() - t0:.0f} s\n")


def done(run_dir: Path) -> bool:
    """A run whose latest checkpoint is at the step its config.json asks for."""
    from gendef_core.artifacts.checkpoint import list_checkpoints

    found = list_checkpoints(run_dir)
    if not found or not (run_dir / "config.json").is_file():
        return False
    steps = json.loads((run_dir / "config.json").read_text())["config"]["steps"]
    return int(found[-1].name.removeprefix("step-")) >= steps


def train(args: argparse.Namespace) -> None:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    scratch_kimg = args.pretrain_kimg + args.finetune_kimg
    for kind in args.kinds:
        root = out / kind
        data = root / "data"
        if not (data / "manifest.json").is_file():
            run(out, ["data", "synth", "--kind", kind, "--num-videos", str(args.videos), "--frames", str(args.frames),
                      "--resolution", "64", "--seed", "0", "--out", str(data), "-q"], f"{kind}-data")
        pre = root / "pretrain"
        if not done(pre):
            run(out, ["pretrain", "--data", str(data), "--out", str(pre), "--preset", "small", "--kimg",
                      str(args.pretrain_kimg), *(["--resume"] if pre.exists() else [])],
                f"{kind}-pretrain")
        for name in args.variants:
            _, flags, scratch = VARIANTS[name]
            rd = root / name
            if done(rd):
                continue
            start = ["--from-scratch"] if scratch else ["--init", str(pre)]
            kimg = scratch_kimg if scratch else args.finetune_kimg
            run(out, ["finetune", "--data", str(data), "--out", str(rd), "--preset", "small", *start, *flags,
                      "--kimg", str(kimg), *(["--resume"] if rd.exists() else [])], f"{kind}-{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True)
    t = sub.add_parser("train")
    t.add_argument("out", type=Path)
    t.add_argument("--kinds", nargs="+", default=["sprites", "clouds"])
    t.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    t.add_argument("--pretrain-kimg", type=float, default=8.0)
    t.add_argument("--finetune-kimg", type=float, default=4.0)
    t.add_argument("--videos", type=int, default=128)
    t.add_argument("--frames", type=int, default=64)
    args = parser.parse_args()
    if args.stage == "train":
        (args.out).mkdir(parents=True, exist_ok=True)
        (args.out / "machine.json").write_text(json.dumps({"platform": platform.platform(), "cpus": os.cpu_count(),
                                                           "python": platform.python_version()}, indent=2))
        train(args)


if __name__ == "__main__":
    main()
