"""Quality and speed of `gendef fit` on synthetic videos with exact ground truth, through the CLI.

    python benchmarks/bench_fit.py [--kinds clouds,pan,sprites] [--sizes 128x64,256x128]
                                   [--qualities fast,default,best] [--out bench-fit] [--seed 1]

For every kind x size (resolution x frames) x quality: `gendef data synth` makes one video with
ground truth (a 16x16 grid of query points on frame 0), `gendef fit` fits its frame folder,
`gendef track` tracks the query points (as frame-0 points) through the fitted clip, and
`gendef eval-tracks` scores them against the ground truth (TAP-Vid: δ_avg, occlusion accuracy,
Average Jaccard). Reported: PSNR per frame (mean, min), median track error over ground-truth-visible
points, the AJ / δ_avg / OA, the edit-consistency error (`edit_error`: median and 95th percentile over
visible points of where a checkerboard drawn on the canonical lands vs the truth), canvas size,
folded and outside fractions, wall time, frames/s and peak RSS (of the `gendef fit` process).
Each `gendef fit` runs alone in its own process; the timings depend on the machine's load (state it
with the table). Writes OUT/results.json and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

GENDEF = str(Path(sys.executable).with_name("gendef"))


def run(args: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run a gendef command in a fresh wrapper process; returns (stdout, wall seconds, peak RSS MB of gendef)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "dt = time.perf_counter() - t; sys.stderr.write(r.stderr); "
               "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode); "
               "print(r.stdout, end='')")
    r = subprocess.run([sys.executable, "-c", wrapper, GENDEF, *args], capture_output=True, text=True, env=env)
    head, _, out = r.stdout.partition("\n")
    dt, rss, code = head.split()
    if int(code) != 0:
        raise RuntimeError(f"gendef {' '.join(args)} failed:\n{r.stderr}")
    return out, float(dt), int(rss) // 1024


def edit_error(tracks: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> tuple[float, float]:
    """Median and 95th percentile (px) of the edit-consistency error over ground-truth-visible points.

    The query grid's points are the corners of a checkerboard drawn on the canonical at the grid's
    spacing; `gendef edit` renders a canonical pixel where the inverted map puts it, which is exactly
    where `gendef track` puts that canonical point, so the corners' error is this distance.
    """
    err = np.linalg.norm(tracks - gt, axis=-1)[visible]
    return float(np.median(err)), float(np.percentile(err, 95))


def bench_one(kind: str, res: int, frames: int, quality: str, out: Path, seed: int, env: dict[str, str]) -> dict:
    from gendef_core.artifacts.clip import read_clip_manifest
    from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth

    data = out / f"data-{kind}-{res}-{frames}"
    if not data.exists():
        run(["data", "synth", "--kind", kind, "--num-videos", "1", "--frames", str(frames), "--resolution", str(res),
             "--grid", "16", "--seed", str(seed), "--out", str(data)], env)
    gt = load_ground_truth(load_dataset_info(data, check_files=False), "000000")
    clip = out / f"fit-{kind}-{res}-{frames}-{quality}"
    _, wall, rss = run(["fit", str(data / "videos" / "000000"), "--out", str(clip), "--quality", quality,
                        "--size", str(res), "--overwrite", "--quiet"], env)
    q = gt.query_points.numpy()
    # integer-valued grid points of the synth lie on pixel centres; frame-space queries on frame 0
    points = out / f"points-{kind}-{res}.json"
    points.write_text(json.dumps({"space": "frame", "frame": 0, "points": q.tolist()}))
    tracks_file = out / f"tracks-{kind}-{res}-{frames}-{quality}.json"
    run(["track", str(clip), "--points", str(points), "--out", str(tracks_file), "--overwrite"], env)
    scores = json.loads(run(["eval-tracks", str(tracks_file), "--data", str(data), "--video", "000000", "--json"],
                            env)[0])
    doc = json.loads(tracks_file.read_text())
    tr = np.asarray(doc["tracks"])
    g, gv = gt.tracks.numpy(), gt.visible.numpy()
    err = np.linalg.norm(tr - g, axis=-1)[gv]
    edit_med, edit_p95 = edit_error(tr, g, gv)
    rep = read_clip_manifest(clip)["fit"]
    return {"kind": kind, "resolution": res, "frames": frames, "quality": quality,
            "psnr_mean_db": rep["psnr_mean_db"], "psnr_min_db": rep["psnr_min_db"],
            "track_median_px": round(float(np.median(err)), 3), "average_jaccard": round(scores["average_jaccard"], 3),
            "delta_avg": round(scores["average_pts_within_thresh"], 3),
            "occlusion_accuracy": round(scores["occlusion_accuracy"], 3),
            "edit_corner_median_px": round(edit_med, 3), "edit_corner_p95_px": round(edit_p95, 3),
            "canonical_size": rep["canonical_size"], "folded_max": rep["folded_max"],
            "outside_mean": rep["outside_mean"], "wall_s": round(wall, 1),
            "frames_per_s": round(frames / wall, 2), "peak_rss_mb": rss, "timings_s": rep["timings_s"]}


def table(rows: list[dict]) -> str:
    head = ("| kind | size | quality | PSNR mean / min (dB) | track median (px) | AJ | δ_avg | OA | edit corner "
            "median / p95 (px) | canvas (HxW) | folded max | wall (s) | frames/s | peak RSS (MB) |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['frames']}x{r['resolution']}² | {r['quality']} | {r['psnr_mean_db']:.2f} / "
                     f"{r['psnr_min_db']:.2f} | {r['track_median_px']:.2f} | {r['average_jaccard']:.3f} | "
                     f"{r['delta_avg']:.3f} | {r['occlusion_accuracy']:.3f} | {r['edit_corner_median_px']:.2f} / "
                     f"{r['edit_corner_p95_px']:.2f} | {r['canonical_size'][0]}x{r['canonical_size'][1]} | "
                     f"{r['folded_max']:.4f} | {r['wall_s']:.1f} | {r['frames_per_s']:.2f} | {r['peak_rss_mb']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default="clouds,pan,sprites")
    ap.add_argument("--sizes", default="128x64,256x128", help="RESOLUTIONxFRAMES, comma-separated")
    ap.add_argument("--qualities", default="fast,default,best")
    ap.add_argument("--out", type=Path, default=Path("bench-fit"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    results_file = args.out / "results.json"
    rows: list[dict] = json.loads(results_file.read_text()) if results_file.exists() else []
    done = {(r["kind"], r["resolution"], r["frames"], r["quality"]) for r in rows}
    for size in args.sizes.split(","):
        res, frames = (int(v) for v in size.split("x"))
        for kind in args.kinds.split(","):
            for quality in args.qualities.split(","):
                if (kind, res, frames, quality) in done:
                    continue  # resumable: rows already measured are kept
                t0 = time.perf_counter()
                row = bench_one(kind, res, frames, quality, args.out, args.seed, env)
                rows.append(row)
                results_file.write_text(json.dumps(rows, indent=2) + "\n")
                print(f"{kind} {size} {quality}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
