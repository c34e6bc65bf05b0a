"""The checkpoint artifact: one safetensors file per network plus config.json (FORMATS.md).

This module only knows tensors and JSON; the training code decides which networks exist.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from torch import Tensor

from gendef_core.artifacts.common import (
    JsonObject,
    artifact_path,
    atomic_dir,
    file_record,
    header,
    read_manifest,
    verify_files,
    write_json_atomic,
)
from gendef_core.artifacts.runconfig import read_run_config, write_run_config
from gendef_core.artifacts.schema import (
    FILE_RECORD,
    HEADER,
    HEADER_OPTIONAL,
    SHA256,
    Invalid,
    integer,
    list_of,
    mapping,
    number,
    obj,
    plain_name,
    string,
    validate,
)
from gendef_core.artifacts.tensors import load_tensors, save_tensors
from gendef_core.errors import ArtifactError

CHECKPOINT_FORMAT = "gendef.checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
_NAME_RE = re.compile(r"^step-(\d{8,})$")
_NET_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_FIX = "point at a run directory or a checkpoint made by `gendef pretrain` or `gendef finetune`"


def _network_name(v: object, at: str) -> None:
    if not (isinstance(v, str) and _NET_RE.fullmatch(v)):
        raise Invalid(at, f"a network name ({_NET_RE.pattern})", v)


CHECKPOINT_MANIFEST = obj({
    **HEADER,
    "step": integer(0),
    "networks": mapping(_network_name, obj({"bytes": integer(0), "sha256": SHA256, "num_tensors": integer(0)}),
                        min_len=1),
}, {
    **HEADER_OPTIONAL,
    "files": mapping(plain_name(), FILE_RECORD),
    "metadata": obj({}, {"kimg": number(0), "num_processes": integer(1), "weight_checksums": list_of(number()),
                         "exported_checkpoint": string(), "exported_step": integer(0),
                         "pretrained_checkpoint": string()}),
})
"""The fields of a checkpoint's manifest.json (FORMATS.md, "Checkpoint")."""


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    step: int
    config: Mapping[str, Any]
    networks: tuple[str, ...]
    metadata: Mapping[str, Any]
    records: Mapping[str, Any]

    def load_network(self, name: str) -> dict[str, Tensor]:
        """The state dict of network `name`, after checking the file against the manifest's size and sha256."""
        if name not in self.networks:
            raise ArtifactError(f"{self.path}: has no network {name!r} (has {', '.join(self.networks)})")
        verify_files(self.path, {f"{name}.safetensors": self.records[name]}, fix=_FIX)
        return load_tensors(artifact_path(self.path, f"{name}.safetensors", fix=_FIX), fix=_FIX)

    @property
    def train_state(self) -> Path | None:
        p = artifact_path(self.path, "train_state", fix=_FIX)
        return p if p.is_dir() else None


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def save_checkpoint(path: Path, *, step: int, config: Mapping[str, Any],
                    networks: Mapping[str, Mapping[str, Tensor]], metadata: Mapping[str, Any] | None = None,
                    train_state: Path | None = None, overwrite: bool = False) -> Path:
    """Write a checkpoint directory atomically. `train_state` (a directory) is moved inside."""
    if step < 0:
        raise ValueError("step must be non-negative")
    bad = [n for n in networks if not _NET_RE.match(n)]
    if bad or not networks:
        raise ValueError(f"network names must match {_NET_RE.pattern} and be non-empty, got {list(networks)}")
    with atomic_dir(Path(path), overwrite=overwrite, what="checkpoint") as tmp:
        meta = {k: str(v) for k, v in header(CHECKPOINT_FORMAT, CHECKPOINT_VERSION).items()}
        records = {}
        for name, state in networks.items():
            f = tmp / f"{name}.safetensors"
            save_tensors(f, state, meta)
            records[name] = {**file_record(f), "num_tensors": len(state)}
        write_run_config(tmp / "config.json", config)
        if train_state is not None:
            shutil.move(str(train_state), tmp / "train_state")
        write_json_atomic(tmp / "manifest.json", {**header(CHECKPOINT_FORMAT, CHECKPOINT_VERSION),
                                                  "step": step, "networks": records,
                                                  "files": {"config.json": file_record(tmp / "config.json")},
                                                  "metadata": dict(metadata or {})})
    return Path(path)


