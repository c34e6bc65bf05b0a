"""The table of a motion ablation (examples/motion_ablation.sh OUT): one row per run and weights (EMA, raw).

    python benchmarks/motion_table.py OUT

Columns: net displacement at lag 16 and first-to-last frame (px, generated / real), the fraction of
points that move more than 1 px, the 1-D Wasserstein distance of the lag-16 displacements, the optical-
flow displacement over the clip (the same tracker on both sides), the fraction of still pixels, the track
jerk, and the run's fine-tuning throughput (frames per second, from events.jsonl).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _throughput(run: Path) -> float | None:
    events = run / "events.jsonl"
    if not events.is_file():
        return None
    rates = []
    for line in events.read_text().splitlines():
        try:
            rates.append(float(json.loads(line)["images_per_s"]))
        except (ValueError, KeyError, TypeError):
            continue
    return sum(rates[1:]) / len(rates[1:]) if len(rates) > 1 else None  # the first interval has start-up


def _cell(fake: float | None, real: float | None, digits: int = 2) -> str:
    if fake is None:
        return "–"
    return f"{fake:.{digits}f}" + (f" / {real:.{digits}f}" if real is not None else "")


def table(out: Path) -> str:
    rows = ["| run | weights | disp_16 px | disp_clip px | moved >1 px | W1 lag 16 | flow disp_clip | still | "
            "track jerk | img/s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for run in sorted(p for p in Path(out).iterdir() if p.is_dir()):
        for w in ("ema", "raw"):
            f = run / f"motion-{w}.json"
            if not f.is_file():
                continue
            m = json.loads(f.read_text())["metrics"]["motion"]
            real, fake, w1 = m["real"], m["fake"], m["displacement_w1"]
            rate = _throughput(run)
            rows.append(f"| {run.name} | {w} | {_cell(fake.get('disp_16'), real.get('disp_16'))} | "
                        f"{_cell(fake.get('disp_clip'), real.get('disp_clip'))} | "
                        f"{_cell(fake.get('moved_1px'), real.get('moved_1px'))} | {_cell(w1.get('disp_16'), None)} | "
                        f"{_cell(fake.get('flow_disp_clip'), real.get('flow_disp_clip'))} | "
                        f"{_cell(fake.get('still'), real.get('still'))} | "
                        f"{_cell(fake.get('track_jerk'), real.get('track_jerk'), 4)} | "
                        f"{'–' if rate is None else f'{rate:.1f}'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(table(Path(sys.argv[1])))
