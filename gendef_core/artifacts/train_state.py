"""A checkpoint's `train_state/` (FORMATS.md): optimizer state as safetensors (no pickles), for `--resume`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gendef_core.artifacts.common import artifact_path, check_header, header, read_json, write_json_atomic
from gendef_core.artifacts.schema import (
    HEADER_OPTIONAL,
    anything,
    boolean,
    integer,
    list_of,
    mapping,
    nullable,
    number,
    obj,
    string,
    validate,
)
from gendef_core.artifacts.tensors import all_finite, load_tensors, save_tensors
from gendef_core.errors import ArtifactError

TRAIN_STATE_FORMAT = "gendef.train_state"
TRAIN_STATE_VERSION = 1
_FIX = "the checkpoint's train_state is damaged; resume from an older checkpoint or start a new run"


_PARAM_GROUP = obj({"params": list_of(integer(0))}, {
    "lr": number(0), "betas": list_of(number(0, 1), length=2), "eps": number(0), "weight_decay": number(0),
    "amsgrad": boolean(), "maximize": boolean(), "foreach": nullable(boolean()), "capturable": boolean(),
    "differentiable": boolean(), "fused": nullable(boolean()), "decoupled_weight_decay": boolean(),
    "initial_lr": number(0)})
STATE_FILE = obj({
    "counters": obj({"step": integer(0), "images_seen": integer(0)}),
    "optimizers": mapping(string(), obj({"param_groups": list_of(_PARAM_GROUP, min_len=1),
                                         "scalars": mapping(string(r"\d+\.[A-Za-z_][A-Za-z0-9_]*"), anything())})),
}, {"format": string(), "format_version": integer(1), **HEADER_OPTIONAL})
"""The fields of ``train_state/state.json`` (FORMATS.md, "Checkpoint"); the header is absent before 0.7.0."""
_MOMENTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
"""The Adam state tensors shaped like their parameter."""


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


def _check_moments(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict[str, Any], where: Path) -> None:
    """Each tensor ``state.<param>.<key>`` names a parameter of `opt` (by its index in the saved param
    groups, as torch numbers them) and is finite; the moments have their parameter's dtype and shape (torch
    would cast them silently, or fail in the first step)."""
    params = [p for group in opt.param_groups for p in group["params"]]
    saved = [i for group in meta["param_groups"] for i in group["params"]]
    if len(saved) != len(params):
        raise ArtifactError(f"{where}: the state has {len(saved)} parameters, this model {len(params)}; {_FIX}")
    by_id = dict(zip(saved, params, strict=True))
    for name, t in tensors.items():
        parts = name.split(".", 2)  # state.<param>.<key>
        ok = len(parts) == 3 and parts[0] == "state" and parts[1].isdigit()
        p, key = (by_id.get(int(parts[1])), parts[2]) if ok else (None, "")
        if p is None:
            raise ArtifactError(f"{where}: tensor {name!r} names no parameter of the optimizer; {_FIX}")
        if key in _MOMENTS and (t.dtype != p.dtype or t.shape != p.shape):
            raise ArtifactError(f"{where}: tensor {name!r} is {t.dtype} {list(t.shape)}, its parameter "
                                f"{p.dtype} {list(p.shape)}; {_FIX}")
        if t.is_floating_point() and not all_finite(t):
            raise ArtifactError(f"{where}: tensor {name!r} contains NaN or inf; {_FIX}")


def load_train_state(directory: Path, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore optimizers saved by `save_train_state`; returns the counters (``step``, ``images_seen``)."""
    where = artifact_path(directory, "state.json", fix=_FIX)
    meta = read_json(where, fix=_FIX)
    if isinstance(meta, dict) and "format" in meta:  # gendef <= 0.6 wrote no header (same fields otherwise)
        meta = check_header(meta, where, fmt=TRAIN_STATE_FORMAT, version=TRAIN_STATE_VERSION,
                            what="train state", hint=_FIX)
    validate(meta, STATE_FILE, where, fix=_FIX)
    for name, opt in optimizers.items():
        if name not in meta["optimizers"]:
            raise ArtifactError(f"{where}: has no state of {name}; {_FIX}")
        file = artifact_path(directory, f"{name}.safetensors", fix=_FIX)
        tensors = load_tensors(file, fix=_FIX)
        try:
            _check_moments(opt, tensors, meta["optimizers"][name], file)
            optimizer_from_tensors(opt, tensors, meta["optimizers"][name])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise ArtifactError(f"{directory}: the {name} state does not fit this model ({e}); {_FIX}") from None
    counters: dict[str, Any] = meta["counters"]
    return counters
