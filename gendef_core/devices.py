"""Which torch device a command runs on."""

from __future__ import annotations

import torch

from gendef_core.errors import ConfigError


def pick_device(device: str = "auto") -> torch.device:
    """`auto`: the first CUDA GPU if there is one, else the CPU; otherwise any torch device string."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"`device` {device!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"`device` {device}: this machine has no CUDA GPU; use cpu")
    return dev
