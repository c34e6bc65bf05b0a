"""A checkpoint's `train_state/` (FORMATS.md): optimizer state as safetensors (no pickles), for `--resume`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gendef_core.artifacts.common import check_header, header, read_json, write_json_atomic
from gendef_core.artifacts.tensors import load_tensors, save_tensors
from gendef_core.errors import ArtifactError

TRAIN_STATE_FORMAT = "gendef.train_state"
TRAIN_STATE_VERSION = 1
_FIX = "the checkpoint's train_state is damaged; resume from an older checkpoint or start a new run"


def optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Flatten ``opt.state_dict()`` into tensors ``state.<param>.<key>`` plus JSON-able param groups."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"state.{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_tensors(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_train_state(directory: Path, optimizers: dict[str, torch.optim.Optimizer], counters: dict[str, Any]) -> Path:
    """Write ``<name>.safetensors`` per optimizer and ``state.json`` (counters + param groups)."""
    directory.mkdir(parents=True, exist_ok=False)
    meta: dict[str, Any] = {**header(TRAIN_STATE_FORMAT, TRAIN_STATE_VERSION), "counters": counters,
                            "optimizers": {}}
    for name, opt in optimizers.items():
        tensors, m = optimizer_to_tensors(opt)
        save_tensors(directory / f"{name}.safetensors", tensors)
        meta["optimizers"][name] = m
    write_json_atomic(directory / "state.json", meta)
    return directory


def load_train_state(directory: Path, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore optimizers saved by `save_train_state`; returns the counters."""
    meta = read_json(directory / "state.json", fix=_FIX)
    if isinstance(meta, dict) and "format" in meta:  # gendef <= 0.6 wrote no header (same fields otherwise)
        meta = check_header(meta, directory / "state.json", fmt=TRAIN_STATE_FORMAT, version=TRAIN_STATE_VERSION,
                            what="train state", hint=_FIX)
    if not isinstance(meta, dict) or "counters" not in meta or "optimizers" not in meta:
        raise ArtifactError(f"{directory / 'state.json'} has no counters or optimizers; {_FIX}")
    for name, opt in optimizers.items():
        tensors = load_tensors(directory / f"{name}.safetensors", fix=_FIX)
        try:
            optimizer_from_tensors(opt, tensors, meta["optimizers"][name])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise ArtifactError(f"{directory}: the {name} state does not fit this model ({e}); {_FIX}") from None
    return meta["counters"]
