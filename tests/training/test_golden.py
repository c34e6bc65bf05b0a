"""Training and sampling on the tiny preset give the values they gave before the generator-interface
redesign (issue 13): the refactor changed where code lives, not what it computes.

The expected numbers were recorded with gendef 0.6.0 (commit 90045a2) on the CI machine type (CPU,
1 thread): per network, the float64 sum and sum of squares of all stored tensors, after 3 pre-training
steps, 3 fine-tuning steps from them, and 2 steps of the direct baseline; and of a sampled clip. On that
machine the files were also bit-identical (sha256) before and after. The tolerances allow last-bit
differences of other CPUs' kernels; one training step more or less, another seed, a different draw
order or a network initialised differently moves these sums by far more (>= 1e-2).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from safetensors.torch import load_file

from gendef_core import api

GOLDEN = {
    "pre": {
        "canonical": [
            2583.941349701083,
            21325546.718530107
        ],
        "canonical_ema": [
            2583.9897089846345,
            21325546.37432168
        ],
        "discriminator": [
            119.13256574276602,
            65366.93509663071
        ]
    },
    "ft": {
        "canonical": [
            2569.6887566092555,
            21325434.2807182
        ],
        "canonical_ema": [
            2577.5341935949964,
            21325497.887121726
        ],
        "deformation": [
            9561.565096330247,
            35412996.765655704
        ],
        "deformation_ema": [
            9564.673733361378,
            35412974.46131613
        ],
        "discriminator": [
            -203.70734365224234,
            5061486.958941469
        ]
    },
    "direct": {
        "discriminator": [
            582.6902790527943,
            5781202.256871929
        ],
        "frames": [
            -78.20709754263953,
            35456683.48769772
        ],
        "frames_ema": [
            -78.21909087604581,
            35456686.2154673
        ]
    },
    "sample": [
        71.36836210265756,
        613.2139167226851,
        -143.61948809676687,
        206.0011221804889
    ]
}


def stats(ckpt: Path) -> dict[str, list[float]]:
    out = {}
    for f in sorted(Path(ckpt).glob("*.safetensors")):
        sd = load_file(f)
        out[f.stem] = [sum(float(v.double().sum()) for v in sd.values()),
                       sum(float(v.double().square().sum()) for v in sd.values())]
    return out


def close(got: list[float], want: list[float]) -> bool:
    return all(math.isclose(a, b, rel_tol=1e-7, abs_tol=5e-3) for a, b in zip(got, want, strict=True))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("golden")
    api.synth_dataset("clouds", root / "d", num_videos=2, num_frames=8, resolution=16, seed=0)
    pre = api.pretrain(root / "d", root / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=3))
    cfg = api.resolve_train_config("finetune", preset="tiny", init=root / "pre", steps=3,
                                   overrides=['model.deform_init="xavier"'])
    ft = api.finetune(root / "d", root / "ft", cfg)
    cfg = api.resolve_train_config("finetune", preset="tiny", from_scratch=True, steps=2,
                                   overrides=['model.variant="direct"'])
    direct = api.finetune(root / "d", root / "dir", cfg)
    clip = api.sample(root / "c", ckpt=root / "ft", frames=9, seed=3, batch_size=4)[0]
    return {"pre": pre.checkpoint, "ft": ft.checkpoint, "direct": direct.checkpoint, "clip": clip}


@pytest.mark.parametrize("run", ["pre", "ft", "direct"])
def test_trained_weights_are_those_of_before(runs: dict[str, Path], run: str) -> None:
    got = stats(runs[run])
    assert sorted(got) == sorted(GOLDEN[run])
    for name, want in GOLDEN[run].items():
        assert close(got[name], want), (run, name, got[name], want)


def test_sampled_clip_is_that_of_before(runs: dict[str, Path]) -> None:
    c = load_file(runs["clip"] / "canonical.safetensors")["canonical"].double()
    t = load_file(runs["clip"] / "deform.safetensors")["offsets"].double()
    got = [float(c.sum()), float(c.abs().sum()), float(t.sum()), float(t.abs().sum())]
    assert close(got, GOLDEN["sample"]), (got, GOLDEN["sample"])


def test_the_tolerance_tells_one_training_step_apart(runs: dict[str, Path]) -> None:
    """The check has power: the raw and EMA weights of one run (one EMA update apart) differ beyond it."""
    got = stats(runs["ft"])
    assert not close(got["canonical"], got["canonical_ema"])
    assert not close(got["deformation"], got["deformation_ema"])
