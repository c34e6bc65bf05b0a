"""Classical dense optical flow for the fit's initialisation (OpenCV DIS), and its consistency check.

Flows are numpy ``float32 [H, W, 2]`` in frame pixels (x right, y down): the content at pixel p of
the first frame is at ``p + flow[p]`` in the second. No learned weights: DIS (Kroeger et al. 2016)
is a well-kept classical method that runs in milliseconds per frame pair on a CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import cv2

_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}  # cv2.DISOPTICAL_FLOW_PRESET_*


def gray(frames: np.ndarray) -> np.ndarray:
    """``uint8 [T, H, W, 3]`` RGB -> ``uint8 [T, H, W]`` luma (BT.601 weights, as OpenCV's)."""
    out = np.empty(frames.shape[:-1], np.uint8)
    for t, frame in enumerate(frames):  # frame by frame: no float copy of the whole video
        f = frame.astype(np.float32)
        y = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
        out[t] = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return out


def make_dis(preset: str) -> cv2.DISOpticalFlow:
    import cv2

    if preset not in _PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; one of {', '.join(_PRESETS)}")
    cv2.setNumThreads(1)  # frame pairs are many and small: threads cost more than they give here
    dis = cv2.DISOpticalFlow.create(_PRESETS[preset])
    dis.setUseSpatialPropagation(True)
    return dis


def pair_flows(luma: np.ndarray, *, preset: str = "medium") -> tuple[np.ndarray, np.ndarray]:
    """Flows between consecutive frames of ``luma [T, H, W]``.

    Returns ``forward [T-1, H, W, 2]`` (t -> t+1) and ``backward [T-1, H, W, 2]`` (t+1 -> t).
    """
    dis = make_dis(preset)
    t, h, w = luma.shape
    fwd = np.empty((t - 1, h, w, 2), np.float32)
    bwd = np.empty((t - 1, h, w, 2), np.float32)
    # cv2's stub wants an array for `flow`, but OpenCV takes None for an output it should allocate
    for i in range(t - 1):
        fwd[i] = dis.calc(luma[i], luma[i + 1], None)  # type: ignore[call-overload]  # stub: flow may be None
        bwd[i] = dis.calc(luma[i + 1], luma[i], None)  # type: ignore[call-overload]  # stub: flow may be None
    return fwd, bwd


def warp_field(field: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``field [H, W, C]`` (bilinear, edge-clamped) at ``p + flow[p]``: ``[H, W, C]``."""
    import cv2

    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(field, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent(flow: np.ndarray, back: np.ndarray, *, tolerance: float = 1.0) -> np.ndarray:
    """Forward-backward check: ``bool [H, W]``, True where p -> p + flow -> back lands within `tolerance` px of p.

    Also False where ``p + flow`` leaves the frame (the content is not visible in the second frame).
    """
    h, w = flow.shape[:2]
    round_trip = flow + warp_field(back, flow)
    err = np.sqrt((round_trip**2).sum(-1))
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tx, ty = xs + flow[..., 0], ys + flow[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (err <= tolerance) & inside
