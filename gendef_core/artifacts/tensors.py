"""Reading and writing safetensors files with validation."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from gendef_core.artifacts.common import atomic_file
from gendef_core.errors import ArtifactError


def save_tensors(path: Path, tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> Path:
    """Write tensors (made contiguous, moved to CPU) to a safetensors file, atomically."""
    from safetensors.torch import save_file

    data = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_file(Path(path)) as tmp:
        # safetensors leaves its file 0600; give it the mode of the JSON/PNG files beside it, which is the
        # mode a new file gets here (umask, default ACLs), learnt by creating `tmp` ourselves first.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        mode = stat.S_IMODE(os.stat(tmp).st_mode)
        try:
            save_file(data, str(tmp), metadata=dict(metadata) if metadata else None)
        except Exception as e:  # safetensors' own error type (not an OSError) carries the OS error in its text
            code = _os_error_code(str(e))
            if code is None:
                raise
            raise OSError(code, os.strerror(code), str(path)) from None
        _sort_header(tmp)
        os.chmod(tmp, mode)
    return Path(path)


def _os_error_code(message: str) -> int | None:
    """The errno in a safetensors error message ("... No space left on device (os error 28)"), if any."""
    import re

    m = re.search(r"\(os error (\d+)\)|Os \{ code: (\d+)", message)
    return int(m[1] or m[2]) if m else None


def _sort_header(path: Path) -> None:
    """Rewrite a safetensors header with sorted keys, so equal tensors and metadata give equal bytes.

    safetensors writes its JSON header (tensor entries and the ``__metadata__`` map) in a hash order
    that varies from run to run. The sorted, compact JSON has the same length; the header keeps its
    size (padded with spaces, which the format allows), so the data offsets do not change.
    """
    import json
    import struct

    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        ordered = json.dumps({k: header[k] for k in sorted(header)}, sort_keys=True, separators=(",", ":")).encode()
        if len(ordered) > n:  # cannot happen for compact JSON of the same content; keep the file as written
            return
        f.seek(8)
        f.write(ordered + b" " * (n - len(ordered)))


def load_tensors(path: Path, *, fix: str) -> dict[str, Tensor]:
    """Load every tensor of a safetensors file, or raise a one-line ArtifactError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; {fix}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ArtifactError(f"{path} is not a readable safetensors file ({e}); {fix}") from None


def all_finite(t: Tensor, *, block: int = 1 << 20) -> bool:
    """No NaN or inf in `t`, checked `block` elements at a time: for a contiguous `t` the temporaries
    stay a few MB however large it is (`torch.isfinite(t).all()` on a long clip's offsets needed ~1.3x
    their size). A non-contiguous `t` is copied once by the reshape."""
    flat = t.reshape(-1)  # a view for contiguous tensors
    return all(bool(torch.isfinite(flat[i:i + block]).all()) for i in range(0, flat.numel(), block))


def expect_tensor(tensors: Mapping[str, Tensor], name: str, where: Path, *, dtype: torch.dtype,
                  shape: tuple[int | None, ...], finite: bool = True,
                  value_range: tuple[float, float] | None = None) -> Tensor:
    """Fetch tensor `name`, checking dtype, shape (None = any size), finiteness and range."""
    if name not in tensors:
        raise ArtifactError(f"{where}: tensor {name!r} is missing (has {sorted(tensors)})")
    t = tensors[name]
    if t.dtype != dtype:
        raise ArtifactError(f"{where}: tensor {name!r} is {t.dtype}, expected {dtype}")
    if t.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, t.shape, strict=True)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ArtifactError(f"{where}: tensor {name!r} has shape {list(t.shape)}, expected {want}")
    if finite and t.is_floating_point() and not all_finite(t):
        raise ArtifactError(f"{where}: tensor {name!r} contains NaN or inf")
    if value_range is not None and t.numel():
        lo, hi = float(t.min()), float(t.max())
        if lo < value_range[0] or hi > value_range[1]:
            raise ArtifactError(f"{where}: tensor {name!r} has values in [{lo:.4g}, {hi:.4g}], "
                                f"outside [{value_range[0]}, {value_range[1]}]")
    return t
