"""The config file (`gendef.config`): the resolved training config, as ``RUN/config.json`` and inside
every checkpoint (FORMATS.md, "Checkpoint")."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gendef_core.artifacts.common import check_header, header, read_json, write_json_atomic
from gendef_core.artifacts.schema import HEADER, HEADER_OPTIONAL, obj, validate
from gendef_core.errors import ArtifactError

CONFIG_FORMAT = "gendef.config"
CONFIG_VERSION = 1
_FIX = "give a config.json written by gendef (RUN/config.json)"


def write_run_config(path: Path, config: Mapping[str, Any]) -> Path:
    """Write `config` (a `TrainConfig.to_dict()`) as the config file `path`, atomically, with the header."""
    return write_json_atomic(Path(path), {**header(CONFIG_FORMAT, CONFIG_VERSION), "config": dict(config)})


CONFIG_FILE = obj({**HEADER, "config": obj({})}, HEADER_OPTIONAL)
"""The fields of a config file (the config's own keys and types are `TrainConfig.from_dict`'s to check)."""


def read_run_config(path: Path, *, fix: str = _FIX, allow_headerless: bool = False) -> dict[str, Any]:
    """The config object of the config file `path`, after checking its header (format, version).

    With `allow_headerless` (what ``--config`` reads) a hand-written file without a header (no ``format``
    key) is accepted too, as ``{"config": {...}}`` or as the config object itself; the keys are checked
    later, by `TrainConfig.from_dict` (`gendef_core.config.config_from_file` names this file in its errors).
    """
    path = Path(path)
    doc = read_json(path, fix=fix)
    if allow_headerless and not (isinstance(doc, dict) and "format" in doc):
        config = doc.get("config", doc) if isinstance(doc, dict) else doc
        if not isinstance(config, dict):
            raise ArtifactError(f"{path}: the config must be a JSON object; {fix}")
        return config
    doc = check_header(doc, path, fmt=CONFIG_FORMAT, version=CONFIG_VERSION, what="config", hint=fix, migrations={})
    validate(doc, CONFIG_FILE, path, fix=fix)
    found: dict[str, Any] = doc["config"]
    return found
