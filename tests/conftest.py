"""Shared fixtures: an in-process CLI runner and small media factories."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # tests run in parallel workers; one thread each avoids oversubscription


@dataclasses.dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `gendef ARGS` in-process through the real entry point (`gendef_cli.main.main`).

    Returns exit code, stdout and stderr; GENDEF_DEBUG is unset so errors are one-liners.
    """
    from gendef_cli.main import main

    monkeypatch.delenv("GENDEF_DEBUG", raising=False)

    def run(*args: str | os.PathLike[str]) -> CliResult:
        capfd.readouterr()
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out, err = capfd.readouterr()
        return CliResult(code, out, err)

    return run


def coded_dataset(root: Path, lengths: list[int], r: int = 8, blue: int = 0) -> Path:
    """A dataset whose frame t of video v is the constant colour (v, t, blue), written by gendef's own writer
    (so a test can decode which frame it got)."""
    from fractions import Fraction

    from gendef_core.artifacts.common import atomic_dir
    from gendef_core.artifacts.dataset import VideoEntry, write_dataset_manifest, write_video_frames

    with atomic_dir(root) as tmp:
        videos = []
        for v, n in enumerate(lengths):
            frames = np.zeros((n, r, r, 3), np.uint8)
            frames[..., 0] = v
            frames[..., 1] = np.arange(n, dtype=np.uint8)[:, None, None]
            frames[..., 2] = blue
            videos.append(VideoEntry(f"v{v}", write_video_frames(tmp, f"v{v}", frames)))
        write_dataset_manifest(tmp, resolution=r, fps=Fraction(25), videos=videos, source={"kind": "test"},
                               min_frames=1)
    return root


def gradient_video(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, moving colour pattern: uint8 [T, H, W, 3] that survives H.264 well."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    phase = rng.uniform(0, 2 * np.pi, 3)
    frames = []
    for t in range(num_frames):
        r = 128 + 100 * np.sin(x / width * 2 * np.pi + 0.2 * t + phase[0])
        g = 128 + 100 * np.sin(y / height * 2 * np.pi + 0.1 * t + phase[1])
        b = 128 + 100 * np.sin((x + y) / (width + height) * 2 * np.pi + phase[2])
        frames.append(np.stack([r, g, b], -1))
    return np.clip(np.round(np.stack(frames)), 0, 255).astype(np.uint8)


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """Write an MP4 with gendef's own writer: make_video("a.mp4", frames=20, size=(48, 64), fps=25)."""
    from gendef_core.data.video_io import write_video

    def make(name: str, frames: int = 20, size: tuple[int, int] = (48, 64), fps: int | str = 25,
             seed: int = 0) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, [gradient_video(frames, size[0], size[1], seed)], fps)
        return path

    return make


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GenDeF fine-tuning run (clouds data, 16 px; pretrain 2 steps, finetune 2): about 2 s on a CPU.

    `model.deform_init="xavier"` makes the deformation generator's offsets non-zero from the start,
    so sampled clips really move (checked here, once).
    """
    from gendef_core import api
    from gendef_core.sampling import clip_tensors, draw_latents, load_model

    root = tmp_path_factory.mktemp("tiny_ckpt")
    data = root / "clouds"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=8, resolution=16, seed=0)
    api.pretrain(data, root / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=2))
    cfg = api.resolve_train_config("finetune", preset="tiny", init=root / "pre", steps=2,
                                   overrides=['model.deform_init="xavier"'])
    run = api.finetune(data, root / "ft", cfg).run_dir
    model = load_model(run, device="cpu")
    _, offsets = clip_tensors(model, draw_latents(model, 0, 4), 4)
    assert offsets.abs().max() > 1e-2, "the tiny GenDeF model makes (near-)zero offsets; nothing would move"
    return Path(run)
