"""Training snapshots show what `gendef sample --seed i` draws from the checkpoint of that step (i = 0..3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gendef_core import api
from gendef_core.artifacts.clip import load_clip
from gendef_core.data.images import to_uint8
from gendef_core.warp import warp


def test_snapshot_cells_are_the_samples_of_seeds_0_to_3(tmp_path: Path) -> None:
    data = tmp_path / "d"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=8, resolution=16, seed=0)
    api.pretrain(data, tmp_path / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=1))
    cfg = api.resolve_train_config("finetune", preset="tiny", init=tmp_path / "pre", steps=1,
                                   overrides=['model.deform_init="xavier"', "snapshot_every=1"])
    run = api.finetune(data, tmp_path / "ft", cfg)
    sheet = np.asarray(Image.open(run.run_dir / "snapshots" / "step-00000001.png").convert("RGB"))
    r = 16
    assert sheet.shape == (4 * r, 9 * r, 3)  # per sample: canonical | 4 frames | 4 flow colours
    shown = torch.linspace(0, 15, 4).round().long().tolist()
    for i in range(4):
        clip = load_clip(api.sample(tmp_path / f"s{i}", ckpt=run.checkpoint, frames=16, seed=i)[0])
        row = sheet[i * r:(i + 1) * r]
        assert np.array_equal(row[:, :r], to_uint8(clip.canonical).numpy())
        frames = warp(clip.canonical[None], clip.offsets[None, shown])[0]
        for k in range(4):
            # The snapshot runs G_d on the four videos in one batch, sampling one video at a time: the offsets
            # agree to float round-off, which can move a pixel that sits on a rounding boundary by one level
            # (seen on 3 of 16 x 16 x 4 x 4 x 3 values). Anything else (another seed, frame or weights) moves many.
            diff = np.abs(row[:, (1 + k) * r:(2 + k) * r].astype(int) - to_uint8(frames[k]).numpy().astype(int))
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (i, k, diff.max(), (diff > 0).mean())
