"""Training throughput of the `small` preset (64²): one process, and 2 CPU processes under Accelerate.

    python benchmarks/bench_train.py [--steps 40] [--log-every 10] [--stages pretrain finetune]

Runs the real commands on a small procedural clouds dataset (16 videos x 32 frames, 64 px) in a
temporary directory:

- 1 process, 2 threads: `gendef pretrain|finetune ... --batch-size 16`
- 2 processes x 1 thread: `OMP_NUM_THREADS=1 accelerate launch --multi_gpu --num_processes 2
  -m gendef_cli pretrain|finetune ... --batch-size 8` (gloo; the same global batch of 16)

Throughput is read from the run's events.jsonl between the first and the last logged step, so start-up
and the first (slow) step are excluded. Images are frames over all processes: a fine-tuning step
of batch B sees B videos x 3 frames. Fine-tuning starts from the 1-process pre-training run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent


def rate(run: Path) -> float:
    """Images (frames) per second between the first and the last logged step of a run."""
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    logs = [e for e in events if "images_per_s" in e]
    if len(logs) < 2:
        raise SystemExit(f"{run}/events.jsonl has fewer than two logged steps; raise --steps")
    first, last = logs[0], logs[-1]
    return (last["kimg"] - first["kimg"]) * 1000 / (last["time_s"] - first["time_s"])


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--stages", nargs="+", default=["pretrain", "finetune"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    gendef = str(BIN / "gendef")
    try:
        data = tmp / "data"
        run([gendef, "data", "synth", "--kind", "clouds", "--num-videos", "16", "--frames", "32",
             "--resolution", "64", "--seed", "0", "--out", str(data), "-q"])
        common = ["--data", str(data), "--preset", "small", "--steps", str(args.steps),
                  "--set", f"log_every={args.log_every}", "--set", f"save_every={args.steps}",
                  "--set", f"snapshot_every={args.steps}", "-q"]
        print("| stage | 1 process, 2 threads, batch 16 | 2 processes x 1 thread, batch 8 each | ratio |")
        print("|---|---|---|---|")
        for stage in args.stages:
            init = ["--init", str(tmp / "pretrain-1")] if stage == "finetune" else []
            if stage == "finetune" and not (tmp / "pretrain-1").exists():
                run([gendef, "pretrain", "--out", str(tmp / "pretrain-1"), *common])
            one, two = tmp / f"{stage}-1", tmp / f"{stage}-2"
            run([gendef, stage, "--out", str(one), "--batch-size", "16", *init, *common],
                {"OMP_NUM_THREADS": "2"})
            run([str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                 "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "gendef_cli", stage, "--out", str(two),
                 "--batch-size", "8", *init, *common], {"OMP_NUM_THREADS": "1"})
            r1, r2 = rate(one), rate(two)
            unit = "frames/s" if stage == "finetune" else "img/s"
            print(f"| {stage} | {r1:.1f} {unit} | {r2:.1f} {unit} total | {r2 / r1:.2f}x |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
