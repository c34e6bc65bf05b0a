"""Adding a model variant takes one config value, one class and one `match` arm (docs/MODEL.md).

A throwaway variant, `shift` (the canonical image moved by one learnt translation per frame), is added
here exactly that way: the Literal value is patched into `config.Variant`, the class is defined below
and `build_video_generator` gets one more arm. Nothing else in gendef is told about it, and it trains
(with a resume), snapshots, exports, samples, resamples, tracks and is evaluated like GenDeF.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal, cast

import pytest
import torch
from torch import Tensor, nn

from gendef_core import api, config
from gendef_core.artifacts.checkpoint import load_checkpoint
from gendef_core.artifacts.clip import load_clip
from gendef_core.config import ModelConfig
from gendef_core.models import generator as generator_module
from gendef_core.models.generator import (
    CanonicalGenerator,
    Content,
    GeneratorOutput,
    VideoGenerator,
    motion_mapping,
)
from gendef_core.warp import warp


class ShiftGenerator(VideoGenerator):
    """frames_t = canonical translated by (dx, dy)_t = 0.5 * tanh(linear(u_t)): a rigid-motion GenDeF."""

    has_deformation = True
    description = "the test's shift model"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.canonical = CanonicalGenerator(cfg)
        self.motion = motion_mapping(cfg)
        self.shift = nn.Linear(self.motion.code_dim, 2)

    def networks(self) -> dict[str, nn.Module]:
        return {"canonical": self.canonical, "shift": nn.ModuleDict({"motion": self.motion, "shift": self.shift})}

    def _offsets(self, times: Tensor, motion_noise: Tensor) -> Tensor:
        r = self.cfg.resolution
        xy = 0.5 * torch.tanh(self.shift(self.motion(times, motion_noise)))      # [B, K, 2]
        return xy[..., None, None].expand(*xy.shape, r, r)                      # [B, K, 2, R, R]

    def forward(self, z_c: Tensor, z_d: Tensor, times: Tensor, motion_noise: Tensor, *, truncation_psi: float = 1.0,
                update_w_avg: bool = False) -> GeneratorOutput:
        canonical, _ = self.canonical(z_c, truncation_psi=truncation_psi, update_w_avg=update_w_avg)
        offsets = self._offsets(times, motion_noise)
        return GeneratorOutput(warp(canonical, offsets), canonical, offsets)

    def content(self, z_c: Tensor, *, truncation_psi: float = 1.0) -> Content:
        canonical, _ = self.canonical(z_c, truncation_psi=truncation_psi)
        return Content(z_c, canonical.clamp(-1, 1))

    def frames_at(self, content: Content, z_d: Tensor, times: Tensor, motion_noise: Tensor, *,
                  truncation_psi: float = 1.0) -> GeneratorOutput:
        assert content.canonical is not None
        offsets = self._offsets(times, motion_noise)
        return GeneratorOutput(warp(content.canonical, offsets), content.canonical, offsets)

    def offsets_at(self, content: Content, z_d: Tensor, times: Tensor, motion_noise: Tensor, *,
                   truncation_psi: float = 1.0) -> Tensor:
        return self._offsets(times, motion_noise)


@pytest.fixture
def shift_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    """The three additions: a config value, the class above, a match arm."""
    monkeypatch.setattr(config, "Variant", Literal["gendef", "direct", "shift"])
    original = generator_module.build_video_generator

    def build_video_generator(cfg: ModelConfig) -> VideoGenerator:
        match cfg.variant:
            case "shift":
                return ShiftGenerator(cfg)
        return original(cfg)

    monkeypatch.setattr(generator_module, "build_video_generator", build_video_generator)


def test_a_new_variant_needs_one_value_one_class_one_arm(shift_variant: None, tmp_path: Path) -> None:
    data = tmp_path / "clouds"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=8, resolution=16, seed=0)
    sets = ['model.variant="shift"', "snapshot_every=2", "save_every=2"]
    cfg = api.resolve_train_config("finetune", preset="tiny", from_scratch=True, steps=2, overrides=sets)
    assert cfg.model.variant == "shift"
    run = api.finetune(data, tmp_path / "run", cfg)
    resumed = api.finetune(data, tmp_path / "run", api.resolve_train_config(
        "finetune", preset="tiny", resume_run=tmp_path / "run", steps=4), resume=True)
    assert resumed.step == 4 and run.checkpoint != resumed.checkpoint
    manifest = json.loads((resumed.checkpoint / "manifest.json").read_text())
    assert sorted(manifest["networks"]) == ["canonical", "canonical_ema", "discriminator", "shift", "shift_ema"]
    # the shift head is trained: its weights (raw and EMA) move between step 2 and step 4, and stay finite
    for part in ("shift", "shift_ema"):
        before, after = (load_checkpoint(ck.checkpoint).load_network(part) for ck in (run, resumed))
        assert sorted(before) == sorted(after) and {"shift.weight", "shift.bias"} <= set(after)
        for key in ("shift.weight", "shift.bias"):
            assert bool(torch.isfinite(after[key]).all()), (part, key)
            assert float((after[key] - before[key]).abs().max()) > 0, (part, key)
    assert (tmp_path / "run" / "snapshots" / "step-00000004.png").is_file()

    exported = api.export_model(tmp_path / "run", tmp_path / "exported")
    clip = api.sample(tmp_path / "clip", ckpt=exported, frames=6, seed=1)[0]
    c = load_clip(clip)
    # the deformation is one translation per frame: every pixel of a frame has the same offset
    assert torch.equal(c.offsets, c.offsets[..., :1, :1].expand_as(c.offsets))
    assert (c.offsets[1:] - c.offsets[:1]).abs().max() > 0  # and it changes over time
    again = api.resample(clip, tmp_path / "again", motion_seed=1)  # same seed: the same motion
    assert torch.equal(load_clip(again).offsets, c.offsets)
    (tmp_path / "points.json").write_text(json.dumps([[8.0, 8.0]]))
    doc = api.track(clip, tmp_path / "points.json")
    shift_px = c.offsets[:, :, 0, 0] * (16 - 1) / 2                        # normalised -> px, [T, 2]
    # a canonical point p shows where x + offset(x) = p, i.e. at p - offset (backward warp)
    want = torch.tensor([8.0, 8.0]) - shift_px
    assert torch.allclose(torch.tensor(doc["tracks"])[:, 0], want, atol=1e-3)

    from gendef_core.metrics.videos import generate_videos
    from gendef_core.models.loading import load_generator
    model = load_generator(exported, device="cpu")
    assert isinstance(model.generator, ShiftGenerator)
    videos, offsets = next(generate_videos(model.generator, cfg.model.z_dim, num_videos=2, num_frames=6, seed=0))
    assert videos.shape == (2, 6, 16, 16, 3) and offsets is not None

    # `gendef eval` on it (the motion metric: no network weights needed); with a deformation, the fake side
    # also gets the track statistics and warping error, as GenDeF's does
    report = api.evaluate(data, ckpt=exported, metrics=("motion",), motion_videos=2, motion_frames=6, cache=False,
                          device="cpu")
    assert report["source"] == {"ckpt": str(exported), "variant": "shift", "weights": "ema"}
    assert list(report["metrics"]) == ["motion"] and set(report["seconds"]) == {"motion"}
    motion = cast(api.MotionReport, report["metrics"]["motion"])
    assert (motion["num_videos"], motion["num_frames"]) == (2, 6)
    assert {"track_speed", "warp_error"} <= set(motion["fake"]) and set(motion["distance"]) == set(motion["real"])
    assert all(math.isfinite(v) for v in [*motion["real"].values(), *motion["fake"].values()])


def test_without_its_match_arm_the_variant_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "Variant", Literal["gendef", "direct", "shift"])
    cfg = config.preset("tiny", "finetune")
    with pytest.raises(ValueError, match="unknown model variant 'shift'"):
        generator_module.build_video_generator(ModelConfig(**{**cfg.model.__dict__, "variant": "shift"}))
