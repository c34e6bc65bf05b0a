"""The paper's comparisons at small scale: GenDeF, the direct-frame baseline and the ablations, trained on
the procedural datasets at 64² with one CPU budget, then evaluated with `gendef eval`.

    python benchmarks/reproduce_tables.py train OUT [--kinds sprites clouds] [--pretrain-kimg 8] [--finetune-kimg 4]
    python benchmarks/reproduce_tables.py eval OUT [--num-videos 64] [--num-frames-fid 1024] [--num-real-fid 1024]
                                          [--runs 2]
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


def run(out: Path, args: list[str], log_name: str, stdout: Path | None = None) -> None:
    """Run `gendef ARGS`, log the command line to OUT/commands.log and its stderr to OUT/logs/LOG_NAME
    (stdout to `stdout`, written only when the command succeeds)."""
    cmd = [gendef_exe(), *args]
    (out / "logs").mkdir(parents=True, exist_ok=True)
    with open(out / "commands.log", "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  gendef {shlex.join(args)}\n")
    t0 = time.time()
    with open(out / "logs" / f"{log_name}.log", "a") as err:
        result = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=err, env={**os.environ, "CI": "1"})
    if stdout is not None:
        stdout.write_bytes(result.stdout)
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
                      "--resolution", str(args.resolution), "--seed", "0", "--out", str(data), "-q"], f"{kind}-data")
        pre = root / "pretrain"
        if not done(pre):
            run(out, ["pretrain", "--data", str(data), "--out", str(pre), "--preset", args.preset, "--kimg",
                      str(args.pretrain_kimg), *(["--resume"] if pre.exists() else [])],
                f"{kind}-pretrain")
        for name in args.variants:
            _, flags, scratch = VARIANTS[name]
            rd = root / name
            if done(rd):
                continue
            start = ["--from-scratch"] if scratch else ["--init", str(pre)]
            kimg = scratch_kimg if scratch else args.finetune_kimg
            run(out, ["finetune", "--data", str(data), "--out", str(rd), "--preset", args.preset, *start, *flags,
                      "--kimg", str(kimg), *(["--resume"] if rd.exists() else [])], f"{kind}-{name}")


def evaluate(args: argparse.Namespace) -> None:
    out: Path = args.out
    for kind in args.kinds:
        for name in VARIANTS:
            rd = out / kind / name
            if not done(rd) or (rd / "eval.json").is_file():
                continue
            run(out, ["eval", "--data", str(out / kind / "data"), "--ckpt", str(rd), "--metrics", "fvd16,fid,motion",
                      "--num-videos", str(args.num_videos), "--num-frames-fid", str(args.num_frames_fid),
                      "--num-real-fid", str(args.num_real_fid), "--runs", str(args.runs), "--motion-videos",
                      str(args.motion_videos), "--motion-frames", str(args.motion_frames), "--batch-size",
                      str(args.batch_size), "--json"], f"{kind}-{name}-eval", stdout=rd / "eval.json")


def _train_minutes(run_dir: Path) -> float:
    """Training wall time of a run (the last `time_s` of its events.jsonl), in minutes.

    Checkpoints no longer record wall time (FORMATS.md "Reproducibility"); runs made by gendef 0.6.0 and earlier have
    `wall_time_s` in their latest checkpoint's metadata, used when there is no events.jsonl.
    """
    from gendef_core.artifacts.checkpoint import load_checkpoint

    events = Path(run_dir) / "events.jsonl"
    times = [json.loads(line).get("time_s") for line in events.read_text().splitlines() if line.strip()] \
        if events.is_file() else []
    times = [t for t in times if t is not None]
    if times:
        return float(times[-1]) / 60
    return float(load_checkpoint(run_dir, verify=False).metadata.get("wall_time_s", 0.0)) / 60


def _num(v: float | None) -> str:
    return "n/a" if v is None or v != v else f"{v:.4f}"  # v != v: NaN (no such statistic for these videos)


def _fmt(m: dict | None) -> str:
    return "—" if m is None else f"{m['mean']:.1f} ± {m['std']:.1f}"


def table(args: argparse.Namespace) -> None:
    out: Path = args.out
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    machine = json.loads((out / "machine.json").read_text())
    print(f"<!-- made by: python benchmarks/reproduce_tables.py table {out} (gendef commit {commit}) -->")
    print(f"Machine: {machine['platform']}, {machine['cpus']} CPUs, Python {machine['python']}; no GPU.\n")
    for kind in args.kinds:
        rows = []
        for name, (label, _, scratch) in VARIANTS.items():
            f = out / kind / name / "eval.json"
            if not f.is_file():
                continue
            rep = json.loads(f.read_text())
            m = rep["metrics"]
            mo = m.get("motion", {})
            real, fake = mo.get("real", {}), mo.get("fake", {})
            pre = 0.0 if scratch else _train_minutes(out / kind / "pretrain")
            minutes = _train_minutes(out / kind / name) + pre  # the shared pre-training counts for each
            rows.append((label, _fmt(m.get("fvd16")), _fmt(m.get("fid")), fake.get("still"), fake.get("jerk"),
                         fake.get("track_jerk"), fake.get("warp_error"), minutes))
            proto = rep["protocol"]
            n_fvd, n_real = m["fvd16"]["num_fake"], m["fvd16"]["num_real"]
        if not rows:
            continue
        print(f"### {kind} (64²; real videos: still {_num(real.get('still'))}, pixel jerk {_num(real.get('jerk'))}, "
              f"track jerk {_num(real.get('track_jerk'))}, warp error {_num(real.get('warp_error'))})\n")
        print(f"FVD16 from {n_fvd} fake / {n_real} real videos, FID from {proto['num_frames_fid']} fake / "
              f"{proto['num_real_fid']} real frames, mean ± std over {proto['runs']} runs (seeds "
              f"{proto['seed']}..{proto['seed'] + proto['runs'] - 1}). Lower is better for FVD and FID; the motion "
              f"columns should be close to the real values in the heading.\n")
        print("| model | FVD16 | FID | still | pixel jerk | track jerk | warp error | training minutes |")
        print("|---|---|---|---|---|---|---|---|")
        for label, fvd, fid, still, jerk, tjerk, werr, minutes in rows:
            cells = [_num(v) for v in (still, jerk, tjerk, werr)]
            print(f"| {label} | {fvd} | {fid} | {' | '.join(cells)} | {minutes:.0f} |")
        print()


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
    t.add_argument("--preset", default="small", help="tiny for a smoke test (then also --resolution 16)")
    t.add_argument("--resolution", type=int, default=64)
    e = sub.add_parser("eval")
    e.add_argument("out", type=Path)
    e.add_argument("--kinds", nargs="+", default=["sprites", "clouds"])
    e.add_argument("--batch-size", type=int, default=16)
    e.add_argument("--num-videos", type=int, default=64)
    e.add_argument("--num-frames-fid", type=int, default=1024)
    e.add_argument("--num-real-fid", type=int, default=1024)
    e.add_argument("--runs", type=int, default=2)
    e.add_argument("--motion-videos", type=int, default=32)
    e.add_argument("--motion-frames", type=int, default=32)
    tb = sub.add_parser("table")
    tb.add_argument("out", type=Path)
    tb.add_argument("--kinds", nargs="+", default=["sprites", "clouds"])
    args = parser.parse_args()
    if args.stage == "eval":
        evaluate(args)
    elif args.stage == "table":
        table(args)
    if args.stage == "train":
        (args.out).mkdir(parents=True, exist_ok=True)
        (args.out / "machine.json").write_text(json.dumps({"platform": platform.platform(), "cpus": os.cpu_count(),
                                                           "python": platform.python_version()}, indent=2))
        train(args)


if __name__ == "__main__":
    main()
