"""Sampling speed of GenDeF against the direct-frame baseline, achieved GFLOP/s, peak memory, import time.

    python benchmarks/bench_speed.py [--threads 2] [--repeats 3] [--skip-memory | --skip-speed]
                                     [--paper-frames 16] [--memory-paper-frames 32 128]

- The machine's matmul peak: float32 1024² matmuls (GFLOP/s).
- Per case (preset, resolution, frames): GenDeF = canonical image once per video + G_d for every
  frame + warp; the baseline = its generator for every frame, at the same widths. Random weights
  (the cost does not depend on them). FLOPs are counted with torch.utils.flop_counter (convolutions
  and matmuls; elementwise work is not counted), so GFLOP/s is a lower bound on the work done.
- Peak resident memory of `gendef sample` (a subprocess, /usr/bin/time) for growing numbers of frames,
  with the bundled model at 64² and a random-weight `paper` checkpoint at 256² (written by this script):
  it must grow by about the deformation tensor (T x 2 x H x W float32) and nothing else.
- Import time of `gendef --help` (median of 5 runs).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from timing import median_time
from torch.utils.flop_counter import FlopCounterMode

from gendef_core.artifacts.checkpoint import save_checkpoint
from gendef_core.config import preset
from gendef_core.models.generator import DirectGenerator, GenDeFGenerator, build_generator
from gendef_core.warp import warp_chunks


def matmul_peak(repeats: int) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    t = median_time(lambda: torch.mm(a, b), repeats * 5)
    return 2 * 1024**3 / t / 1e9


def flops(fn: object) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()  # type: ignore[operator]
    return int(counter.get_total_flops())


@torch.inference_mode()
def sampling_case(name: str, res: int, frames: int, repeats: int) -> dict[str, float]:
    cfg = preset(name, "finetune")
    m = replace(cfg.model, resolution=res)
    torch.manual_seed(0)
    g = GenDeFGenerator(m).eval()
    d = DirectGenerator(replace(m, variant="direct")).eval()
    z = torch.randn(1, m.z_dim)
    noise = g.motion.sample_noise(1, frames - 1)
    times = torch.arange(float(frames))[None]
    state: dict[str, torch.Tensor | None] = {}

    def canonical() -> None:
        state["c"], state["f"] = g.canonical(z, return_feature=m.canonical_feature)

    def deformation() -> None:
        out = []
        for s in range(0, frames, 32):
            out.append(g.deform(z, times[:, s:s + 32], noise, state["f"]))
        state["o"] = torch.cat(out, dim=1)

    def render() -> None:
        for _ in warp_chunks(state["c"][0], state["o"][0]):  # type: ignore[index]
            pass

    def direct() -> None:
        for s in range(0, frames, 32):
            d(z, z, times[:, s:s + 32], noise)

    reps = repeats if res <= 64 else 1
    tc, td, tw, tb = (median_time(f, reps) for f in (canonical, deformation, render, direct))
    fc, fd, fb = flops(canonical), flops(deformation), flops(direct)
    return {"canonical_s": tc, "deform_s": td, "warp_s": tw, "direct_s": tb, "gendef_fps": frames / (tc + td + tw),
            "direct_fps": frames / tb, "gendef_gflop": (fc + fd) / 1e9, "direct_gflop": fb / 1e9,
            "gendef_gflops": (fc + fd) / (tc + td) / 1e9, "direct_gflops": fb / tb / 1e9}


def peak_memory_mb(args: list[str]) -> float:
    """Max RSS (MB) of `gendef ARGS` in a subprocess."""
    gendef = str(Path(sys.executable).parent / "gendef")
    r = subprocess.run(["/usr/bin/time", "-f", "%M", gendef, *args, "-q"], capture_output=True, text=True,
                       check=True)
    return int(r.stderr.strip().splitlines()[-1]) / 1024


def random_checkpoint(out: Path, name: str, res: int) -> Path:
    """A fine-tuning checkpoint of preset NAME at RES with random weights (memory does not depend on them)."""
    cfg = preset(name, "finetune")
    cfg = replace(cfg, model=replace(cfg.model, resolution=res))
    torch.manual_seed(0)
    gen = build_generator(cfg.model, "finetune")
    nets = {f"{n}_ema": m.state_dict() for n, m in gen.networks().items()}
    return save_checkpoint(out, step=0, config=cfg.to_dict(), networks=nets, metadata={"random_weights": True})


def import_time() -> float:
    gendef = str(Path(sys.executable).parent / "gendef")
    return median_time(lambda: subprocess.run([gendef, "--help"], capture_output=True, check=True), 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paper-frames", type=int, default=16)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true", help="only the memory and import-time measurements")
    parser.add_argument("--memory-paper-frames", type=int, nargs="*", default=[32, 128],
                        help="frame counts for the 256² `paper` memory rows (none: skip them)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.skip_speed:
        peak = matmul_peak(args.repeats)
        print(f"threads: {args.threads}; float32 matmul peak: {peak:.1f} GFLOP/s\n")
        print("| preset | size | frames | GenDeF frames/s | baseline frames/s | speed-up | GenDeF GFLOP/frame | "
              "baseline GFLOP/frame | GenDeF GFLOP/s (% of peak) | baseline GFLOP/s (% of peak) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        cases = [("small", 64, 16), ("small", 64, 128), ("paper", 256, args.paper_frames)]
        for name, res, frames in cases:
            r = sampling_case(name, res, frames, args.repeats)
            print(f"| {name} | {res}² | {frames} | {r['gendef_fps']:.1f} | {r['direct_fps']:.1f} | "
                  f"{r['gendef_fps'] / r['direct_fps']:.2f}x | {r['gendef_gflop'] / frames:.3f} | "
                  f"{r['direct_gflop'] / frames:.3f} | "
                  f"{r['gendef_gflops']:.1f} ({100 * r['gendef_gflops'] / peak:.0f} %) | "
                  f"{r['direct_gflops']:.1f} ({100 * r['direct_gflops'] / peak:.0f} %) |")
    if not args.skip_memory:
        print("\n| `gendef sample` | size | frames | peak RSS (MB) | deformation tensor (MB) |")
        print("|---|---|---|---|---|")
        tmp = Path(tempfile.mkdtemp())
        try:
            rows: list[tuple[str, list[str], int, list[int]]] = [("bundled model", [], 64, [64, 1024])]
            if args.memory_paper_frames:
                ckpt = random_checkpoint(tmp / "paper256", "paper", 256)
                rows.append(("`paper`, random weights", ["--ckpt", str(ckpt)], 256, args.memory_paper_frames))
            for label, extra, res, counts in rows:
                for frames in counts:
                    mb = peak_memory_mb(["sample", *extra, "--out", str(tmp / f"c{res}-{frames}"),
                                         "--frames", str(frames)])
                    print(f"| {label} | {res}² | {frames} | {mb:.0f} | {frames * 2 * res * res * 4 / 2**20:.0f} |",
                          flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n`gendef --help`: {import_time():.2f} s")


if __name__ == "__main__":
    main()
