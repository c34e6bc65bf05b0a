"""Do channels-last memory format or `torch.compile` speed up sampling on this CPU?

    python benchmarks/bench_compile.py [--threads 2] [--repeats 5] [--cases small:64:128 paper:256:16]

For each case (preset:resolution:frames, random weights) the per-video sampling work of GenDeF
(canonical image once + G_d over all frames in chunks of 32 + warp) is timed in four ways:
eager (what `gendef sample` does), channels-last (the generator's weights and the canonical in
torch.channels_last), `torch.compile` of G_d's forward (inductor, default mode; the first call's
compile time is reported separately) and both. Outputs are compared with eager (max abs difference
of the offsets) so a speed-up that changes the result would show. Cases above 64² are timed once
(`--repeats` applies to 64² and below).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

import torch
from timing import median_time

from gendef_core.config import preset
from gendef_core.models.generator import GenDeFGenerator
from gendef_core.warp import warp_chunks

CHUNK = 32


def make_case(name: str, res: int, frames: int) -> tuple[GenDeFGenerator, torch.Tensor, torch.Tensor, torch.Tensor]:
    cfg = preset(name, "finetune")
    m = replace(cfg.model, resolution=res)
    torch.manual_seed(0)
    g = GenDeFGenerator(m).eval().requires_grad_(False)
    for p in g.parameters():  # zero-initialised layers (deform_init="zero") would make every offset 0
        if not p.any():
            p.normal_(0.0, 0.01)
    z = torch.randn(1, m.z_dim)
    return g, z, g.motion.sample_noise(1, frames - 1), torch.arange(float(frames))[None]


def sampler(g: GenDeFGenerator, z: torch.Tensor, noise: torch.Tensor, times: torch.Tensor,
            deform: Callable[..., torch.Tensor], channels_last: bool) -> Callable[[], torch.Tensor]:
    feature = g.cfg.canonical_feature

    def run() -> torch.Tensor:
        with torch.inference_mode():
            c, f = g.canonical(z, return_feature=feature)
            if channels_last:
                c = c.contiguous(memory_format=torch.channels_last)
                f = None if f is None else f.contiguous(memory_format=torch.channels_last)
            out = torch.cat([deform(z, times[:, s:s + CHUNK], noise, f)
                             for s in range(0, times.shape[1], CHUNK)], dim=1)
            for _ in warp_chunks(c[0], out[0]):
                pass
            return out
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=["small:64:128", "paper:256:16"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| case | variant | frames/s | vs eager | first call (s) | max abs diff of offsets |")
    print("|---|---|---|---|---|---|")
    for case in args.cases:
        name, res, frames = case.split(":")
        g, z, noise, times = make_case(name, int(res), int(frames))
        reps = args.repeats if int(res) <= 64 else 1
        reference = None
        eager_fps = 0.0
        for label, cl, compiled in [("eager", False, False), ("channels-last", True, False),
                                    ("torch.compile", False, True), ("channels-last + compile", True, True)]:
            g = g.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
            torch._dynamo.reset()
            deform = torch.compile(g.deform) if compiled else g.deform
            run = sampler(g, z, noise, times, deform, cl)
            t0 = time.perf_counter()
            out = run()
            first = time.perf_counter() - t0
            fps = int(frames) / median_time(run, reps)
            if reference is None:
                reference, eager_fps = out, fps
            diff = (out - reference).abs().max().item()
            print(f"| {case} | {label} | {fps:.1f} | {fps / eager_fps:.2f}x | {first:.1f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
