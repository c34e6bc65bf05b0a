"""Training and sampling on the tiny preset give the values they gave before the generator-interface
redesign (issue 13): the refactor changed where code lives, not what it computes.

The expected numbers were computed by gendef 0.6.0 (commit 90045a2) on the CI machine type (CPU, 1
thread): per network, the float64 sum, sum of squares and a position-weighted sum (sum of x_i cos(0.1 i)
over the flattened tensors in name order, so that reordered, transposed or swapped values show) of all
stored tensors, after 3 pre-training steps, 3 fine-tuning steps from them, 2 with the canonical frozen
and 2 of the direct baseline; and the same of a sampled clip. On that machine the files were also
bit-identical (sha256) before and after. The tolerances allow last-bit differences of other CPUs'
kernels; one training step more or less, another seed, a different draw order, a network initialised
differently, frames or channels swapped move these sums by far more.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gendef_core import api

GOLDEN = {
    "pre": {
        "canonical": [
            2583.941349701083,
            21325546.718530107,
            -3193.6766176354176
        ],
        "canonical_ema": [
            2583.9897089846345,
            21325546.37432168,
            -3193.6689944246905
        ],
        "discriminator": [
            119.13256574276602,
            65366.93509663071,
            218.21785421652353
        ]
    },
    "ft": {
        "canonical": [
            2569.6887566092555,
            21325434.2807182,
            -3193.165585182685
        ],
        "canonical_ema": [
            2577.5341935949964,
            21325497.887121726,
            -3193.3980151107744
        ],
        "deformation": [
            9561.565096330247,
            35412996.765655704,
            -2023.0070840452427
        ],
        "deformation_ema": [
            9564.673733361378,
            35412974.46131613,
            -2022.0900301102797
        ],
        "discriminator": [
            -203.70734365224234,
            5061486.958941469,
            -762.1078455668721
        ]
    },
    "frozen": {
        "canonical": [
            2583.9897089846345,
            21325546.37432168,
            -3193.6689944246905
        ],
        "canonical_ema": [
            2583.9897089846345,
            21325546.37432168,
            -3193.6689944246905
        ],
        "deformation": [
            9566.63490823303,
            35412929.92181477,
            -2021.7518688386904
        ],
        "deformation_ema": [
            9565.641206329547,
            35412944.78725049,
            -2021.4031495261806
        ],
        "discriminator": [
            3046.04979432417,
            4966795.750785128,
            -426.61585153153857
        ]
    },
    "direct": {
        "discriminator": [
            582.6902790527943,
            5781202.256871929,
            -286.2906462000256
        ],
        "frames": [
            -78.20709754263953,
            35456683.48769772,
            -2723.910769205772
        ],
        "frames_ema": [
            -78.21909087604581,
            35456686.2154673,
            -2723.9225021114657
        ]
    },
    "sample": [
        71.36836210265756,
        613.2139167226851,
        -1.218682011609037,
        -143.61948809676687,
        206.0011221804889,
        -1.5671968856878697
    ]
}


def wsum(v: torch.Tensor) -> float:
    x = v.double().flatten()
    return float((x * torch.cos(0.1 * torch.arange(x.numel(), dtype=torch.float64))).sum())


def stats(ckpt: Path) -> dict[str, list[float]]:
    out = {}
    for f in sorted(Path(ckpt).glob("*.safetensors")):
        sd = load_file(f)
        out[f.stem] = [sum(float(v.double().sum()) for v in sd.values()),
                       sum(float(v.double().square().sum()) for v in sd.values()),
                       sum(wsum(sd[k]) for k in sorted(sd))]
    return out


def close(got: list[float], want: list[float], abs_tol: float = 5e-3) -> bool:
    return all(math.isclose(a, b, rel_tol=1e-7, abs_tol=abs_tol) for a, b in zip(got, want, strict=True))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("golden")
    # The data of 0.7.0: 0.8.0's clouds move more (issue 14: strain target 0.85, was 0.5), and the data is not
    # what this test is about. With the old target the videos are those of 0.7.0 bit for bit.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gendef_core.data.synth_clouds._MAX_STRAIN", 0.5)
        api.synth_dataset("clouds", root / "d", num_videos=2, num_frames=8, resolution=16, seed=0)
    pre = api.pretrain(root / "d", root / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=3))
    cfg = api.resolve_train_config("finetune", preset="tiny", init=root / "pre", steps=3,
                                   overrides=['model.deform_init="xavier"'])
    ft = api.finetune(root / "d", root / "ft", cfg)
    cfg = api.resolve_train_config("finetune", preset="tiny", init=root / "pre", steps=2,
                                   overrides=["freeze_canonical=true"])
    frozen = api.finetune(root / "d", root / "fz", cfg)
    cfg = api.resolve_train_config("finetune", preset="tiny", from_scratch=True, steps=2,
                                   overrides=['model.variant="direct"'])
    direct = api.finetune(root / "d", root / "dir", cfg)
    clip = api.sample(root / "c", ckpt=root / "ft", frames=9, seed=3, batch_size=4)[0]
    return {"pre": pre.checkpoint, "ft": ft.checkpoint, "frozen": frozen.checkpoint, "direct": direct.checkpoint,
            "clip": Path(clip)}


@pytest.mark.parametrize("run", ["pre", "ft", "frozen", "direct"])
def test_trained_weights_are_those_of_before(runs: dict[str, Path], run: str) -> None:
    got = stats(runs[run])
    assert sorted(got) == sorted(GOLDEN[run])
    for name, want in GOLDEN[run].items():
        assert close(got[name], want), (run, name, got[name], want)


def _clip_stats(clip: Path) -> list[float]:
    c = load_file(clip / "canonical.safetensors")["canonical"].double()
    t = load_file(clip / "deform.safetensors")["offsets"].double()
    return [float(c.sum()), float(c.abs().sum()), wsum(c), float(t.sum()), float(t.abs().sum()), wsum(t)]


def test_sampled_clip_is_that_of_before(runs: dict[str, Path]) -> None:
    got = _clip_stats(runs["clip"])
    assert close(got, GOLDEN["sample"], abs_tol=1e-4), (got, GOLDEN["sample"])


def test_the_check_has_power(runs: dict[str, Path]) -> None:
    """Raw vs EMA weights (one EMA update apart), reversed frames and swapped x/y offsets all fail it."""
    got = stats(runs["ft"])
    assert not close(got["canonical"], got["canonical_ema"])
    assert not close(got["deformation"], got["deformation_ema"])
    t = load_file(runs["clip"] / "deform.safetensors")["offsets"].double()
    for bad in (t.flip(0), t.flip(1), t + 1e-6):
        assert not math.isclose(wsum(bad), GOLDEN["sample"][5], abs_tol=1e-4) or \
            not math.isclose(float(bad.sum()), GOLDEN["sample"][3], abs_tol=1e-4)
