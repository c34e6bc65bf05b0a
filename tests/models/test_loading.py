"""The one weights-fit check (models/loading.py): stored weights that do not fit the model are refused with
one line naming the file, whatever the path (load_generator for sampling/evaluation, resume, --init)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gendef_core.artifacts.checkpoint import load_checkpoint, save_checkpoint
from gendef_core.config import preset
from gendef_core.errors import ArtifactError, ConfigError
from gendef_core.models.generator import build_video_generator
from gendef_core.models.loading import fit_weights, load_generator, load_into


def _ckpt(tmp_path: Path, edit: str | None = None) -> Path:
    cfg = preset("tiny", "finetune")
    torch.manual_seed(0)
    gen = build_video_generator(cfg.model)
    nets = {f"{n}_ema": dict(m.state_dict()) for n, m in gen.networks().items()}
    nets |= {n: {k: v + 1 for k, v in m.state_dict().items()} for n, m in gen.networks().items()}  # raw != EMA
    state = nets["deformation_ema"]
    key = sorted(state)[0]
    if edit == "missing":
        del state[key]
    elif edit == "unexpected":
        state["extra.weight"] = torch.zeros(2)
    elif edit == "shape":
        state[key] = torch.zeros(*state[key].shape, 2)
    return save_checkpoint(tmp_path / "ck", step=1, config=cfg.to_dict(), networks=nets)


def test_a_fitting_checkpoint_loads_exactly_ema_or_raw(tmp_path: Path) -> None:
    ck = _ckpt(tmp_path)
    info = load_checkpoint(ck)
    ema = load_generator(ck, device="cpu")
    for name, module in ema.generator.networks().items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, info.load_network(f"{name}_ema")[key])
    raw = load_generator(ck, ema=False, device="cpu")
    first = next(iter(raw.generator.networks()["canonical"].state_dict().items()))
    assert torch.equal(first[1], info.load_network("canonical")[first[0]])
    assert not torch.equal(first[1], info.load_network("canonical_ema")[first[0]])


@pytest.mark.parametrize("edit, phrase", [("missing", "missing weight"),
                                          ("unexpected", "unexpected weight extra.weight"),
                                          ("shape", "size mismatch")])
def test_weights_that_do_not_fit_are_refused_in_one_line(tmp_path: Path, edit: str, phrase: str) -> None:
    ck = _ckpt(tmp_path, edit)
    with pytest.raises(ArtifactError) as e:
        load_generator(ck, device="cpu")
    msg = str(e.value)
    assert "\n" not in msg and "deformation_ema.safetensors does not fit the model's config" in msg
    assert phrase in msg and msg.endswith("re-create the checkpoint")
    # the same check, with the error type and fix of the caller (e.g. --init)
    gen = build_video_generator(preset("tiny", "finetune").model)
    with pytest.raises(ConfigError, match=f"does not fit the model's config.*{phrase}.*; use the same preset"):
        load_into(load_checkpoint(ck), {"deformation_ema": gen.networks()["deformation"]},
                  fix="use the same preset", error=ConfigError)


def test_may_lack_allows_only_the_named_keys() -> None:
    gen = build_video_generator(preset("tiny", "finetune").model)
    module = gen.networks()["canonical"]
    state = dict(module.state_dict())
    dropped = sorted(state)[0]
    del state[dropped]
    fit_weights(module, state, "w", fix="f", may_lack=lambda key: key == dropped)  # allowed: no error
    with pytest.raises(ArtifactError, match=f"missing weight {dropped}"):
        fit_weights(module, state, "w", fix="f", may_lack=lambda key: key == "something else")