def list_checkpoints(run: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (hidden partial builds are never listed)."""
    d = Path(run) / CHECKPOINTS_DIR
    if not d.is_dir():
        return []
    found = [p for p in d.iterdir() if p.is_dir() and _NAME_RE.match(p.name) and (p / "manifest.json").is_file()]
    return sorted(found, key=lambda p: int(p.name.removeprefix("step-")))


def prune_checkpoints(run: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` (>= 1) checkpoints of a run; returns what was deleted."""
    keep = max(keep, 1)
    old = list_checkpoints(run)[:-keep]
    for p in old:
        # Rename first (atomic), then delete: a kill in between leaves a hidden .step-N.deleting-* that the
        # next start of the run removes, never a visible, half-deleted checkpoint.
        doomed = p.with_name(f".{p.name}.deleting-{uuid.uuid4().hex[:8]}")
        os.replace(p, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    return old


def resolve_checkpoint(path: Path) -> Path:
    """A checkpoint directory, or a run directory's latest checkpoint."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path} does not exist; {_FIX}")
    if (path / "manifest.json").is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        raise ArtifactError(f"{path} is neither a checkpoint nor a run directory with checkpoints; {_FIX}")
    return found[-1]


def load_checkpoint(path: Path, *, verify: bool = True) -> CheckpointInfo:
    """Validate a checkpoint (or a run's latest) and read its config; weights load on demand."""
    path = resolve_checkpoint(path)
    m = read_manifest(path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, what="checkpoint",
                      fix=_FIX, migrations={})
    where = path / "manifest.json"
    if m.get("networks") == {}:
        raise ArtifactError(f"{where}: lists no networks")
    validate(m, CHECKPOINT_MANIFEST, where, fix=_FIX)
    nets = m["networks"]
    if verify:
        verify_files(path, {f"{n}.safetensors": rec for n, rec in nets.items()}, fix=_FIX)
    verify_files(path, m.get("files", {}), fix=_FIX)  # config.json (checkpoints of gendef >= 0.8), before it is parsed
    config = read_run_config(artifact_path(path, "config.json", fix=_FIX), fix=_FIX)
    return CheckpointInfo(path, m["step"], config, tuple(sorted(nets)), m.get("metadata", {}), nets)


class CheckpointSummary(TypedDict):
    """What `gendef info` shows of a checkpoint (`checkpoint_summary`)."""

    format: str
    path: str
    step: int
    networks: list[str]
    metadata: JsonObject


def checkpoint_summary(ck: CheckpointInfo) -> CheckpointSummary:
    """What `gendef info` shows of a checkpoint."""
    return {"format": CHECKPOINT_FORMAT, "path": str(ck.path), "step": ck.step, "networks": list(ck.networks),
            "metadata": dict(ck.metadata)}


def export_generator(src: Path, out: Path, *, overwrite: bool = False,
                     metadata: Mapping[str, Any] | None = None) -> Path:
    """Write the inference part of a checkpoint (or a run's latest): the EMA generator networks and the
    config, nothing to resume or fine-tune from. The result is a checkpoint (same format, fewer files).

    An export is made to be shipped: it holds no path of the machine that made it. The metadata names
    the source checkpoint (``exported_checkpoint``, e.g. ``step-00000208``) and the pre-training one
    (``pretrained_checkpoint``); the config's `init_from` (that path) is dropped, as nothing trains from
    an export."""
    info = load_checkpoint(Path(src), verify=False)  # the exported files are verified as they are read
    nets = {name: info.load_network(name) for name in info.networks if name.endswith("_ema")}
    if not nets:
        raise ArtifactError(f"{info.path} has no EMA generator networks (*_ema); {_FIX}")
    config = dict(info.config)
    init_from = config.get("init_from")
    config["init_from"] = None
    meta = {**{k: v for k, v in info.metadata.items() if k != "exported_from"},
            "exported_checkpoint": info.path.name, "exported_step": info.step,
            **({"pretrained_checkpoint": Path(str(init_from)).name} if init_from else {}), **dict(metadata or {})}
    return save_checkpoint(Path(out), step=info.step, config=config, networks=nets, metadata=meta,
                           overwrite=overwrite)
