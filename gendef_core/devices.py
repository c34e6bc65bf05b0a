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


def oversubscription(threads: int | None = None) -> str | None:
    """A warning if torch's threads compete with other work for too few cores (None if not, or unknown).

    Cheap: the 1-minute load average (Unix) against the cores. On a busy 2-core machine (load 7-9)
    torch's default threads made tiny training 6-38x slower than `OMP_NUM_THREADS=1` (measured, README).
    """
    import os

    cores = os.cpu_count() or 1
    threads = torch.get_num_threads() if threads is None else threads
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this platform
        return None
    if threads <= 1 or load <= cores or "OMP_NUM_THREADS" in os.environ:  # set: the user chose the threads
        return None
    return (f"this machine is busy (load {load:.1f} on {cores} cores) and torch uses {threads} threads; that can "
            f"make training several times slower: set OMP_NUM_THREADS=1 (see README)")
