"""`config.parameter_estimate` (the memory guard's input) stays within 10 % of the built networks, for the
presets and with every optional discriminator part switched on."""

from __future__ import annotations

import pytest

from gendef_core import config
from gendef_core.models.discriminator import build_discriminator
from gendef_core.models.generator import build_generator


def _built(cfg: config.TrainConfig) -> int:
    g = build_generator(cfg.model, cfg.stage)
    d = build_discriminator(cfg)
    return sum(p.numel() for p in g.parameters()) + sum(p.numel() for p in d.parameters())


@pytest.mark.parametrize("stage", ["pretrain", "finetune"])
@pytest.mark.parametrize("name", ["tiny", "small"])
def test_estimate_matches_built_presets(name: str, stage: config.Stage) -> None:
    cfg = config.preset(name, stage)
    built = _built(cfg)
    assert abs(config.parameter_estimate(cfg) - built) <= 0.1 * built


@pytest.mark.parametrize(("option", "tolerance"), [("discriminator.deviation_input", 0.0),
                                                  ("discriminator.motion_branch", 0.01)])
def test_estimate_counts_each_optional_discriminator_part(option: str, tolerance: float) -> None:
    base = config.preset("small", "finetune")
    extra = config.apply_overrides(base, [f"{option}=true"])
    added_built = _built(extra) - _built(base)
    added_estimate = config.parameter_estimate(extra) - config.parameter_estimate(base)
    assert added_built > 0
    assert abs(added_estimate - added_built) <= tolerance * added_built, (added_estimate, added_built)
