"""Mutation check: plant one known fault at a time in a copy of the repo and see whether the tests notice.

Each fault is (name, file, exact original snippet, replacement, tests to run, description). For every
fault the script copies gendef_core/, gendef_cli/, tests/ and pyproject.toml into a fresh temporary
directory, replaces the snippet (it must occur exactly once), runs ``pytest -x -q`` on the fault's test
files there, and records the fault as *killed* (pytest failed), *survived* (pytest passed) or
*timeout* (counted as killed). The copy, not the editable install of the working tree, is imported:
every run is checked for it (``gendef_core.__file__`` must lie in the copy).

    OMP_NUM_THREADS=1 .venv/bin/python tools/mutation_check.py                  # all faults, working-tree tests
    .venv/bin/python tools/mutation_check.py --tests-rev HEAD                   # the tests of a git revision
    .venv/bin/python tools/mutation_check.py --tests-rev HEAD --rev-path tests/unit   # only tests/unit from HEAD
    .venv/bin/python tools/mutation_check.py --only ema-buffers-not-copied      # one fault (repeatable)
    .venv/bin/python tools/mutation_check.py --check                            # only check the snippets

The library is always the working tree's (copied once at the start, so edits made during a run do not
mix in); ``--tests-rev`` only swaps tests/, or with ``--rev-path`` only the given test paths (``git
archive``, read-only; test files a fault names that do not exist there are skipped). Before the faults,
the unmodified copy must pass every test selection used (``--no-baseline`` skips this), so that a
failure means the fault.

Exit status: 2 if a snippet is missing or ambiguous (the list must be kept in step with the code),
1 with ``--fail-under`` and a lower score, else 0. Plain Python, no dependencies beyond the test suite.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Test selections (paths relative to the repo). The most specific file comes first: with -x, a killed
# fault then stops before the slow files.
VALUES = "tests/training/test_values.py"
LOSSES = "tests/training/test_losses.py"
TRAIN = "tests/training/test_train.py"
T_TRAINING = (VALUES, LOSSES, TRAIN)
T_LOSSES = (VALUES, LOSSES)
T_UNIT = tuple(f"tests/unit/test_{name}.py" for name in ("warp", "edit", "track", "track_v2", "flow"))
T_DISC = ("tests/models/test_discriminator.py",)
T_DATA = ("tests/data/test_datasets.py", VALUES)


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    description: str


F = Fault
FAULTS: list[Fault] = [
    # ---- training/batches.py
    F("real-frames-at-time-0", "gendef_core/training/batches.py",
      "frames = data.frames[data.starts[videos][:, None] + times]",
      "frames = data.frames[data.starts[videos][:, None] + 0 * times]", T_TRAINING,
      "(a) every real frame is frame 0 of its video; the returned times are still the sampled ones"),
    F("real-frames-other-video", "gendef_core/training/batches.py",
      "frames = data.frames[data.starts[videos][:, None] + times]",
      "frames = data.frames[data.starts[videos.flip(0)][:, None] + times]", T_TRAINING,
      "times are drawn for one video, frames read from another"),
    F("real-videos-never-last", "gendef_core/training/batches.py",
      "videos = torch.randint(data.num_videos, (batch,), generator=g)",
      "videos = torch.randint(max(data.num_videos - 1, 1), (batch,), generator=g)", T_TRAINING,
      "the last video of the dataset is never drawn"),
    F("pretrain-frames-first-only", "gendef_core/training/batches.py",
      "idx = torch.randint(data.frames.shape[0], (batch,), generator=g)",
      "idx = torch.randint(data.num_videos, (batch,), generator=g)", T_TRAINING,
      "image pre-training draws only from the first few frames of the dataset"),
    F("fake-times-shared", "gendef_core/training/batches.py",
      "torch.stack([sample_frame_times(length, num_frames, max_span, g) for _ in range(batch)])",
      "torch.stack([sample_frame_times(length, num_frames, max_span, g)] * batch)", T_TRAINING,
      "every generated clip of a batch gets the same times"),
    # ---- training/ema.py
    F("ema-buffers-not-copied", "gendef_core/training/ema.py",
      "        b_ema.copy_(b)", "        pass", T_LOSSES,
      "(b) buffers (w_avg) are not copied into the EMA (the upstream zero-w_avg bug)"),
    F("ema-buffers-averaged", "gendef_core/training/ema.py",
      "        b_ema.copy_(b)", "        b_ema.copy_(b.lerp(b_ema, beta))", T_LOSSES,
      "buffers are averaged like weights instead of copied"),
    F("ema-lerp-reversed", "gendef_core/training/ema.py",
      "p_ema.copy_(p.detach().lerp(p_ema, beta))", "p_ema.copy_(p_ema.lerp(p.detach(), beta))", T_LOSSES,
      "beta weighs the new weights instead of the average"),
    F("ema-rampup-max", "gendef_core/training/ema.py",
      "ema_nimg = min(ema_nimg, images_seen * rampup)", "ema_nimg = max(ema_nimg, images_seen * rampup)", T_LOSSES,
      "ramp-up lengthens the half-life instead of capping it"),
    F("ema-beta-ignores-batch", "gendef_core/training/ema.py",
      "return 0.5 ** (batch / max(ema_nimg, 1e-8))", "return 0.5 ** (1 / max(ema_nimg, 1e-8))", T_LOSSES,
      "the decay is per image instead of per batch"),
    # ---- training/losses.py
    F("d-loss-real-sign", "gendef_core/training/losses.py",
      "F.softplus(-real_logits).mean()", "F.softplus(real_logits).mean()", T_LOSSES,
      "D is rewarded for calling reals fake"),
    F("g-loss-saturating", "gendef_core/training/losses.py",
      "return F.softplus(-fake_logits).mean()", "return -F.softplus(fake_logits).mean()", T_LOSSES,
      "the saturating generator loss instead of the non-saturating one"),
    F("r1-sum-over-frames", "gendef_core/training/losses.py",
      "return grad.square().sum(dim=(2, 3, 4)).mean()", "return grad.square().sum(dim=(1, 2, 3, 4)).mean()",
      T_LOSSES, "R1 summed over the K frames instead of averaged"),
    F("r1-no-create-graph", "gendef_core/training/losses.py",
      "real_frames, create_graph=True)", "real_frames, create_graph=False)", T_LOSSES,
      "R1 without a double-backward graph: no gradient reaches D"),
    F("edge-weight-sum-channels", "gendef_core/training/losses.py",
      "wx = torch.exp(-(image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=1, keepdim=True))",
      "wx = torch.exp(-(image[..., :, 1:] - image[..., :, :-1]).abs().sum(dim=1, keepdim=True))", T_LOSSES,
      "edge weights from the channel sum instead of the mean"),
    F("edge-y-unweighted", "gendef_core/training/losses.py",
      "return (dfx * wx).mean() + (dfy * wy).mean()", "return (dfx * wx).mean() + dfy.mean()", T_LOSSES,
      "the y term of the edge-aware smoothness ignores image edges"),
    F("smoothness-penalises-velocity", "gendef_core/training/losses.py",
      "edge_aware_smoothness(flow[:, 0] - flow[:, 1], image.detach())",
      "edge_aware_smoothness(flow[:, 0], image.detach())", T_LOSSES,
      "the smoothness penalises the first flow instead of its change"),
    F("smoothness-upstream-2s1-s0", "gendef_core/training/losses.py",
      "edge_aware_smoothness(flow[:, 0] - flow[:, 1], image.detach())",
      "edge_aware_smoothness(2 * offsets[:, 1] - offsets[:, 0], image.detach())", T_LOSSES,
      "upstream GenDeF's 2*S1 - S0 (missing -S2, normalised units)"),
    F("smoothness-image-not-detached", "gendef_core/training/losses.py",
      "edge_aware_smoothness(flow[:, 0] - flow[:, 1], image.detach())",
      "edge_aware_smoothness(flow[:, 0] - flow[:, 1], image)", T_LOSSES,
      "the smoothness term sends gradients into the weighting image"),
    # ---- training/steps.py (the lines quoted in issue 13; the file is being refactored)
    F("smoothness-wrong-frame", "gendef_core/training/steps.py",
      "out.frames[:, k + 1])", "out.frames[:, k])", T_TRAINING,
      "(c) the smoothness is weighted by the frame at t instead of t+1"),
    F("smoothness-wrong-offsets", "gendef_core/training/steps.py",
      "temporal_smoothness_loss(out.offsets[:, k:], ", "temporal_smoothness_loss(out.offsets[:, k - 1:k + 2], ",
      T_TRAINING, "the smoothness takes the last sampled time instead of t, t+1, t+2"),
    F("r1-interval-dropped", "gendef_core/training/steps.py",
      "(self.cfg.loss.r1_gamma / 2) * self.cfg.loss.r1_every,", "(self.cfg.loss.r1_gamma / 2),", T_TRAINING,
      "(d) lazy R1 not scaled by its interval"),
    F("r1-gamma-not-halved", "gendef_core/training/steps.py",
      "(self.cfg.loss.r1_gamma / 2) * self.cfg.loss.r1_every,", "self.cfg.loss.r1_gamma * self.cfg.loss.r1_every,",
      T_TRAINING, "R1 weighted by gamma instead of gamma/2"),
    F("reg-weight-dropped", "gendef_core/training/steps.py",
      "total = loss + self.cfg.loss.reg_weight * reg if", "total = loss + reg if", T_TRAINING,
      "lambda_reg ignored"),
    # ---- warp.py
    F("warp-fast-path-ignores-mode", "gendef_core/warp.py",
      "grid.reshape(b, t * h, w, 2), mode=mode,", 'grid.reshape(b, t * h, w, 2), mode="bilinear",', T_UNIT,
      "warp(mode='nearest') interpolates (zero padding)"),
    F("warp-general-path-ignores-mode", "gendef_core/warp.py",
      "grid.reshape(b, n * h, w, 2), mode=mode,", 'grid.reshape(b, n * h, w, 2), mode="bilinear",', T_UNIT,
      "sample(mode='nearest') interpolates (border padding, track.pull_to_canonical)"),
    F("warp-nearest-is-rounded-blend", "gendef_core/warp.py",
      "grid.reshape(b, t * h, w, 2), mode=mode, padding_mode=\"zeros\",\n"
      "                                          align_corners=False)",
      "grid.reshape(b, t * h, w, 2), mode=\"bilinear\", padding_mode=\"zeros\",\n"
      "                                          align_corners=False)\n"
      "    out = out.round() if mode == \"nearest\" else out", T_UNIT,
      "nearest = bilinear rounded: integer labels, but not the nearest pixel's"),
    F("pixel-scale-xy-swapped", "gendef_core/warp.py",
      "[(w - 1) / 2.0, (h - 1) / 2.0]", "[(h - 1) / 2.0, (w - 1) / 2.0]", T_UNIT,
      "pixel/normalised conversion swaps x and y scales"),
    F("fast-path-scale-swapped", "gendef_core/warp.py",
      "scale = torch.tensor([(wc - 1) / sw, (hc - 1) / sh]", "scale = torch.tensor([(hc - 1) / sh, (wc - 1) / sw]",
      T_UNIT, "the fast warp scales x offsets by the height"),
    F("border-clamp-off-by-one", "gendef_core/warp.py",
      "px = px.clamp(0, wc - 1)", "px = px.clamp(0, wc)", T_UNIT, "border padding clamps one pixel too far in x"),
    F("fast-path-ignores-origin", "gendef_core/warp.py",
      "jx, iy = identity_positions((h, w), origin, device=dev, dtype=work)",
      "jx, iy = identity_positions((h, w), (0, 0), device=dev, dtype=work)", T_UNIT,
      "the fast warp ignores the frame's origin on a larger canonical"),
    F("origin-check-off-by-one", "gendef_core/warp.py",
      "ox + w > wc", "ox + w > wc + 1", T_UNIT, "a frame one pixel past the canonical's right edge is accepted"),
    # ---- track.py
    F("map-at-jacobian-dy", "gendef_core/track.py",
      "dy = (1 - a) * (m10 - m00) + a * (m11 - m01)", "dy = (1 - b) * (m10 - m00) + b * (m11 - m01)", T_UNIT,
      "the y column of the bilinear Jacobian uses the wrong weights"),
    F("map-at-no-slope-outside", "gendef_core/track.py",
      "value = value + unit_x * (x - cx) + unit_y * (y - cy)", "value = value + unit_x * (x - cx)", T_UNIT,
      "outside the frame in y the map is flat instead of slope one"),
    F("track-inside-ignored", "gendef_core/track.py",
      "visible = (res < tolerance) & inside(tracks, h, w)", "visible = res < tolerance", T_UNIT,
      "tracks outside the frame count as visible"),
    F("track-backward-sweep-skips-0", "gendef_core/track.py",
      "sweep(range(start_frame - 1, -1, -1), ", "sweep(range(start_frame - 1, 0, -1), ", T_UNIT,
      "frame 0 is never solved when tracking from a later frame"),
    F("track-no-reseed", "gendef_core/track.py",
      "if init is not None and bool(bad.any()):", "if False:", T_UNIT,
      "lost tracks are not re-seeded from the nearest pixel"),
    F("visible-at-floor", "gendef_core/track.py",
      "j = points[..., 0].round().clamp(0, w - 1).long()", "j = points[..., 0].floor().clamp(0, w - 1).long()",
      T_UNIT, "visibility read at the pixel to the left instead of the nearest"),
    F("optical-flow-sign", "gendef_core/track.py",
      "flow[t] = (p1 - p).T.reshape(2, h, w).float()", "flow[t] = (p - p1).T.reshape(2, h, w).float()", T_UNIT,
      "optical flow points backwards"),
    F("pull-ignores-inside", "gendef_core/track.py",
      "ok = (res < tolerance) & inside(p, h, w)", "ok = res < tolerance", T_UNIT,
      "canonical pixels whose preimage is off the frame count as shown"),
    # ---- edit.py
    F("composite-not-exact", "gendef_core/edit.py",
      "return torch.where(a <= 0, canonical, torch.where(a >= 1, rgb, blended))", "return blended", T_UNIT,
      "alpha 0/1 no longer bit-exact"),
    F("composite-alpha-inverted", "gendef_core/edit.py",
      "blended = canonical + a * (rgb - canonical)", "blended = canonical + (1 - a) * (rgb - canonical)", T_UNIT,
      "half-transparent pixels blend with 1 - alpha"),
    F("overlay-alpha-256", "gendef_core/edit.py",
      "alpha = x[3:4] / 255.0", "alpha = x[3:4] / 256.0", T_UNIT, "alpha 255 is not fully opaque"),
    F("outside-tolerance-dropped", "gendef_core/edit.py",
      "(x > wc - 1 + _OUTSIDE_TOL)", "(x > wc - 1)", T_UNIT, "float noise at the right edge counts as outside"),
    F("coverage-counts-zero-alpha", "gendef_core/edit.py",
      "(frames[:, 0] > 0).flatten(1)", "(frames[:, 0] >= 0).flatten(1)", T_UNIT, "coverage counts every pixel"),
    F("labels-no-background-weight", "gendef_core/edit.py",
      "background = 1 - weights.sum(dim=1, keepdim=True)", "background = torch.zeros_like(weights[:, :1])", T_UNIT,
      "bilinear labels: any object weight beats the background"),
    F("labels-nearest-via-bilinear", "gendef_core/edit.py",
      'warp_chunks(src, offsets, chunk=chunk, mode="nearest", origin=origin)',
      'warp_chunks(src, offsets, chunk=chunk, mode="bilinear", origin=origin)', T_UNIT,
      "nearest labels are rounded bilinear blends (can invent labels)"),
    F("palette-bit-order", "gendef_core/edit.py",
      "rgb[ch] |= ((c >> ch) & 1) << shift", "rgb[ch] |= ((c >> ch) & 1) << (7 - shift)", T_UNIT,
      "DAVIS palette bits in the wrong order"),
    F("blend-boundary-full-colour", "gendef_core/edit.py",
      "out = torch.where((edge & (labels > 0))[..., None], colors * 0.5, out)",
      "out = torch.where((edge & (labels > 0))[..., None], colors, out)", T_UNIT,
      "outlines drawn at full instead of half brightness"),
    # ---- models/discriminator.py (minibatch std) and data/datasets.py (frame order)
    F("mbstd-removed", "gendef_core/models/discriminator.py",
      "    return torch.cat([x, y], dim=1)", "    return torch.cat([x, torch.zeros_like(y)], dim=1)", T_DISC,
      "the minibatch-std feature is a constant 0"),
    F("mbstd-whole-batch", "gendef_core/models/discriminator.py",
      "    g = min(group_size, n)\n", "    g = n\n", T_DISC, "the std is taken over the whole batch, not groups"),
    F("mbstd-no-sqrt", "gendef_core/models/discriminator.py",
      ".square().mean(dim=0).add(1e-8).sqrt()", ".square().mean(dim=0).add(1e-8)", T_DISC,
      "minibatch variance instead of standard deviation"),
    F("frame-times-unsorted", "gendef_core/data/datasets.py",
      "inner.sort().values, torch.tensor([start + span])", "inner, torch.tensor([start + span])", T_DATA,
      "the frames between the first and last come in random order (K > 3)"),
    F("video-frames-reversed", "gendef_core/data/datasets.py",
      "torch.from_numpy(arr).permute(0, 3, 1, 2)", "torch.from_numpy(arr[::-1].copy()).permute(0, 3, 1, 2)",
      T_DATA, "each video's frames are loaded in reverse order"),
    F("video-frames-rolled", "gendef_core/data/datasets.py",
      "torch.from_numpy(arr).permute(0, 3, 1, 2)", "torch.from_numpy(arr).roll(1, 0).permute(0, 3, 1, 2)",
      T_DATA, "each video's frames are loaded shifted by one (the last first)"),
]


@dataclasses.dataclass
class Result:
    name: str
    status: str  # killed | survived | timeout | error
    seconds: float
    detail: str = ""


def check_snippets(faults: list[Fault], root: Path = REPO) -> list[str]:
    problems = []
    for f in faults:
        path = root / f.file
        text = path.read_text() if path.exists() else ""
        n = text.count(f.old)
        if n != 1:
            problems.append(f"{f.name}: {f.file}: snippet found {n} times (need exactly 1): {f.old!r}")
    return problems


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".pyc")}


def make_snapshot(dest: Path, tests_tar: bytes | None, rev_paths: list[str]) -> None:
    """gendef_core/, gendef_cli/, pyproject.toml and tests/ into `dest`.

    tests/ is the working tree's, or the `tests_tar` archive of a revision; with `rev_paths`, the working
    tree's except for those paths, which are as in the archive (absent there: removed). Taken once per
    run, so every fault sees the same code even while the working tree is being edited.
    """
    for name in ("gendef_core", "gendef_cli"):
        shutil.copytree(REPO / name, dest / name, ignore=_ignore)
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    if tests_tar is None or rev_paths:
        shutil.copytree(REPO / "tests", dest / "tests", ignore=_ignore)
    for rel in rev_paths:
        target = dest / rel
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    if tests_tar:
        with tarfile.open(fileobj=io.BytesIO(tests_tar)) as tar:
            tar.extractall(dest, filter="data")


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_tests(root: Path, tests: tuple[str, ...], timeout: float, exitfirst: bool = True) -> tuple[str, str]:
    """Run pytest in `root`; returns (status, last lines). Verifies the copy is what gets imported."""
    paths = [t for t in tests if (root / t).exists()]
    if not paths:
        return "error", "none of the fault's test files exist here"
    probe = subprocess.run([sys.executable, "-c", "import gendef_core, gendef_cli; print(gendef_core.__file__); "
                            "print(gendef_cli.__file__)"], cwd=root, env=_env(root), capture_output=True,
                           text=True)
    files = probe.stdout.split()
    if probe.returncode or len(files) != 2 or not all(Path(f).resolve().is_relative_to(root.resolve())
                                                      for f in files):
        return "error", f"the copy is not what gets imported: {probe.stdout.strip()} {probe.stderr.strip()[-300:]}"
    cmd = [sys.executable, "-m", "pytest", *(["-x"] if exitfirst else []), "-q", "-p", "no:cacheprovider",
           "--no-header", *paths]
    try:
        p = subprocess.run(cmd, cwd=root, env=_env(root), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"over {timeout:.0f} s"
    tail = (p.stdout.strip().splitlines() or [""])[-1]
    if p.returncode == 0:
        return "passed", tail
    if p.returncode == 1:
        failed = [ln for ln in p.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        if not exitfirst:  # every failing test, by name
            names = [ln.split()[1].split(" - ")[0] for ln in failed]
            return "failed", f"{len(names)} failed: " + ", ".join(n.rsplit("::", 1)[-1] for n in names)
        return "failed", (failed[0] if failed else tail)[:200]
    return "failed", f"pytest exit {p.returncode}: {tail}"[:200]


def run_fault(fault: Fault | None, tests: tuple[str, ...], snapshot: Path, timeout: float,
              exitfirst: bool = True) -> Result:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gendef-mut-") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(snapshot, root)
        if fault is not None:
            path = root / fault.file
            text = path.read_text()
            assert text.count(fault.old) == 1, fault.name
            path.write_text(text.replace(fault.old, fault.new))
        status, detail = run_tests(root, tests, timeout, exitfirst)
    seconds = time.perf_counter() - t0
    name = fault.name if fault else "baseline " + " ".join(tests)
    if status == "error":
        return Result(name, "error", seconds, detail)
    if fault is None:
        return Result(name, "ok" if status == "passed" else "broken", seconds, detail)
    return Result(name, {"passed": "survived", "failed": "killed", "timeout": "timeout"}[status], seconds, detail)


def _run_all(faults: list[Fault], snapshot: Path, args: argparse.Namespace) -> list[Result] | None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        if not args.no_baseline:
            selections = sorted({f.tests for f in faults})
            for r in pool.map(lambda s: run_fault(None, s, snapshot, args.timeout), selections):
                print(f"  {r.status:8s} {r.seconds:6.1f}s  {r.name}  {r.detail}", flush=True)
                if r.status != "ok":
                    print("the unmodified copy does not pass this selection; fix that first", file=sys.stderr)
                    return None
        results: list[Result] = []
        futures = {pool.submit(run_fault, f, f.tests, snapshot, args.timeout, not args.all_failures): f
                   for f in faults}
        for fut in concurrent.futures.as_completed(futures):
            r = fut.result()
            results.append(r)
            print(f"  [{len(results):2d}/{len(faults)}] {r.status:8s} {r.seconds:6.1f}s  {r.name}  {r.detail}",
                  flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this fault (repeatable)")
    ap.add_argument("--tests-rev", metavar="REV", help="use tests/ from this git revision instead of the working tree")
    ap.add_argument("--rev-path", action="append", default=[], metavar="PATH",
                    help="with --tests-rev: take only this test path from REV, the rest from the working tree "
                         "(repeatable; a path absent at REV is removed)")
    ap.add_argument("--jobs", type=int, default=1, help="faults run in parallel (default 1)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per pytest run (a timeout counts as killed)")
    ap.add_argument("--no-baseline", action="store_true", help="skip checking that the unmodified copy passes")
    ap.add_argument("--all-failures", action="store_true",
                    help="run each fault's tests without -x and list every test that fails (slower)")
    ap.add_argument("--check", action="store_true", help="only check that every snippet occurs exactly once")
    ap.add_argument("--list", action="store_true", help="list the faults and exit")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--fail-under", type=float, help="exit 1 if the score (killed/total) is below this")
    args = ap.parse_args(argv)

    faults = FAULTS
    if args.only:
        unknown = sorted(set(args.only) - {f.name for f in FAULTS})
        if unknown:
            ap.error(f"unknown fault(s): {', '.join(unknown)}")
        faults = [f for f in FAULTS if f.name in args.only]
    if args.list:
        for f in faults:
            print(f"{f.name:34s} {f.file:38s} {f.description}")
        return 0
    problems = check_snippets(faults)
    if problems:
        print("fault snippets out of date (fix the list in tools/mutation_check.py):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 2
    if args.check:
        print(f"{len(faults)} fault snippets found, each exactly once")
        return 0

    if args.rev_path and not args.tests_rev:
        ap.error("--rev-path needs --tests-rev")
    tests_tar, rev_paths = None, [p.rstrip("/") for p in args.rev_path]
    if args.tests_rev:
        exists = [p for p in (rev_paths or ["tests"]) if subprocess.run(
            ["git", "cat-file", "-e", f"{args.tests_rev}:{p}"], cwd=REPO, capture_output=True).returncode == 0]
        tests_tar = subprocess.run(["git", "archive", "--format=tar", args.tests_rev, *exists], cwd=REPO,
                                   check=True, capture_output=True).stdout if exists else b""
    t_start = time.perf_counter()
    label = "working-tree tests"
    if args.tests_rev:
        label = (f"tests of {args.tests_rev}" if not rev_paths else
                 f"working-tree tests with {', '.join(rev_paths)} as in {args.tests_rev}")
    print(f"{len(faults)} faults, library from the working tree, {label}, jobs={args.jobs}", flush=True)

    with tempfile.TemporaryDirectory(prefix="gendef-mut-snapshot-") as snap_dir:
        snapshot = Path(snap_dir) / "repo"
        make_snapshot(snapshot, tests_tar, rev_paths)
        problems = check_snippets(faults, snapshot)  # the working tree may have changed since the first check
        if problems:
            print("\n".join(["fault snippets changed while starting:", *problems]), file=sys.stderr)
            return 2
        results = _run_all(faults, snapshot, args)
        if results is None:
            return 2
    order = {f.name: i for i, f in enumerate(faults)}
    results.sort(key=lambda r: order[r.name])
    by_name = {f.name: f for f in faults}

    print(f"\n{'fault':34s} {'file':38s} {'result':9s} {'time':>6s}  detail")
    for r in results:
        f = by_name[r.name]
        print(f"{r.name:34s} {f.file:38s} {r.status:9s} {r.seconds:5.0f}s  {r.detail}")
    killed = sum(r.status in ("killed", "timeout") for r in results)
    errors = [r for r in results if r.status == "error"]
    total = len(results)
    elapsed = time.perf_counter() - t_start
    print(f"\nscore: {killed}/{total} killed ({100 * killed / max(total, 1):.0f}%), "
          f"{label}, {elapsed / 60:.1f} min")
    survivors = [r.name for r in results if r.status == "survived"]
    if survivors:
        print("survived: " + ", ".join(survivors))
    if errors:
        print("errors: " + ", ".join(r.name for r in errors))
    if args.json:
        args.json.write_text(json.dumps({
            "tests": label, "killed": killed, "total": total, "minutes": round(elapsed / 60, 2),
            "date": time.strftime("%Y-%m-%d"), "results": [dataclasses.asdict(r) for r in results]}, indent=1))
    if errors:
        return 2
    if args.fail_under is not None and killed / max(total, 1) < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
